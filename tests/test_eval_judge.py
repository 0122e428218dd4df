"""The LLM judge against a stand-in judge on loopback whose grades follow a rule the test controls."""

from __future__ import annotations

import json
import random
import re

import pytest

from conftest import run_cli
from fault_server import FaultServer
from textbooks.benchmarks import load_benchmark
from textbooks.config import from_dict
from textbooks.errors import UserError
from textbooks.eval.compare import compare_runs
from textbooks.eval.judge import judge_messages, judge_results, parse_grade, spearman
from textbooks.eval.runner import EvalConfig, EvalSettings, evaluate
from textbooks.teacher import TeacherConfig

MARK = re.compile(r"# grade: (\w+)")


class StandInJudge(FaultServer):
    """Grades by a comment in the student's solution: '# grade: 7' gets 7; '# grade: garbage' gets
    prose; '# grade: big' gets a score of 42; no comment gets 5."""

    def answer(self, request: dict, chat: bool) -> dict:
        response = super().answer(request, chat)
        student = request["messages"][-1]["content"].split("Student's solution", 1)[1]
        mark = MARK.search(student)
        rule = mark.group(1) if mark else "5"
        if rule == "garbage":
            text = "What a lovely function! I would give it full marks."
        elif rule == "big":
            text = json.dumps({"score": 42, "reason": "out of range"})
        else:
            text = json.dumps({"score": int(rule), "reason": f"rule {rule}"})
        response["choices"][0]["message"]["content"] = text
        return response


@pytest.fixture(scope="module")
def novel():
    return load_benchmark("novel")


def graded_samples(novel, path, grades_by_task):
    """A samples file: per task, (passes?, grade rule) pairs -> reference or `return None`, marked."""
    with open(path, "w") as f:
        for task_id, samples in grades_by_task.items():
            task = novel.tasks[task_id]
            for passes, rule in samples:
                body = task.reference if passes else "    return None\n"
                f.write(json.dumps({"task_id": task_id, "completion": f"    # grade: {rule}\n{body}"}) + "\n")
    return path


def test_judge_grades_each_sample_counts_garbage_and_measures_agreement(novel, tmp_path):
    samples = graded_samples(novel, tmp_path / "samples.jsonl", {
        "Novel/0": [(True, "9")], "Novel/1": [(True, "8")], "Novel/2": [(False, "1")],
        "Novel/3": [(False, "garbage"), (False, "big")],
    })
    out = tmp_path / "out"
    with StandInJudge(model="stand-in") as server:
        summary = evaluate(novel, out, samples_file=samples, settings=EvalSettings(limit=4, workers=2), progress=False,
                           judge=TeacherConfig([server.url], "stand-in"))
        asked = len(server.hits)
        # A rerun asks the judge nothing: every grade is in the cache.
        again = evaluate(novel, out, samples_file=samples, settings=EvalSettings(limit=4, workers=2), progress=False,
                         judge=TeacherConfig([server.url], "stand-in"))
        assert len(server.hits) == asked == 5
    judge = summary["judge"]
    assert (judge["graded"], judge["unparsed"], judge["failed"]) == (3, 2, 0)
    assert judge["mean_score"] == 6.0 and judge["served_by"] == ["stand-in"] and judge["tokens"] == 5 * 30
    # Over the three tasks with grades: pass rates 1, 1, 0 against grades 9, 8, 1.
    assert judge["agreement"] == {"spearman": pytest.approx(0.866, abs=1e-3), "tasks": 3}
    assert judge["weak_judge_warning"] is None
    assert again["judge"] == judge
    rows = [json.loads(line) for line in open(out / "judgments.jsonl")]
    assert [r["score"] for r in rows] == [9, 8, 1, None, None]
    assert [r["verdict"] for r in rows] == ["graded"] * 3 + ["unparsed"] * 2
    assert rows[3]["answer"].startswith("What a lovely function")


def test_judge_failures_are_counted_not_fatal(novel, tmp_path):
    samples = graded_samples(novel, tmp_path / "samples.jsonl", {"Novel/0": [(True, "7"), (False, "2")]})
    task = novel.tasks["Novel/0"]
    refused = judge_messages(task.prompt, task.reference, "    # grade: 2\n    return None\n")[-1]["content"]
    with StandInJudge(model="stand-in", faults={refused: ["400"]}) as server:
        summary = evaluate(novel, tmp_path / "out", samples_file=samples, settings=EvalSettings(limit=1, workers=1),
                           progress=False, judge=TeacherConfig([server.url], "stand-in"))
    assert (summary["judge"]["graded"], summary["judge"]["failed"]) == (1, 1)
    assert summary["judge"]["agreement"] == {"spearman": None, "tasks": 1}


def test_a_judge_budget_stops_the_judge_and_says_how_many_were_not_sent(novel, tmp_path):
    samples = graded_samples(novel, tmp_path / "samples.jsonl", {f"Novel/{i}": [(True, "6")] for i in range(4)})
    # A server that names itself (vLLM): its structured-output form is known, no probe spends from the budget.
    with StandInJudge(model="stand-in", owned_by="vllm") as server:
        settings = TeacherConfig([server.url], "stand-in", max_tokens_total=60, max_in_flight=1)
        summary = evaluate(novel, tmp_path / "out", samples_file=samples, settings=EvalSettings(limit=4, workers=1),
                           progress=False, judge=settings)
    judge = summary["judge"]
    assert judge["graded"] == 2 and judge["not_sent"] == 2 and "budget" in judge["stopped"]


def test_the_embedded_135m_teacher_as_judge_is_warned_about(novel, tmp_path):
    task = novel.tasks["Novel/0"]
    results = [{"task_id": task.task_id, "sample": 0, "completion": task.reference, "passed": True}]
    with StandInJudge(model="smollm2-135m-instruct") as server, pytest.warns(UserWarning, match="too weak"):
        section = judge_results(novel, results, TeacherConfig([server.url], "smollm2-135m-instruct"), tmp_path, progress=False)
    assert "too weak" in section["weak_judge_warning"]


@pytest.mark.slow  # real `textbooks` processes: their imports take 10 s on a loaded machine
def test_eval_command_prints_the_judge_and_its_agreement(novel, tmp_path):
    samples = graded_samples(novel, tmp_path / "samples.jsonl", {"Novel/0": [(True, "10")], "Novel/1": [(False, "0")]})
    with StandInJudge(model="stand-in") as server:
        result = run_cli("eval", "novel", "--samples", str(samples), "--out", str(tmp_path / "out"), "--limit", "2",
                         "--no-progress", "--judge-endpoint", server.url, "--judge-model", "stand-in")
    assert result.returncode == 0, result.stderr
    assert "judge stand-in: mean 5.00/10 over 2 graded" in " ".join(result.stdout.split())
    assert "Spearman +1.00" in result.stdout
    compared = run_cli("eval-compare", str(tmp_path / "out"))
    assert compared.returncode == 0, compared.stderr
    assert "50.0%" in compared.stdout and "5.00/10" in compared.stdout


def test_compare_runs_ranks_models_by_pass_at_1_and_by_judge(novel, tmp_path):
    runs = {"strong": [(True, "9"), (True, "8")], "middling": [(True, "6"), (False, "3")], "weak": [(False, "2"), (False, "1")]}
    with StandInJudge(model="stand-in") as server:
        for name, samples in runs.items():
            path = graded_samples(novel, tmp_path / f"{name}.jsonl", {"Novel/0": samples[:1], "Novel/1": samples[1:]})
            evaluate(novel, tmp_path / name, samples_file=path, settings=EvalSettings(limit=2, workers=2), progress=False,
                     judge=TeacherConfig([server.url], "stand-in"))
    comparison = compare_runs([tmp_path / name for name in runs])
    assert [r["pass@1"] for r in comparison["runs"]] == [1.0, 0.5, 0.0]
    assert [r["judge_mean"] for r in comparison["runs"]] == [8.5, 4.5, 1.5]
    assert comparison["spearman_over_models"] == 1.0 and comparison["judges"] == ["stand-in"]
    with pytest.raises(UserError, match="no such file"):
        compare_runs([tmp_path / "strong", tmp_path / "missing"])


def test_judge_model_is_required_with_a_url(novel, tmp_path):
    with pytest.raises(UserError, match="judge.model: required"):
        judge_results(novel, [], TeacherConfig(["http://127.0.0.1:9/v1"]), tmp_path, progress=False)


@pytest.mark.parametrize("old,new", [
    ({"endpoint": "http://h:8000/v1", "model": "m", "max_tokens_total": 9},
     TeacherConfig(["http://h:8000/v1"], "m", max_tokens_total=9)),
    ({"endpoint": "embedded"}, TeacherConfig()),  # no endpoints: the embedded teacher
    ({"endpoint": None, "model": "m"}, None),  # no endpoint was no judge
])
def test_the_judge_section_of_old_is_read_as_an_endpoint_section(old, new):
    assert from_dict(EvalConfig, {"judge": old}).judge == new
    assert from_dict(EvalConfig, {"judge": {"endpoints": ["http://h/v1"], "model": "m"}}).judge == TeacherConfig(["http://h/v1"], "m")
    assert from_dict(EvalConfig, {}).judge is None


@pytest.mark.parametrize("text,score", [
    ('{"score": 7, "reason": "ok"}', 7),
    ('```json\n{"score": 10, "reason": "fine"}\n```', 10),
    ('Sure! {"score": "3", "reason": "meh"}', 3),
    ('{"score": 4, "reason": "cut sho', 4),  # cut off by max_tokens after the score
    ('{"score": 11}', None),
    ('{"score": -1}', None),
    ('{"score": true}', None),
    ('{"grade": 5}', None),
    ("I cannot grade this.", None),
    ("", None),
])
def test_parse_grade_reads_a_0_to_10_score_or_nothing(text, score):
    assert parse_grade(text) == score


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(20):
        x = [rng.choice([0, 0.5, 1]) for _ in range(12)]
        y = [rng.randint(0, 10) for _ in range(12)]
        expected = stats.spearmanr(x, y).statistic
        assert spearman(x, y) == pytest.approx(expected, abs=1e-4)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [2]) is None


@pytest.mark.slow  # starts llama.cpp with SmolLM2-135M and grades a sample (30 s here)
def test_the_embedded_teacher_judges_end_to_end_with_a_warning(novel, tmp_path):
    pytest.importorskip("llama_cpp", reason="the `teacher` extra is not installed")
    task = novel.tasks["Novel/4"]
    results = [{"task_id": task.task_id, "sample": 0, "completion": task.reference, "passed": True}]
    with pytest.warns(UserWarning, match="too weak"):
        section = judge_results(novel, results, TeacherConfig(), tmp_path, progress=False)
    assert section["graded"] + section["unparsed"] == 1 and section["failed"] == 0
    assert section["judge_model"] == "smollm2-135m-instruct" and section["weak_judge_warning"]
    rows = [json.loads(line) for line in open(tmp_path / "judgments.jsonl")]
    assert all(r["score"] is None or 0 <= r["score"] <= 10 for r in rows)


def test_an_unreachable_judge_is_a_user_error_and_the_scores_are_kept(novel, tmp_path):
    from textbooks.teacher.server import free_port

    samples = graded_samples(novel, tmp_path / "samples.jsonl", {"Novel/0": [(True, "9")]})
    with pytest.raises(UserError, match="no endpoint can be reached"):
        evaluate(novel, tmp_path / "out", samples_file=samples, settings=EvalSettings(limit=1, workers=1), progress=False,
                 judge=TeacherConfig([f"http://127.0.0.1:{free_port()}/v1"], "nobody"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["scores"]["pass@1"]["estimate"] == 1.0 and "judge" not in summary
