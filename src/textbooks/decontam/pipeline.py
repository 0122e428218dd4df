"""`decontaminate`: every tier over a training dataset, then OUT/ with the verdicts.

    OUT/matches.parquet   one row per candidate (record, problem) pair, every tier's score, flagged
    OUT/split.json        per benchmark, task ids similar / not similar to the data at tau
    OUT/pruned/           the input minus the flagged records (a dataset; removed ids in its manifest)
    OUT/report.md         records and problems flagged per tier at the paper's taus, calibration
    OUT/summary.json      counts, seconds per tier and the fingerprint that makes a rerun a no-op

Resumable: records are scored in chunks, each saved in `.OUT.partial/chunks/` as it finishes; a
killed run starts again at the first missing chunk. The judge's answers are cached beside OUT
(`OUT.judge-cache.sqlite`). OUT appears only when everything is written (staged, then renamed).
Deterministic: the same input and config give the same files, whatever was interrupted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from textbooks.benchmarks import Problem, benchmark_problems
from textbooks.data.datasets import DatasetWriter, fingerprint
from textbooks.decontam.calibrate import calibrate, statement_calibration
from textbooks.decontam.config import PAPER_TAUS, DecontamConfig
from textbooks.decontam.judge import judge
from textbooks.decontam.records import TrainingData
from textbooks.decontam.report import flags, render, split
from textbooks.decontam.scoring import CHUNK_SCHEMA, Scorer
from textbooks.errors import UserError
from textbooks.io import StagedDirectory, atomic_write_json, atomic_write_text, finished_manifest

SUMMARY = "summary.json"


@dataclass(frozen=True)
class DecontamResult:
    out: Path
    summary: dict[str, Any]
    already_done: bool

    @property
    def pruned(self) -> Path:
        return self.out / "pruned"

    def line(self) -> str:
        s = self.summary
        state = "already done, nothing to do" if self.already_done else f"{sum(s['seconds'].values()):.0f} s"
        return (f"{self.out}: {s['removed']:,} of {s['records']:,} records flagged at tau {s['tau']:g} "
                f"({s['similar_problems']:,} benchmark problems similar); pruned dataset in {self.pruned}; {state}")


def decontam_dir(dataset: str | Path) -> Path:
    """Where `synth ... --decontaminate` puts the run on DATASET: DATASET.decontam beside it."""
    dataset = Path(dataset)
    return dataset.parent / f"{dataset.name}.decontam"


def default_judge_cache(out: Path) -> Path:
    return out.parent / f"{out.name}.judge-cache.sqlite"


def run_decontam(config: DecontamConfig) -> DecontamResult:
    """The command as a library call: `config.input` and `config.out` must be set."""
    for name in ("input", "out"):
        if getattr(config, name) is None:
            raise UserError(f"--{name}: required (or `{name}:` in the config file)")
    return decontaminate(config.input, config.out, config)


def decontaminate(source: str | Path, out: str | Path, config: DecontamConfig = DecontamConfig(),
                  progress: bool = True) -> DecontamResult:
    out = Path(out)
    data = TrainingData.open(source)
    problems = benchmark_problems(config.benchmarks, config.data_dir)
    problems_digest = hashlib.sha256(json.dumps([asdict(p) for p in problems], sort_keys=True).encode()).hexdigest()
    inputs = [data.fingerprint, problems_digest]
    final = fingerprint("decontam", config.verdicts(), inputs)
    done = finished_manifest(out, SUMMARY, "decontam output")
    if done is not None and done.get("fingerprint") == final:
        return DecontamResult(out, done, already_done=True)

    # Chunk scores are kept across runs that differ only in tau or the judge.
    staged = StagedDirectory(out, fingerprint("decontam-scores", config.scoring(), inputs)).open()
    with Scorer(problems, config, data.kind) as scorer:
        matches, stats = _score_chunks(data, scorer, staged, config.chunk_size, progress)

    with scorer.timed("judge"):
        verdicts, judge_summary, judge_run, judge_tokens = _judge(data, problems, matches, config, out)
    matches = matches.append_column("judge", pa.array(verdicts, pa.bool_()))
    flagged = flags(matches, config.tau, config.min_statement_containment)
    matches = matches.append_column("flagged", pa.array(flagged))
    removed = sorted(set(np.asarray(matches["record_id"].to_pylist(), dtype=object)[flagged].tolist()))
    split_data = split(matches, problems, config.tau, config.min_statement_containment)

    started = time.perf_counter()
    results = staged.path
    pq.write_table(matches.drop(["problem_index"]), results / "matches.parquet", compression="zstd")
    atomic_write_json(results / "split.json", split_data)
    _write_pruned(data, results / "pruned", set(removed), config, final)
    summary = {
        "fingerprint": final, "input": str(data.path), "records": data.num_rows, "problems": len(problems),
        "tau": config.tau, "removed": len(removed),
        "similar_problems": sum(len(v["similar"]) for v in split_data["benchmarks"].values()),
        "unparsed_problems": scorer.unparsed_problems, "problems_without_statement": scorer.problems_without_statement,
        "judge": judge_summary, **stats,
    }
    taus = tuple(sorted(set(PAPER_TAUS) | {config.tau}, reverse=True))
    atomic_write_text(results / "report.md", render(source=str(data.path), num_records=data.num_rows, problems=problems,
                                              matches=matches, tau=config.tau, taus=taus, split_data=split_data,
                                              stats=summary, calibration=calibrate(config.data_dir),
                                              statement_calibration=statement_calibration(
                                                  config.min_statement_containment, config.statement_ngram,
                                                  config.max_problems_per_ngram, config.data_dir),
                                              min_code_containment=config.min_code_containment,
                                              min_statement=config.min_statement_containment))
    scorer.timings["write"] = time.perf_counter() - started
    summary["judge_run"] = judge_run  # timings and spend: kept out of the (deterministic) report
    summary["judge_tokens"] = judge_tokens
    summary["seconds"] = {tier: round(seconds, 3) for tier, seconds in sorted(scorer.timings.items())}
    shutil.rmtree(staged.path / "chunks")  # all in matches.parquet now; OUT holds the outputs only
    staged.publish(SUMMARY, summary)
    return DecontamResult(out, summary, already_done=False)


def _score_chunks(data: TrainingData, scorer: Scorer, staged: StagedDirectory, chunk_size: int,
                  progress: bool) -> tuple[pa.Table, dict[str, int]]:
    """Every candidate pair of the input, scored chunk by chunk; a chunk saved by an earlier
    (killed) run is read back, not scored again. Also the counts summed over chunks."""
    chunks = staged.path / "chunks"
    chunks.mkdir(exist_ok=True)
    started, before = time.perf_counter(), sum(scorer.timings.values())
    stats: dict[str, int] = {}
    records = data.records()
    with tqdm(total=data.num_rows, desc="decontam", unit="rec", disable=not progress) as bar:
        for index in itertools.count():
            batch = list(itertools.islice(records, chunk_size))
            if not batch:
                break
            unit = f"chunk-{index:05d}"
            if not staged.is_done(unit):
                table, chunk_stats = scorer.score(batch, offset=index * chunk_size)
                pq.write_table(table, chunks / f"{unit}.parquet", compression="zstd")
                staged.mark_done(unit, chunk_stats)
            for key, value in staged.done_info(unit).items():
                stats[key] = stats.get(key, 0) + value
            bar.update(len(batch))
    # Reading records and writing chunks: the loop's time that no tier accounts for.
    scorer.timings["read"] = time.perf_counter() - started - (sum(scorer.timings.values()) - before)
    tables = [pq.read_table(path, schema=CHUNK_SCHEMA) for path in sorted(chunks.glob("chunk-*.parquet"))]
    return pa.concat_tables([CHUNK_SCHEMA.empty_table(), *tables]), stats


def _judge(data: TrainingData, problems: list[Problem], matches: pa.Table, config: DecontamConfig,
           out: Path) -> tuple[list[bool | None], str | None, str | None, dict[str, int] | None]:
    """The judge's verdict per pair: asked for the `judge_top` most similar pairs no other tier flags."""
    verdicts: list[bool | None] = [None] * matches.num_rows
    if config.judge is None or not matches.num_rows:
        return verdicts, None, None, None
    ast = pc.fill_null(matches["ast_match"], -1.0).to_numpy()
    cosine = pc.fill_null(matches["embed_cosine"], -1.0).to_numpy()
    eligible = np.flatnonzero(~flags(matches, config.tau, config.min_statement_containment))
    # Most similar first; np.lexsort's last key is the primary one, ties go to the earlier pair.
    order = eligible[np.lexsort((eligible, -np.maximum(ast, cosine)[eligible]))][: config.judge_top]
    record_index = np.asarray(matches["record_index"])
    wanted = set(record_index[order].tolist())
    texts = {i: r["text"] for i, r in enumerate(data.records()) if i in wanted}
    problem_index = np.asarray(matches["problem_index"])
    pairs = [(texts[record_index[j]], problems[problem_index[j]].text) for j in order]
    answered = judge(pairs, config.judge, default_judge_cache(out))
    for j, verdict in zip(order, answered.rephrased):
        verdicts[j] = verdict
    rephrased = sum(v is True for v in answered.rephrased)
    unanswered = sum(v is None for v in answered.rephrased)
    asked = f"{len(order)} pairs asked: {rephrased} rephrased, {answered.unclear} unclear answers, {unanswered} unanswered"
    return verdicts, asked, answered.summary, answered.tokens


def _write_pruned(data: TrainingData, path: Path, removed: set[str], config: DecontamConfig, final: str) -> None:
    extra = {"removed_ids": sorted(removed), "decontam": {"tau": config.tau, "benchmarks": list(config.benchmarks),
                                                          "removed": len(removed)}}
    inputs = [data.dataset] if data.dataset is not None else []
    with DatasetWriter(path, stage="decontam", kind=data.kind, config={"decontam": final}, inputs=inputs,
                       extra_manifest=extra) as writer:
        if not writer.done:
            writer.write_records(r for r in data.records() if r["id"] not in removed)
