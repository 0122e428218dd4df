"""What every stage kind is: a small adapter from a stage section to a library call, plus its report section.

An adapter names its config class (the command's own: `SynthConfig`, `TokenizeConfig`, `TrainConfig`,
`EvalConfig`), the inputs it reads (roles, and what kind of output each accepts), the config keys
the pipeline fills in itself (`out`, the input paths), `run`, and what it adds to the run's report
(`report_title`, `report`). Its key leaves out what the config class declares as not changing the
output (`textbooks.config.pacing`).

The heavy engines stay in charge: synthesis talks to the teacher fleet through its client,
training starts through the configured launcher (`torchrun`, `srun ...`) as its own process, and
every stage resumes from its own markers when the runner calls it again after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textbooks.pipeline.render import Block
from textbooks.pipeline.spec import Launcher
from textbooks.teacher.client import TeacherConfig
from textbooks.teacher.limits import Estimate

DATASET, PACK, MODEL, EVAL = "dataset", "pack", "model", "eval"



@dataclass(frozen=True)
class Role:
    """One named input of a stage kind: what it accepts, and whether it may be absent or repeated."""

    accepts: tuple[str, ...]
    required: bool = True
    many: bool = False
    weighted: bool = False  # NAME:WEIGHT allowed (tokenize mixtures)


@dataclass(frozen=True)
class Input:
    """A resolved input: where it is on disk, its key, and what it is."""

    ref: str
    path: Path
    key: str
    produces: str
    weight: float | None = None
    stage: str | None = None  # the upstream stage's name; None for a dataset given by path


@dataclass
class StageContext:
    name: str
    out: Path  # RUN_DIR/stages/NAME-KEY: the stage writes its output here and nowhere else
    config: Any
    inputs: dict[str, list[Input]]
    run_dir: Path
    launcher: Launcher

    def path(self, role: str) -> Path | None:
        found = self.inputs.get(role) or []
        return found[0].path if found else None


class Stage:
    kind: ClassVar[str]
    produces: ClassVar[str]
    config_class: ClassVar[type]
    roles: ClassVar[dict[str, Role]] = {}
    owned: ClassVar[tuple[str, ...]] = ()  # config keys the pipeline sets from the inputs and the stage directory
    report_title: ClassVar[str | None] = None  # the report section this kind adds; None: it adds none

    def base_path(self, base: str) -> Path:
        """A `base:` YAML the section's config is laid over."""
        return Path(base)

    def output(self, out: Path, config: Any) -> Path:
        """Where, inside the stage directory, the dataset (pack, model) that downstream stages read is."""
        return out

    def key_extra(self, config: Any) -> str:
        """What else decides the output, beyond config and input keys (e.g. a source tree's listing)."""
        return ""

    def teacher(self, config: Any) -> TeacherConfig | None:
        """The teacher this stage calls: its endpoints must answer before the pipeline starts."""
        return None

    def estimate(self, ctx: StageContext) -> Estimate | None:
        """What it would ask its teacher (requests, tokens), for the dry run's bill (pipeline/bill.py); sends nothing."""
        return None

    def run(self, ctx: StageContext) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        """This finished stage's part of its kind's report section (`entry`: its lineage.json record)."""
        return []
