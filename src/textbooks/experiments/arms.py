"""An experiment's arms: one pipeline, changed per arm and per seed, each (arm, seed) a pipeline run.

    RUN_DIR/
      stages/  cache/          shared by every run: a stage that is the same in two arms (same
                               config, same inputs, so the same key) runs once and is cached after
      arms/ARM/seed-S/         one pipeline run (pointers, lineage.json, report.html); its stages/
                               and cache/ are links to the shared ones
      results.json  report.md  report.html  report-files/

An arm is a set of dotted changes to the pipeline (`stages.pretrain-pack.inputs.datasets: [code]`).
Arms may differ only in their data: every stage that makes a model or a measurement (train,
export, eval, held-out loss) must be configured alike in every arm, in every setting that changes
its output (`textbooks.config.output`; a log interval may differ), or the experiment refuses to
start and names the key. The seed goes to every train stage (`config.seed`); the data stages do not
depend on it, so each is made once and every seed trains on the same data.

The measurements are stages added to each arm's pipeline: for each measured model M,
`measure-M-loss` (held-out loss, `textbooks heldout-loss`) and `measure-M-BENCH` (pass@1,
`textbooks eval`). Stages that no measurement needs are left out of the runs.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.config import output, read_yaml, set_dotted, to_dict
from textbooks.errors import UserError
from textbooks.io import read_json
from textbooks.pipeline.kinds.base import DATASET, PACK
from textbooks.pipeline.plan import STAGE_RECORD, Plan, ancestors_of, make_plan, output_settings
from textbooks.pipeline.runner import RunOptions, RunResult, run_pipeline
from textbooks.pipeline.spec import PipelineSpec, pipeline_path, spec_from_data

ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
SHARED = ("stages", "cache")  # RUN_DIR entries every arm's run links to
MEASURE_PREFIX = "measure-"


@dataclass
class MeasureConfig:
    """YAML section `measure:`: which models are scored, and how."""

    models: list[str] = output(default_factory=lambda: ["finetune"])  # train stages whose models are scored
    # HeldoutConfig keys (textbooks.eval.heldout); null: no held-out loss
    heldout_loss: dict[str, Any] | None = output(default_factory=dict)
    pass_at_1: list[str] = output(default_factory=lambda: ["humaneval"])  # benchmarks scored by pass@1 (greedy)
    eval: dict[str, Any] = output(default_factory=dict)  # EvalConfig keys of every pass@1 stage (e.g. settings)

    def __post_init__(self) -> None:
        if not self.models:
            raise UserError("measure.models: empty; expected the train stages whose models are scored")
        if self.heldout_loss is None and not self.pass_at_1:
            raise UserError("measure: nothing to measure; expected heldout_loss or pass_at_1 (or both)")


@dataclass
class Arm:
    name: str
    changes: dict[str, Any]  # dotted pipeline key -> value


@dataclass
class ArmRun:
    arm: str
    seed: int
    run_dir: Path
    plan: Plan
    result: RunResult | None = None

    def record(self, stage: str) -> dict[str, Any]:
        """stage.json of a finished stage of this run."""
        return read_json(self.plan.stages[stage].out / STAGE_RECORD)

    def output(self, stage: str) -> Path:
        return self.plan.stages[stage].output


def measure_stage(model: str, what: str) -> str:
    """`measure-finetune-loss`, `measure-finetune-humaneval-plus`: a valid stage name."""
    return f"{MEASURE_PREFIX}{model}-{what.replace('+', '-plus')}"


def base_pipeline(pipeline: str | Mapping[str, Any], config_path: Path) -> tuple[dict[str, Any], Path, str]:
    """(pipeline data, its file, the prefix of its errors): a pipeline file, a shipped one, or inline."""
    if isinstance(pipeline, Mapping):
        return copy.deepcopy(dict(pipeline)), config_path, f"{config_path}: pipeline"
    path = pipeline_path(pipeline)
    return read_yaml(path), path, str(path)


def check_arm_names(names: Iterable[str], where: str) -> None:
    for name in names:
        if not ARM_NAME.match(name):
            raise UserError(f"{where}.{name}: not a usable arm name; expected letters, digits and . _ + -")


def arm_specs(config_where: str, pipeline: dict[str, Any], path: Path, where: str, arms: list[Arm], seeds: list[int],
              measure: MeasureConfig, keep: Iterable[str] = ()) -> dict[tuple[str, int], PipelineSpec]:
    """One pipeline per (arm, seed): the arm's changes, the seed, the measurement stages; stages no
    measurement (and nothing in `keep`) needs are left out. Errors in the experiment file start
    with `config_where`, errors in the pipeline with `where`."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"{config_where}: seeds: {seeds}; expected distinct integers, at least one")
    specs: dict[tuple[str, int], PipelineSpec] = {}
    for arm in arms:
        for seed in seeds:
            data = copy.deepcopy(pipeline)
            for key, value in arm.changes.items():
                try:
                    set_dotted(data, key, copy.deepcopy(value))
                except UserError as err:
                    raise UserError(f"{config_where}: arms.{arm.name}: {err}") from None
            stages = data.get("stages")
            if not isinstance(stages, dict) or not stages:
                raise UserError(f"{where}: stages: missing or empty; expected the pipeline's stages")
            for name, section in stages.items():
                if isinstance(section, dict) and section.get("kind") == "train":
                    section["config"] = {**(section.get("config") or {}), "seed": seed}
            wanted = add_measurements(stages, measure, config_where)
            spec = spec_from_data(data, path, where=f"{where} (arm {arm.name}, seed {seed})")
            needed = _needed(spec, [*wanted, *keep])
            specs[arm.name, seed] = dataclasses.replace(
                spec, stages={name: s for name, s in spec.stages.items() if name in needed},
                raw={**spec.raw, "stages": {name: s for name, s in spec.raw["stages"].items() if name in needed}})
    return specs


def add_measurements(stages: dict[str, Any], measure: MeasureConfig, config_where: str) -> list[str]:
    """Add the measurement stages of `measure` to a pipeline's stages; returns their names."""
    names: list[str] = []
    for model in measure.models:
        section = stages.get(model)
        if not isinstance(section, dict) or section.get("kind") != "train":
            trains = [n for n, s in stages.items() if isinstance(s, dict) and s.get("kind") == "train"]
            raise UserError(f"{config_where}: measure.models: {model!r} is not a train stage of the pipeline; "
                            f"expected one of {', '.join(trains) or '(none)'}")
        if measure.heldout_loss is not None:
            names.append(measure_stage(model, "loss"))
            stages[names[-1]] = {"kind": "heldout-loss", "inputs": {"model": model},
                                 "config": copy.deepcopy(measure.heldout_loss)}
        for benchmark in measure.pass_at_1:
            names.append(measure_stage(model, benchmark))
            stages[names[-1]] = {"kind": "eval", "inputs": {"model": model},
                                 "config": {**copy.deepcopy(measure.eval), "benchmark": benchmark}}
    return names


def _needed(spec: PipelineSpec, wanted: Iterable[str]) -> set[str]:
    """The named stages and every stage they read, directly or not."""
    parents = {name: {ref.ref for refs in section.inputs.values() for ref in refs if not ref.is_path}
               for name, section in spec.stages.items()}
    return {found for name in wanted if name in parents for found in (name, *ancestors_of(parents, name))}


def plan_runs(specs: Mapping[tuple[str, int], PipelineSpec], run_dir: Path) -> list[ArmRun]:
    """Every run's plan, seed by seed (all arms at the first seed come first: an interrupted
    experiment has whole comparisons)."""
    seeds = sorted({seed for _, seed in specs}, key=[s for _, s in specs].index)
    arms = list(dict.fromkeys(arm for arm, _ in specs))
    runs = []
    for seed in seeds:
        for arm in arms:
            arm_dir = run_dir / "arms" / arm / f"seed-{seed}"
            runs.append(ArmRun(arm, seed, arm_dir, make_plan(specs[arm, seed], arm_dir)))
    return runs


def check_only_data_differs(runs: list[ArmRun], where: str) -> None:
    """Refuse arms whose models or measurements are set up differently: name the first key that differs."""
    first_seed = runs[0].seed
    reference, *others = [r for r in runs if r.seed == first_seed]
    ref_stages = _model_stages(reference.plan)
    for run in others:
        stages = _model_stages(run.plan)
        for name in sorted(set(stages) ^ set(ref_stages)):
            here = "only in this arm" if name in stages else f"only in arm {reference.arm}"
            raise UserError(f"{where}: arm {run.arm}: stages.{name}: {here}; arms may differ only in their data "
                            "(the stages that make datasets and token packs)")
        for name, config in stages.items():
            key = _first_difference(config, ref_stages[name])
            if key is not None:
                raise UserError(f"{where}: arm {run.arm}: stages.{name}.{key}: {_at(config, key)!r} here, "
                                f"{_at(ref_stages[name], key)!r} in arm {reference.arm}; arms may differ only in "
                                "their data (the stages that make datasets and token packs)")
        key = _first_difference(to_dict(run.plan.spec.launcher), to_dict(reference.plan.spec.launcher))
        if key is not None:
            raise UserError(f"{where}: arm {run.arm}: launcher.{key}: differs from arm {reference.arm}; arms may "
                            "differ only in their data")


def _model_stages(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each stage that makes a model or a measurement: its kind, the settings that change its output
    (less what the pipeline fills in) and the stages it reads that are themselves models (a pack input is data, so it may differ)."""
    out: dict[str, dict[str, Any]] = {}
    for name, planned in plan.stages.items():
        if planned.stage.produces in (DATASET, PACK):
            continue
        config = output_settings(planned.stage, planned.config)  # a log interval or a worker count may differ
        models_read = {role: [i.ref for i in items] for role, items in planned.inputs.items()
                       if all(i.produces not in (DATASET, PACK) for i in items)}
        out[name] = {"kind": planned.stage.kind, "config": config, "inputs": models_read}
    return out


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".")


def _at(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def run_arms(runs: list[ArmRun], run_dir: Path, echo: Callable[[str], None] = print) -> None:
    """Run every (arm, seed) pipeline in order; shared stages run once, the others find them cached."""
    for shared in SHARED:
        (run_dir / shared).mkdir(parents=True, exist_ok=True)
    for number, run in enumerate(runs, start=1):
        link_shared(run_dir, run.run_dir)
        echo(f"== run {number}/{len(runs)}: arm {run.arm}, seed {run.seed} ({run.run_dir})")
        run.result = run_pipeline(run.plan.spec, run.run_dir, RunOptions(), echo=lambda line: echo(f"  {line}"))
        run.plan = run.result.plan


def link_shared(run_dir: Path, arm_dir: Path) -> None:
    arm_dir.mkdir(parents=True, exist_ok=True)
    for shared in SHARED:
        link = arm_dir / shared
        if link.is_symlink() or not link.exists():
            target = os.path.relpath(run_dir / shared, arm_dir)
            if not link.is_symlink() or os.readlink(link) != target:
                link.unlink(missing_ok=True)
                link.symlink_to(target)
        else:
            raise UserError(f"{link}: exists and is not a link to {run_dir / shared}; expected the experiment's "
                            "shared directory (move it away)")


def describe_runs(runs: list[ArmRun], echo: Callable[[str], None] = print) -> None:
    """--dry-run: per run, the stages it would run, find cached, or share with an earlier run."""
    first_seen: dict[str, str] = {}
    total = 0
    for run in runs:
        echo(f"arm {run.arm}, seed {run.seed} ({run.run_dir}):")
        for name, planned in run.plan.stages.items():
            directory = planned.out.name
            if planned.done:
                state = "cached"
            elif directory in first_seen:
                state = f"shared with {first_seen[directory]}"
            else:
                state = "would run"
                total += 1
                first_seen[directory] = f"arm {run.arm}, seed {run.seed}"
            echo(f"  {name} ({planned.stage.kind}) {planned.key[:12]}: {state}")
    echo(f"{total} stage run(s) in all; nothing is run (--dry-run)")


def with_run_dir(spec_run_dir: Path | None, given: Path | None, config_path: Path) -> Path:
    """--run-dir, else the file's run_dir, else runs/experiments/NAME."""
    return Path(given or spec_run_dir or Path("runs") / "experiments" / config_path.name.removesuffix(".yaml"))

