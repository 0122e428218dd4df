"""The novel benchmark: 50 HumanEval-layout problems whose hidden tests tell right from wrong."""

from __future__ import annotations

import ast
import json

import pytest

from conftest import run_cli
from textbooks.benchmarks import HUMANEVAL_STOP, load_benchmark
from textbooks.sandbox import Sandbox


@pytest.fixture(scope="module")
def novel():
    return load_benchmark("novel")


def test_novel_has_fifty_tasks_in_humaneval_layout(novel):
    assert list(novel.tasks) == [f"Novel/{i}" for i in range(50)]
    assert novel.stop == HUMANEVAL_STOP and novel.data_sha256
    assert len({t.entry_point for t in novel.tasks.values()}) == 50
    for task in novel.tasks.values():
        module = ast.parse(task.prompt + "    pass\n")
        (function,) = [node for node in module.body if isinstance(node, ast.FunctionDef)]
        assert function.name == task.entry_point
        docstring = ast.get_docstring(function)
        assert docstring and ">>>" in docstring, task.task_id  # described, with an example
        assert task.record["test"].startswith("def check(candidate):")


def test_every_reference_passes_and_none_and_a_plausible_wrong_answer_fail(novel):
    bodies = {"reference": lambda t: t.reference, "none": lambda t: "    return None\n",
              "wrong": lambda t: t.record["plausible_wrong"]}
    programs = [((kind, task.task_id), novel.program(task, body(task)), novel.timeout_s(task))
                for task in novel.tasks.values() for kind, body in bodies.items()]
    with Sandbox(workers=2) as sandbox:
        verdicts = {key: outcome.passed for key, outcome in sandbox.run_many(programs)}
    assert len(verdicts) == 150
    assert [key for key, passed in verdicts.items() if passed != (key[0] == "reference")] == []


@pytest.mark.slow  # a real `textbooks` process: its imports take 10 s on a loaded machine
def test_eval_novel_scores_a_samples_file_from_the_command_line(novel, tmp_path):
    samples = tmp_path / "samples.jsonl"
    tasks = list(novel.tasks.values())[:3]
    with open(samples, "w") as f:
        for task in tasks:
            f.write(json.dumps({"task_id": task.task_id, "completion": task.reference}) + "\n")
        f.write(json.dumps({"task_id": tasks[0].task_id, "completion": "    return None\n"}) + "\n")
    out = tmp_path / "out"
    result = run_cli("eval", "novel", "--samples", str(samples), "--out", str(out), "--limit", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmark"] == "novel" and summary["tasks_scored"] == 3
    assert summary["statuses"] == {"passed": 3, "failed": 1}
    rows = [json.loads(line) for line in open(out / "results.jsonl")]
    # CPU time beside wall time; a short program's CPU time cannot exceed its wall time by much.
    assert all(0 <= r["cpu_time_s"] <= r["duration_s"] + 0.05 for r in rows)


def test_the_shipped_data_is_what_the_source_script_builds(novel):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "novel_problems.py"
    built = runpy.run_path(str(script))["PROBLEMS"]  # run_name is not __main__: nothing is written
    assert built == [task.record for task in novel.tasks.values()], "rerun: python scripts/novel_problems.py"
