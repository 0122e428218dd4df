"""The `tokenize` and `train` stage kinds: token packs, and training started through the run's launcher."""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from textbooks.errors import UserError
from textbooks.io import read_jsonl
from textbooks.pipeline.kinds.base import DATASET, MODEL, PACK, Role, Stage, StageContext
from textbooks.pipeline.render import Block, Figure, figure_png, new_figure
from textbooks.pipeline.spec import Launcher
from textbooks.train.config import TrainConfig
from textbooks.train.tokenize import TokenizeConfig


class TokenizeStage(Stage):
    kind = "tokenize"
    produces = PACK
    config_class = TokenizeConfig
    roles = {"datasets": Role(accepts=(DATASET,), many=True, weighted=True)}
    owned = ("inputs", "out")

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.train.tokenize import tokenize

        specs = [f"{item.path}:{item.weight if item.weight is not None else 1}" for item in ctx.inputs["datasets"]]
        manifest = tokenize(dataclasses.replace(ctx.config, inputs=specs, out=ctx.out))
        return {"fingerprint": manifest["fingerprint"],
                "tokens": {split: manifest["splits"][split]["tokens"] for split in manifest["splits"]}}


class TrainStage(Stage):
    kind = "train"
    produces = MODEL
    config_class = TrainConfig
    roles = {"data": Role(accepts=(PACK,)), "init": Role(accepts=(MODEL,), required=False)}
    report_title = "Training: loss curves"

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

    def report(self, run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
        metrics = run_dir / entry["output"] / "metrics.jsonl"
        if not metrics.is_file():
            return ["No metrics.jsonl."]
        train, val = [], []
        for _, row in read_jsonl(metrics):
            if "loss" in row:
                train.append((row["step"], row["loss"]))
            if "val_loss" in row:
                val.append((row["step"], row["val_loss"]))
        plt, fig, ax = new_figure()
        if train:
            ax.plot(*zip(*train), label="train loss")
        if val:
            ax.plot(*zip(*val), "o-", label="validation loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats per token)")
        ax.legend()
        summary = entry.get("summary", {})
        text = ", ".join(f"{k} {summary[k]:.4g}" for k in ("loss", "val_loss") if isinstance(summary.get(k), float))
        return [f"{entry['config']['model']['preset']} model, {entry['config']['max_steps']:,} steps; final {text or 'n/a'}.",
                Figure(f"{name}-loss", f"{name}: loss per step", figure_png(plt, fig))]


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
    from textbooks.train import state

    last: dict[str, Any] = {}
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for _, row in read_jsonl(metrics):
            last.update({k: v for k, v in row.items() if isinstance(v, (int, float))})
    best = state.best(run_dir)
    return {**{k: last[k] for k in ("step", "loss", "val_loss", "tokens") if k in last},
            "best": str(best.path) if best is not None else None}
