"""`textbooks decontam --input DATASET --out DIR`: find and remove benchmark problems in training data.

Every option is a key of `DecontamConfig`: `--config FILE` gives them as YAML and `key=value`
overrides any (flags win over the file, overrides over both)."""

from __future__ import annotations

from pathlib import Path

import typer


def decontam(
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides of DecontamConfig, e.g. code_ngram=16 judge_top=50."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of DecontamConfig keys; flags and overrides win over it."),
    input: Path | None = typer.Option(None, "--input", help="A dataset directory, or a JSONL file with `text` (or `prompt` and `solution`) per line."),
    out: Path | None = typer.Option(None, "--out", help="Output directory: matches.parquet, split.json, pruned/, report.md."),
    benchmarks: str | None = typer.Option(None, help="Comma-separated, from humaneval, humaneval+, mbpp, mbpp-sanitized, mbpp+, novel (default: all)."),
    tau: float | None = typer.Option(None, help="AST match rate that flags a copy (default 0.9; the paper also uses 0.95, 0.85, 0.8)."),
    embedder: str | None = typer.Option(None, help="Embedding tier: 'hashing' (default, lexical, fast), 'minilm' (semantic) or 'none'."),
    judge_endpoint: str | None = typer.Option(None, help="LLM judge tier: an OpenAI-compatible base URL, e.g. http://host:8000/v1."),
    judge_model: str | None = typer.Option(None, help="The judge's served model name (required with --judge-endpoint)."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the judge's API key (default OPENAI_API_KEY)."),
    data_dir: Path | None = typer.Option(None, help="Directory with the benchmark data files (default: as `textbooks eval`)."),
) -> None:
    """Keep the benchmarks out of the training data: n-gram, embedding, AST and (optional) LLM-judge tiers."""
    from textbooks.config import command_config
    from textbooks.decontam.config import DecontamConfig
    from textbooks.decontam.pipeline import run_decontam

    names = [name.strip() for name in benchmarks.split(",") if name.strip()] if benchmarks is not None else None
    settings = command_config(DecontamConfig, config, overrides or [], {
        "input": input, "out": out, "benchmarks": names, "tau": tau, "embedder": embedder, "data_dir": data_dir,
        # The judge's flat keys of old: DecontamConfig.migrate_keys makes them its `judge:` section.
        "judge_endpoint": judge_endpoint, "judge_model": judge_model, "api_key_env": api_key_env,
    })
    print(run_decontam(settings).line())


def register(app: typer.Typer) -> None:
    app.command("decontam")(decontam)
