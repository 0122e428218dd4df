"""Generation end to end against a fake teacher over real HTTP: counts, validity, determinism, resume."""

from __future__ import annotations

import pytest

from synth_fake_teacher import FakeTeacher  # noqa: E402
from textbooks.data.datasets import Dataset
from textbooks.data.schemas import validate_record
from textbooks.errors import UserError
from textbooks.synth.exercises import exercise_generator
from textbooks.synth.generate import GenerationConfig, dry_run, generate
from textbooks.synth.textbooks import textbook_generator
from textbooks.teacher import TeacherConfig
from textbooks.teacher.cache import AnswerCache


@pytest.fixture
def teacher():
    with FakeTeacher() as server:
        yield server


def teacher_config(server, **overrides) -> TeacherConfig:
    return TeacherConfig(endpoints=[server.url], model="fake", **overrides)


def records(path) -> list[dict]:
    return list(Dataset.open(path).iter_records())


def kept_in_index_order(generator, rows: list[dict], num: int) -> bool:
    order = {generator.request(i)[1].key[:24]: i for i in range(num)}
    indices = [order[row["id"]] for row in rows]
    return indices == sorted(indices)


def test_exercises_counts_add_up_and_every_record_is_a_valid_humaneval_style_exercise(teacher, tmp_path):
    generator = exercise_generator(GenerationConfig(model="fake", num=60, seed=3, batch_size=16))
    result = generate(generator, teacher_config(teacher), tmp_path / "ex")
    stats = result.stats
    assert stats["requests"] == 60 == stats["kept"] + sum(stats["rejected"].values())
    assert {"unparseable", "tests_failed", "no_docstring", "wrong_name", "near_duplicate"} <= set(stats["rejected"])
    rows = records(tmp_path / "ex")
    assert len(rows) == stats["kept"] > 0 and result.dataset.kind == "exercise"
    for row in rows:
        validate_record("exercise", row, row["id"])
        assert row["text"] == row["prompt"] + row["solution"]
        assert row["prompt"].rstrip().endswith('"""') and row["solution"].startswith("    ")
        assert f"def {row['function_name']}(" in row["prompt"] and row["tests"]
        assert row["teacher"] == "fault-model" and row["usage_tokens"] == 30
    # the fenced answers' top-level asserts became tests; their prose and fence were dropped
    assert any(row["text"].count("\n") == 3 for row in rows)
    assert kept_in_index_order(generator, rows, 60)


def test_rerunning_a_finished_stage_is_a_no_op_that_sends_nothing(teacher, tmp_path):
    config = GenerationConfig(model="fake", num=10, seed=1)
    first = generate(textbook_generator(config), teacher_config(teacher), tmp_path / "tb")
    hits = len(teacher.hits)
    again = generate(textbook_generator(config), teacher_config(teacher), tmp_path / "tb")
    assert (first.already_done, again.already_done) == (False, True)
    assert len(teacher.hits) == hits == 10
    assert again.stats == first.stats


def test_textbook_records_carry_their_constraints_and_empty_answers_are_counted(teacher, tmp_path):
    generator = textbook_generator(GenerationConfig(model="fake", num=40, seed=5))
    result = generate(generator, teacher_config(teacher), tmp_path / "tb")
    rows = records(tmp_path / "tb")
    assert result.stats["rejected"].get("empty", 0) > 0
    assert len(rows) + sum(result.stats["rejected"].values()) == 40
    pools = generator.pools
    for row in rows:
        validate_record("textbook", row, row["id"])
        assert row["audience"] in pools.audiences and row["style"] in pools.styles
        assert (row["topic"], row["subtopic"]) in {(t.topic, t.subtopic) for t in pools.topics}
        assert len(row["prompt_sha"]) == 64 and row["usage_tokens"] == 30 and row["teacher"] == "fault-model"
    assert kept_in_index_order(generator, rows, 40)


def test_a_token_target_ends_at_the_same_record_whatever_the_batch_size(teacher, tmp_path):
    runs = {}
    for batch_size in (3, 64):
        config = GenerationConfig(model="fake", tokens=300, seed=2, batch_size=batch_size, max_tokens_per_doc=20)
        runs[batch_size] = generate(textbook_generator(config), teacher_config(teacher), tmp_path / f"b{batch_size}", tmp_path / "cache.sqlite")
    assert records(tmp_path / "b3") == records(tmp_path / "b64")
    stats = runs[3].stats
    # 20 completion tokens per answer: the 15th kept record reaches 300 and ends the run
    assert stats["kept_completion_tokens"] == 300 and stats["kept"] == 15
    assert stats["requests"] == stats["kept"] + sum(stats["rejected"].values())


def test_requests_the_teacher_refuses_are_counted_and_the_dataset_still_written(tmp_path):
    with FakeTeacher(always="400") as server:
        result = generate(textbook_generator(GenerationConfig(model="fake", num=5)), teacher_config(server), tmp_path / "tb")
    assert result.stats["rejected"] == {"teacher_failed": 5}
    assert result.dataset.num_rows == 0


def test_a_teacher_that_is_down_publishes_nothing_and_the_rerun_finishes(teacher, tmp_path):
    config = GenerationConfig(model="fake", num=6, seed=8)
    with FakeTeacher(faults={}, always="500") as down:
        with pytest.raises(UserError, match=r"6 teacher requests failed \(.*HTTP 500.*run the same command again"):
            generate(textbook_generator(config), teacher_config(down, max_retries=0), tmp_path / "tb", tmp_path / "c.sqlite")
    assert not (tmp_path / "tb").exists()
    result = generate(textbook_generator(config), teacher_config(teacher), tmp_path / "tb", tmp_path / "c.sqlite")
    assert result.stats["requests"] == 6 and "teacher_failed" not in result.stats["rejected"]


def test_a_spent_budget_stops_the_run_and_reruns_go_on_without_paying_twice(teacher, tmp_path):
    config = GenerationConfig(model="fake", num=12, seed=4)
    cache = tmp_path / "cache.sqlite"
    runs = 0
    while True:  # each run may spend 100 tokens: 3 or 4 answers of 30 tokens
        runs += 1
        assert runs <= 6
        try:
            generate(textbook_generator(config), teacher_config(teacher, max_in_flight=1, max_tokens_total=100), tmp_path / "tb", cache)
            break
        except UserError as err:
            assert "run the same command again" in str(err)
            with AnswerCache(cache) as answers:
                assert len(answers) == len(teacher.hits)  # every answer paid for is kept
    assert len(teacher.hits) == 12 and runs == 3
    generate(textbook_generator(config), teacher_config(teacher), tmp_path / "fresh", tmp_path / "fresh.sqlite")
    assert records(tmp_path / "tb") == records(tmp_path / "fresh")


def test_a_large_dry_run_is_billed_from_a_seeded_sample_within_a_percent_of_every_request(tmp_path):
    generator = textbook_generator(GenerationConfig(model="fake", num=3000, seed=3))
    exact, exact_note = dry_run(generator, tmp_path / "none.sqlite", sample=10_000)
    sampled, note = dry_run(generator, tmp_path / "none.sqlite", sample=300)
    assert "sample" not in exact_note and "seeded sample of 300 of the 3,000 requests" in note
    assert sampled.requests == exact.requests == 3000 and sampled.cached == 0
    assert sampled.prompt_tokens == pytest.approx(exact.prompt_tokens, rel=0.01) and sampled.prompt_tokens != exact.prompt_tokens
    assert sampled.max_completion_tokens == exact.max_completion_tokens
    assert dry_run(generator, tmp_path / "none.sqlite", sample=300) == (sampled, note)  # the same sample every time
