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


def test_curated_code_and_decontaminated_exercises_feed_the_packs_and_the_report(tmp_path, shared_assets):
    with RatingTeacher() as rater, FakeTeacher() as writer:
        data = {"run_dir": str(tmp_path / "run"), "stages": {
            "code": {"kind": "curate", "config": {
                "sources": [str(STDLIB / "json"), str(STDLIB / "email")], "embedder": "hashing",
                "annotate": {"sample": 60}, "rows_per_shard": 40,
                "teacher": {"endpoints": [rater.url], "model": "fault-model"}}},
            "exercises": {"kind": "synth-exercises", "config": {
                "num": 12, "teacher": {"endpoints": [writer.url], "model": "fake"}}},
            "exercises-clean": {"kind": "decontam", "inputs": {"dataset": "exercises"},
                                "config": {"data_dir": str(shared_assets / "benchmarks"), "chunk_size": 100}},
            "pack": {"kind": "tokenize", "inputs": {"datasets": ["code", "exercises-clean"]}, "config": {"workers": 1}},
        }}
        path = tmp_path / "pipe.yaml"
        path.write_text(yaml.safe_dump(data))
        result = run_pipeline(load_spec(path), None, RunOptions(), echo=lambda line: None)
        assert result.ran == ["code", "exercises", "exercises-clean", "pack"]
        assert run_pipeline(load_spec(path), None, RunOptions(), echo=lambda line: None).ran == []
    run_dir = tmp_path / "run"
    pack = json.loads((run_dir / "pack" / "pack.json").read_text())
    assert [Path(i["path"]).name for i in pack["inputs"]] == ["filtered", "pruned"]
    page = (run_dir / "report.html").read_text()
    assert "Curation: annotation and classifier" in page and "Decontamination" in page and "ROC-AUC" in page
    assert "checked by `exercises-clean`" in (run_dir / "exercises" / "README.md").read_text()
