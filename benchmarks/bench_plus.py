"""Checking HumanEval+ and MBPP+ samples: `textbooks eval --samples` vs `evalplus.evaluate` 0.3.1.

The same sample file per benchmark (for each task: its canonical solution, a small mutant of it,
an empty and a wrong answer, now and then an exit(0), a raise or an endless loop) is scored by
`python -m evalplus.evaluate --parallel W` (offline: HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH
point at the same data files we read) and by `python -m textbooks eval BENCH --samples FILE
--workers W`, each a fresh process, taking turns (the order flips every repeat). One untimed
run of each first fills both ground-truth caches (evalplus's under $XDG_CACHE_HOME, ours under
the benchmark's cache), as a user's second run finds them. Prints the medians, the ratio and
whether the per-sample verdicts agree (a sample passes evalplus when base and plus both pass).

    python benchmarks/bench_plus.py [--repeats 3] [--workers 2] [--tasks 40] [--benchmarks humaneval+,mbpp+]

Known difference (not counted as a disagreement, listed apart): evalplus 0.3.1 never passes
HumanEval/32 (its find_zero check ends in `continue`); we pass a correct root there.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_exec import MUTATIONS
from textbooks.benchmarks import load_benchmark

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "benchmarks"
DATA = {"humaneval+": ("HumanEvalPlus.jsonl.gz", "HUMANEVAL_OVERRIDE_PATH", "humaneval"),
        "mbpp+": ("MbppPlus-v0.2.0.jsonl.gz", "MBPP_OVERRIDE_PATH", "mbpp")}
EVALPLUS_NEVER_PASSES = {"HumanEval/32"}


def completions(task, index: int, function_body: bool) -> list[str]:
    """As tests/test_eval_agreement.py mixes them; MBPP answers are whole functions."""
    header = "" if function_body else f"def {task.entry_point}(*args):\n"
    wrong = [header + "    return None\n"]
    if index % 5 == 0:
        wrong.append(header + "    import sys\n    sys.exit(0)\n")
    if index % 7 == 0:
        wrong.append(header + "    raise ValueError('no')\n")
    if index % 40 == 3:
        wrong.append(header + "    while True:\n        pass\n")
    mutants = [task.reference.replace(old, new, 1) for old, new in MUTATIONS if old in task.reference][:1]
    return [task.reference, *mutants, "", *wrong]


def write_inputs(name: str, tasks, folder: Path) -> tuple[Path, Path, list[tuple[str, int]]]:
    """The samples file, evalplus's data file of just these tasks, and (task_id, sample) in order."""
    samples, keys = folder / "samples.jsonl", []
    with open(samples, "w") as f:
        for index, task in enumerate(tasks):
            for sample, completion in enumerate(completions(task, index, name == "humaneval+")):
                f.write(json.dumps({"task_id": task.task_id, "completion": completion}) + "\n")
                keys.append((task.task_id, sample))
    wanted = {t.task_id for t in tasks}
    data = folder / "data.jsonl"
    data.write_text("".join(line for line in gzip.open(ASSETS / DATA[name][0], "rt")
                            if json.loads(line)["task_id"] in wanted))
    return samples, data, keys


def run_evalplus(name: str, samples: Path, data: Path, workers: int, cache: Path) -> tuple[float, dict]:
    _, variable, dataset = DATA[name]
    results = samples.with_name("samples_eval_results.json")
    results.unlink(missing_ok=True)
    # Its own reference solutions for Mbpp/255 and 392 need more than its default 4 GiB cap.
    env = {**os.environ, variable: str(data), "XDG_CACHE_HOME": str(cache), "EVALPLUS_MAX_MEMORY_BYTES": "-1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples),
                    "--parallel", str(workers)], check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    rows = json.loads(results.read_text())["eval"]
    return elapsed, {(task_id, i): r["base_status"] == r["plus_status"] == "pass"
                     for task_id, task_rows in rows.items() for i, r in enumerate(task_rows)}


def run_ours(name: str, samples: Path, out: Path, workers: int) -> tuple[float, dict, str]:
    env = {**os.environ, "TEXTBOOKS_BENCHMARK_DIR": str(ASSETS)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "textbooks", "eval", name, "--samples", str(samples), "--out", str(out),
                    "--workers", str(workers), "--no-progress"], check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    rows = map(json.loads, open(out / "results.jsonl"))
    return elapsed, {(r["task_id"], r["sample"]): r["passed"] for r in rows}, summary["isolation"]


def measure(name: str, tasks, args, folder: Path) -> str:
    samples, data, keys = write_inputs(name, tasks, folder)
    cache = folder / "evalplus-cache"
    run_evalplus(name, samples, data, args.workers, cache)  # fills both ground-truth caches
    run_ours(name, samples, folder / "ours-warmup", args.workers)
    times: dict[str, list[float]] = {"evalplus": [], "ours": []}
    for repeat in range(args.repeats):
        for side in ("evalplus", "ours") if repeat % 2 == 0 else ("ours", "evalplus"):
            if side == "evalplus":
                elapsed, theirs = run_evalplus(name, samples, data, args.workers, cache)
            else:
                elapsed, ours, isolation = run_ours(name, samples, folder / f"ours-{repeat}", args.workers)
            times[side].append(elapsed)
        print(f"{name} repeat {repeat + 1}: evalplus {times['evalplus'][-1]:.1f} s, ours {times['ours'][-1]:.1f} s",
              flush=True)
    assert set(ours) == set(theirs) == set(keys), "both must score every sample"
    known = [k for k in keys if k[0] in EVALPLUS_NEVER_PASSES]
    differ = [k for k in keys if k[0] not in EVALPLUS_NEVER_PASSES and ours[k] != theirs[k]]
    theirs_m, ours_m = statistics.median(times["evalplus"]), statistics.median(times["ours"])
    spread = {side: ", ".join(f"{t:.1f}" for t in ts) for side, ts in times.items()}
    return (f"| {name} | {len(tasks)} | {len(keys)} ({sum(ours.values())} pass) | {isolation} | "
            f"{theirs_m:.1f} ({spread['evalplus']}) | {ours_m:.1f} ({spread['ours']}) | "
            f"**{theirs_m / ours_m:.2f}x** | {len(keys) - len(known) - len(differ)} of {len(keys) - len(known)}"
            f"{f' (differ: {differ[:5]})' if differ else ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=40, help="the first N tasks of each benchmark (0: all)")
    parser.add_argument("--benchmarks", default="humaneval+,mbpp+")
    args = parser.parse_args()
    rows = []
    for name in args.benchmarks.split(","):
        tasks = list(load_benchmark(name, ASSETS).tasks.values())
        tasks = tasks[: args.tasks] if args.tasks else tasks
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(name, tasks, args, Path(tmp)))
    print(f"\n{args.workers} workers, each benchmark's own time limits, median of {args.repeats} "
          f"(each side a fresh process; ground truth cached on both sides)")
    print("| benchmark | tasks | samples | our isolation | evalplus 0.3.1 s | textbooks eval s | vs evalplus "
          "| verdicts agree (HumanEval/32 apart) |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
