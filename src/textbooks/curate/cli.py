"""`textbooks curate --source ... --out DIR` (every step) and `textbooks curate clean|dedup|annotate|
embed|classify` (one step). Every option is a key of `CurateConfig` (curate/job.py): `--config FILE`
gives them as YAML, `key=value` overrides any (e.g. `dedup.threshold=0.8 executor.workers=8`)."""

from __future__ import annotations

from pathlib import Path

import typer

curate_app = typer.Typer(help="Filtered code of textbook quality: clean, dedup, annotate (teacher), embed, classify.")

OVERRIDES_HELP = "key=value overrides of CurateConfig, e.g. annotate.sample=500 dedup.threshold=0.8 executor.kind=slurm."
CONFIG_HELP = "YAML file of CurateConfig keys (sections clean:, dedup:, annotate:, teacher:, classify:, executor:)."


def _job(config, overrides, flags):
    from textbooks.config import command_config
    from textbooks.curate.job import CurateConfig

    return command_config(CurateConfig, config, overrides or [], flags)


def _input(path: Path):
    from textbooks.data.datasets import Dataset

    return Dataset.open(path)


@curate_app.callback(invoke_without_command=True)
def curate(
    ctx: typer.Context,
    # an option, not arguments as elsewhere: a group's arguments would swallow the step's name
    overrides: list[str] | None = typer.Option(None, "--set", help=OVERRIDES_HELP + " Repeatable."),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    source: list[str] | None = typer.Option(None, "--source", help="A directory, .jsonl(.gz), .parquet, Posts.xml or hf:DATASET_ID; repeatable."),
    out: Path | None = typer.Option(None, "--out", help="Directory of the run: one dataset per step, the result in OUT/filtered."),
    endpoint: list[str] | None = typer.Option(None, "--endpoint", help="Teacher base URL; repeat for a fleet. None: the embedded SmolLM2 teacher."),
    model: str | None = typer.Option(None, "--model", help="Served model name (required with --endpoint)."),
    sample: int | None = typer.Option(None, "--sample", help="Files the teacher rates (default 1000)."),
    max_file_tokens: int | None = typer.Option(None, "--max-file-tokens", help="Each rated file is cut to this many tokens (default 1024)."),
    embedder: str | None = typer.Option(None, "--embedder", help="hashing, minilm (default) or causal:MODEL (mean-pooled code model)."),
    threshold: str | None = typer.Option(None, "--threshold", help="Label = edu_score >= this (default 3), or 'auto' (the median split, moved off ties)."),
    keep: str | None = typer.Option(None, "--keep", help="Keep quality >= P (default 0.5), or top:F (the best fraction F)."),
    executor: str | None = typer.Option(None, "--executor", help="local (default), slurm or ray."),
    workers: int | None = typer.Option(None, "--workers", help="Tasks at once (default 2)."),
    until: str | None = typer.Option(None, "--until", help="filtered (default: every step) or dedup (stop after clean and dedup: the unfiltered baseline, no teacher)."),
) -> None:
    """Every step: read the sources, clean, dedup, annotate a sample with the teacher, embed, classify and filter."""
    if ctx.invoked_subcommand is not None:
        return
    from textbooks.curate.job import run_curate

    job = _job(config, overrides, {
        "out": out, "sources": source or None, "teacher.endpoints": endpoint or None, "teacher.model": model,
        "annotate.sample": sample, "annotate.max_file_tokens": max_file_tokens, "embedder": embedder,
        "classify.threshold": threshold, "classify.keep": keep, "executor.kind": executor, "executor.workers": workers,
        "until": until,
    })
    result = run_curate(job)
    if job.until == "dedup":
        dedup = result.datasets["dedup"]
        print(f"{dedup.path}: {dedup.num_rows:,} of {result.datasets['raw'].num_rows:,} files after cleaning and dedup")
        return
    report = result.report
    print(f"{result.datasets['filtered'].path}: kept {report['files']['kept']:,} of {report['files']['scored']:,} files, "
          f"{report['tokens']['kept']:,} of {report['tokens']['scored']:,} tokens; report in {job.out / 'report.json'}")


def _step(name: str, help: str, run, extra_flags=()):
    def command(
        input: Path = typer.Option(..., "--input", help="The step's input dataset."),
        out: Path = typer.Option(..., "--out", help="Dataset directory to write (re-running resumes)."),
        overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP),
        config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
        executor: str | None = typer.Option(None, "--executor", help="local (default), slurm or ray."),
        workers: int | None = typer.Option(None, "--workers", help="Tasks at once (default 2)."),
    ) -> None:
        job = _job(config, overrides, {"out": out, "executor.kind": executor, "executor.workers": workers})
        dataset = run(_input(input), out, job)
        print(f"{dataset.path}: {dataset.num_rows:,} records; {dataset.manifest.get(f'curate-{name}', '')}")

    command.__doc__ = help
    curate_app.command(name)(command)


def _run_embed(dataset, out, job):
    from textbooks.curate.job import run_embed

    return run_embed(dataset, out, job, job.embedding_cache_path(out))


def _lazy(name):
    def run(dataset, out, job):
        from textbooks.curate import job as jobs

        return getattr(jobs, name)(dataset, out, job)
    return run


_step("clean", "Drop empty, huge, binary, undecodable, generated and minified files; redact e-mails and keys.", _lazy("run_clean"))
_step("dedup", "Exact and near (MinHash LSH, Jaccard 0.7 on 5-grams) duplicates removed, on datatrove.", _lazy("run_dedup"))
_step("embed", "Add an `embedding` column (embedder: key `embedder`, default minilm; cached on disk).", _run_embed)


@curate_app.command("annotate")
def annotate_command(
    input: Path = typer.Option(..., "--input", help="Dataset to sample from (usually the dedup output)."),
    out: Path = typer.Option(..., "--out", help="Annotated dataset to write (re-running resumes; answers are cached)."),
    overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    endpoint: list[str] | None = typer.Option(None, "--endpoint", help="Teacher base URL; repeat for a fleet. None: the embedded teacher."),
    model: str | None = typer.Option(None, "--model", help="Served model name (required with --endpoint)."),
    sample: int | None = typer.Option(None, "--sample", help="Files to rate (default 1000)."),
    max_file_tokens: int | None = typer.Option(None, "--max-file-tokens", help="Each file is cut to this many tokens (default 1024)."),
    cache: Path | None = typer.Option(None, "--cache", help="Teacher answer cache; default OUT.teacher-cache.sqlite beside OUT."),
    structured: bool | None = typer.Option(None, "--structured/--no-structured", help="JSON via structured output (default), or the prompt alone."),
) -> None:
    """The teacher rates a seeded sample for educational value (additive 0-5 rubric; score and rationale kept)."""
    from textbooks.curate.job import run_annotate

    job = _job(config, overrides, {
        "out": out, "teacher.endpoints": endpoint or None, "teacher.model": model, "annotate.sample": sample,
        "annotate.max_file_tokens": max_file_tokens, "teacher_cache": cache, "annotate.structured_output": structured})
    result = run_annotate(_input(input), out, job, job.teacher_cache_path(out))
    stats = result.stats
    state = "already done" if result.already_done else "done"
    print(f"{out}: {stats['scored']:,} of {stats['requests']:,} files scored (rejected: {stats['rejected'] or 'none'}; "
          f"histogram {stats['histogram']}); {state}")


@curate_app.command("classify")
def classify_command(
    annotated: Path = typer.Option(..., "--annotated", help="Output of `curate annotate` (the labelled sample)."),
    embedded: Path = typer.Option(..., "--embedded", help="Output of `curate embed` (every record to score)."),
    out: Path = typer.Option(..., "--out", help="Directory: classifier/, scored/, filtered/ and report.json."),
    overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    threshold: str | None = typer.Option(None, "--threshold", help="Label = edu_score >= this (default 3), or 'auto' (the median split, moved off ties)."),
    keep: str | None = typer.Option(None, "--keep", help="Keep quality >= P (default 0.5), or top:F."),
    cache: Path | None = typer.Option(None, "--cache", help="Embedding cache; default OUT.embeddings.sqlite beside OUT."),
    executor: str | None = typer.Option(None, "--executor", help="local (default), slurm or ray."),
) -> None:
    """Random forest (and, beside it, logistic regression) on (embedding, label); score, keep, report."""
    from textbooks.curate.classify import format_metrics
    from textbooks.curate.job import run_classify

    job = _job(config, overrides, {"out": out, "classify.threshold": threshold, "classify.keep": keep,
                                   "embedding_cache": cache, "executor.kind": executor})
    result = run_classify(_input(annotated), _input(embedded), out, job, job.embedding_cache_path(out))
    report = result.report
    print(format_metrics(report["classifier"]["metrics"]))
    print(f"{result.filtered.path}: kept {report['files']['kept']:,} of {report['files']['scored']:,} files, "
          f"{report['tokens']['kept']:,} of {report['tokens']['scored']:,} tokens")


def register(app: typer.Typer) -> None:
    app.add_typer(curate_app, name="curate")
