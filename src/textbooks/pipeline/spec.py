"""The pipeline file: which stages, their typed configs, and which output each one reads.

    run_dir: runs/demo             # default; `textbooks run --run-dir` wins
    teacher: {endpoints: [...]}    # TeacherConfig keys every teacher stage starts from
    launcher: {nproc_per_node: 8}  # how train stages start (see Launcher)
    stages:
      textbooks:
        kind: synth-textbooks      # a stage kind from textbooks.pipeline.kinds.STAGES
        config: {num: 8}           # that command's own config class (SynthConfig here)
      pretrain:
        kind: train
        base: tiny-pretrain        # optional: a YAML file (or preset) the config is laid over
        inputs: {data: pack}       # role -> a stage name, or a path (with a '/') to an existing dataset
        config: {max_steps: 100}

`$STDLIB` in any string is this interpreter's standard library (the demo's stand-in corpus).
Everything is checked here, before any stage runs, and every error names the file and the key.
"""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textbooks.config import apply_override, from_dict, read_yaml, shipped_names, shipped_or_path
from textbooks.errors import UserError

TOP_LEVEL_KEYS = ("description", "run_dir", "teacher", "launcher", "stages")
STAGE_KEYS = ("kind", "inputs", "base", "config")
# Names used by the run directory itself: a stage named like them would clash with its pointer.
RESERVED_NAMES = ("stages", "cache", "report", "lineage")
STDLIB_VARIABLE = "$STDLIB"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class Launcher:
    """How a train stage's process starts: the runner hands the command over and waits.

    `prefix` goes first (e.g. "srun --nodes 2 --ntasks-per-node 1"); then `torchrun --nproc-per-node N
    [torchrun_args] -m textbooks train ...` when `torchrun` is set or N > 1, else `python -m textbooks train ...`.
    With `sbatch` set, that command runs as a Slurm batch job (textbooks.pipeline.cluster).
    """

    prefix: str = ""
    torchrun: bool = False
    nproc_per_node: int = 1
    torchrun_args: list[str] = field(default_factory=list)  # e.g. [--nnodes=2, --rdzv-backend=c10d, --rdzv-endpoint=host:29500]
    # The GPUs it starts on, as train/metrics.py's peak table names them (A100, H100, H200 NVL, ...):
    # the dry run's bill prices GPU-hours and wall time at their bf16 peak. Starts nothing.
    gpu: str = "A100"
    sbatch: str = ""  # e.g. "--nodes=1 --ntasks=1 --gpus-per-node=8": submitted with sbatch (srun inside), waited for

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1:
            raise UserError(f"launcher.nproc_per_node: {self.nproc_per_node}; expected 1 or more")


@dataclass(frozen=True)
class InputRef:
    """One input of a stage as written: a stage name or a dataset path, and an optional weight."""

    ref: str
    weight: float | None = None

    @property
    def is_path(self) -> bool:
        return "/" in self.ref


@dataclass
class StageSpec:
    name: str
    kind: str
    inputs: dict[str, list[InputRef]]
    config: dict[str, Any]
    base: str | None = None


@dataclass
class PipelineSpec:
    path: Path
    name: str
    run_dir: Path | None
    teacher: dict[str, Any]
    launcher: Launcher
    stages: dict[str, StageSpec]
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict)  # the file's data after overrides, for lineage
    where: str = ""  # how errors name it: the file, or the file and the section holding the pipeline

    @property
    def origin(self) -> str:
        return self.where or str(self.path)


def pipeline_path(name_or_path: str | Path) -> Path:
    """A pipeline YAML as given, or the shipped pipeline of that name (`demo`, `ci`, `phi-1`)."""
    return shipped_or_path(name_or_path, "pipelines", "pipeline file or shipped pipeline")


def shipped_pipelines() -> list[str]:
    return shipped_names("pipelines")


def load_spec(name_or_path: str | Path, overrides: Sequence[str] = ()) -> PipelineSpec:
    """Read a pipeline file, apply `key=value` overrides (`stages.pretrain.config.max_steps=5`), check its shape."""
    path = pipeline_path(name_or_path)
    data = read_yaml(path)
    for item in overrides:
        apply_override(data, item)
    return spec_from_data(data, path)


def spec_from_data(data: Mapping[str, Any], path: Path, where: str | None = None) -> PipelineSpec:
    """A pipeline from its data (a file's, or a section of an experiment file); errors start with `where`."""
    data = _expand(dict(data))
    where = where or str(path)
    _no_unknown(data, TOP_LEVEL_KEYS, where, "")
    stages_data = data.get("stages")
    if not isinstance(stages_data, Mapping) or not stages_data:
        raise UserError(f"{where}: stages: missing or empty; expected a mapping of stage name -> "
                        "{kind, inputs, base, config}")
    teacher = data.get("teacher") or {}
    if not isinstance(teacher, Mapping):
        raise UserError(f"{where}: teacher: expected a mapping of TeacherConfig keys, got {teacher!r}")
    stages = {str(name): _stage(str(name), section, where) for name, section in stages_data.items()}
    run_dir = data.get("run_dir")
    return PipelineSpec(
        path=path, name=path.name.removesuffix(".yaml"), run_dir=Path(run_dir) if run_dir else None,
        teacher=dict(teacher), launcher=from_dict(Launcher, data.get("launcher") or {}, f"{where}: launcher"),
        stages=stages, description=str(data.get("description") or ""), raw=data, where=where,
    )


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(STDLIB_VARIABLE, sysconfig.get_paths()["stdlib"])
    if isinstance(value, Mapping):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def _stage(name: str, section: Any, where: str) -> StageSpec:
    key = f"stages.{name}"
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise UserError(f"{where}: {key}: not a usable stage name; expected lowercase letters, digits, '-' "
                        f"or '_' (and none of {', '.join(RESERVED_NAMES)})")
    if not isinstance(section, Mapping):
        raise UserError(f"{where}: {key}: expected a mapping with kind, inputs, base, config; got {section!r}")
    _no_unknown(section, STAGE_KEYS, where, key + ".")
    if "kind" not in section:
        raise UserError(f"{where}: {key}.kind: missing; expected the stage kind (e.g. synth-textbooks, train)")
    config = section.get("config") or {}
    if not isinstance(config, Mapping):
        raise UserError(f"{where}: {key}.config: expected a mapping of config keys, got {config!r}")
    inputs = section.get("inputs") or {}
    if not isinstance(inputs, Mapping):
        raise UserError(f"{where}: {key}.inputs: expected a mapping of role -> stage or dataset, got {inputs!r}")
    parsed = {str(role): [parse_input_ref(item, f"{where}: {key}.inputs.{role}") for item in
                          (value if isinstance(value, list) else [value])] for role, value in inputs.items()}
    base = section.get("base")
    return StageSpec(name=name, kind=str(section["kind"]), inputs=parsed, config=dict(config),
                     base=str(base) if base is not None else None)


def parse_input_ref(item: Any, where: str) -> InputRef:
    """`name`, `path/to/dataset`, or either with `:WEIGHT` (tokenize mixtures), as `--input` spells it."""
    if not isinstance(item, str) or not item.strip():
        raise UserError(f"{where}: {item!r}; expected a stage name or a dataset path, optionally NAME:WEIGHT")
    ref, sep, weight = item.rpartition(":")
    if sep and "/" not in weight:
        try:
            return InputRef(ref, float(weight))
        except ValueError:
            raise UserError(f"{where}: {item!r}: weight {weight!r} is not a number; expected NAME:WEIGHT") from None
    return InputRef(item)


def _no_unknown(data: Mapping[str, Any], allowed: Sequence[str], where: str, prefix: str) -> None:
    unknown = sorted(set(map(str, data)) - set(allowed))
    if unknown:
        raise UserError(f"{where}: {prefix}{unknown[0]}: unknown key; expected one of {', '.join(allowed)}")
