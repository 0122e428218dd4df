"""`textbooks curate` as library calls: the typed config (`CurateConfig`) and one function per step.

    job = command_config(CurateConfig, "curate.yaml", ["annotate.sample=500", "classify.threshold=auto"])
    result = run_curate(job)            # every step; or run_clean / run_dedup / ... alone

OUT/ of a whole run holds one dataset per step, each resumable and skipped when done:
  raw/  clean/  dedup/  annotated/  embedded/  scored/  filtered/ (the result)
  classifier/ (model.joblib, classifier.json)  report.json  teacher-cache.sqlite  embeddings.sqlite
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textbooks.config import output, output_data, pacing
from textbooks.curate.annotate import AnnotateConfig, AnnotateResult, annotate, labels_from_scores
from textbooks.curate.classify import ClassifyConfig, format_metrics, keep_cutoff, train_classifier
from textbooks.curate.clean import RULES, CleanConfig
from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
from textbooks.curate.executor import ExecutorConfig, counter_of, run_shard_stage
from textbooks.data.datasets import Dataset, DatasetWriter
from textbooks.errors import UserError
from textbooks.io import atomic_write_json
from textbooks.teacher import TeacherConfig

UNTIL = ("dedup", "filtered")  # where a run may stop: its last dataset
EXAMPLES = 5  # files shown from each end of the quality range in the report
EXAMPLE_CHARS = 400


@dataclass
class CurateConfig:
    """Everything `textbooks curate` does (YAML: these keys, with sections clean:, dedup:, ...)."""

    out: Path | None = pacing(None)
    sources: list[str] = output(default_factory=list)  # directories, .jsonl(.gz), .parquet, Posts.xml, hf:ID
    pattern: str = output("*.py")  # files taken from directories
    hf_data_dir: str | None = output(None)  # e.g. data/python for bigcode/the-stack-dedup
    so_tag: str | None = output("python")  # StackOverflow questions kept (None: all)
    rows_per_shard: int = output(10_000)  # shards are the unit of parallel work
    clean: CleanConfig = output(default_factory=CleanConfig)
    dedup: DedupConfig = output(default_factory=DedupConfig)
    annotate: AnnotateConfig = output(default_factory=AnnotateConfig)
    teacher: TeacherConfig = output(default_factory=TeacherConfig)  # no endpoints: the embedded teacher
    embedder: str = output("minilm")  # hashing, minilm, or causal:MODEL (the paper's way)
    classify: ClassifyConfig = output(default_factory=ClassifyConfig)
    executor: ExecutorConfig = pacing(default_factory=ExecutorConfig)
    teacher_cache: Path | None = pacing(None)  # default OUT/teacher-cache.sqlite
    embedding_cache: Path | None = pacing(None)  # default OUT/embeddings.sqlite
    # "dedup" stops after cleaning and dedup: the unfiltered corpus (the paper's baseline) with no
    # teacher and no classifier; its result is OUT/dedup.
    until: str = output("filtered")

    def __post_init__(self) -> None:
        if self.until not in UNTIL:
            raise UserError(f"until: {self.until!r}; expected one of {', '.join(UNTIL)}")

    def result_dir(self, out: Path) -> Path:
        """The dataset the run ends with: OUT/filtered, or OUT/dedup with `until: dedup`."""
        return out / self.until

    def out_dir(self) -> Path:
        if self.out is None:
            raise UserError("curate: --out is required (or `out:` in the config); expected a directory")
        return self.out

    def teacher_cache_path(self, out: Path) -> Path:
        return self.teacher_cache or out.parent / f"{out.name}.teacher-cache.sqlite"

    def embedding_cache_path(self, out: Path) -> Path:
        return self.embedding_cache or out.parent / f"{out.name}.embeddings.sqlite"


CurateJob = CurateConfig  # its name before every command's config was named <Command>Config


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_clean(dataset: Dataset, out: Path, job: CurateConfig) -> Dataset:
    from textbooks.curate.steps import CleanFilter

    def summarize(counts: dict[str, Counter]) -> dict[str, Any]:
        clean = counter_of(counts, "clean")
        return {"input": dataset.num_rows, "kept": clean["kept"],
                "dropped": {rule: clean[f"dropped_{rule}"] for rule in RULES},
                "redacted": {kind: clean[f"redacted_{kind}"] for kind in ("email", "secret")}}

    result, _ = run_shard_stage(dataset, out, "curate-clean", output_data(job.clean),
                                lambda: [CleanFilter(job.clean)], job.executor, summarize)
    return result


def run_dedup(dataset: Dataset, out: Path, job: CurateConfig) -> Dataset:
    return dedup_dataset(dataset, out, job.dedup, job.executor)[0]


def run_annotate(dataset: Dataset, out: Path, job: CurateConfig, cache_path: Path) -> AnnotateResult:
    """Rate the sample with the teacher: `job.teacher`'s endpoints, or the embedded one."""
    from textbooks.teacher.server import DEFAULT_MODEL_NAME

    if job.teacher.endpoints and not job.teacher.model:
        raise UserError("--model: required with --endpoint (teacher.model); expected the name the server serves")
    if job.teacher.endpoints:
        return annotate(dataset, out, job.annotate, job.teacher, cache_path, _log)
    teacher = dataclasses.replace(job.teacher, model=job.teacher.model or DEFAULT_MODEL_NAME)
    done = annotate_done(dataset, out, job.annotate, teacher.model)
    if done is not None:  # no teacher to start
        return done
    from textbooks.teacher.server import EmbeddedTeacher

    with EmbeddedTeacher(model_name=teacher.model) as server:
        return annotate(dataset, out, job.annotate, server.config(teacher), cache_path, _log)


def annotate_done(dataset: Dataset, out: Path, config: AnnotateConfig, model: str) -> AnnotateResult | None:
    """The finished annotation at `out`, if it is the one asked for (then no teacher is started)."""
    from textbooks.curate.annotate import fingerprint_config

    writer = DatasetWriter(out, stage="curate-annotate", kind="code", config=fingerprint_config(config, model), inputs=[dataset])
    if not writer.done:
        return None
    done = Dataset.open(out)
    return AnnotateResult(done, done.manifest.get("annotate", {}), already_done=True)


def run_embed(dataset: Dataset, out: Path, job: CurateConfig, cache_path: Path) -> Dataset:
    import pyarrow as pa

    from textbooks.curate.steps import EmbedStep

    result, _ = run_shard_stage(
        dataset, out, "curate-embed", {"embedder": job.embedder}, lambda: [EmbedStep(job.embedder, cache_path)],
        job.executor, lambda counts: {"embedder": job.embedder, "embedded": counter_of(counts, "embed")["embedded"]},
        column_types={"embedding": pa.list_(pa.float32())})
    return result


@dataclass
class ClassifyResult:
    filtered: Dataset
    report: dict[str, Any]


def run_classify(annotated: Dataset, embedded: Dataset, out: Path, job: CurateConfig, cache_path: Path) -> ClassifyResult:
    """Train on the annotated sample, score every embedded record, keep by `job.classify.keep`.

    Writes OUT/classifier/, OUT/scored/, OUT/filtered/ and OUT/report.json."""
    from textbooks.curate.steps import ScoreStep
    from textbooks.data.embed import cached_embedder

    embedder = embedded.manifest.get("config", {}).get("embedder")
    if embedder is None:
        raise UserError(f"{embedded.path}: not written by `textbooks curate embed` (no embedder in its manifest)")
    sample = list(annotated.iter_records(columns=["id", "text", "edu_score"]))
    if not sample or "edu_score" not in sample[0]:
        raise UserError(f"{annotated.path}: no edu_score column or no rows; expected `textbooks curate annotate` output")
    labels, cutoff = labels_from_scores([r["edu_score"] for r in sample], job.classify.threshold)
    vectors = cached_embedder(embedder, cache_path).embed([r["text"] for r in sample])
    classifier_dir = out / "classifier"
    meta = train_classifier(vectors, labels, job.classify, classifier_dir, {
        "embedder": embedder, "label_threshold": cutoff, "annotated": str(annotated.path),
        "annotated_fingerprint": annotated.fingerprint})
    _log(format_metrics(meta["metrics"]))
    scored, _ = run_shard_stage(
        embedded, out / "scored", "curate-score", {"classifier": meta, "model_sha": _file_sha(classifier_dir)},
        lambda: [ScoreStep(classifier_dir)], job.executor,
        lambda counts: {"scored": counter_of(counts, "score")["scored"]}, drop_columns=())
    qualities = np.concatenate([b.column("quality").to_numpy() for b in scored.iter_batches(columns=["quality"])]
                               or [np.zeros(0)])
    keep_from = keep_cutoff(job.classify, qualities)
    filtered = filter_by_quality(scored, out / "filtered", keep_from, job.classify.keep)
    report = quality_report(scored, filtered, keep_from, meta)
    atomic_write_json(out / "report.json", report)
    return ClassifyResult(filtered, report)


def _file_sha(classifier_dir: Path) -> str:
    from textbooks.curate.classify import MODEL_FILE
    from textbooks.io import sha256_file

    return sha256_file(classifier_dir / MODEL_FILE)


def filter_by_quality(scored: Dataset, out: Path, keep_from: float, rule: str) -> Dataset:
    """Shard i of `scored` with quality >= `keep_from` as shard i of `out`."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with DatasetWriter(out, stage="curate-filter", kind="code", config={"keep": rule, "keep_from": keep_from},
                       inputs=[scored]) as writer:
        if not writer.done:
            for index, shard in enumerate(scored.shards):
                if not writer.shard_done(index):
                    table = pq.read_table(shard)
                    kept = table.filter(pc.greater_equal(table["quality"], keep_from))
                    writer.write_shard(index, kept, tokens=int(pc.sum(kept["tokens"]).as_py() or 0))
    return Dataset.open(out)


def quality_report(scored: Dataset, filtered: Dataset, keep_from: float, meta: dict[str, Any]) -> dict[str, Any]:
    """Files and tokens kept, the classifier's held-out metrics, and the files at both ends."""
    table = _columns(scored, ["id", "quality", "tokens"])
    order = np.argsort(-table["quality"], kind="stable")
    ends = {"top": [table["id"][i] for i in order[:EXAMPLES]], "bottom": [table["id"][i] for i in order[::-1][:EXAMPLES]]}
    wanted = set(ends["top"]) | set(ends["bottom"])
    examples = {r["id"]: r for r in scored.iter_records(columns=["id", "path", "quality", "text"]) if r["id"] in wanted}
    total_tokens = int(np.sum(table["tokens"]))
    kept_tokens = int(filtered.manifest.get("num_tokens", 0))
    return {
        "files": {"scored": len(order), "kept": filtered.num_rows},
        "tokens": {"scored": total_tokens, "kept": kept_tokens},
        "keep_from_quality": keep_from,
        "classifier": {"model": meta["model"], "embedder": meta["embedder"], "label_threshold": meta["label_threshold"],
                       "metrics": meta["metrics"]},
        **{end: [{"path": examples[i]["path"], "quality": round(examples[i]["quality"], 4),
                  "text": examples[i]["text"][:EXAMPLE_CHARS]} for i in ids] for end, ids in ends.items()},
    }


def _columns(dataset: Dataset, names: list[str]) -> dict[str, np.ndarray]:
    batches = list(dataset.iter_batches(columns=names))
    return {name: np.concatenate([b.column(name).to_numpy(zero_copy_only=False) for b in batches])
            if batches else np.zeros(0) for name in names}


@dataclass
class CurateResult:
    datasets: dict[str, Dataset]
    annotation: dict[str, Any]
    report: dict[str, Any]


def run_curate(job: CurateConfig, log: Callable[[str], None] = _log) -> CurateResult:
    """Every step from the sources to OUT/filtered (or OUT/dedup: `until`); each resumes or is skipped when done."""
    from textbooks.data.sources import import_sources

    out = job.out_dir()
    if not job.sources:
        raise UserError("curate: --source is required (or `sources:` in the config); expected a directory, "
                        ".jsonl/.parquet/Posts.xml file or hf:DATASET_ID")
    teacher_cache, embedding_cache = job.teacher_cache_path(out), job.embedding_cache_path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps: dict[str, Dataset] = {}
    steps["raw"] = import_sources(job.sources, out / "raw", job.pattern, job.hf_data_dir, job.so_tag, job.rows_per_shard)
    log(f"curate: {steps['raw'].num_rows:,} files read")
    steps["clean"] = run_clean(steps["raw"], out / "clean", job)
    log(f"curate: {steps['clean'].num_rows:,} files after cleaning")
    steps["dedup"] = run_dedup(steps["clean"], out / "dedup", job)
    log(f"curate: {steps['dedup'].num_rows:,} files after dedup")
    if job.until == "dedup":
        return CurateResult(steps, {}, {})
    annotation = run_annotate(steps["dedup"], out / "annotated", job, teacher_cache)
    steps["annotated"] = annotation.dataset
    log(f"curate: {annotation.stats.get('scored', 0):,} files rated; score histogram {annotation.stats.get('histogram')}")
    steps["embedded"] = run_embed(steps["dedup"], out / "embedded", job, embedding_cache)
    result = run_classify(steps["annotated"], steps["embedded"], out, job, embedding_cache)
    steps["filtered"] = result.filtered
    return CurateResult(steps, annotation.stats, result.report)
