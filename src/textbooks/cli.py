"""`textbooks <stage> ...`: a thin typer front over the library.

Every command is registered one way: a module named in STAGE_CLIS (a package's `cli.py`, or a
single-file stage's own module) defines its commands as plain functions and adds them in
`register(app)`. Commands parse, call a library function and print. Heavy imports (torch, transformers) happen inside the commands so `--help` is instant.
"""

from __future__ import annotations

import importlib
import sys

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
    "textbooks.data.cli",  # dataset import|export|info
    "textbooks.teacher.cli",  # teacher serve|ping
    "textbooks.curate.cli",  # curate [clean|dedup|annotate|embed|classify]
    "textbooks.synth.cli",  # synth textbooks|exercises|report
    "textbooks.decontam.cli",  # decontam
    "textbooks.train.cli",  # tokenize, train
    "textbooks.model.cli",  # model info, export-hf, import-hf
    "textbooks.eval.cli",  # eval
    "textbooks.pipeline.cli",  # run, report
    "textbooks.experiments.cli",  # experiment data-quality|pruning
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


def main() -> None:
    try:
        app()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
