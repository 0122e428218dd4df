"""Several models side by side: pass@1, the judge's mean grade, and whether the two rank them alike.

phi-1's Table 2 put its models' HumanEval pass@1 beside GPT-4's grades on 50 new problems; the
point was that both orders agree. Given the output directories of `textbooks eval ... --judge-*`
runs (one per model), this collects each run's numbers and, across runs, Spearman's correlation
between pass@1 and the mean grade.

    comparison = compare_runs(["results/novel-phi1", "results/novel-small"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textbooks.errors import UserError
from textbooks.eval.judge import spearman
from textbooks.io import read_json


def compare_runs(directories: list[str | Path]) -> dict[str, Any]:
    runs = []
    for directory in directories:
        path = Path(directory) / "summary.json"
        if not path.is_file():
            raise UserError(f"{path}: no such file; expected the --out directory of a finished `textbooks eval` run")
        summary = read_json(path)
        judge = summary.get("judge") or {}
        run = summary.get("run", {})
        runs.append({
            "directory": str(directory),
            "model": run.get("model") or f"samples {str(run.get('samples_sha256', '?'))[:12]}",
            "benchmark": summary.get("benchmark"),
            "pass@1": summary.get("scores", {}).get("pass@1", {}).get("estimate"),
            "judge_model": judge.get("judge_model"),
            "judge_mean": judge.get("mean_score"),
            "spearman_over_tasks": (judge.get("agreement") or {}).get("spearman"),
        })
    if len({r["benchmark"] for r in runs}) > 1:
        raise UserError("compare: the runs score different benchmarks "
                        f"({', '.join(sorted(str(r['benchmark']) for r in runs))}); expected one benchmark")
    paired = [r for r in runs if r["pass@1"] is not None and r["judge_mean"] is not None]
    return {
        "runs": runs,
        "judges": sorted({r["judge_model"] for r in paired}),
        "spearman_over_models": spearman([r["pass@1"] for r in paired], [r["judge_mean"] for r in paired]),
        "models_compared": len(paired),
    }
