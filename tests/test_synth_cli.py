"""`textbooks synth ...` as a user runs it: real subprocesses against a fake teacher over HTTP."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from conftest import run_cli, sigkill_after_answers
from synth_fake_teacher import FakeTeacher  # noqa: E402
from textbooks.data.datasets import Dataset


@pytest.fixture
def teacher():
    with FakeTeacher() as server:
        yield server


def synth(kind: str, server, out: Path, *flags: str) -> list[str]:
    return ["synth", kind, "--endpoint", server.url, "--model", "fake", "--out", str(out), *flags]


def test_dry_run_prints_requests_and_tokens_and_sends_nothing(teacher, tmp_path):
    result = run_cli(*synth("exercises", teacher, tmp_path / "ex", "--num", "12", "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert "dry run, nothing sent: 12 requests (0 cached, 12 to send)" in result.stdout
    assert "<= 6,144 completion tokens" in result.stdout  # 12 x the default 512 max_tokens
    assert teacher.hits == [] and not (tmp_path / "ex").exists()


@pytest.mark.slow
def test_generate_then_report(teacher, tmp_path):
    result = run_cli(*synth("textbooks", teacher, tmp_path / "tb", "--num", "20", "--seed", "9"))
    assert result.returncode == 0, result.stderr
    rows = Dataset.open(tmp_path / "tb").num_rows
    assert f"{rows} textbook records of 20 requests" in result.stdout
    report = run_cli("synth", "report", str(tmp_path / "tb"), "--sample", "50")
    assert report.returncode == 0, report.stderr
    saved = json.loads((tmp_path / "tb.diversity.json").read_text())
    assert saved["rows"] == rows and saved["generation"]["requests"] == 20
    assert "mean pairwise distance" in report.stdout and "audience coverage" in report.stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: ["--template", str(_write(d / "tpl.txt", "About {topic} for {reader}."))], r"tpl.txt: unknown placeholder {reader}"),
        (lambda d: ["--topics", str(_write(d / "topics.csv", "topic,subtopic\nstrings,slicing\nbad row, with, commas\n"))], "topics.csv line 3: 3 fields"),
        (lambda d: ["--tokens", "100"], "give exactly one of --num (documents) or --tokens"),
    ],
)
def test_bad_input_is_one_line_naming_the_culprit_and_exit_2(teacher, tmp_path, setup, message):
    result = run_cli(*synth("textbooks", teacher, tmp_path / "tb", "--num", "3", *setup(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert teacher.hits == []


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def all_records(path: Path) -> list[dict]:
    return list(Dataset.open(path).iter_records())


@pytest.mark.slow
def test_a_run_killed_with_sigkill_and_resumed_gives_exactly_the_uninterrupted_dataset(tmp_path):
    flags = ["--num", "60", "--seed", "11", "--batch-size", "8", "--rows-per-shard", "5", "--max-in-flight", "2"]
    with FakeTeacher(delay_s=0.05) as server:
        killed_cache = tmp_path / "killed.sqlite"
        args = synth("exercises", server, tmp_path / "killed", "--cache", str(killed_cache), *flags)
        assert sigkill_after_answers(args, killed_cache, 30) == -signal.SIGKILL
        assert not (tmp_path / "killed" / "manifest.json").exists()  # no half dataset that looks complete
        paid_before_kill = len(server.hits)

        resumed = run_cli(*synth("exercises", server, tmp_path / "killed", "--cache", str(killed_cache), *flags))
        assert resumed.returncode == 0, resumed.stderr
        # the resumed run re-asked at most the requests that were in flight at the kill
        assert len(server.hits) <= 60 + 2 and len(server.hits) > paid_before_kill

        clean = run_cli(*synth("exercises", server, tmp_path / "clean", "--cache", str(tmp_path / "clean.sqlite"), *flags))
        assert clean.returncode == 0, clean.stderr
    assert all_records(tmp_path / "killed") == all_records(tmp_path / "clean")
    manifests = [Dataset.open(tmp_path / name).manifest for name in ("killed", "clean")]
    assert manifests[0]["synth"] == manifests[1]["synth"] and manifests[0]["fingerprint"] == manifests[1]["fingerprint"]
    assert len(manifests[0]["shards"]) > 1
