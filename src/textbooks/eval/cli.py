"""`textbooks eval BENCH --model M --out DIR` (generate and score) or `--samples FILE` (score only).

Every option is a key of `textbooks.eval.runner.EvalConfig`: `--config FILE` gives them as YAML and
`key=value` arguments override any of them (`settings.n=20`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from textbooks.errors import UserError


def eval_command(
    benchmark: str | None = typer.Argument(None, help="humaneval, mbpp, humaneval+, mbpp+, novel (or mbpp-sanitized); default: the config's."),
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides, e.g. settings.n=20 settings.temperature=0.8."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of EvalConfig keys; flags and overrides win over it."),
    out: Path | None = typer.Option(None, "--out", help="Output directory: samples, per-sample results, summary; resumable."),
    model: str | None = typer.Option(None, help="Checkpoint or run directory, preset:NAME, a Hugging Face folder, or an OpenAI-compatible base URL."),
    samples: Path | None = typer.Option(None, help="Score this JSONL (task_id, completion) instead of generating."),
    backend: str | None = typer.Option(None, help="auto (default), checkpoint, hf (transformers) or endpoint."),
    mode: str | None = typer.Option(None, help="completion (continue the prompt), chat (ask in a chat turn, extract the "
                                               "code from the answer) or auto (default): chat for an endpoint or a model "
                                               "with a chat template."),
    served_model: str | None = typer.Option(None, help="Endpoint only: the served model's name (default: the first listed)."),
    api_key_env: str | None = typer.Option(None, help="Endpoint (and --judge-endpoint): environment variable holding the API key (default OPENAI_API_KEY)."),
    n: int | None = typer.Option(None, "--n", help="Samples per task (pass@k for k <= n; default 1)."),
    temperature: float | None = typer.Option(None, help="0 (default) is greedy."),
    top_p: float | None = typer.Option(None, help="Nucleus sampling mass (default 1)."),
    seed: int | None = typer.Option(None, help="Sampling seed (repeatable runs)."),
    max_new_tokens: int | None = typer.Option(None, help="Default: the benchmark's (512)."),
    batch_size: int | None = typer.Option(None, help="Prompts per forward pass (checkpoint and hf backends; default 8)."),
    device: str | None = typer.Option(None, help="cpu (default), cuda, cuda:1, ..."),
    dtype: str | None = typer.Option(None, help="float32 (default), bfloat16 or float16."),
    limit: int | None = typer.Option(None, help="Only the first N tasks (quick runs)."),
    workers: int | None = typer.Option(None, help="Parallel sandboxed programs (default: CPU count)."),
    timeout: float | None = typer.Option(None, help="Seconds per program (default: the benchmark's)."),
    memory_mb: int | None = typer.Option(None, help="Address-space limit per program in MiB (default 4096)."),
    isolation: str | None = typer.Option(None, help="auto (default), bwrap, namespaces, unshare or rlimits."),
    unsafe_no_isolation: bool = typer.Option(False, "--unsafe-no-isolation", help="Where no isolating sandbox starts, run the programs with less (recorded in the results)."),
    data_dir: Path | None = typer.Option(None, help="Where benchmark data files are (else $TEXTBOOKS_BENCHMARK_DIR, then download)."),
    challenge_tests: bool | None = typer.Option(None, "--challenge-tests/--no-challenge-tests", help="MBPP: also run challenge_test_list."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="Progress bars (default on)."),
    recheck: int | None = typer.Option(None, help="Rerun each failed or nearly timed-out sample N more times; report the verdicts that change."),
    judge_endpoint: str | None = typer.Option(None, help="Grade completions 0-10 with an LLM judge at this OpenAI-compatible URL ('embedded': SmolLM2-135M, too weak to mean anything)."),
    judge_model: str | None = typer.Option(None, help="The judge's served model name (required with a URL)."),
    judge_api_key_env: str | None = typer.Option(None, help="The judge's API key variable, if not --api-key-env's."),
    judge_max_tokens: int | None = typer.Option(None, help="Token budget for the judge (prompt + completion); it stops there."),
) -> None:
    """Score a model (or a samples file) on BENCH: pass@k with 95% intervals, per-sample JSONL."""
    from textbooks.config import command_config
    from textbooks.eval.runner import EvalConfig, run_eval

    overrides = list(overrides or [])
    if benchmark is not None and "=" in benchmark:  # `textbooks eval --config F key=value`: no BENCH given
        benchmark, overrides = None, [benchmark, *overrides]
    cfg = command_config(EvalConfig, config, overrides, {
        "benchmark": benchmark, "out": out, "model": model, "samples": samples, "backend": backend,
        "served_model": served_model, "api_key_env": api_key_env, "batch_size": batch_size, "device": device,
        "dtype": dtype, "data_dir": data_dir, "challenge_tests": challenge_tests, "progress": progress,
        "settings.n": n, "settings.temperature": temperature, "settings.top_p": top_p, "settings.seed": seed,
        "settings.max_new_tokens": max_new_tokens, "settings.limit": limit, "settings.workers": workers,
        "settings.timeout_s": timeout, "settings.isolation": isolation, "settings.mode": mode,
        "settings.unsafe_no_isolation": unsafe_no_isolation or None,
        "settings.memory_bytes": memory_mb * 1024**2 if memory_mb else None, "settings.recheck": recheck,
        # `judge.endpoint` is the judge's old spelling: EvalConfig.migrate_keys reads it ('embedded' too).
        "judge.endpoint": judge_endpoint, "judge.model": judge_model,
        "judge.api_key_env": judge_api_key_env or (api_key_env if judge_endpoint else None),
        "judge.max_tokens_total": judge_max_tokens,
    })
    if cfg.out is None:
        raise UserError("eval: --out is required (or `out:` in the config); expected the output directory")
    print_summary(run_eval(cfg), cfg.out)


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
    console.print(f"mode: {summary['mode']}" + (" (auto)" if summary["settings"]["mode"] == "auto" else ""))
    console.print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())))
    if "recheck" in summary:
        print_recheck(console, summary["recheck"])
    if "judge" in summary:
        print_judge(console, summary["judge"])
    if summary["tasks_scored"] < summary["tasks_in_benchmark"]:
        console.print(f"[yellow]partial: only {summary['tasks_scored']} tasks scored; not comparable to a full-benchmark number[/]")
    console.print(f"results: {out / 'results.jsonl'}; summary: {out / 'summary.json'}")


def print_recheck(console, section: dict) -> None:
    low, high = section["pass@1_range"]
    console.print(f"recheck: {section['rechecked']} doubtful samples run {section['reruns_per_sample']} more times; "
                  f"{section['flaky']} flaky (pass@1 {100 * low:.1f}% to {100 * high:.1f}% as they fall)")
    for change in section["changed"]:
        console.print(f"  flaky {change['task_id']} sample {change['sample']}: {change['first']}, then "
                      + ", ".join(change["reruns"]))


def print_judge(console, section: dict) -> None:
    console.print(f"judge {section['judge_model']}: mean {_number(section['mean_score'], '{:.2f}/10')} over "
                  f"{section['graded']} graded ({section['unparsed']} unparsed, {section['failed']} failed, "
                  f"{section['not_sent']} not sent); agreement with the sandbox over {section['agreement']['tasks']} "
                  f"tasks: Spearman {_number(section['agreement']['spearman'], '{:+.2f}')}")
    if section["stopped"]:
        console.print(f"[yellow]judge stopped early: {section['stopped']}[/]")
    if section["weak_judge_warning"]:
        console.print(f"[yellow]warning: {section['weak_judge_warning']}[/]")


def compare_command(
    runs: list[Path] = typer.Argument(..., help="Output directories of `textbooks eval` runs (one per model), judged alike."),
) -> None:
    """Models side by side: pass@1, the judge's mean grade, and whether both rank the models alike."""
    from rich.console import Console
    from rich.table import Table

    from textbooks.eval.compare import compare_runs

    comparison = compare_runs(runs)
    table = Table(title=f"{comparison['runs'][0]['benchmark']}: {len(runs)} runs")
    for column in ("model", "pass@1", "judge mean", "Spearman over tasks"):
        table.add_column(column, justify="right")
    for run in comparison["runs"]:
        table.add_row(run["model"], _percent(run["pass@1"]), _number(run["judge_mean"], "{:.2f}/10"),
                      _number(run["spearman_over_tasks"], "{:+.2f}"))
    console = Console()
    console.print(table)
    if len(comparison["judges"]) > 1:
        console.print(f"[yellow]the runs were graded by different judges ({', '.join(comparison['judges'])}): grades are not comparable[/]")
    console.print(f"rank agreement over {comparison['models_compared']} models (pass@1 against judge mean): Spearman "
                  + _number(comparison["spearman_over_models"], "{:+.2f}"))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, form: str) -> str:
    return "n/a" if value is None else form.format(value)


def heldout_loss_command(
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides, e.g. limit=20 batch_size=4."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of HeldoutConfig keys; flags and overrides win over it."),
    model: str | None = typer.Option(None, help="Checkpoint or run directory, a Hugging Face folder of a phi model, or preset:NAME."),
    out: Path | None = typer.Option(None, "--out", help="Output directory: losses.jsonl (per task) and summary.json."),
    benchmark: list[str] | None = typer.Option(None, "--benchmark", help="humaneval, mbpp, mbpp-sanitized or novel; repeatable (default humaneval and mbpp)."),
    batch_size: int | None = typer.Option(None, help="Sequences per forward pass (default 8)."),
    device: str | None = typer.Option(None, help="cpu (default), cuda, cuda:1, ..."),
    dtype: str | None = typer.Option(None, help="float32 (default), bfloat16 or float16."),
    limit: int | None = typer.Option(None, help="Only the first N tasks of each benchmark."),
    data_dir: Path | None = typer.Option(None, help="Where benchmark data files are (else $TEXTBOOKS_BENCHMARK_DIR, then download)."),
) -> None:
    """Loss of each benchmark's reference solution given its prompt (nats per token): a signal where pass@1 is 0."""
    from textbooks.config import command_config
    from textbooks.eval.heldout import HeldoutConfig, heldout_loss

    cfg = command_config(HeldoutConfig, config, overrides or [], {
        "model": model, "out": out, "benchmarks": benchmark or None, "batch_size": batch_size, "device": device,
        "dtype": dtype, "limit": limit, "data_dir": data_dir})
    summary = heldout_loss(cfg)
    for name, s in summary["benchmarks"].items():
        print(f"{name}: {s['loss']:.4f} nats per solution token over {s['tasks']} tasks ({s['tokens']:,} tokens, "
              f"{s['truncated']} truncated)")
    print(f"per task: {cfg.out / 'losses.jsonl'}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("eval-compare")(compare_command)
    app.command("heldout-loss")(heldout_loss_command)
