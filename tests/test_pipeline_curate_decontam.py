"""The curate and decontam stage kinds in a pipeline: code curated with a rating stand-in teacher,
exercises from the synth stand-in decontaminated against the benchmarks, both packed.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
import yaml

from curate_fake_teacher import RatingTeacher
from synth_fake_teacher import FakeTeacher
from textbooks.pipeline.runner import RunOptions, run_pipeline
from textbooks.pipeline.spec import load_spec

STDLIB = Path(sysconfig.get_paths()["stdlib"])
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def curated_run(tmp_path_factory, shared_assets):
    tmp_path = tmp_path_factory.mktemp("curated")
    with RatingTeacher() as rater, FakeTeacher() as writer:
        data = {"run_dir": str(tmp_path / "run"), "stages": {
            "code": {"kind": "curate", "config": {
                "sources": [str(STDLIB / "json"), str(STDLIB / "email")], "embedder": "hashing",
                "annotate": {"sample": 60}, "rows_per_shard": 40,
                "teacher": {"endpoints": [rater.url], "model": "fault-model"}}},
            "exercises": {"kind": "synth-exercises", "config": {
                "num": 12, "teacher": {"endpoints": [writer.url], "model": "fake", "prices": {"fake": [2.0, 10.0]}}}},
            "exercises-clean": {"kind": "decontam", "inputs": {"dataset": "exercises"},
                                "config": {"data_dir": str(shared_assets / "benchmarks"), "chunk_size": 100}},
            "pack": {"kind": "tokenize", "inputs": {"datasets": ["code", "exercises-clean"]}, "config": {"workers": 1}},
        }}
        path = tmp_path / "pipe.yaml"
        path.write_text(yaml.safe_dump(data))
        result = run_pipeline(load_spec(path), None, RunOptions(), echo=lambda line: None)
        again = run_pipeline(load_spec(path), None, RunOptions(), echo=lambda line: None)
    return tmp_path / "run", result, again


def test_curated_code_and_decontaminated_exercises_feed_the_packs_and_the_report(curated_run):
    run_dir, result, again = curated_run
    assert result.ran == ["code", "exercises", "exercises-clean", "pack"]
    assert again.ran == []
    pack = json.loads((run_dir / "pack" / "pack.json").read_text())
    assert [Path(i["path"]).name for i in pack["inputs"]] == ["filtered", "pruned"]
    page = (run_dir / "report.html").read_text()
    assert "Curation: annotation and classifier" in page and "Decontamination" in page and "ROC-AUC" in page
    assert "checked by `exercises-clean`" in (run_dir / "exercises" / "README.md").read_text()


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def test_the_funnel_shows_each_datasets_own_steps_as_its_manifests_count_them(curated_run):
    run_dir = curated_run[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    code = run_dir / "code"  # the curate stage's directory: one dataset per step
    steps = {label: manifest(code / step)["num_rows"]
             for label, step in [("raw", "raw"), ("clean", "clean"), ("dedup", "dedup"), ("rated", "annotated"),
                                 ("kept", "filtered")]}
    assert summary["funnel"]["code"] == [[label, n] for label, n in steps.items()]
    assert 0 < steps["rated"] <= steps["dedup"] and steps["kept"] < steps["dedup"], "a filter keeping everything is no funnel"
    synth = manifest(run_dir / "exercises")["synth"]
    after = manifest(run_dir / "exercises-clean" / "pruned")["num_rows"]
    funnel = dict(map(tuple, summary["funnel"]["exercises"]))
    assert (funnel["asked"], funnel["kept"], funnel["after decontamination"]) == (synth["requests"], synth["kept"], after)
    assert funnel["asked"] >= funnel["answered"] >= funnel["valid"] >= funnel["kept"]
    markdown = (run_dir / "report.md").read_text()
    assert " → ".join(f"{label} {n:,}" for label, n in steps.items()) in markdown


def test_teacher_cost_counts_the_annotation_and_the_synthesis_as_their_records_do(curated_run):
    from textbooks.data.datasets import Dataset

    run_dir = curated_run[0]
    usage = {row["stage"]: row for row in json.loads((run_dir / "summary.json").read_text())["teacher"]}
    rated = Dataset.open(run_dir / "code" / "annotated")
    # Every answer of the stand-in holds a score, so every one is a row carrying what it cost.
    assert rated.num_rows == rated.manifest["annotate"]["requests"] > 0
    assert usage["code"]["role"] == "annotation" and usage["code"]["model"] == "fault-model"
    assert usage["code"]["tokens"] == sum(r["usage_tokens"] for r in rated.iter_records(columns=["usage_tokens"])) > 0
    synth = manifest(run_dir / "exercises")["synth"]
    assert (usage["exercises"]["prompt_tokens"], usage["exercises"]["completion_tokens"]) == (
        synth["prompt_tokens"], synth["completion_tokens"])
    assert usage["exercises"]["cost_usd"] == pytest.approx((synth["prompt_tokens"] * 2 + synth["completion_tokens"] * 10) / 1e6)
    assert usage["code"]["cost_usd"] is None  # no price set for it


def test_the_page_opens_with_the_summary_and_its_sections_follow_the_pipeline(curated_run):
    run_dir = curated_run[0]
    markdown = (run_dir / "report.md").read_text()
    titles = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert titles[0] == "Summary"
    # code (curate), exercises (synth), exercises-clean (decontam): the pipeline's order, not the kinds' own
    order = ["Curation: annotation and classifier", "Synthetic exercises: diversity", "Decontamination"]
    assert [t for t in titles if t in order] == order
    summary = json.loads((run_dir / "summary.json").read_text())
    assert any(w.startswith("teacher fault-model: its size is unknown") for w in summary["warnings"])
    assert all(f"**Warning:** {w}" in markdown for w in summary["warnings"])
    assert summary["rejected"]["files"] and all("below the keep line" in r["reason"] for r in summary["rejected"]["files"])
