"""Stage kinds the pipeline can run: each a small adapter from a stage section to a library call.

An adapter names its config class (the command's own: `SynthJob`, `TokenizeConfig`, `TrainConfig`,
`EvalConfig`), the inputs it reads (roles, and what kind of output each accepts), the config keys
the pipeline fills in itself (`out`, the input paths), the keys that do not change what it writes
(left out of its key), and `run`. Adding a stage kind is one class with `@register`; kinds that
live in modules of their own are listed in STAGE_MODULES and imported on first use.

The heavy engines stay in charge: synthesis talks to the teacher fleet through its client,
training starts through the configured launcher (`torchrun`, `srun ...`) as its own process, and
every stage resumes from its own markers when the runner calls it again after a crash.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

from textbooks.errors import UserError
from textbooks.eval.heldout import HeldoutConfig
from textbooks.eval.runner import EvalConfig
from textbooks.pipeline.spec import Launcher
from textbooks.synth.job import SynthJob
from textbooks.teacher.client import TeacherConfig
from textbooks.train.config import TrainConfig
from textbooks.train.tokenize import TokenizeConfig

# Modules holding more stage kinds (each registers its classes when imported).
STAGE_MODULES: tuple[str, ...] = ("textbooks.pipeline.stages_curate", "textbooks.pipeline.stages_decontam")

DATASET, PACK, MODEL, EVAL = "dataset", "pack", "model", "eval"
# Transport and pacing of a `teacher:` section: a new fleet, key or rate limit gets the same answers
# from the cache, so these keys are left out of a stage's key.
TEACHER_TRANSPORT = tuple(f"teacher.{key}" for key in (
    "endpoints", "api_key_env", "max_in_flight", "requests_per_minute", "tokens_per_minute", "timeout_s",
    "max_retries", "backoff_base_s", "backoff_max_s", "cooldown_s", "failures_before_cooldown"))


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
    key_ignores: ClassVar[tuple[str, ...]] = ()  # dotted config keys that pace or locate work but never change it

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

    def estimate(self, ctx: StageContext) -> str | None:
        """A dry-run note (what it would spend); sends nothing."""
        return None

    def run(self, ctx: StageContext) -> dict[str, Any]:
        raise NotImplementedError


STAGES: dict[str, Stage] = {}


def register(cls: type[Stage]) -> type[Stage]:
    STAGES[cls.kind] = cls()
    return cls


def stage_kinds() -> dict[str, Stage]:
    for module in STAGE_MODULES:
        import_module(module)
    return STAGES


# --- sources ---------------------------------------------------------------------------------

@dataclass
class ImportConfig:
    """Local trees of source files as a `code` dataset (`textbooks dataset import DIR ...`)."""

    roots: list[Path] = field(default_factory=list)  # `$STDLIB/json`: a package of the standard library
    pattern: str = "*.py"
    rows_per_shard: int = 50_000


@register
class ImportStage(Stage):
    kind = "import"
    produces = DATASET
    config_class = ImportConfig

    def key_extra(self, config: ImportConfig) -> str:
        from textbooks.data.sources import listing_sha256

        missing = [str(tree) for tree in config.roots if not tree.is_dir()]
        if not config.roots or missing:
            raise UserError(f"roots: {missing[0] if missing else 'empty'}: directory not found; expected source trees to import")
        return listing_sha256(config.roots, config.pattern)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.data.sources import import_local_trees

        cfg = ctx.config
        ds = import_local_trees(cfg.roots, ctx.out, pattern=cfg.pattern, rows_per_shard=cfg.rows_per_shard)
        return {"rows": ds.num_rows, "fingerprint": ds.fingerprint}


# --- synthetic data ----------------------------------------------------------------------------

class SynthStage(Stage):
    produces = DATASET
    synth_kind: ClassVar[str]
    owned = ("out",)
    key_ignores = ("cache", "batch_size", *TEACHER_TRANSPORT)

    def teacher(self, config: SynthJob) -> TeacherConfig:
        return config.teacher

    def prepare(self, ctx: StageContext) -> SynthJob:
        """The job with its output and answer cache in the run directory."""
        # The answer cache outlives the stage directory: a changed `num` reuses every answer already paid for.
        cache = ctx.config.cache or ctx.run_dir / "cache" / f"{ctx.name}.teacher-cache.sqlite"
        return dataclasses.replace(ctx.config, out=ctx.out, cache=cache)

    def estimate(self, ctx: StageContext) -> str | None:
        from textbooks.synth.job import estimate_synth

        estimate, note = estimate_synth(self.synth_kind, self.prepare(ctx))
        return f"{estimate}" + (f" ({note})" if note else "")

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.synth.job import run_synth

        job = self.prepare(ctx)
        job.cache.parent.mkdir(parents=True, exist_ok=True)
        result = run_synth(self.synth_kind, job)
        return {"rows": result.dataset.num_rows, "fingerprint": result.dataset.fingerprint,
                "spent_tokens": result.spent_tokens}


@register
class SynthTextbooksStage(SynthStage):
    kind = "synth-textbooks"
    synth_kind = "textbooks"
    config_class = SynthJob


@register
class SynthExercisesStage(SynthStage):
    kind = "synth-exercises"
    synth_kind = "exercises"
    config_class = SynthJob


# --- training ----------------------------------------------------------------------------------

@register
class TokenizeStage(Stage):
    kind = "tokenize"
    produces = PACK
    config_class = TokenizeConfig
    roles = {"datasets": Role(accepts=(DATASET,), many=True, weighted=True)}
    owned = ("inputs", "out")
    key_ignores = ("workers",)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.train.tokenize import tokenize

        specs = [f"{item.path}:{item.weight if item.weight is not None else 1}" for item in ctx.inputs["datasets"]]
        manifest = tokenize(dataclasses.replace(ctx.config, inputs=specs, out=ctx.out))
        return {"fingerprint": manifest["fingerprint"],
                "tokens": {split: manifest["splits"][split]["tokens"] for split in manifest["splits"]}}


@register
class TrainStage(Stage):
    kind = "train"
    produces = MODEL
    config_class = TrainConfig
    roles = {"data": Role(accepts=(PACK,)), "init": Role(accepts=(MODEL,), required=False)}
    key_ignores = ("log",)

    def base_path(self, base: str) -> Path:
        from textbooks.train.config import preset_path

        return preset_path(base)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.config import dump_yaml

        ctx.out.mkdir(parents=True, exist_ok=True)
        config_file = ctx.out / "pipeline-train.yaml"
        dump_yaml(ctx.config, config_file)
        args = ["train", "--config", str(config_file), "--data", str(ctx.path("data")), "--out", str(ctx.out)]
        if ctx.path("init") is not None:
            args += ["--init", str(ctx.path("init"))]
        command = launch_command(ctx.launcher, args)
        print(f"  $ {shlex.join(command)}", flush=True)
        if ctx.launcher.sbatch:
            from textbooks.pipeline.cluster import run_as_batch_job

            run_as_batch_job(command, ctx.out, ctx.launcher.sbatch, ctx.name)
            return train_summary(ctx.out)
        code = subprocess.run(command).returncode
        if code != 0:
            raise UserError(f"the training process exited with {code} (its output is above)")
        return train_summary(ctx.out)


def launch_command(launcher: Launcher, args: list[str]) -> list[str]:
    """The launcher's prefix, then torchrun or this interpreter, then `-m textbooks ARGS`."""
    head = shlex.split(launcher.prefix)
    if launcher.torchrun or launcher.nproc_per_node > 1:
        # torch.distributed.run is torchrun's module: the same program, found in this interpreter.
        head += [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={launcher.nproc_per_node}",
                 *launcher.torchrun_args, "-m"]
    else:
        head += [sys.executable, "-m"]
    return [*head, "textbooks", *args]


def train_summary(run_dir: Path) -> dict[str, Any]:
    """The last logged numbers of a run (its metrics.jsonl) and its best checkpoint."""
    from textbooks.io import read_jsonl
    from textbooks.train import state

    last: dict[str, Any] = {}
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for _, row in read_jsonl(metrics):
            last.update({k: v for k, v in row.items() if isinstance(v, (int, float))})
    best = state.best(run_dir)
    return {**{k: last[k] for k in ("step", "loss", "val_loss", "tokens") if k in last},
            "best": str(best.path) if best is not None else None}


@dataclass
class ExportConfig:
    """`textbooks export-hf`: the weights' dtype in the folder."""

    dtype: str = "float32"


@register
class ExportStage(Stage):
    kind = "export-hf"
    produces = MODEL
    config_class = ExportConfig
    roles = {"model": Role(accepts=(MODEL,))}

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.model.hf import export_hf
        from textbooks.model.load import load_model

        model = load_model(ctx.path("model"), dtype=ctx.config.dtype)
        export_hf(model, ctx.out)
        return {"parameters": model.num_parameters(), "dtype": ctx.config.dtype}


# --- evaluation --------------------------------------------------------------------------------

@register
class EvalStage(Stage):
    kind = "eval"
    produces = EVAL
    config_class = EvalConfig
    roles = {"model": Role(accepts=(MODEL,))}
    owned = ("out", "model", "samples")
    key_ignores = ("progress", "settings.workers", "api_key_env", "judge.api_key_env", "judge.max_in_flight")

    def teacher(self, config: EvalConfig) -> TeacherConfig | None:
        """The LLM judge on a server of its own (the embedded one is started by the eval)."""
        from textbooks.eval.judge import EMBEDDED

        if not config.judge.endpoint or config.judge.endpoint == EMBEDDED:
            return None
        return TeacherConfig(endpoints=[config.judge.endpoint], model=config.judge.model or "",
                             api_key_env=config.judge.api_key_env)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.eval.runner import run_eval

        summary = run_eval(dataclasses.replace(ctx.config, model=str(ctx.path("model")), out=ctx.out))
        return {"benchmark": summary["benchmark"], "tasks_scored": summary["tasks_scored"],
                "scores": summary["scores"]}


@register
class HeldoutLossStage(Stage):
    kind = "heldout-loss"
    produces = EVAL
    config_class = HeldoutConfig
    roles = {"model": Role(accepts=(MODEL,))}
    owned = ("out", "model")
    key_ignores = ("progress", "batch_size", "data_dir")

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.eval.heldout import heldout_loss

        summary = heldout_loss(dataclasses.replace(ctx.config, model=str(ctx.path("model")), out=ctx.out))
        return {"benchmarks": summary["benchmarks"]}
