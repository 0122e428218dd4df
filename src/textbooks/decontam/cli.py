"""`textbooks decontam --input DATASET --out DIR`: find and remove benchmark problems in training data."""

from __future__ import annotations

from pathlib import Path

import typer


def decontam(
    input: Path = typer.Option(..., "--input", help="A dataset directory, or a JSONL file with `text` (or `prompt` and `solution`) per line."),
    out: Path = typer.Option(..., "--out", help="Output directory: matches.parquet, split.json, pruned/, report.md."),
    benchmarks: str | None = typer.Option(None, help="Comma-separated, from humaneval, humaneval+, mbpp, mbpp-sanitized, mbpp+ (default: all)."),
    tau: float | None = typer.Option(None, help="AST match rate that flags a copy (default 0.9; the paper also uses 0.95, 0.85, 0.8)."),
    embedder: str | None = typer.Option(None, help="Embedding tier: 'hashing' (default, lexical, fast), 'minilm' (semantic) or 'none'."),
    judge_endpoint: str | None = typer.Option(None, help="LLM judge tier: an OpenAI-compatible base URL, e.g. http://host:8000/v1."),
    judge_model: str | None = typer.Option(None, help="The judge's served model name (required with --judge-endpoint)."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the judge's API key (default OPENAI_API_KEY)."),
    data_dir: Path | None = typer.Option(None, help="Directory with the benchmark data files (default: see `textbooks eval`)."),
    config: Path | None = typer.Option(None, "--config", help="A DecontamConfig YAML file; flags override it."),
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides, e.g. code_ngram=20 judge_top=50."),
) -> None:
    """Keep the benchmarks out of the training data: n-gram, embedding, AST and (optional) LLM-judge tiers."""
    from dataclasses import replace

    from textbooks.config import load_config
    from textbooks.decontam.config import DecontamConfig
    from textbooks.decontam.pipeline import decontaminate

    settings = load_config(DecontamConfig, config, list(overrides or []))
    flags = {"tau": tau, "embedder": embedder, "judge_endpoint": judge_endpoint, "judge_model": judge_model,
             "api_key_env": api_key_env, "data_dir": str(data_dir) if data_dir else None,
             "benchmarks": [name.strip() for name in benchmarks.split(",") if name.strip()] if benchmarks is not None else None}
    settings = replace(settings, **{key: value for key, value in flags.items() if value is not None})
    result = decontaminate(input, out, settings)
    print(result.line())


def register(app: typer.Typer) -> None:
    app.command("decontam")(decontam)
