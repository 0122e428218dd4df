"""The diversity report: its measures checked against brute force, and a report of a real run."""

from __future__ import annotations

import numpy as np
import pytest

from synth_fake_teacher import FakeTeacher  # noqa: E402
from textbooks.synth.diversity import (
    default_report_path,
    distinct_ngrams,
    diversity_report,
    format_report,
    mean_pairwise_distance,
    save_report,
)
from textbooks.synth.generate import GenerationConfig, generate
from textbooks.synth.textbooks import textbook_generator
from textbooks.teacher import TeacherConfig


def test_mean_pairwise_distance_equals_the_mean_over_all_pairs():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[3] = 0.0  # an empty text embeds to zero
    pairs = [1 - vectors[i] @ vectors[j] for i in range(30) for j in range(30) if i != j]
    assert mean_pairwise_distance(vectors) == pytest.approx(np.mean(pairs), abs=1e-6)
    assert mean_pairwise_distance(np.repeat(vectors[:1], 5, axis=0)) == pytest.approx(0.0, abs=1e-6)
    assert mean_pairwise_distance(vectors[:1]) == 0.0


def test_distinct_ngrams():
    assert distinct_ngrams(["a b a b"], 1) == 2 / 4
    assert distinct_ngrams(["a b a b"], 2) == 2 / 3  # (a b), (b a), (a b)
    assert distinct_ngrams(["a"], 2) == 0.0


def test_report_of_a_generated_dataset(tmp_path):
    with FakeTeacher() as server:
        config = GenerationConfig(model="fake", num=30, seed=6)
        generate(textbook_generator(config), TeacherConfig(endpoints=[server.url], model="fake"), tmp_path / "tb")
    report = diversity_report(tmp_path / "tb", embedder="hashing", sample=10)
    assert report["sample"] == 10 and report["kind"] == "textbook"
    assert set(report["distinct_ngrams"]) == {"1", "2", "3", "4"}
    assert 0.0 < report["embedding"]["mean_pairwise_distance"] < 1.0
    coverage = report["coverage"]
    assert coverage["topic"]["total"] == 40 and coverage["subtopic"]["total"] == 400
    assert coverage["audience"]["present"] <= coverage["audience"]["total"] == 20
    generation = report["generation"]
    assert generation["requests"] == 30 == report["rows"] + sum(generation["rejected"].values())
    assert report["length_chars"]["p50"] > 200
    text = format_report(report)
    assert "distinct n-grams" in text and "rejected: empty" in text and "tokens spent: 300 prompt + 600 completion" in text
    save_report(report, default_report_path(tmp_path / "tb"))
    assert (tmp_path / "tb.diversity.json").is_file()
