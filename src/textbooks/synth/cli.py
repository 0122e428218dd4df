"""`textbooks synth textbooks|exercises` (teacher-written data: synth/job.py) and `textbooks synth
report DATASET` (diversity: synth/diversity.py). Every generation option is a key of `SynthConfig`:
`--config FILE` gives them as YAML (the whole `teacher:` section too) and `key=value` overrides any."""

from __future__ import annotations

from pathlib import Path

import typer


def _generate_command(kind: str, help: str):
    def command(
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides of SynthConfig, e.g. teacher.max_cost_usd=20 teacher.requests_per_minute=600."),
        config: Path | None = typer.Option(None, "--config", help="YAML file of SynthConfig keys (with a teacher: section); flags and overrides win over it."),
        out: Path | None = typer.Option(None, "--out", help="Dataset directory to write (re-running the same command resumes)."),
        endpoint: list[str] | None = typer.Option(None, "--endpoint", help="Teacher base URL, e.g. http://host:8000/v1; repeat for a fleet. None: the embedded SmolLM2 teacher."),
        model: str | None = typer.Option(None, help="Served model name (required with --endpoint)."),
        num: int | None = typer.Option(None, help="Requests (documents) to make."),
        tokens: int | None = typer.Option(None, help="Instead of --num: stop once kept records hold this many completion tokens."),
        seed: int | None = typer.Option(None, help="Seeds every draw of topic, audience, style and function name (default 0)."),
        cache: Path | None = typer.Option(None, help="Teacher answer cache (SQLite); default OUT.teacher-cache.sqlite beside OUT."),
        max_tokens_per_doc: int | None = typer.Option(None, help="max_tokens per answer (default 1024 for textbooks, 512 for exercises)."),
        max_tokens_total: int | None = typer.Option(None, help="Stop sending once this run has spent this many tokens (answers stay cached)."),
        max_in_flight: int | None = typer.Option(None, help="Requests in flight at once (default 16; 2 for the embedded teacher)."),
        temperature: float | None = typer.Option(None, help="Sampling temperature (default 0.8)."),
        api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key (default OPENAI_API_KEY)."),
        template: Path | None = typer.Option(None, help="Prompt template file (default: the shipped one)."),
        topics: Path | None = typer.Option(None, help="Topic taxonomy CSV (topic,subtopic; default: the shipped one)."),
        batch_size: int | None = typer.Option(None, help="Requests per round (pacing only; the dataset does not depend on it; default 256)."),
        rows_per_shard: int | None = typer.Option(None, help="Records per Parquet shard (default 10,000)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the requests and a token estimate; send nothing."),
        structured: bool | None = typer.Option(None, "--structured/--no-structured", help="Exercises: ask for JSON via structured output (default), or for a ```python block (small teachers)."),
        unsafe_no_isolation: bool = typer.Option(False, "--unsafe-no-isolation", help="Exercises: where no isolating sandbox starts, check the teacher's code with less (recorded in the manifest)."),
        decontaminate: bool = typer.Option(False, "--decontaminate", help="Then run `textbooks decontam` (defaults) on OUT: the pruned dataset and the report go to OUT.decontam/."),
    ) -> None:
        from textbooks.config import command_config
        from textbooks.synth.job import SynthConfig, estimate_synth, run_synth

        job = command_config(SynthConfig, config, overrides or [], {
            "out": out, "teacher.endpoints": endpoint or None, "teacher.model": model,
            "teacher.max_tokens_total": max_tokens_total, "teacher.max_in_flight": max_in_flight,
            "teacher.api_key_env": api_key_env, "num": num, "tokens": tokens, "seed": seed, "cache": cache,
            "max_tokens_per_doc": max_tokens_per_doc, "temperature": temperature, "template": template,
            "topics": topics, "batch_size": batch_size, "rows_per_shard": rows_per_shard, "structured": structured,
            "unsafe_no_isolation": unsafe_no_isolation or None,
        })
        if dry_run:
            result, note = estimate_synth(kind, job)
            print(f"dry run, nothing sent: {result}")
            if note:
                print(note)
            return
        result = run_synth(kind, job)
        stats = result.stats
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(stats["rejected"].items(), key=lambda kv: -kv[1])) or "none"
        state = "already done, nothing to do" if result.already_done else f"this run spent {result.spent_tokens:,} new tokens"
        print(f"{job.out}: {result.dataset.num_rows:,} {result.dataset.kind} records of {stats['requests']:,} requests "
              f"(rejected: {rejected}); {state}")
        if decontaminate:
            from textbooks.decontam.pipeline import decontam_dir
            from textbooks.decontam.pipeline import decontaminate as remove_benchmarks

            print(remove_benchmarks(job.out, decontam_dir(job.out)).line())

    command.__doc__ = help
    return command


def report_command(
    dataset: Path = typer.Argument(..., help="A synthetic dataset directory."),
    embedder: str = typer.Option("hashing", help="'hashing' (lexical, fast) or 'minilm' (all-MiniLM-L6-v2, semantic)."),
    sample: int = typer.Option(2000, help="Records sampled for distinct n-grams and embedding distance."),
    seed: int = typer.Option(0, help="Seed of the sample."),
    out: Path | None = typer.Option(None, help="Where to save the report (JSON); default DATASET.diversity.json beside it."),
) -> None:
    """Diversity of DATASET: distinct n-grams, embedding distance, coverage, lengths, rejections, tokens."""
    from textbooks.synth.diversity import default_report_path, diversity_report, format_report, save_report

    result = diversity_report(dataset, embedder=embedder, sample=sample, seed=seed)
    path = out or default_report_path(dataset)
    save_report(result, path)
    print(format_report(result))
    print(f"saved {path}")


def register(app: typer.Typer) -> None:
    synth_app = typer.Typer(help="Synthetic data from a teacher LLM: textbooks, CodeExercises, and their diversity.", no_args_is_help=True)
    synth_app.command("textbooks")(_generate_command("textbooks", "Synthetic textbook sections: drawn topic, audience and style per request."))
    synth_app.command("exercises")(_generate_command("exercises", "CodeExercises: docstring -> function problems checked in the sandbox."))
    synth_app.command("report")(report_command)
    app.add_typer(synth_app, name="synth")
