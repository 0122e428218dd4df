"""The behaviour tier's evidence bar: a pass must hold up on more inputs than a problem's own
asserts, and a one-line task (by its reference or by the passing function) is no evidence."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from textbooks.benchmarks import benchmark_problems
from textbooks.decontam import pipeline
from textbooks.decontam.behaviour import (
    behaviour_program,
    body_tokens,
    passes,
    problem_tests,
    solution_tokens,
    top_functions,
)
from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.differential import ReferenceInputs, confirm_program, confirmed, mutated_inputs
from textbooks.decontam.ngrams import code_tokens
from textbooks.sandbox import Sandbox


@pytest.fixture(scope="module")
def data_dir(shared_assets):
    return shared_assets / "benchmarks"


# functools' `_le_from_lt`: passes MBPP 891's three asserts ("same number of digits?") by chance.
CHANCE = '''
def _le_from_lt(self, other):
    op_result = type(self).__lt__(self, other)
    if op_result is NotImplemented:
        return op_result
    return op_result or self == other
'''
# MBPP 891's reference, renamed: a copy.
COPY = '''
def digits_alike(a, b):
    while (a > 0 and b > 0):
        a = a / 10
        b = b / 10
    if (a == 0 and b == 0):
        return True
    return False
'''


def test_a_chance_pass_of_three_asserts_does_not_hold_up_on_mutated_inputs_and_a_copy_does(data_dir):
    problem = [p for p in benchmark_problems(["mbpp"], data_dir) if p.task_id == "891"]
    tests = problem_tests(problem, data_dir)[0]
    inputs = ReferenceInputs(data_dir, max_inputs=50).get("Mbpp/891")
    assert inputs is not None and len(inputs.inputs) > 3 and (12, 1) not in inputs.inputs  # MBPP 891 has no MBPP+ inputs
    with Sandbox(workers=1) as sandbox:
        base = [passes(sandbox.run(behaviour_program(code, [tests], 2.0, 10.0)).stdout, max_problems=4) for code in (CHANCE, COPY)]
        again = [confirmed(sandbox.run(confirm_program(code, [(inputs, 0)], 2.0, 10.0)).stdout) for code in (CHANCE, COPY)]
    assert [[p.key for p in found] for found in base] == [["Mbpp/891"], ["Mbpp/891"]]  # the asserts alone: both pass
    assert again == [set(), {("Mbpp/891", 0)}]


def test_humaneval_plus_inputs_are_the_more_inputs_of_a_humaneval_problem(data_dir):
    inputs = ReferenceInputs(data_dir, max_inputs=50).get("HumanEval/4")
    assert len(inputs.inputs) == 50 and len(inputs.references) == 2  # HumanEval's and HumanEval+'s solutions
    assert ReferenceInputs(data_dir, max_inputs=0).get("HumanEval/4") is None


def test_mutated_inputs_change_one_argument_at_a_time_and_keep_bools():
    asserts = "assert f([1, 2], 'ab', True) == 3\nassert f([1, 2], 'ab', True) == 3\nassert g(5) == 1"
    mutated = list(mutated_inputs(asserts, "f"))
    assert ([2, 1], "ab", True) in mutated and ([1, 2], "ba", True) in mutated
    assert all(args[2] is True and sum(a != b for a, b in zip(args, ([1, 2], "ab", True))) == 1 for args in mutated)
    assert len(mutated) == len(set(map(repr, mutated)))


def test_the_one_liner_bar_counts_bodies_not_prompts(data_dir):
    """HumanEval/53 (`return x + y`) and /23 (`return len(string)`) were over the bar as whole
    programs (signature, type hints, docstring): any `a + b` or `len` utility passed them."""
    bar = DecontamConfig().behaviour_min_tokens
    problems = {p.task_id: p for p in benchmark_problems(["humaneval"], data_dir)}
    for task in ("HumanEval/53", "HumanEval/23"):
        assert solution_tokens(problems[task]) < bar <= len(code_tokens(problems[task].program))
    assert solution_tokens(problems["HumanEval/4"]) >= bar
    mbpp = {p.task_id: p for p in benchmark_problems(["mbpp"], data_dir)}["891"]
    assert solution_tokens(mbpp) == len(code_tokens(mbpp.solution)) - len(code_tokens("def same_Length(A, B):"))
    code = 'import os\n\n@staticmethod\ndef largest(xs):\n    """Largest number."""\n    return max(xs)\n'
    assert body_tokens(code, 3) == len(code_tokens("return max(xs)")) < bar
    assert body_tokens(code, 4) is None


# MBPP 814 (rhombus area) renamed and reworded between two standard-library functions
# (benchmarks/data/rephrase, `in-a-file`): as a whole, the file is near other problems.
IN_A_FILE = '''
def imul(a, b):
    "Same as a *= b."
    a *= b
    return a


def calc_rombus_area(base, other):
    """Implement one routine to work out that area_val of one rombus."""
    area_val = base * other / 2
    return area_val


def _isoweek_to_gregorian(year, week, day):
    # Year is bounded this way because 9999-12-31 is (9999, 52, 5)
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(f"Year is out of range: {year}")

    if not 0 < week < 53:
        out_of_range = True

        if week == 53:
            # ISO years have 53 weeks in them on years starting with a
            # Thursday and leap years starting on a Wednesday
            first_weekday = _ymd2ord(year, 1, 1) % 7
            if (first_weekday == 4 or (first_weekday == 3 and
                                       _is_leap(year))):
                out_of_range = False

        if out_of_range:
            raise ValueError(f"Invalid week: {week}")

    if not 0 < day < 8:
        raise ValueError(f"Invalid weekday: {day} (range is [1, 7])")

    # Now compute the offset from (Y, 1, 1) in days:
    day_offset = (week - 1) * 7 + (day - 1)

    # Calculate the ordinal day for monday, week 1
    day_1 = _isoweek1monday(year)
    ord_day = day_1 + day_offset

    return _ord2ymd(ord_day)
'''


def test_each_function_of_a_file_brings_its_own_nearest_problems_to_the_behaviour_tier(tmp_path, data_dir):
    assert [part.split("(")[0] for part in top_functions(IN_A_FILE)] == ["def imul", "def calc_rombus_area", "def _isoweek_to_gregorian"]
    assert top_functions("def f():\n    pass\n") == []
    source = tmp_path / "code.jsonl"
    source.write_text(json.dumps({"id": "in-a-file", "text": IN_A_FILE}) + "\n", encoding="utf-8")
    flagged = {}
    for per_function in (0, 10):
        config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval", "mbpp"], behaviour_function_neighbours=per_function)
        result = pipeline.decontaminate(source, tmp_path / f"out-{per_function}", config, progress=False)
        matches = pq.read_table(result.out / "matches.parquet").to_pandas()
        flagged[per_function] = set(matches.task_id[matches.flagged])
    # (With it, `imul` passes MBPP 52, the parallelogram's area `b * h`, too: arithmetic one-liners
    # of 6 tokens are over the bar.)
    assert "814" not in flagged[0] and "814" in flagged[10]
