"""`textbooks synth textbooks|exercises ...` (teacher-written data) and `textbooks synth report DATASET`."""

from __future__ import annotations

from pathlib import Path

import typer

synth_app = typer.Typer(help="Synthetic data from a teacher LLM: textbooks, CodeExercises, and their diversity.", no_args_is_help=True)

# Answers per request: a textbook section is long, an exercise (signature, docstring, body, asserts) short.
DEFAULT_MAX_TOKENS = {"textbooks": 1024, "exercises": 512}


def _generate_command(kind: str, help: str):
    def command(
        out: Path = typer.Option(..., "--out", help="Dataset directory to write (re-running the same command resumes)."),
        endpoint: list[str] | None = typer.Option(None, "--endpoint", help="Teacher base URL, e.g. http://host:8000/v1; repeat for a fleet. None: the embedded SmolLM2 teacher."),
        model: str | None = typer.Option(None, help="Served model name (required with --endpoint)."),
        num: int | None = typer.Option(None, help="Requests (documents) to make."),
        tokens: int | None = typer.Option(None, help="Instead of --num: stop once kept records hold this many completion tokens."),
        seed: int = typer.Option(0, help="Seeds every draw of topic, audience, style and function name."),
        cache: Path | None = typer.Option(None, help="Teacher answer cache (SQLite); default OUT.teacher-cache.sqlite beside OUT."),
        max_tokens_per_doc: int | None = typer.Option(None, help=f"max_tokens per answer (default {DEFAULT_MAX_TOKENS[kind]})."),
        max_tokens_total: int | None = typer.Option(None, help="Stop sending once this run has spent this many tokens (answers stay cached)."),
        max_in_flight: int | None = typer.Option(None, help="Requests in flight at once (default 16; 2 for the embedded teacher)."),
        temperature: float = typer.Option(0.8, help="Sampling temperature."),
        api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key."),
        template: Path | None = typer.Option(None, help="Prompt template file (default: the shipped one)."),
        topics: Path | None = typer.Option(None, help="Topic taxonomy CSV (topic,subtopic; default: the shipped one)."),
        batch_size: int = typer.Option(256, help="Requests per round (pacing only; the dataset does not depend on it)."),
        rows_per_shard: int = typer.Option(10_000, help="Records per Parquet shard."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the requests and a token estimate; send nothing."),
        structured: bool = typer.Option(True, "--structured/--no-structured", help="Exercises: ask for JSON via structured output (default), or for a ```python block (small teachers)."),
        decontaminate: bool = typer.Option(False, "--decontaminate", help="Then run `textbooks decontam` (defaults) on OUT: the pruned dataset and the report go to OUT.decontam/."),
    ) -> None:
        from textbooks.errors import UserError
        from textbooks.synth.constraints import Pools
        from textbooks.synth.exercises import exercise_generator
        from textbooks.synth.generate import SynthConfig, default_cache_path, dry_run as estimate_run, generate
        from textbooks.synth.textbooks import textbook_generator
        from textbooks.teacher import TeacherConfig
        from textbooks.teacher.server import DEFAULT_MODEL_NAME, EmbeddedTeacher

        if endpoint and not model:
            raise UserError("--model: required with --endpoint; expected the name the server serves")
        config = SynthConfig(
            model=model or DEFAULT_MODEL_NAME, num=num, tokens=tokens, seed=seed, temperature=temperature,
            max_tokens_per_doc=max_tokens_per_doc or DEFAULT_MAX_TOKENS[kind], batch_size=batch_size, rows_per_shard=rows_per_shard,
            structured_output=structured,
        )
        make = textbook_generator if kind == "textbooks" else exercise_generator
        generator = make(config, template=template, pools=Pools.load(topics=topics))
        cache_path = cache or default_cache_path(out)
        if dry_run:
            result, note = estimate_run(generator, cache_path)
            print(f"dry run, nothing sent: {result}")
            if note:
                print(note)
            return
        limits = {"api_key_env": api_key_env, "max_tokens_total": max_tokens_total}
        if max_in_flight is not None:
            limits["max_in_flight"] = max_in_flight
        if endpoint:
            result = generate(generator, TeacherConfig(endpoints=list(endpoint), model=config.model, **limits), out, cache_path)
        else:
            with EmbeddedTeacher(model_name=config.model) as teacher:
                result = generate(generator, teacher.config(**limits), out, cache_path)
        stats = result.stats
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(stats["rejected"].items(), key=lambda kv: -kv[1])) or "none"
        state = "already done, nothing to do" if result.already_done else f"this run spent {result.spent_tokens:,} new tokens"
        print(f"{out}: {result.dataset.num_rows:,} {result.dataset.kind} records of {stats['requests']:,} requests "
              f"(rejected: {rejected}); {state}")
        if decontaminate:
            from textbooks.decontam.pipeline import decontaminate as remove_benchmarks, decontam_dir

            print(remove_benchmarks(out, decontam_dir(out)).line())

    command.__doc__ = help
    return command


@synth_app.command()
def report(
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


synth_app.command("textbooks")(_generate_command("textbooks", "Synthetic textbook sections: drawn topic, audience and style per request."))
synth_app.command("exercises")(_generate_command("exercises", "CodeExercises: docstring -> function problems checked in the sandbox."))


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
