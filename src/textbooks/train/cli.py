"""`textbooks tokenize` (datasets -> token shards) and `textbooks train` (pretrain or finetune)."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("tokenize")
    def tokenize(
        inputs: list[str] = typer.Option(
            ..., "--input", help="DATASET[:WEIGHT], repeatable. WEIGHT = passes over its documents (2.0 twice, 0.5 a seeded half)."
        ),
        out: Path = typer.Option(..., "--out", help="Directory to write: train/ and val/ token shards and pack.json."),
        val_fraction: float = typer.Option(0.005, "--val-fraction", help="Seeded fraction of each input's documents held out (at least one)."),
        loss_on: str = typer.Option("all", "--loss-on", help="Exercises: 'all' trains on every token (phi-1), 'solution' masks the prompt."),
        seed: int = typer.Option(0, "--seed", help="Seeds the held-out choice, fractional weights and copy order."),
        workers: int = typer.Option(os.cpu_count() or 1, "--workers", help="Processes tokenizing input shards in parallel."),
        tokenizer: Path | None = typer.Option(None, "--tokenizer", help="A tokenizer.json; default: phi-1's (codegen-350M-mono)."),
    ) -> None:
        """Tokenize a weighted mixture of datasets into memory-mapped token shards for training."""
        from textbooks.train.pack import MixtureInput, pack_datasets

        manifest = pack_datasets(
            [MixtureInput.parse(spec) for spec in inputs], out,
            val_fraction=val_fraction, loss_on=loss_on, seed=seed, workers=workers, tokenizer=tokenizer,
        )
        for entry in manifest["inputs"]:
            train, val = entry["train"], entry["val"]
            print(
                f"{entry['path']} x{entry['weight']:g}: train {train['documents']} docs {train['tokens']} tokens "
                f"({train['share']:.1%}), val {val['documents']} docs {val['tokens']} tokens"
            )
        splits = manifest["splits"]
        print(
            f"{out}: train {splits['train']['tokens']} tokens, val {splits['val']['tokens']} tokens, "
            f"{manifest['dtype']}, loss on {manifest['loss_on']}, fingerprint {manifest['fingerprint'][:12]}"
        )

    @app.command("train")
    def train(
        config: Path = typer.Option(..., "--config", help="Training config YAML, or a preset name (tiny-pretrain, phi-1-finetune)."),
        data: Path = typer.Option(..., "--data", help="Token pack written by `textbooks tokenize`."),
        out: Path = typer.Option(..., "--out", help="Run directory; an existing one is resumed."),
        init: Path | None = typer.Option(None, "--init", help="Checkpoint to start from (finetuning)."),
        overrides: list[str] | None = typer.Argument(None, help="key=value config overrides, e.g. optim.lr=3e-4 max_steps=200."),
    ) -> None:
        """Pretrain or finetune; under `torchrun --nproc-per-node N` the same command trains data-parallel."""
        from textbooks.train.trainer import train_from_cli

        summary = train_from_cli(config, data, out, init, list(overrides or []))
        if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one line, not one per rank
            numbers = ", ".join(f"{k} {v:.4g}" for k, v in summary.items() if isinstance(v, float))
            print(f"{summary['run_dir']}: step {summary['step']}" + (f", {numbers}" if numbers else "")
                  + (f"; best checkpoint {summary['best']}" if summary.get("best") else ""))
