"""`textbooks <stage> ...`: a thin typer front over the library.

Each stage package owns a `cli.py` with `register(app)`; commands parse, call a library function
and print. Heavy imports (torch, transformers) happen inside the commands so `--help` is instant.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from textbooks import __version__
from textbooks.errors import UserError

app = typer.Typer(
    name="textbooks",
    help="Build small, strong code language models the phi-1 way (Textbooks Are All You Need).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Registration order is the order of `textbooks --help`: the pipeline's order.
STAGE_CLIS = (
    "textbooks.datasets_cli",
    "textbooks.teacher.cli",
    "textbooks.synth.cli",
    "textbooks.decontam.cli",
    "textbooks.train.cli",
    "textbooks.model.cli",
    "textbooks.eval.cli",
)


def _version(value: bool) -> None:
    if value:
        print(f"textbooks {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Stages: synth (teacher data) -> tokenize -> train -> eval; model tools in between."""


for _module in STAGE_CLIS:
    importlib.import_module(_module).register(app)


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), "--out", help="Where every dataset, run and result goes.")) -> None:
    """The whole pipeline at toy scale on the embedded teacher (resumable; 10-20 minutes on 2 cores)."""
    from textbooks.demo import run_demo

    run_demo(out)


def main() -> None:
    try:
        app()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
