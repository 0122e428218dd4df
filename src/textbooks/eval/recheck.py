"""Flaky verdicts: run the doubtful samples again and report the verdicts that change.

On a slow or busy machine a correct program can run past its time limit, and a program that
depends on chance (or on the clock) passes on one run and fails on the next; evalplus users have
seen pass@1 move from 0.40 to 0.23 that way. Doubtful are the samples that failed (any status)
and those that passed with less than 20% of their time limit to spare. Each is run `n` more
times in the sandbox; a sample whose runs disagree is flaky.

    section = recheck(bench, results, settings, n=3, out_dir="runs/eval-novel")

`rechecks.jsonl` gets one line per rechecked sample: its first verdict, every rerun's status, wall
and CPU time, and `flaky`. The section returned for summary.json counts them, lists the flaky
samples, and gives the range pass@1 spans between counting every flaky sample failed and passed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from textbooks.benchmarks.tasks import Benchmark
from textbooks.errors import UserError
from textbooks.eval.execution import Sample, open_sandbox, programs
from textbooks.io import atomic_write_text

NEAR_LIMIT = 0.8  # a pass that took 80% of its time limit or more is doubtful


def is_doubtful(result: dict, timeout_s: float) -> bool:
    if result.get("status") == "extraction_failed":  # a chat answer without a program: nothing ran, nothing to rerun
        return False
    return not result["passed"] or result["duration_s"] >= NEAR_LIMIT * timeout_s


def recheck(bench: Benchmark, results: list[dict], settings, n: int, out_dir: str | Path,
            progress: bool = True) -> dict[str, Any]:
    """Rerun the doubtful samples of `results` (rows of results.jsonl) `n` times each; see module doc."""
    if n < 1:
        raise UserError(f"--recheck {n}: expected 1 or more reruns of each doubtful sample")
    doubtful = [r for r in results if is_doubtful(r, settings.timeout_s or bench.timeout_s(bench.tasks[r["task_id"]]))]
    samples = [Sample(r["task_id"], r["sample"], r["completion"]) for r in doubtful]
    runs: dict[tuple, list[dict]] = defaultdict(list)
    if samples:
        bench.prepare({s.task_id for s in samples}, partial(open_sandbox, settings), progress)
        repeated = ((key + (i,), program, timeout) for i in range(n) for key, program, timeout in programs(bench, samples, settings))
        bar = tqdm(total=n * len(samples), desc=f"{bench.name} recheck", unit="run", disable=not progress)
        with open_sandbox(settings) as sandbox:
            for (task_id, sample, _), outcome in sandbox.run_many(repeated):
                runs[task_id, sample].append({"status": outcome.status, "duration_s": round(outcome.duration_s, 4),
                                              "cpu_time_s": _rounded(outcome.cpu_time_s)})
                bar.update()
        bar.close()
    rows = [_recheck_row(r, runs[r["task_id"], r["sample"]]) for r in doubtful]
    atomic_write_text(Path(out_dir) / "rechecks.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return _section(results, rows, n)


def _recheck_row(result: dict, reruns: list[dict]) -> dict[str, Any]:
    statuses = [run["status"] for run in reruns]
    passes = statuses.count("passed") + result["passed"]
    return {"task_id": result["task_id"], "sample": result["sample"], "first_status": result["status"],
            "first_duration_s": result["duration_s"], "first_cpu_time_s": result.get("cpu_time_s"),
            "reruns": reruns, "passes": passes, "runs": len(reruns) + 1, "flaky": 0 < passes < len(reruns) + 1}


def _section(results: list[dict], rows: list[dict], n: int) -> dict[str, Any]:
    flaky = {(r["task_id"], r["sample"]) for r in rows if r["flaky"]}

    def pass_at_1(flaky_pass: bool) -> float:
        per_task = defaultdict(list)
        for r in results:
            key = (r["task_id"], r["sample"])
            per_task[r["task_id"]].append(flaky_pass if key in flaky else r["passed"])
        return round(sum(sum(v) / len(v) for v in per_task.values()) / len(per_task), 4) if per_task else 0.0

    return {
        "reruns_per_sample": n,
        "rechecked": len(rows),
        "flaky": len(flaky),
        "changed": [{"task_id": r["task_id"], "sample": r["sample"], "first": r["first_status"],
                     "reruns": [run["status"] for run in r["reruns"]]} for r in rows if r["flaky"]],
        "pass@1_range": [pass_at_1(False), pass_at_1(True)],
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)

