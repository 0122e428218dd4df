"""RUN_DIR/lineage.json: the final model tied to every dataset, prompt template, teacher and config.

Per stage: kind, key, directory, the resolved config, its inputs (stage or dataset path, key,
weight) and, for a dataset, the manifest's own record of how it was made (stage, config with the
teacher model and the prompt template's sha256, input fingerprints). The report and the cards
read this file, so they can be rebuilt from a run directory alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textbooks import __version__
from textbooks.config import to_dict
from textbooks.data.datasets import MANIFEST
from textbooks.io import atomic_write_json, read_json, sha256_file
from textbooks.pipeline.kinds.base import DATASET, MODEL, PACK
from textbooks.pipeline.plan import STAGE_RECORD, Plan, ancestors_of
from textbooks.train.shards import MANIFEST as PACK_MANIFEST

LINEAGE = "lineage.json"


def lineage(plan: Plan) -> dict[str, Any]:
    stages: dict[str, Any] = {}
    for name, planned in plan.stages.items():
        entry: dict[str, Any] = {
            "kind": planned.stage.kind, "produces": planned.stage.produces, "key": planned.key,
            "path": str(planned.out.relative_to(plan.run_dir)), "output": str(planned.output.relative_to(plan.run_dir)),
            "done": planned.done,
            "config": to_dict(planned.config),
            "inputs": {role: [{"ref": i.ref, "stage": i.stage, "key": i.key, "path": str(i.path), "weight": i.weight}
                              for i in items] for role, items in planned.inputs.items()},
        }
        if planned.done:
            record = read_json(planned.out / STAGE_RECORD)
            entry.update(wall_s=record.get("wall_s"), finished_at=record.get("finished_at"),
                         summary=record.get("summary", {}))
            manifest = {DATASET: MANIFEST, PACK: PACK_MANIFEST}.get(planned.stage.produces)
            if manifest and (planned.output / manifest).is_file():
                made = read_json(planned.output / manifest)
                entry["made_by"] = {k: made.get(k) for k in ("stage", "kind", "config", "inputs", "fingerprint", "num_rows", "synth")}
        stages[name] = entry
    models = [n for n, p in plan.stages.items() if p.stage.produces == MODEL]
    final = models[-1] if models else None
    return {
        "pipeline": {"name": plan.spec.name, "path": str(plan.spec.path), "sha256": sha256_file(plan.spec.path),
                     "resolved": plan.spec.raw},
        "run_dir": str(plan.run_dir.resolve()),
        "final_model": {"stage": final, "depends_on": plan.ancestors(final)} if final else None,
        "order": list(plan.stages),  # the JSON's keys are sorted; this is the pipeline's order
        "stages": stages,
        "textbooks_version": __version__,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_lineage(plan: Plan) -> Path:
    path = plan.run_dir / LINEAGE
    atomic_write_json(path, lineage(plan))
    return path


def read_lineage(run_dir: Path) -> dict[str, Any]:
    """lineage.json with its stages back in pipeline order."""
    data = read_json(Path(run_dir) / LINEAGE)
    data["stages"] = {name: data["stages"][name] for name in data["order"]}
    return data


def ancestors(lineage_data: dict[str, Any], name: str) -> list[str]:
    """Stage names `name` depends on, from lineage.json alone (file order)."""
    stages = lineage_data["stages"]
    parents = {n: {i["stage"] for items in e["inputs"].values() for i in items if i["stage"]} for n, e in stages.items()}
    found = ancestors_of(parents, name)
    return [n for n in stages if n in found]
