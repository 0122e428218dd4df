"""`textbooks run PIPELINE` (pipeline/runner.py) and `textbooks report RUN_DIR` (pipeline/report.py)."""

from __future__ import annotations

from pathlib import Path

import typer


def run_command(
    pipeline: str = typer.Argument(..., help="A pipeline YAML, or a shipped one: demo, ci, phi-1-small, phi-1."),
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides of the file, e.g. stages.pretrain.config.max_steps=50 teacher.endpoints=[http://host:8000/v1]."),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Where outputs go (default: the file's run_dir, else runs/NAME)."),
    until: str | None = typer.Option(None, "--until", help="Run this stage and what it needs, nothing after it."),
    only: str | None = typer.Option(None, "--only", help="Run this stage alone (its inputs must be done)."),
    force: list[str] | None = typer.Option(None, "--force", help="Run this stage and everything downstream again (old outputs are kept aside); repeatable."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would run, what is cached and the bill (teacher tokens and dollars, GPU-hours, wall time, disk); run nothing."),
    assume_mfu: float = typer.Option(0.5, "--assume-mfu", help="The bill's model FLOPs utilization of the launcher's GPUs (scripts/gpu_check.py measures yours)."),
    gc: bool = typer.Option(False, "--gc", help="Afterwards, remove outputs under RUN_DIR/stages that no pointer and no stage of this file uses."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show everything the stages print (engines' logs, progress bars); by default it goes to RUN_DIR/logs/NAME.log."),
) -> None:
    """Run a pipeline: every stage in order, each only when its config or inputs changed."""
    from textbooks.pipeline.runner import RunOptions, run_pipeline
    from textbooks.pipeline.spec import load_spec

    spec = load_spec(pipeline, overrides or [])
    result = run_pipeline(spec, run_dir, RunOptions(until=until, only=only, force=force or [], dry_run=dry_run, gc=gc,
                                                      verbose=verbose, assume_mfu=assume_mfu))
    if result.report is not None:
        print(f"ran {len(result.ran)} stage(s), {len(result.cached)} cached; lineage {result.plan.run_dir / 'lineage.json'}")
        print(f"report: {result.report}")


def report_command(run_dir: Path = typer.Argument(..., help="A pipeline's run directory.")) -> None:
    """Rebuild RUN_DIR's report (report.html, self-contained, and report.md) and its cards."""
    from textbooks.pipeline.cards import write_cards
    from textbooks.pipeline.report import write_report

    write_cards(run_dir)
    print(f"report: {write_report(run_dir)}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("report")(report_command)
