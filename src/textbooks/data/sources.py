"""Raw code sources as `code` records: a local tree of Python files (more sources to come)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from textbooks.data.datasets import DEFAULT_ROWS_PER_SHARD, Dataset, DatasetWriter
from textbooks.errors import UserError


def local_tree_records(root: Path, pattern: str = "*.py", max_bytes: int = 1_000_000) -> Iterator[dict[str, Any]]:
    """Every file under `root` matching `pattern`, in sorted order (stable ids and shard order).

    Files that are not UTF-8 or larger than `max_bytes` (generated tables, data blobs) are skipped:
    neither teaches a student to code.
    """
    for path in sorted(root.rglob(pattern)):
        if not path.is_file() or path.stat().st_size > max_bytes:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        relative = path.relative_to(root).as_posix()
        yield {
            "id": hashlib.sha256(f"{root.name}/{relative}".encode()).hexdigest()[:24],
            "text": text,
            "source": "local",
            "path": relative,
            "repo": root.name,
            "license": "",
        }


def listing_sha256(sources: Sequence[str | Path], pattern: str = "*.py") -> str:
    """What local sources hold, for a fingerprint: paths, sizes and times of their files (none is read)."""
    listing = hashlib.sha256()
    for source in sources:
        path = Path(source)
        files = sorted(p for p in path.rglob(pattern) if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat() if file.exists() else None
            listing.update(f"{file}\0{stat.st_size if stat else ''}\0{stat.st_mtime_ns if stat else ''}\n".encode())
    return listing.hexdigest()


def import_local_trees(
    roots: Sequence[str | Path], out: str | Path, pattern: str = "*.py", rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
) -> Dataset:
    """Every matching file of every tree, in the order given, as one `code` dataset."""
    roots = [Path(root) for root in roots]
    for root in roots:
        if not root.is_dir():
            raise UserError(f"{root}: directory not found")
    config = {
        "roots": [str(root.resolve()) for root in roots],
        "pattern": pattern,
        "listing_sha256": listing_sha256(roots, pattern),
        "rows_per_shard": rows_per_shard,
    }
    records = itertools.chain.from_iterable(local_tree_records(root, pattern) for root in roots)
    with DatasetWriter(out, stage="import-tree", kind="code", config=config) as writer:
        if not writer.done:
            writer.write_records(records, rows_per_shard)
    return Dataset.open(out)
