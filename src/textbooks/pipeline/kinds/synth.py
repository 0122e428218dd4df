"""The `synth-textbooks` and `synth-exercises` stage kinds: `textbooks synth` in a pipeline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from textbooks.pipeline.kinds.base import DATASET, Stage, StageContext
from textbooks.pipeline.render import Block, Figure, Table, figure_png, new_figure
from textbooks.synth.job import SynthConfig
from textbooks.teacher.client import TeacherConfig
from textbooks.teacher.limits import Estimate


class SynthStage(Stage):
    produces = DATASET
    synth_kind: ClassVar[str]
    config_class = SynthConfig
    owned = ("out",)

    def teacher(self, config: SynthConfig) -> TeacherConfig:
        return config.teacher

    def prepare(self, ctx: StageContext) -> SynthConfig:
        """The job with its output and answer cache in the run directory."""
        # The answer cache outlives the stage directory: a changed `num` reuses every answer already paid for.
        cache = ctx.config.cache or ctx.run_dir / "cache" / f"{ctx.name}.teacher-cache.sqlite"
        return dataclasses.replace(ctx.config, out=ctx.out, cache=cache)

    def estimate(self, ctx: StageContext) -> Estimate:
        from textbooks.synth.job import estimate_synth

        return estimate_synth(self.synth_kind, self.prepare(ctx))[0]

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.synth.job import run_synth

        job = self.prepare(ctx)
        job.cache.parent.mkdir(parents=True, exist_ok=True)
        result = run_synth(self.synth_kind, job)
        return {"rows": result.dataset.num_rows, "fingerprint": result.dataset.fingerprint,
                "spent_tokens": result.spent_tokens}

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        """Diversity of what the teacher wrote, and why answers were rejected."""
        from textbooks.synth.diversity import diversity_report

        report = diversity_report(run_dir / entry["output"], embedder="hashing", sample=500)
        gen = report["generation"]
        rows = [["records", f"{report['rows']:,}"],
                *[[f"distinct {n}-grams", f"{v:.3f}"] for n, v in report["distinct_ngrams"].items()],
                ["mean pairwise distance (hashing embedding)", f"{report['embedding']['mean_pairwise_distance']:.3f}"],
                *[[f"{column} coverage", f"{cov['present']:,}" + (f" of {cov['total']:,}" if cov["total"] else "")]
                  for column, cov in report["coverage"].items()]]
        blocks: list[Block] = [Table(["measure", "value"], rows)]
        rejected = gen.get("rejected") or {}
        if gen.get("requests"):
            plt, fig, ax = new_figure(height=0.35 * (len(rejected) + 1) + 1)
            labels = ["kept", *rejected]
            ax.barh(labels[::-1], [gen["kept"], *rejected.values()][::-1],
                    color=["#c44e52"] * len(rejected) + ["#55a868"])
            ax.set_xlabel("teacher answers")
            blocks.append(Figure(f"{name}-answers", f"{name}: teacher answers kept and why the rest were rejected",
                                 figure_png(plt, fig)))
        return blocks


class SynthTextbooksStage(SynthStage):
    kind = "synth-textbooks"
    synth_kind = "textbooks"
    report_title = "Synthetic textbooks: diversity"


class SynthExercisesStage(SynthStage):
    kind = "synth-exercises"
    synth_kind = "exercises"
    report_title = "Synthetic exercises: diversity"
