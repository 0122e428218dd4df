"""Curation throughput per step, datatrove dedup vs a plain datasketch loop, and dedup's peak memory.

    python benchmarks/bench_curate.py [--repeats 3] [--sizes 1000,4000,16000] [--workers 2]

Input: the standard library's Python sources (no tests), cleaned; for the memory rows, corpora of
N files drawn from them with a few lines changed each (so they are mostly not duplicates).
Rates are files/s, medians of `repeats` runs. Peak memory is the largest resident set of a fresh
process that runs only that dedup on a dataset of N files already on disk (datatrove with one
worker, in-process; NearDedup holds every signature in memory), beside a baseline process that only
imports and opens the dataset. The 35M-file figures extrapolate the measured growth linearly:
an extrapolation, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

PAPER_FILES = 35_000_000  # The Stack's Python + StackOverflow, as phi-1 filtered them


def stdlib_texts() -> list[str]:
    from textbooks.curate.clean import CleanConfig, clean_text

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = ("test", "idlelib", "lib2to3", "site-packages", "tkinter", "turtledemo")
    files = sorted(p for p in stdlib.rglob("*.py") if not any(part.startswith(skip) for part in p.relative_to(stdlib).parts))
    texts = [p.read_bytes().decode("utf-8", "replace") for p in files]
    return [t for t in texts if clean_text(t, CleanConfig()).dropped is None]


def corpus(texts: list[str], size: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(size):
        lines = rng.choice(texts).splitlines()
        for j in rng.sample(range(len(lines)), k=max(1, len(lines) // 3)):  # a third edited: not near duplicates
            lines[j] = f"{lines[j]}  # {rng.random():.6f}"
        rows.append({"id": f"f{i}", "text": "\n".join(lines)})
    return rows


def write_dataset(rows: list[dict], out: Path, rows_per_shard: int):
    from textbooks.data.datasets import Dataset, DatasetWriter

    with DatasetWriter(out, stage="bench", kind="code", config={"n": len(rows), "at": time.time()}) as writer:
        writer.write_records(({**r, "source": "bench", "path": "", "repo": "", "license": ""} for r in rows), rows_per_shard)
    return Dataset.open(out)


def timed(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def near_dedup_loop(rows: list[dict]) -> int:
    from textbooks.data.dedup import NearDedup

    dedup = NearDedup(threshold=0.7, num_perm=128)
    return sum(dedup.add(r["id"], r["text"]) is not None for r in rows)


def throughput(args) -> None:
    from textbooks.curate.clean import CleanConfig, clean_text
    from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
    from textbooks.curate.executor import ExecutorConfig
    from textbooks.curate.job import CurateConfig, run_clean
    from textbooks.data.embed import get_embedder

    texts = stdlib_texts()
    rows = [{"id": f"s{i}", "text": t} for i, t in enumerate(texts)]
    work = Path(tempfile.mkdtemp(prefix="bench-curate-"))
    try:
        dataset = write_dataset(rows, work / "raw", rows_per_shard=max(1, len(rows) // (2 * args.workers)))
        executor = ExecutorConfig(workers=args.workers)
        results = []

        def fresh(name):
            shutil.rmtree(work / name, ignore_errors=True)
            return work / name

        results.append(("clean: rules only, one process", len(rows) / timed(lambda: [clean_text(t, CleanConfig()) for t in texts], args.repeats)))
        results.append((f"clean: datatrove, {args.workers} workers", len(rows) / timed(lambda: run_clean(dataset, fresh("clean"), CurateConfig(executor=executor)), args.repeats)))
        datatrove_s = timed(lambda: dedup_dataset(dataset, fresh("dedup"), DedupConfig(), executor), args.repeats)
        loop_s = timed(lambda: near_dedup_loop(rows), args.repeats)
        results.append((f"dedup: datatrove, {args.workers} workers (7 stages)", len(rows) / datatrove_s))
        results.append(("dedup: plain datasketch loop (NearDedup)", len(rows) / loop_s))
        sample = texts[: args.embed_files]
        for name in ("hashing", "minilm", f"causal:{nano_checkpoint(work)}"):
            embedder = get_embedder(name)
            label = "causal (random nano Phi)" if name.startswith("causal") else name
            results.append((f"embed: {label}", len(sample) / timed(lambda: embedder.embed(sample), args.repeats)))
        results.append(("classify: fit RF + LR on 300, score all", classify_rate(len(rows), args.repeats)))
        print(f"\n{len(rows)} standard-library files ({sum(map(len, texts)) / 1e6:.1f} MB); files/s, median of {args.repeats}")
        print(f"{'step':<48}{'files/s':>10}")
        for label, value in results:
            print(f"{label:<48}{value:>10.1f}")
        print(f"datatrove dedup / plain loop: {loop_s / datatrove_s:.2f}x the loop's rate")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def nano_checkpoint(work: Path) -> Path:
    import torch

    from textbooks.model.checkpoint import save_checkpoint
    from textbooks.model.phi import Phi, PhiConfig

    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano"))
    save_checkpoint(model, model.config, work / "nano")
    return work / "nano"


def classify_rate(files: int, repeats: int) -> float:
    import numpy as np

    from textbooks.curate.classify import ClassifyConfig, train_classifier

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(files, 384)).astype(np.float32)
    labels = (vectors[:, 0] > 0).astype(int).tolist()
    out = Path(tempfile.mkdtemp())

    def work():
        train_classifier(vectors[:300], labels[:300], ClassifyConfig(), out, {})
        from textbooks.curate.classify import load_classifier

        load_classifier(out).predict_proba(vectors)

    try:
        return files / timed(work, repeats)
    finally:
        shutil.rmtree(out)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: Linux carries that
    over from the parent across fork and exec, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def peak_memory_child(method: str, path: str) -> None:
    """Run one dedup of the dataset at `path` in this fresh process; print its peak RSS (MB).
    "none" only imports and opens the dataset: the baseline the others are measured against."""
    from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
    from textbooks.curate.executor import ExecutorConfig
    from textbooks.data.datasets import Dataset
    from textbooks.data.dedup import NearDedup

    dataset = Dataset.open(path)
    out = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    start = time.perf_counter()
    try:
        if method == "datatrove":
            dedup_dataset(dataset, out / "dedup", DedupConfig(), ExecutorConfig(workers=1))
        elif method == "neardedup":
            dedup = NearDedup(threshold=0.7, num_perm=128)
            for record in dataset.iter_records(columns=["id", "text"]):
                dedup.add(record["id"], record["text"])
        print(json.dumps({"peak_mb": peak_rss_mb(), "seconds": time.perf_counter() - start}))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def memory(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = stdlib_texts()
    work = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    print("\npeak resident memory of a process running only the dedup (MB; shards of 1,000 files)")
    print(f"{'files':>8}{'baseline (imports)':>20}{'datatrove (1 worker)':>22}{'NearDedup loop':>16}")
    peaks: dict[str, list[float]] = {"none": [], "datatrove": [], "neardedup": []}
    try:
        for size in sizes:
            dataset = write_dataset(corpus(texts, size), work / f"n{size}", rows_per_shard=1000)
            for method in peaks:
                out = subprocess.run([sys.executable, __file__, "--peak-memory", method, str(dataset.path)],
                                     capture_output=True, text=True, check=True)
                peaks[method].append(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])
            print(f"{size:>8}{peaks['none'][-1]:>20.0f}{peaks['datatrove'][-1]:>22.0f}{peaks['neardedup'][-1]:>16.0f}")
            shutil.rmtree(dataset.path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for method in ("datatrove", "neardedup"):
        values = peaks[method]
        # growth between the two largest runs: the fixed costs are paid by then
        slope = max(0.0, (values[-1] - values[-2]) / (sizes[-1] - sizes[-2]))
        print(f"{method}: {slope * 1024:+.2f} KB per file between the two largest runs; extrapolated (not measured) "
              f"to {PAPER_FILES / 1e6:.0f}M files: {(values[-1] + slope * (PAPER_FILES - sizes[-1])) / 1024:,.1f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--embed-files", type=int, default=60, help="files embedded per embedder")
    parser.add_argument("--sizes", default="1000,4000,16000", help="corpus sizes for the memory rows")
    parser.add_argument("--peak-memory", nargs=2, metavar=("METHOD", "DATASET"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if args.peak_memory:
        peak_memory_child(*args.peak_memory)
        return
    if not args.skip_throughput:
        throughput(args)
    memory(args)


if __name__ == "__main__":
    main()
