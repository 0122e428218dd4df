"""The `curate` stage kind: `textbooks curate` (textbooks.curate.job.run_curate) in a pipeline.

    code:
      kind: curate
      config: {sources: [/data/the-stack-python], annotate: {sample: 100000}, classify: {threshold: auto}}

Its directory holds every curation step's dataset (raw/, clean/, dedup/, annotated/, embedded/,
scored/, filtered/) and report.json; downstream stages read filtered/ (dedup/ with `until: dedup`,
the unfiltered baseline).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textbooks.curate.job import CurateConfig, run_curate
from textbooks.data.sources import HF_PREFIX, listing_sha256
from textbooks.io import read_json
from textbooks.pipeline.kinds.base import DATASET, Stage, StageContext
from textbooks.pipeline.render import Block, Figure, Table, figure_png, new_figure
from textbooks.teacher import TeacherConfig
from textbooks.teacher.limits import Estimate

STEPS = ("raw", "clean", "dedup", "annotated", "filtered")


class CurateStage(Stage):
    kind = "curate"
    produces = DATASET
    config_class = CurateConfig
    owned = ("out",)
    report_title = "Curation: annotation and classifier"

    def output(self, out: Path, config: CurateConfig) -> Path:
        return config.result_dir(out)

    def teacher(self, config: CurateConfig) -> TeacherConfig | None:
        return None if config.until == "dedup" else config.teacher  # dedup stops before annotation: no teacher

    def key_extra(self, config: CurateConfig) -> str:
        """Local sources' content (paths, sizes, mtimes); a Hub dataset is named by its id alone."""
        return listing_sha256([s for s in config.sources if not s.startswith(HF_PREFIX)], config.pattern)

    def prepare(self, ctx: StageContext) -> CurateConfig:
        # Caches outlive the stage directory: a changed classifier reuses every rating already paid for.
        cache = ctx.run_dir / "cache"
        return dataclasses.replace(
            ctx.config, out=ctx.out,
            teacher_cache=ctx.config.teacher_cache or cache / f"{ctx.name}.teacher-cache.sqlite",
            embedding_cache=ctx.config.embedding_cache or cache / f"{ctx.name}.embeddings.sqlite")

    def estimate(self, ctx: StageContext) -> Estimate | None:
        """The annotation's requests: each file cut to max_file_tokens, each answer at most max_tokens."""
        from textbooks.curate.annotate import build_request
        from textbooks.teacher.limits import estimate_prompt_tokens

        job = ctx.config
        if job.until != "filtered":  # `until: dedup` calls no teacher
            return None
        rated = job.annotate.sample
        prompt = estimate_prompt_tokens(build_request(job.annotate, job.teacher.model or "teacher", "")) \
            + job.annotate.max_file_tokens
        return Estimate(rated, 0, rated * prompt, rated * job.annotate.max_tokens, 0, None)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        job = self.prepare(ctx)
        job.teacher_cache.parent.mkdir(parents=True, exist_ok=True)
        result = run_curate(job)  # on Slurm: waits for the jobs, attaching to those a killed run submitted
        return {"rows": result.datasets[job.until].num_rows,
                "steps": {step: result.datasets[step].num_rows for step in STEPS if step in result.datasets},
                "tokens": result.report.get("tokens"), "annotation": result.annotation,
                "classifier": result.report.get("classifier", {}).get("metrics")}

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        out = run_dir / entry["path"]
        summary = entry.get("summary", {})
        blocks: list[Block] = [Table(["step", "files"], [[step, f"{rows:,}"] for step, rows in summary.get("steps", {}).items()])]
        histogram = (summary.get("annotation") or {}).get("histogram") or {}
        if histogram:
            plt, fig, ax = new_figure()
            ax.bar(list(histogram), list(histogram.values()), color="#4c72b0")
            ax.set_xlabel("educational value (teacher's score)")
            ax.set_ylabel("files")
            blocks.append(Figure(f"{name}-scores", f"{name}: annotation scores of the rated sample", figure_png(plt, fig)))
        metrics = summary.get("classifier") or {}
        if metrics:
            blocks.append(Table(["classifier (held out)", "accuracy", "F1", "ROC-AUC"],
                                [[model, f"{m['accuracy']:.3f}", f"{m['f1']:.3f}", f"{m['roc_auc']:.3f}"]
                                 for model, m in metrics.items()]))
        report = out / "report.json"
        if report.is_file():
            ends = read_json(report)
            for end in ("top", "bottom"):
                blocks += [f"{end} by quality: `{example['path']}` ({example['quality']:.3f})" for example in ends.get(end, [])]
        return blocks
