"""The shipped `ci` pipeline end to end (every stage, the same chain as `make demo`), within 5 minutes.

The teacher is a stand-in on loopback (tests/synth_fake_teacher.py: deterministic answers of
every shape, good and bad) so the run is fast and repeatable; everything else is real: dataset
import, tokenize, two training processes, export, HumanEval in the sandbox, the report, the cards.

TEXTBOOKS_BROWSER_TESTS=1 also opens the report in headless Chromium (scripts/check_report.py):
a screenshot, the DOM, every image loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

import pytest

from conftest import REPO, run_cli
from synth_fake_teacher import FakeTeacher
from textbooks.pipeline.cards import card_for_model

pytestmark = pytest.mark.slow
BUDGET_S = 300


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ci") / "run"
    with FakeTeacher() as teacher:
        overrides = [f"teacher.endpoints=[{teacher.url}]", "teacher.model=fake",
                     # the stand-in answers exercises in JSON, as a large teacher does
                     "stages.exercises.config.structured=true"]
        started = time.monotonic()
        first = run_cli("run", "ci", "--run-dir", str(run_dir), *overrides, timeout=BUDGET_S + 60)
        seconds = time.monotonic() - started
        second = run_cli("run", "ci", "--run-dir", str(run_dir), *overrides)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return run_dir, first, second, seconds


def test_the_ci_pipeline_runs_every_stage_within_five_minutes(ci_run):
    run_dir, first, _, seconds = ci_run
    assert seconds < BUDGET_S, f"the ci pipeline took {seconds:.0f} s"
    assert "ran 10 stage(s), 0 cached" in first.stdout
    assert first.stdout.strip().splitlines()[-1] == f"report: {run_dir / 'report.html'}"
    summary = json.loads((run_dir / "humaneval" / "summary.json").read_text())
    assert summary["tasks_scored"] == 2 and "pass@1" in summary["scores"]
    assert (run_dir / "hf" / "model.safetensors").is_file()


def test_a_second_run_of_the_ci_pipeline_does_no_work(ci_run):
    _, _, second, _ = ci_run
    assert second.returncode == 0, second.stderr
    assert "ran 0 stage(s), 10 cached" in second.stdout and "running" not in second.stdout


def test_the_console_shows_one_line_per_stage_start_and_end_and_the_warnings_last(ci_run):
    run_dir, first, _, _ = ci_run
    lines = (first.stdout + first.stderr).splitlines()
    # 10 stages started and ended, the warnings, the totals and the report's path; the rest is in the logs.
    assert len(lines) <= 2 * 10 + 12, "\n".join(lines)
    assert sum(": running into" in line for line in lines) == sum(": done in " in line for line in lines) == 10
    assert "elapsed" in [line for line in lines if ": done in " in line][0]
    warnings = json.loads((run_dir / "summary.json").read_text())["warnings"]
    assert warnings and lines[-2 - len(warnings):-2] == [f"warning: {w}" for w in warnings]
    training = (run_dir / "logs" / "pretrain.log").read_text()
    assert "-m textbooks train --config" in training and "-m textbooks train" not in first.stdout


def test_the_summary_heads_the_page_with_the_model_its_score_data_cost_and_warnings(ci_run):
    run_dir = ci_run[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"]["stage"] == "hf" and summary["model"]["preset"] == "nano" and summary["model"]["parameters"] > 0
    assert [name for name, _ in summary["model"]["tokens_seen"]] == ["pretrain", "finetune"]
    [score] = summary["pass_at_1"]
    assert score["tasks"] == 2 and score["isolation"]
    assert {d["dataset"] for d in summary["data_tokens"]} == {"code", "textbooks", "exercises-clean"}
    assert summary["teacher"] and summary["decontamination"][0]["stage"] == "exercises-clean"
    markdown = (run_dir / "report.md").read_text()
    top = markdown.split("\n## ")[1]  # the first section
    assert top.startswith("Summary") and "pass@1 humaneval" in top and "teacher" in top and "wall time" in top


def test_lineage_ties_the_final_model_to_every_dataset_template_and_teacher(ci_run):
    run_dir = ci_run[0]
    lineage = json.loads((run_dir / "lineage.json").read_text())
    assert lineage["final_model"] == {"stage": "hf", "depends_on": [
        "code", "textbooks", "exercises", "pretrain-pack", "exercises-clean", "finetune-pack", "pretrain", "finetune"]}
    made = lineage["stages"]["exercises"]["made_by"]
    assert made["config"]["model"] == "fake" and len(made["config"]["template_sha256"]) == 64
    assert lineage["stages"]["finetune"]["inputs"]["init"][0]["key"] == lineage["stages"]["pretrain"]["key"]


def test_the_report_and_cards_show_the_run(ci_run):
    run_dir = ci_run[0]
    page = (run_dir / "report.html").read_text()
    for section in ("Data funnel", "Synthetic exercises: diversity", "Training: loss curves",
                    "Evaluation: pass@1 per benchmark", "Teacher tokens and cost", "95% Wilson", "Decontamination"):
        assert section in page
    assert page.count("<img") >= 7 and page.count('src="data:image/png;base64,') == page.count("<img")
    assert 'src="http' not in page and 'href="http' not in page and "<link" not in page  # no network
    markdown = (run_dir / "report.md").read_text()
    assert all((run_dir / ref).is_file() for ref in
               [line.split("](")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")])
    card = (run_dir / "hf" / "README.md").read_text()
    assert card.startswith("---\n") and "model-index" in card and "| humaneval | 2 |" in card
    exercises_card = (run_dir / "exercises" / "README.md").read_text()
    assert "# Dataset card: exercises" in exercises_card and "checked by `exercises-clean`" in exercises_card
    assert "decontaminated output" in (run_dir / "exercises-clean" / "pruned" / "README.md").read_text()


def test_export_hf_of_a_pipeline_model_writes_its_model_card(ci_run, tmp_path):
    run_dir = ci_run[0]
    result = run_cli("export-hf", "--model", str(run_dir / "finetune"), "--out", str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "# Model card: finetune" in card and "pass@1" in card
    # A model from anywhere else gets no card (nothing to say where it came from).
    assert card_for_model("preset:nano") is None and card_for_model(run_dir / "humaneval") is None


@pytest.mark.skipif(os.environ.get("TEXTBOOKS_BROWSER_TESTS") != "1", reason="set TEXTBOOKS_BROWSER_TESTS=1 (needs chromium)")
def test_the_report_renders_in_headless_chromium_with_every_image_loaded(ci_run, tmp_path):
    spec = importlib.util.spec_from_file_location("check_report", REPO / "scripts" / "check_report.py")
    check_report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_report)
    problems = check_report.check(ci_run[0], tmp_path, ["Summary", "Data funnel", "pass@1", "Wall time per stage"])
    assert problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
