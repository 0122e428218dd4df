"""`textbooks tokenize` (datasets -> token shards: train/tokenize.py) and `textbooks train`
(pretrain or finetune: train/trainer.py). Both read their typed config (`TokenizeConfig`,
`TrainConfig`) with `command_config`, like every command: `--config` (for train, also a preset
name) plus `key=value` overrides; tokenize's flags are shorthands for its keys."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def tokenize_command(
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides of TokenizeConfig, e.g. seed=3."),
    inputs: list[str] | None = typer.Option(
        None, "--input", help="DATASET[:WEIGHT], repeatable. WEIGHT = passes over its documents (2.0 twice, 0.5 a seeded half)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Directory to write: train/ and val/ token shards and pack.json."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of TokenizeConfig keys; flags and overrides win over it."),
    val_fraction: float | None = typer.Option(None, "--val-fraction", help="Seeded fraction of each input's documents held out (at least one; default 0.005)."),
    loss_on: str | None = typer.Option(None, "--loss-on", help="Exercises: 'all' (default) trains on every token (phi-1), 'solution' masks the prompt."),
    seed: int | None = typer.Option(None, "--seed", help="Seeds the held-out choice, fractional weights and copy order."),
    workers: int | None = typer.Option(None, "--workers", help="Processes tokenizing input shards in parallel (default: CPU count)."),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="A tokenizer.json; default: phi-1's (codegen-350M-mono)."),
) -> None:
    """Tokenize a weighted mixture of datasets into memory-mapped token shards for training."""
    from textbooks.config import command_config
    from textbooks.train.tokenize import TokenizeConfig, tokenize

    cfg = command_config(TokenizeConfig, config, overrides or [], {
        "inputs": inputs or None, "out": out, "val_fraction": val_fraction, "loss_on": loss_on, "seed": seed,
        "workers": workers, "tokenizer": tokenizer,
    })
    manifest = tokenize(cfg)
    for entry in manifest["inputs"]:
        train, val = entry["train"], entry["val"]
        print(
            f"{entry['path']} x{entry['weight']:g}: train {train['documents']} docs {train['tokens']} tokens "
            f"({train['share']:.1%}), val {val['documents']} docs {val['tokens']} tokens"
        )
    splits = manifest["splits"]
    print(
        f"{cfg.out}: train {splits['train']['tokens']} tokens, val {splits['val']['tokens']} tokens, "
        f"{manifest['dtype']}, loss on {manifest['loss_on']}, fingerprint {manifest['fingerprint'][:12]}"
    )


def train_command(
    config: Path = typer.Option(..., "--config", help="Training config YAML, or a preset name (tiny-pretrain, phi-1-finetune)."),
    data: Path = typer.Option(..., "--data", help="Token pack written by `textbooks tokenize`."),
    out: Path = typer.Option(..., "--out", help="Run directory; an existing one is resumed."),
    init: Path | None = typer.Option(None, "--init", help="Checkpoint to start from (finetuning)."),
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides, e.g. optim.lr=3e-4 max_steps=200."),
) -> None:
    """Pretrain or finetune; under `torchrun --nproc-per-node N` the same command trains data-parallel."""
    from textbooks.config import command_config
    from textbooks.train.config import TrainConfig, preset_path

    # The config is read before torch is imported (seconds): a mistyped key fails at once.
    cfg = command_config(TrainConfig, preset_path(config), list(overrides or []))
    from textbooks.eval.selection import pass_at_1_scorer
    from textbooks.train.trainer import train

    section = cfg.checkpoint
    scorer = (pass_at_1_scorer(section.benchmark, section.benchmark_limit, section.unsafe_no_isolation)
              if section.best_by == "pass@1" else None)
    summary = train(cfg, data, out, init=init, score_checkpoint=scorer)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one line, not one per rank
        numbers = ", ".join(f"{k} {v:.4g}" for k, v in summary.items() if isinstance(v, float))
        print(f"{summary['run_dir']}: step {summary['step']}" + (f", {numbers}" if numbers else "")
              + (f"; best checkpoint {summary['best']}" if summary.get("best") else ""))


def register(app: typer.Typer) -> None:
    app.command("tokenize")(tokenize_command)
    app.command("train")(train_command)
