"""`textbooks synth exercises` with the embedded teacher: llama.cpp's server and SmolLM2-135M, for real.

The 135M model rarely writes a usable exercise; the test asks that the pipeline runs, that what
it writes is a valid dataset, and that every request is accounted for (kept or rejected by reason).
"""

from __future__ import annotations

import pytest

from conftest import run_cli
from textbooks.data.datasets import Dataset
from textbooks.data.schemas import validate_record
from textbooks.teacher.cache import AnswerCache


@pytest.mark.slow
def test_exercises_from_the_embedded_teacher_make_a_valid_dataset_whose_counts_add_up(tmp_path):
    out = tmp_path / "exercises"
    result = run_cli("synth", "exercises", "--num", "2", "--max-tokens-per-doc", "96", "--seed", "1", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    dataset = Dataset.open(out)
    stats = dataset.manifest["synth"]
    assert stats["requests"] == 2 == stats["kept"] + sum(stats["rejected"].values())
    assert dataset.num_rows == stats["kept"] and stats["completion_tokens"] > 0
    for record in dataset.iter_records():
        validate_record("exercise", record, record["id"])
        assert record["text"] == record["prompt"] + record["solution"]
    with AnswerCache(tmp_path / "exercises.teacher-cache.sqlite") as cache:
        assert len(cache) == 2
