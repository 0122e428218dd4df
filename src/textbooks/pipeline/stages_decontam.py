"""The `decontam` stage kind: `textbooks decontam` (textbooks.decontam.pipeline.run_decontam) in a pipeline.

    exercises-clean:
      kind: decontam
      inputs: {dataset: exercises}
      config: {tau: 0.9, benchmarks: [humaneval, mbpp]}

Its directory holds matches.parquet, split.json, report.md and summary.json; downstream stages
read pruned/, the input less every flagged record. Enabled by naming this module in
textbooks.pipeline.stages.STAGE_MODULES.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.pipeline import run_decontam
from textbooks.pipeline.report import Block, Table, section
from textbooks.pipeline.stages import DATASET, Role, Stage, StageContext, register
from textbooks.teacher import TeacherConfig


@register
class DecontamStage(Stage):
    kind = "decontam"
    produces = DATASET
    config_class = DecontamConfig
    roles = {"dataset": Role(accepts=(DATASET,))}
    owned = ("input", "out")
    key_ignores = ("data_dir", "api_key_env", "judge_endpoint", "chunk_size", "behaviour_workers")

    def output(self, out: Path, config: Any) -> Path:
        return out / "pruned"

    def teacher(self, config: DecontamConfig) -> TeacherConfig | None:
        """The LLM judge, when one is configured: its endpoint must answer before the run starts."""
        if not config.judge_endpoint:
            return None
        return TeacherConfig(endpoints=[config.judge_endpoint], model=config.judge_model or "",
                             api_key_env=config.api_key_env)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        result = run_decontam(dataclasses.replace(ctx.config, input=ctx.path("dataset"), out=ctx.out))
        summary = result.summary
        return {"rows": summary["records"] - summary["removed"], "records": summary["records"],
                "removed": summary["removed"], "tau": summary["tau"], "problems": summary["problems"],
                "similar_problems": summary["similar_problems"]}


@section("decontam", "Decontamination")
def decontam_report(run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
    s = entry.get("summary", {})
    table = Table(["records", "flagged and removed", "tau", "benchmark problems", "problems similar to the data"],
                  [[f"{s.get('records', 0):,}", f"{s.get('removed', 0):,}", s.get("tau"), f"{s.get('problems', 0):,}",
                    f"{s.get('similar_problems', 0):,}"]])
    return [table, f"Per tier and at the paper's taus: `{entry['path']}/report.md`; the pairs: "
                   f"`{entry['path']}/matches.parquet`; the split of each benchmark: `{entry['path']}/split.json`."]
