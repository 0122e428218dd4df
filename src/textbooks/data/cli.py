"""`textbooks dataset import|export|info|verify`: datasets in and out (the library is data/datasets.py, data/sources.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from textbooks.data.schemas import KINDS


def import_command(
    sources: list[Path] = typer.Argument(..., help="A JSONL file (one record per line), or directories of source files."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    kind: str = typer.Option("code", "--kind", help=f"Record kind: {', '.join(KINDS)}."),
    pattern: str = typer.Option("*.py", "--pattern", help="File pattern when SOURCE is a directory."),
    rows_per_shard: int = typer.Option(50_000, "--rows-per-shard"),
) -> None:
    """Import JSONL records, or local trees of Python files as `code` records."""
    from textbooks.data.datasets import import_jsonl
    from textbooks.data.sources import import_local_trees
    from textbooks.errors import UserError

    if all(source.is_dir() for source in sources):
        ds = import_local_trees(sources, out, pattern=pattern, rows_per_shard=rows_per_shard)
    elif len(sources) == 1:
        ds = import_jsonl(sources[0], out, kind, rows_per_shard=rows_per_shard)
    else:
        raise UserError(f"{', '.join(map(str, sources))}: expected one JSONL file, or only directories")
    print(f"{ds.path}: {ds.num_rows} {ds.kind} records in {len(ds.shards)} shard(s), fingerprint {ds.fingerprint[:12]}")

def export_command(
    path: Path = typer.Argument(..., help="Dataset directory."),
    out: Path = typer.Option(..., "--out", help="JSONL file to write."),
) -> None:
    """Export a dataset as JSONL."""
    from textbooks.data.datasets import export_jsonl

    print(f"{out}: {export_jsonl(path, out)} records")

def info_command(path: Path = typer.Argument(..., help="Dataset directory.")) -> None:
    """Print a dataset's manifest."""
    from textbooks.data.datasets import Dataset

    print(json.dumps(Dataset.open(path).manifest, indent=2))


def verify_command(path: Path = typer.Argument(..., help="Dataset directory (manifest.json) or token pack (pack.json).")) -> None:
    """Check every shard's sha256 against the manifest (reads every byte); names each damaged shard."""
    from textbooks.data.datasets import MANIFEST, Dataset
    from textbooks.errors import UserError
    from textbooks.train.shards import MANIFEST as PACK_MANIFEST
    from textbooks.train.shards import verify_pack

    if (path / PACK_MANIFEST).is_file():
        problems, what = verify_pack(path), "token pack"
    elif (path / MANIFEST).is_file():
        problems, what = Dataset.open(path, check_sizes=False).verify(), "dataset"
    else:
        raise UserError(f"{path}: neither a dataset ({MANIFEST}) nor a token pack ({PACK_MANIFEST})")
    for line in problems:
        print(line)
    if problems:
        raise UserError(f"{path}: {len(problems)} damaged shard file(s) in this {what} (listed above); copy it again "
                        "or re-run the stage that wrote it")
    print(f"{path}: every shard matches its manifest")


def register(app: typer.Typer) -> None:
    dataset_app = typer.Typer(help="Import, export and inspect datasets (Parquet shards + manifest.json).", no_args_is_help=True)
    dataset_app.command("import")(import_command)
    dataset_app.command("export")(export_command)
    dataset_app.command("info")(info_command)
    dataset_app.command("verify")(verify_command)
    app.add_typer(dataset_app, name="dataset")
