"""The `eval` (pass@1 in the sandbox) and `heldout-loss` (loss on reference solutions) stage kinds."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from textbooks.eval.heldout import HeldoutConfig
from textbooks.eval.runner import EvalConfig
from textbooks.io import read_json
from textbooks.pipeline.kinds.base import EVAL, MODEL, Role, Stage, StageContext
from textbooks.pipeline.render import Block, Figure, Table, figure_png, new_figure
from textbooks.teacher.client import TeacherConfig


class EvalStage(Stage):
    kind = "eval"
    produces = EVAL
    config_class = EvalConfig
    roles = {"model": Role(accepts=(MODEL,))}
    owned = ("out", "model", "samples")
    report_title = "Evaluation: pass@1 per benchmark"

    def teacher(self, config: EvalConfig) -> TeacherConfig | None:
        return config.judge

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.eval.runner import run_eval

        summary = run_eval(dataclasses.replace(ctx.config, model=str(ctx.path("model")), out=ctx.out))
        return {"benchmark": summary["benchmark"], "tasks_scored": summary["tasks_scored"],
                "scores": summary["scores"]}

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        summary = read_json(run_dir / entry["output"] / "summary.json")
        score = summary["scores"]["pass@1"]
        tasks, total = summary["tasks_scored"], summary["tasks_in_benchmark"]
        solved = round(score["estimate"] * tasks)
        low, high = wilson_interval(solved, tasks)
        rows = [[summary["benchmark"], f"{tasks} of {total}", f"{100 * score['estimate']:.1f}%",
                 f"{100 * score['ci_low']:.1f} - {100 * score['ci_high']:.1f}%", f"{100 * low:.1f} - {100 * high:.1f}%",
                 ", ".join(f"{k} {v}" for k, v in sorted(summary.get("statuses", {}).items()))]]
        meaning = (f"pass@1 is the share of tasks whose first completion passes every test: here about {solved} of "
                   f"{tasks}. Counting tasks as coin flips, the true rate lies between {100 * low:.0f}% and "
                   f"{100 * high:.0f}% (95%). ")
        meaning += ("At this scale the score is a smoke test of the pipeline, not a measure of the model: phi-1 "
                    "(1.3B parameters, 7B tokens seen about 8 times) scores 50.6% on all 164 HumanEval tasks and "
                    "phi-1-small (350M) 45%, while a model of a few million parameters trained for minutes is expected "
                    "to solve almost none." if tasks < total or tasks < 100 else
                    "This is the whole benchmark: comparable to published numbers of the same protocol (greedy, "
                    "the same prompt format and tests).")
        plt, fig, ax = new_figure(height=1.6)
        ax.errorbar([100 * score["estimate"]], [summary["benchmark"]], fmt="o", capsize=4,
                    xerr=[[100 * (score["estimate"] - low)], [100 * (high - score["estimate"])]])
        ax.set_xlim(-2, 100)
        ax.set_xlabel("pass@1 (%) with its 95% Wilson interval")
        return [Table(["benchmark", "tasks", "pass@1", "95% bootstrap over tasks", "95% Wilson", "statuses"], rows),
                meaning, Figure(f"{name}-pass1", f"{name}: pass@1 and its interval", figure_png(plt, fig))]


class HeldoutLossStage(Stage):
    kind = "heldout-loss"
    produces = EVAL
    config_class = HeldoutConfig
    roles = {"model": Role(accepts=(MODEL,))}
    owned = ("out", "model")
    report_title = "Evaluation: held-out loss on reference solutions"

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.eval.heldout import heldout_loss

        summary = heldout_loss(dataclasses.replace(ctx.config, model=str(ctx.path("model")), out=ctx.out))
        return {"benchmarks": summary["benchmarks"]}

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        benchmarks = entry.get("summary", {}).get("benchmarks", {})
        rows = [[bench, f"{s['tasks']:,}", f"{s['tokens']:,}", "" if s["loss"] is None else f"{s['loss']:.3f}",
                 f"{s['truncated']:,}"] for bench, s in benchmarks.items()]
        return [Table(["benchmark", "tasks", "solution tokens", "loss (nats per token)", "truncated"], rows),
                "The loss of each benchmark's reference solution given its prompt: lower is better, and it moves "
                "where pass@1 is still 0."]


def wilson_interval(solved: int, tasks: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a pass rate, tasks taken as coin flips. The eval's bootstrap over
    tasks collapses to a point when every task fails (or passes); this one does not. (A formula:
    not worth scipy as a dependency.)"""
    if tasks == 0:
        return 0.0, 1.0
    p = solved / tasks
    centre = (p + z * z / (2 * tasks)) / (1 + z * z / tasks)
    half = z * math.sqrt(p * (1 - p) / tasks + z * z / (4 * tasks * tasks)) / (1 + z * z / tasks)
    return max(0.0, centre - half), min(1.0, centre + half)
