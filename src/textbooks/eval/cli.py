"""`textbooks eval BENCH --model M --out DIR` (generate and score) or `--samples FILE` (score only)."""

from __future__ import annotations

from pathlib import Path

import typer

from textbooks.errors import UserError


def eval_command(
    benchmark: str = typer.Argument(..., help="humaneval, mbpp, humaneval+, mbpp+ (or mbpp-sanitized)."),
    out: Path = typer.Option(..., "--out", help="Output directory: samples, per-sample results, summary; resumable."),
    model: str | None = typer.Option(None, help="Checkpoint or run directory, preset:NAME, a Hugging Face folder, or an OpenAI-compatible base URL."),
    samples: Path | None = typer.Option(None, help="Score this JSONL (task_id, completion) instead of generating."),
    backend: str = typer.Option("auto", help="auto, checkpoint, hf (transformers) or endpoint."),
    served_model: str | None = typer.Option(None, help="Endpoint only: the served model's name (default: the first listed)."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Endpoint only: environment variable holding the API key."),
    n: int = typer.Option(1, "--n", help="Samples per task (pass@k for k <= n)."),
    temperature: float = typer.Option(0.0, help="0 is greedy."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    seed: int | None = typer.Option(None, help="Sampling seed (repeatable runs)."),
    max_new_tokens: int | None = typer.Option(None, help="Default: the benchmark's (512)."),
    batch_size: int = typer.Option(8, help="Prompts per forward pass (checkpoint and hf backends)."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option("float32", help="float32, bfloat16 or float16."),
    limit: int | None = typer.Option(None, help="Only the first N tasks (quick runs)."),
    workers: int | None = typer.Option(None, help="Parallel sandboxed programs (default: CPU count)."),
    timeout: float | None = typer.Option(None, help="Seconds per program (default: the benchmark's)."),
    memory_mb: int | None = typer.Option(None, help="Address-space limit per program in MiB (default 4096)."),
    isolation: str = typer.Option("auto", help="auto, bwrap, namespaces, unshare or rlimits."),
    unsafe_no_isolation: bool = typer.Option(False, "--unsafe-no-isolation", help="Where no isolating sandbox starts, run the programs with less (recorded in the results)."),
    data_dir: Path | None = typer.Option(None, help="Where benchmark data files are (else $TEXTBOOKS_BENCHMARK_DIR, then download)."),
    challenge_tests: bool = typer.Option(False, help="MBPP: also run challenge_test_list."),
    progress: bool = typer.Option(True, help="Progress bars."),
) -> None:
    """Score a model (or a samples file) on BENCH: pass@k with 95% intervals, per-sample JSONL."""
    from textbooks.eval.backends import open_backend
    from textbooks.eval.benchmarks import load_benchmark
    from textbooks.eval.runner import EvalSettings, evaluate

    if (model is None) == (samples is None):
        raise UserError("eval: give exactly one of --model M (generate and score) or --samples FILE (score only)")
    settings = EvalSettings(n=n, temperature=temperature, top_p=top_p, seed=seed, max_new_tokens=max_new_tokens,
                            limit=limit, workers=workers, timeout_s=timeout, isolation=isolation,
                            unsafe_no_isolation=unsafe_no_isolation,
                            memory_bytes=memory_mb * 1024**2 if memory_mb else None)
    bench = load_benchmark(benchmark, data_dir, challenge_tests=challenge_tests)
    generator = None
    if model is not None:
        generator = open_backend(model, backend, served_model=served_model, device=device, dtype=dtype,
                                 batch_size=batch_size, api_key_env=api_key_env)
    summary = evaluate(bench, out, backend=generator, samples_file=samples, settings=settings, progress=progress)
    print_summary(summary, out)


def print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['benchmark']}: {summary['tasks_scored']} of {summary['tasks_in_benchmark']} tasks, "
                        f"{summary['samples']} samples (isolation: {summary['isolation'] or 'results reused'})")
    for column in ("metric", "estimate", "95% interval"):
        table.add_column(column, justify="right")
    for metric, value in summary["scores"].items():
        table.add_row(metric, f"{100 * value['estimate']:.1f}%",
                      f"{100 * value['ci_low']:.1f} - {100 * value['ci_high']:.1f}")
    console = Console()
    console.print(table)
    console.print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())))
    if summary["tasks_scored"] < summary["tasks_in_benchmark"]:
        console.print(f"[yellow]partial: only {summary['tasks_scored']} tasks scored; not comparable to a full-benchmark number[/]")
    console.print(f"results: {out / 'results.jsonl'}; summary: {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
