"""From a pipeline file to a plan: every stage's typed config, resolved inputs, key and directory.

A stage's key hashes its kind, the settings of its config that change its output (as its class
declares them, `textbooks.config.output`; less the keys the pipeline fills in), anything else that
decides its output (a source tree's listing) and the keys of its inputs: an upstream stage's key, or the fingerprint in an existing dataset's or token pack's
manifest. So an unchanged stage has an unchanged key and its directory, `RUN_DIR/stages/NAME-KEY`,
already holds its output; a changed stage gets a new key, and so does everything downstream of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from textbooks.config import from_dict, output_data, read_yaml
from textbooks.data.datasets import MANIFEST
from textbooks.errors import UserError
from textbooks.io import read_json
from textbooks.pipeline.kinds import STAGES
from textbooks.pipeline.kinds.base import DATASET, PACK, Input, Role, Stage
from textbooks.pipeline.spec import InputRef, PipelineSpec, StageSpec
from textbooks.train.shards import MANIFEST as PACK_MANIFEST

STAGE_RECORD = "stage.json"  # written into a stage's directory when it has finished: the completion marker
KEY_CHARS = 12  # of the key in directory names; stage.json holds all of it


@dataclass
class PlannedStage:
    spec: StageSpec
    stage: Stage
    config: Any  # the typed config, the pipeline's own keys not yet filled in
    inputs: dict[str, list[Input]]
    key: str
    out: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def output(self) -> Path:
        return self.stage.output(self.out, self.config)

    @property
    def done(self) -> bool:
        return (self.out / STAGE_RECORD).is_file()

    def upstream(self) -> set[str]:
        return {item.stage for items in self.inputs.values() for item in items if item.stage is not None}


@dataclass
class Plan:
    spec: PipelineSpec
    run_dir: Path
    stages: dict[str, PlannedStage]  # in dependency order (file order where the graph allows)

    def ancestors(self, name: str) -> list[str]:
        found = ancestors_of({n: p.upstream() for n, p in self.stages.items()}, name)
        return [n for n in self.stages if n in found]

    def descendants(self, name: str) -> list[str]:
        return [n for n in self.stages if name in self.ancestors(n)]


def ancestors_of(parents: Mapping[str, Iterable[str]], name: str) -> set[str]:
    """Every stage `name` reads, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for parent in parents[todo.pop()]:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def make_plan(spec: PipelineSpec, run_dir: Path) -> Plan:
    """Check the whole file and compute every key; raises UserError naming file and key."""
    where = spec.origin
    kinds = STAGES
    for name, section in spec.stages.items():
        if section.kind not in kinds:
            raise UserError(f"{where}: stages.{name}.kind: unknown stage kind {section.kind!r}; expected one of "
                            f"{', '.join(sorted(kinds))}")
        _check_inputs(spec, section, kinds[section.kind], where)
    order = _dependency_order(spec, where)
    planned: dict[str, PlannedStage] = {}
    for name in order:
        section = spec.stages[name]
        stage = kinds[section.kind]
        config = stage_config(spec, section, stage, where)
        inputs = {role: [_resolve(ref, planned, stage.roles[role], f"{where}: stages.{name}.inputs.{role}")
                         for ref in refs] for role, refs in section.inputs.items()}
        key = stage_key(stage, config, inputs, f"{where}: stages.{name}")
        planned[name] = PlannedStage(section, stage, config, inputs, key,
                                     run_dir / "stages" / f"{name}-{key[:KEY_CHARS]}")
    return Plan(spec, run_dir, planned)


def _check_inputs(spec: PipelineSpec, section: StageSpec, stage: Stage, where: str) -> None:
    prefix = f"{where}: stages.{section.name}.inputs"
    for role, refs in section.inputs.items():
        if role not in stage.roles:
            expected = ", ".join(stage.roles) or "none (this stage reads no input)"
            raise UserError(f"{prefix}.{role}: unknown input; expected {expected}")
        wanted = stage.roles[role]
        if len(refs) > 1 and not wanted.many:
            raise UserError(f"{prefix}.{role}: {len(refs)} inputs; expected one")
        for ref in refs:
            if ref.weight is not None and not wanted.weighted:
                raise UserError(f"{prefix}.{role}: {ref.ref}:{ref.weight:g}: a weight; expected a plain name here")
            if not ref.is_path and ref.ref not in spec.stages:
                raise UserError(f"{prefix}.{role}: {ref.ref!r} names no stage ({', '.join(spec.stages)}) and no "
                                "dataset; expected a stage name, or a dataset path containing '/'")
    for role, wanted in stage.roles.items():
        if wanted.required and role not in section.inputs:
            raise UserError(f"{prefix}.{role}: missing; a {section.kind} stage needs it ({' or '.join(wanted.accepts)})")


def _dependency_order(spec: PipelineSpec, where: str) -> list[str]:
    graph = {name: [ref.ref for refs in s.inputs.values() for ref in refs if not ref.is_path]
             for name, s in spec.stages.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        cycle = err.args[1]
        raise UserError(f"{where}: stages.{cycle[0]}.inputs: a cycle ({' <- '.join(cycle)}); expected each stage "
                        "to read only stages that do not read it") from None
    order: list[str] = []
    while len(order) < len(graph):  # file order, each stage after its inputs
        order.append(next(n for n in graph if n not in order and all(d in order for d in graph[n])))
    return order


def stage_config(spec: PipelineSpec, section: StageSpec, stage: Stage, where: str) -> Any:
    """base YAML < the file's `teacher:` section (for stages with one) < the section's `config:`."""
    key = f"{where}: stages.{section.name}.config"
    for owned in stage.owned:
        if owned in section.config:
            raise UserError(f"{key}.{owned}: set by the pipeline (from inputs and the run directory); "
                            "expected it left out")
    data: dict[str, Any] = read_yaml(stage.base_path(section.base)) if section.base else {}
    if "teacher" in {f.name for f in dataclasses.fields(stage.config_class)} and spec.teacher:
        data["teacher"] = _merged(data.get("teacher") or {}, spec.teacher)
    data = _merged(data, section.config)
    try:
        return from_dict(stage.config_class, data, where=key)
    except UserError as err:  # checks in __post_init__ name the key but not the file
        raise UserError(str(err) if str(err).startswith(where) else f"{key}.{err}") from None


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        merged[k] = _merged(merged[k], v) if isinstance(v, Mapping) and isinstance(merged.get(k), Mapping) else v
    return merged


def output_settings(stage: Stage, config: Any, legacy: bool = False) -> dict[str, Any]:
    """The settings of a stage's config that change its output (as its class declares them), less
    the keys the pipeline fills in: those come in through the inputs' keys and the stage directory."""
    data = output_data(config, legacy=legacy)
    for key in stage.owned:
        data.pop(key, None)
    return data


def stage_key(stage: Stage, config: Any, inputs: Mapping[str, list[Input]], where: str) -> str:
    data = output_settings(stage, config, legacy=True)
    try:
        extra = stage.key_extra(config)
    except UserError as err:
        raise UserError(f"{where}.config: {err}") from None
    payload = {"kind": stage.kind, "config": data, "extra": extra,
               "inputs": {role: [[item.key, item.weight] for item in items] for role, items in sorted(inputs.items())}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _resolve(ref: InputRef, planned: Mapping[str, PlannedStage], role: Role, where: str) -> Input:
    if not ref.is_path:
        upstream = planned[ref.ref]
        found = Input(ref.ref, upstream.stage.output(upstream.out, upstream.config), upstream.key, upstream.stage.produces, ref.weight, stage=ref.ref)
    else:
        found = _existing(ref, where)
    if found.produces not in role.accepts:
        raise UserError(f"{where}: {ref.ref!r} is a {found.produces}; expected a {' or '.join(role.accepts)}")
    return found


def _existing(ref: InputRef, where: str) -> Input:
    """A dataset or token pack already on disk; its key is the fingerprint its manifest holds."""
    path = Path(ref.ref).expanduser()
    for manifest, produces in ((MANIFEST, DATASET), (PACK_MANIFEST, PACK)):
        if (path / manifest).is_file():
            fingerprint = read_json(path / manifest).get("fingerprint")
            if not fingerprint:
                raise UserError(f"{where}: {path / manifest} has no fingerprint; expected a finished {produces}")
            return Input(ref.ref, path.resolve(), fingerprint, produces, ref.weight)
    raise UserError(f"{where}: {ref.ref!r} names no stage and no existing dataset or token pack "
                    f"(no {MANIFEST} or {PACK_MANIFEST} there)")
