"""`textbooks experiment data-quality CONFIG` and `textbooks experiment pruning CONFIG`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

OVERRIDES_HELP = "key=value overrides of the file, e.g. seeds=[0,1,2] pipeline.stages.pretrain.config.max_steps=50."
RUN_DIR_HELP = "Where outputs go (default: the file's run_dir, else runs/experiments/NAME)."
DRY_RUN_HELP = "Check the arms and say which stages each run would run, share or find cached; run nothing."


def _experiment_command(run: Callable[[], Callable], shipped: str, doc: str):
    """A command running one experiment: `run()` imports and returns its library function."""

    def command(
        config: str = typer.Argument(..., help=f"An experiment YAML, or a shipped one: {shipped}."),
        overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP),
        run_dir: Path | None = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
    ) -> None:
        report = run()(config, overrides or [], run_dir, dry_run)
        if report is not None:
            print(f"report: {report}; numbers: {report.parent / 'results.json'}")

    command.__doc__ = doc
    return command


def _data_quality():
    from textbooks.experiments.data_quality import run_data_quality

    return run_data_quality


def _pruning():
    from textbooks.experiments.pruning import run_pruning

    return run_pruning


def register(app: typer.Typer) -> None:
    experiment_app = typer.Typer(help="The paper's experiments, one command each, on your own data.", no_args_is_help=True)
    experiment_app.command("data-quality")(_experiment_command(
        _data_quality, "data-quality-demo, data-quality-phi-1-small",
        "Quality beats quantity (the paper's Figure 2.1): the same model on each arm's data, side by side."))
    experiment_app.command("pruning")(_experiment_command(
        _pruning, "pruning-demo, pruning-phi-1-small",
        "No memorisation (the paper's Table 3): finetune on pruned and unpruned exercises, score similar and "
        "not-similar problems."))
    app.add_typer(experiment_app, name="experiment")
