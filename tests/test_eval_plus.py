"""HumanEval+ / MBPP+: expected outputs from the canonical solutions (in the sandbox, cached), and
evalplus's comparison rules."""

from __future__ import annotations

import base64
import pickle
from functools import partial

import pytest

from textbooks.benchmarks import groundtruth, load_benchmark, plus_check
from textbooks.eval.execution import EvalSettings, open_sandbox
from textbooks.sandbox import Sandbox


def blob(value) -> str:
    return base64.b64encode(pickle.dumps(value)).decode()


def check(solution, inputs, expected, atol=0.0, entry_point="f", dataset="mbpp"):
    plus_check.check(solution, "", dataset, entry_point, blob(inputs), blob(expected), [], [0.0] * len(inputs), atol, False)


def test_floats_are_compared_with_a_tolerance_of_1e_6_and_other_values_exactly():
    check("def f(x): return x + 1e-7", [[1.0]], [1.0])
    with pytest.raises(AssertionError):
        check("def f(x): return x + 1e-5", [[1.0]], [1.0])
    with pytest.raises(AssertionError):
        check("def f(x): return [x]", [[1]], [(1,)])  # a list is not the tuple expected
    check("def f(x): return [x, 2.0]", [[1.0]], [[1.0, 2.0 + 1e-8]])


def test_a_given_atol_allows_that_much_but_not_another_type():
    check("def f(x): return x + 0.01", [[1.0]], [1.0], atol=0.1)
    with pytest.raises(AssertionError):
        check("def f(x): return x + 0.5", [[1.0]], [1.0], atol=0.1)
    with pytest.raises(AssertionError):
        check("def f(x): return [x]", [[1.0]], [1.0], atol=0.1)


def test_special_oracles_of_mbpp_plus():
    check("def similar_elements(a, b): return (5, 4)", [[(4, 5), (5, 4)]], [(4, 5)], entry_point="similar_elements")
    check("def check_str(s): return 'a match'", [["x"]], [True], entry_point="check_str")


def test_find_zero_passes_a_root_that_evalplus_0_3_1_would_never_record():
    check("def find_zero(xs): return 1.0", [[[-1, 1]]], [1.0], atol=1e-4, entry_point="find_zero", dataset="humaneval")
    with pytest.raises(AssertionError):
        check("def find_zero(xs): return 3.0", [[[-1, 1]]], [1.0], atol=1e-4, entry_point="find_zero", dataset="humaneval")


def test_a_main_block_of_the_solution_does_not_run():
    check("def f(x): return x\nif __name__ == '__main__':\n    raise SystemExit('ran')", [[1]], [1])


def check_recomputing(solution, tmp_path):
    """Inputs 0 and 1 shipped, input 2 recomputed by a canonical solution that leaves a mark."""
    mark = tmp_path / "recomputed"
    canonical = f"def f(x):\n    open({str(mark)!r}, 'a').write('x')\n    return x * 2"
    plus_check.check(solution, canonical, "mbpp", "f", blob([[1], [2], [3]]), blob([2, 4, None]), [2], [0.0] * 3, 0.0,
                     False)
    return mark.exists()


def test_a_wrong_answer_fails_before_the_large_outputs_are_recomputed_with_the_same_error(tmp_path):
    with pytest.raises(AssertionError, match="^input 1: got 3, expected 4$"):
        check_recomputing("def f(x): return x + 1", tmp_path)
    with pytest.raises(ValueError, match="^no$"):
        check_recomputing("def f(x):\n    raise ValueError('no')", tmp_path)
    assert not (tmp_path / "recomputed").exists()


def test_answers_right_up_to_a_recomputed_output_are_checked_against_it(tmp_path):
    assert check_recomputing("def f(x): return x * 2", tmp_path)
    with pytest.raises(AssertionError, match="^input 2: got 7, expected 6$"):
        check_recomputing("def f(x): return x * 2 if x < 3 else 7", tmp_path)


@pytest.mark.slow
def test_expected_outputs_are_computed_in_the_sandbox_once_and_cached_by_checksum(tmp_path, monkeypatch, shared_assets):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data_dir = shared_assets / "benchmarks"
    bench = load_benchmark("humaneval+", data_dir)
    wanted = ["HumanEval/0", "HumanEval/14"]
    bench.prepare(wanted, partial(open_sandbox, EvalSettings(workers=2)), progress=False)
    assert sorted(p.name for p in bench.cache_dir.iterdir()) == ["HumanEval_0.json", "HumanEval_14.json"]
    assert bench.data_sha256[:16] in bench.cache_dir.name
    assert bench.expected["HumanEval/14"]["recompute"]  # its largest outputs are recomputed, not shipped

    def no_sandbox(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(groundtruth, "compute_expected", no_sandbox)
    again = load_benchmark("humaneval+", data_dir)
    again.prepare(wanted, progress=False)
    assert again.expected == bench.expected

    programs = []
    for task_id in wanted:
        task = again.tasks[task_id]
        programs += [((task_id, "canonical"), again.program(task, task.reference), again.timeout_s(task)),
                     ((task_id, "wrong"), again.program(task, "    return []\n"), again.timeout_s(task))]
    with Sandbox(workers=2) as sandbox:
        verdicts = {key: outcome.passed for key, outcome in sandbox.run_many(programs)}
    assert verdicts == {(t, kind): kind == "canonical" for t in wanted for kind in ("canonical", "wrong")}
