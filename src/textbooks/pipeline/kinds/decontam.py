"""The `decontam` stage kind: `textbooks decontam` (textbooks.decontam.pipeline.run_decontam) in a pipeline.

    exercises-clean:
      kind: decontam
      inputs: {dataset: exercises}
      config: {tau: 0.9, benchmarks: [humaneval, mbpp]}

Its directory holds matches.parquet, split.json, report.md and summary.json; downstream stages
read pruned/, the input less every flagged record.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.pipeline import run_decontam
from textbooks.pipeline.kinds.base import DATASET, Role, Stage, StageContext
from textbooks.pipeline.render import Block, Table
from textbooks.teacher import TeacherConfig


class DecontamStage(Stage):
    kind = "decontam"
    produces = DATASET
    config_class = DecontamConfig
    roles = {"dataset": Role(accepts=(DATASET,))}
    owned = ("input", "out")
    report_title = "Decontamination"

    def output(self, out: Path, config: Any) -> Path:
        return out / "pruned"

    def teacher(self, config: DecontamConfig) -> TeacherConfig | None:
        return config.judge

    def run(self, ctx: StageContext) -> dict[str, Any]:
        result = run_decontam(dataclasses.replace(ctx.config, input=ctx.path("dataset"), out=ctx.out))
        summary = result.summary
        return {"rows": summary["records"] - summary["removed"], "records": summary["records"],
                "removed": summary["removed"], "tau": summary["tau"], "problems": summary["problems"],
                "similar_problems": summary["similar_problems"]}

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        s = entry.get("summary", {})
        table = Table(["records", "flagged and removed", "tau", "benchmark problems", "problems similar to the data"],
                      [[f"{s.get('records', 0):,}", f"{s.get('removed', 0):,}", s.get("tau"), f"{s.get('problems', 0):,}",
                        f"{s.get('similar_problems', 0):,}"]])
        return [table, f"Per tier and at the paper's taus: `{entry['path']}/report.md`; the pairs: "
                       f"`{entry['path']}/matches.parquet`; the split of each benchmark: `{entry['path']}/split.json`."]
