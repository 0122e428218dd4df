"""Annotation, classification and the whole `textbooks curate` run, with a rule-based stand-in
teacher on loopback whose labels the tests control."""

from __future__ import annotations

import json
import signal
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO, cached_answers, run_cli, sigkill_after_answers
from curate_fake_teacher import RatingTeacher
from textbooks.config import command_config
from textbooks.curate.annotate import AnnotateConfig, annotate, labels_from_scores, parse_score, sample_ids
from textbooks.curate.job import CurateConfig, run_curate
from textbooks.data.datasets import Dataset
from textbooks.data.sources import import_sources
from textbooks.errors import UserError
from textbooks.teacher import TeacherConfig

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# The files of CPython 3.11.7's json, email, logging, http, urllib, concurrent, collections,
# importlib and unittest packages, pinned: another Python's standard library is another set of
# files, and the classifier's bar below was set on this one (tests/data/README.md).
CORPUS = REPO / "tests" / "data" / "curate_corpus.jsonl.gz"


@pytest.fixture(scope="module")
def stdlib_files(tmp_path_factory) -> Dataset:
    return import_sources([CORPUS], tmp_path_factory.mktemp("src") / "raw", rows_per_shard=40)


def test_parse_score_takes_json_or_a_score_line_and_counts_the_rest():
    assert parse_score('{"rationale": "clear", "score": 4}') == (4, "clear")
    assert parse_score('{"rationale": "raw\nnewline", "score": "3"}') == (3, "raw\nnewline")
    assert parse_score("Nice code.\nEducational score: 2") == (2, "Nice code.\nEducational score: 2")
    assert parse_score('{"score": 9}') == "score_out_of_range"
    assert parse_score("I cannot rate this file.") == "no_score"


def test_labels_all_one_class_name_the_histogram_and_suggest_auto():
    assert labels_from_scores([1, 2, 2, 3, 5], "auto") == ([0, 0, 0, 1, 1], 3.0)
    # a weak teacher's histogram: the median (0) would label every file 1; auto splits at 2
    scores = [0] * 68 + [2] * 5 + [3] + [5] * 26
    labels, cutoff = labels_from_scores(scores, "auto")
    assert cutoff == 2.0 and sum(labels) == 32
    assert labels_from_scores([1, 4], "3") == ([0, 1], 3.0)
    with pytest.raises(UserError, match=r"every file is labelled 0 at threshold 3 \(score histogram 1: 3, 2: 1\); try --threshold auto"):
        labels_from_scores([1, 1, 2, 1], "3")
    with pytest.raises(UserError, match=r"every file is labelled 1 at threshold 4 \(score histogram 4: 3\)$"):
        labels_from_scores([4, 4, 4], "auto")
    with pytest.raises(UserError, match="expected a number 0-5 or 'auto'"):
        labels_from_scores([1, 4], "high")


def test_the_sample_depends_on_seed_and_ids_only(stdlib_files):
    first = sample_ids(stdlib_files, 10, seed=0)
    assert first == sample_ids(stdlib_files, 10, seed=0) and len(set(first)) == 10
    assert first != sample_ids(stdlib_files, 10, seed=1)
    assert sample_ids(stdlib_files, 5, seed=0) == first[:5]  # a smaller sample is a prefix of a larger one


def test_a_teacher_answering_garbage_is_a_clear_error_with_the_rejections_counted(stdlib_files, tmp_path):
    with RatingTeacher(garbage=True) as server:
        teacher = TeacherConfig(endpoints=[server.url], model="fault-model")
        with pytest.raises(UserError, match=r"none of 12 answers held a score 0-5 \(rejected: \{'no_score': 12\}\)"):
            annotate(stdlib_files, tmp_path / "annotated", AnnotateConfig(sample=12), teacher, tmp_path / "cache.sqlite")
    assert not (tmp_path / "annotated").exists()


def test_without_structured_output_the_score_line_is_parsed_and_files_are_truncated(stdlib_files, tmp_path):
    with RatingTeacher() as server:
        teacher = TeacherConfig(endpoints=[server.url], model="fault-model")
        config = AnnotateConfig(sample=6, structured_output=False, max_file_tokens=64)
        result = annotate(stdlib_files, tmp_path / "annotated", config, teacher, tmp_path / "cache.sqlite")
        prompts = [hit.item for hit in server.hits]
    assert result.stats["scored"] == 6 and sum(result.stats["histogram"].values()) == 6
    rows = list(result.dataset.iter_records())
    assert all(0 <= r["edu_score"] <= 5 and "Educational score" in r["edu_rationale"] for r in rows)
    assert all(len(r["text"]) > 1000 for r in rows if r["text"].count("\n") > 100)  # the full text is kept
    assert max(len(p) for p in prompts) < 4000  # but the teacher saw at most 64 tokens of each file


def test_an_annotation_killed_with_sigkill_resumes_and_no_answered_request_is_asked_again(stdlib_files, tmp_path):
    out, cache = tmp_path / "annotated", tmp_path / "cache.sqlite"
    with RatingTeacher(delay_s=0.05) as server:
        args = ["curate", "annotate", "--input", str(stdlib_files.path), "--out", str(out), "--endpoint", server.url,
                "--model", "fault-model", "--sample", "40", "--cache", str(cache), "teacher.max_in_flight=2"]
        assert sigkill_after_answers(args, cache, 15) == -signal.SIGKILL and not (out / "manifest.json").exists()
        answered_before = cached_answers(cache)
        asked_before = len(server.hits)
        resumed = run_cli(*args)
        assert resumed.returncode == 0, resumed.stderr
        # The resumed run asked exactly what had no cached answer: only requests in flight at the
        # kill (at most 2) were asked twice, and no answered one was.
        assert len(server.hits) - asked_before == 40 - answered_before
        assert sum(n - 1 for n in server.counts.values()) == asked_before - answered_before <= 2
    assert Dataset.open(out).num_rows == 40 and "40 of 40 files scored" in resumed.stdout


@pytest.mark.slow
def test_a_whole_run_learns_the_teachers_labelling_and_keeps_the_files_it_rates_high(stdlib_files, tmp_path):
    with RatingTeacher() as server:
        job = command_config(CurateConfig, None, [], {
            "out": tmp_path / "run", "sources": [str(CORPUS)], "teacher.endpoints": [server.url],
            "teacher.model": "fault-model", "embedder": "hashing", "annotate.sample": 150, "rows_per_shard": 40})
        result = run_curate(job)
        asked = len(server.hits)
        again = run_curate(job)  # everything is done: nothing is asked, nothing rebuilt
        assert len(server.hits) == asked and again.datasets["filtered"].fingerprint == result.datasets["filtered"].fingerprint
    report = result.report
    metrics = report["classifier"]["metrics"]
    assert metrics["random_forest"]["roc_auc"] >= 0.8 and metrics["logistic_regression"]["roc_auc"] >= 0.8
    assert 0 < report["files"]["kept"] < report["files"]["scored"] and report["tokens"]["kept"] < report["tokens"]["scored"]
    assert report["top"][0]["quality"] >= report["bottom"][0]["quality"] and len(report["top"]) == 5
    # kept files hold more docstrings than dropped ones: the rule the teacher rated by
    kept = {r["id"] for r in result.datasets["filtered"].iter_records(columns=["id"])}
    scored = list(Dataset.open(tmp_path / "run" / "scored").iter_records(columns=["id", "text"]))
    density = {r["id"]: r["text"].count('"""') / max(1, r["text"].count("\n")) for r in scored}
    mean = lambda ids: sum(density[i] for i in ids) / len(ids)  # noqa: E731
    assert mean(kept) > mean(set(density) - kept)
    manifests = {name: ds.manifest for name, ds in result.datasets.items()}
    assert manifests["clean"]["curate-clean"]["dropped"]["empty"] >= 1  # the packages' empty __init__.py files
    assert manifests["clean"]["curate-clean"]["redacted"]["email"] > 0
    assert (tmp_path / "run" / "classifier" / "classifier.json").is_file()
    assert json.loads((tmp_path / "run" / "report.json").read_text())["files"] == report["files"]


@pytest.mark.parametrize("args, message", [
    (["curate", "clean", "--input", "nowhere", "--out", "x"], "nowhere: dataset directory not found"),
    (["curate", "--out", "x"], "curate: --source is required"),
    (["curate", "--source", "nowhere.jsonl", "--out", "x"], "nowhere.jsonl: no such file or directory"),
    (["curate", "--source", ".", "--out", "x", "--keep", "top:2"], "classify.keep: 'top:2'"),
    (["curate", "--source", ".", "--out", "x", "--set", "dedup.threshold=2"], "dedup.threshold: 2"),
    (["curate", "--source", ".", "--out", "x", "--executor", "slurm"], "executor.partition: required with --executor slurm"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.slow
def test_each_step_alone_from_the_command_line_chains_into_the_next(stdlib_files, tmp_path):
    steps = [
        ["curate", "clean", "--input", str(stdlib_files.path), "--out", str(tmp_path / "clean")],
        ["curate", "dedup", "--input", str(tmp_path / "clean"), "--out", str(tmp_path / "dedup"), "--workers", "1"],
        ["curate", "embed", "--input", str(tmp_path / "dedup"), "--out", str(tmp_path / "embedded"), "embedder=hashing"],
    ]
    for args in steps:
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    assert "'dropped'" in run_cli(*steps[0]).stdout  # done: prints the manifest's counts again
    with RatingTeacher() as server:
        annotated = run_cli("curate", "annotate", "--input", str(tmp_path / "dedup"), "--out", str(tmp_path / "annotated"),
                            "--endpoint", server.url, "--model", "fault-model", "--sample", "80", "--no-structured")
        assert annotated.returncode == 0 and "80 of 80 files scored" in annotated.stdout, annotated.stderr
    classified = run_cli("curate", "classify", "--annotated", str(tmp_path / "annotated"), "--embedded",
                         str(tmp_path / "embedded"), "--out", str(tmp_path / "classified"), "--keep", "top:0.25")
    assert classified.returncode == 0, classified.stderr
    assert "random_forest" in classified.stdout and "logistic_regression" in classified.stdout
    filtered = Dataset.open(tmp_path / "classified" / "filtered")
    scored = Dataset.open(tmp_path / "classified" / "scored")
    kept = {r["id"] for r in filtered.iter_records(columns=["id"])}
    quality = {r["id"]: r["quality"] for r in scored.iter_records(columns=["id", "quality"])}
    assert len(kept) >= round(0.25 * len(quality))  # the top quarter, and files tied with its last
    assert min(quality[i] for i in kept) >= max(q for i, q in quality.items() if i not in kept)
    assert "embedding" not in filtered.shards and {"quality", "tokens", "edu_score"} - set(
        next(filtered.iter_batches()).schema.names) == {"edu_score"}  # scores of all files; teacher labels only on the sample


def test_the_curate_config_reads_yaml_sections_flags_and_overrides_in_that_order(tmp_path):
    path = tmp_path / "curate.yaml"
    path.write_text("sources: [a, b]\nannotate: {sample: 50, max_file_tokens: 256}\nclassify: {threshold: 3, keep: top:0.3}\n"
                    "teacher: {endpoints: [http://h:8000/v1], model: big}\nexecutor: {kind: local, workers: 8}\n")
    job = command_config(CurateConfig, path, ["annotate.sample=70", "dedup.threshold=0.8"], {"out": tmp_path / "o", "classify.keep": "0.6"})
    assert (job.sources, job.annotate.sample, job.annotate.max_file_tokens) == (["a", "b"], 70, 256)
    assert (job.classify.threshold, job.classify.keep, job.dedup.threshold, job.executor.workers) == ("3", "0.6", 0.8, 8)
    assert job.teacher.endpoints == ["http://h:8000/v1"] and job.out == tmp_path / "o"
    with pytest.raises(UserError, match="unknown key 'sampel'"):
        command_config(CurateConfig, None, ["annotate.sampel=5"])


def test_until_dedup_stops_before_the_teacher_and_its_result_is_the_dedup_dataset(tmp_path):
    """The unfiltered baseline of the data-quality experiment: cleaned and deduplicated, no teacher."""
    with pytest.raises(UserError, match="until: 'annotated'; expected one of dedup, filtered"):
        CurateConfig(until="annotated")
    done = run_cli("curate", "--source", str(STDLIB / "json"), "--out", str(tmp_path / "cur"), "--until", "dedup",
                   "--endpoint", "http://127.0.0.1:9/v1", "--model", "unreachable")  # never called
    assert done.returncode == 0, done.stderr
    dedup = Dataset.open(tmp_path / "cur" / "dedup")
    assert done.stdout.strip() == f"{dedup.path}: {dedup.num_rows:,} of {dedup.num_rows:,} files after cleaning and dedup"
    assert sorted(p.name for p in (tmp_path / "cur").iterdir() if p.is_dir()) == ["clean", "dedup", "raw"]
    assert CurateConfig(until="dedup").result_dir(tmp_path / "cur") == dedup.path
