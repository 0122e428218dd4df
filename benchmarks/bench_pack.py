"""Tokenize/pack and the batch loader, against the obvious hand-written versions (CPU).

    python benchmarks/bench_pack.py [--tree DIR] [--repeats 3] [--batch 32] [--seq-len 2048]

  tokenize   a dataset of a local tree of Python files (default: the stdlib's idlelib, 125 files,
             2 MB) into token shards: ours with 1 process (`encode_batch_fast`, its Rust threads)
             and with 2 worker processes, against reading the records and calling
             `Tokenizer.encode` per document into one flat file; tokens/s
  no-op      re-running an unchanged tokenize (fingerprint match): seconds
  batch      one step's batch of `--batch` random windows of `--seq-len + 1` tokens with labels:
             ours from the memory-mapped shards, against slicing one numpy array held in RAM;
             batches/s

Each is timed `--repeats` times after one warmup; the table shows medians and the ratios.
"""

import argparse
import shutil
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from textbooks.data.sources import import_local_trees
from textbooks.tokenizer import EOS_ID, load_tokenizer
from textbooks.train.tokenize import MixtureInput, pack_datasets


def median_seconds(step, repeats: int) -> float:
    step()  # warmup: page cache, lazy initialisation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(sysconfig.get_paths()["stdlib"]) / "idlelib")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=2048)
    args = parser.parse_args()
    # Here, not at the top: spawned tokenizer workers re-import this module, and need no torch.
    from textbooks.train.loader import PackedData

    work = Path(tempfile.mkdtemp(prefix="bench_pack_"))
    try:
        ds = import_local_trees([args.tree], work / "ds", rows_per_shard=32)

        def ours(workers: int):
            def step() -> None:
                shutil.rmtree(work / "pack", ignore_errors=True)
                pack_datasets([MixtureInput(ds.path)], work / "pack", val_fraction=0, workers=workers)
            return step

        def encode_loop() -> None:
            tok = load_tokenizer()
            ids: list[int] = []
            for text in (r["text"] for r in ds.iter_records(["text"])):
                ids += tok.encode(text, add_special_tokens=False).ids + [EOS_ID]
            np.array(ids, dtype=np.uint16).tofile(work / "naive.bin")

        naive = median_seconds(encode_loop, args.repeats)
        one = median_seconds(ours(1), args.repeats)
        two = median_seconds(ours(2), args.repeats)
        noop = median_seconds(lambda: pack_datasets([MixtureInput(ds.path)], work / "pack", val_fraction=0, workers=2), args.repeats)

        data = PackedData(work / "pack")
        tokens = data.train.num_tokens
        order = data.sample_order(args.seq_len, seed=0)
        in_ram = np.concatenate([np.asarray(t, dtype=np.int64) for t in data.train.tokens])
        rng = np.random.default_rng(0)
        step = iter(range(10**9))

        def memmapped() -> None:
            order.batch(next(step), args.batch)

        def ram() -> None:
            starts = rng.integers(0, order.num_samples, args.batch) * args.seq_len
            windows = np.stack([in_ram[s : s + args.seq_len + 1] for s in starts])
            np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

        ours_batch = median_seconds(memmapped, args.repeats * 10)
        ram_batch = median_seconds(ram, args.repeats * 10)
        files = ds.num_rows
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.tree}: {files} files, {tokens:,} tokens; batch {args.batch} x {args.seq_len}\n")
    print(f"{'':28} {'ours':>14} {'baseline':>14} {'ours/baseline':>14}")
    print(f"{'tokenize, 1 process':28} {tokens / one:>10,.0f} t/s {tokens / naive:>10,.0f} t/s {naive / one:>13.2f}x")
    print(f"{'tokenize, 2 workers':28} {tokens / two:>10,.0f} t/s {tokens / naive:>10,.0f} t/s {naive / two:>13.2f}x")
    print(f"{'re-run unchanged (no-op)':28} {noop:>12.3f} s {one:>12.3f} s {one / noop:>13.0f}x")
    print(f"{'batch (memmap vs in RAM)':28} {1 / ours_batch:>10,.0f} b/s {1 / ram_batch:>10,.0f} b/s {ram_batch / ours_batch:>13.2f}x")


if __name__ == "__main__":
    main()
