"""Shared file plumbing: every stage writes and reads through these, so each guarantee lives once.

- `atomic_write_text` / `atomic_write_json`: a temp file beside the target, fsynced, renamed over
  it: a reader sees the old file or the new one, never half of either, even after a power loss.
- `replace_dir` / `staged_directory`: a directory filled beside its destination and renamed into
  place, for outputs written in one go (a model checkpoint, an exported folder).
- `StagedDirectory`: the same for long work in units (dataset shards, token shards): each finished
  unit leaves a completion marker, so a killed run resumes at the first unit without one; the
  staging directory is tied to the output's fingerprint, so a run with other settings starts over.
- `read_jsonl`: JSONL (or .jsonl.gz) rows with errors that name the file and line;
  `JsonlAppender` appends rows one line at a time, for work that resumes from what it wrote.
- `sha256_file`: the digest of a file, read in blocks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from textbooks.errors import UserError

FINGERPRINT_MARKER = ".fingerprint"
DONE_DIR = ".done"


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from a file; a missing file, broken JSON or another top-level type is a UserError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


class JsonlAppender:
    """Rows appended to a JSONL file, each line flushed at once: a killed process loses at most the
    line being written. The file is fsynced at most once every `sync_every_s` seconds and on close,
    so a power loss may lose the last second of rows, which a resumed run does again (an fsync per
    line took 2.6 s of 11 when checking 1,640 HumanEval samples)."""

    def __init__(self, path: str | Path, sync_every_s: float = 1.0):
        self._file = open(path, "a", encoding="utf-8")
        self._sync_every_s = sync_every_s
        self._synced = time.monotonic()

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self._sync_every_s:
            self._sync()

    def _sync(self) -> None:
        os.fsync(self._file.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        self._file.flush()
        self._sync()
        self._file.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a .jsonl or .jsonl.gz file, streamed.

    A line that is not a JSON object is a UserError naming `path:line`.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found; expected a JSONL file (one JSON object per line)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno}); "
                                "expected one JSON object per line") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{number}: a JSON {type(row).__name__}; expected a JSON object per line")
            yield number, row


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished directory `src` over `dst`; the old `dst` is deleted only after the move."""
    if not dst.exists():
        os.replace(src, dst)
        return
    # A directory cannot be renamed over a non-empty one: move the old one aside first.
    retired = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
    os.replace(dst, retired / dst.name)
    os.replace(src, dst)
    shutil.rmtree(retired)


@contextmanager
def staged_directory(directory: str | Path, *, replaceable: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """Fill a temporary sibling of `directory`, then rename it into place: readers never see a
    half-written output. An existing directory is replaced only when `replaceable(directory)` says it
    is an output of the same kind; any other non-empty one is refused (`--out .` must not delete a
    project)."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not replaceable(directory):
        raise UserError(f"{directory}: exists and is not a {what}; expected a new or empty directory, "
                        f"or a {what} to replace")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; an output folder is shared like any other
    try:
        yield staging
        replace_dir(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def finished_manifest(directory: Path, manifest_name: str, what: str) -> dict[str, Any] | None:
    """The manifest of a finished output at `directory`, or None when there is none yet.

    A non-empty directory without the manifest is someone else's: refused rather than replaced.
    """
    manifest = directory / manifest_name
    if manifest.is_file():
        try:
            return json.loads(manifest.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
    if directory.exists() and any(directory.iterdir()):
        raise UserError(f"{directory}: exists and is not a {what} (no {manifest_name}); refusing to replace it")
    return None


class StagedDirectory:
    """An output built unit by unit in `.NAME.partial/` beside `final`, then published by a rename.

        staged = StagedDirectory(out, fingerprint).open()
        for unit in units:
            if not staged.is_done(unit.name):
                ...write files under staged.path...
                staged.mark_done(unit.name, {"rows": n})
        staged.publish("manifest.json", manifest)

    A completion marker is written only after a unit's files are in place, so a killed run resumes
    at the first unit without one. A staging directory left by another fingerprint holds nothing
    to resume and is cleared.
    """

    def __init__(self, final: str | Path, fingerprint: str) -> None:
        self.final = Path(final)
        self.fingerprint = fingerprint
        self.path = self.final.parent / f".{self.final.name}.partial"

    def open(self) -> StagedDirectory:
        marker = self.path / FINGERPRINT_MARKER
        if self.path.exists() and (not marker.is_file() or marker.read_text().strip() != self.fingerprint):
            shutil.rmtree(self.path)
        (self.path / DONE_DIR).mkdir(parents=True, exist_ok=True)
        marker.write_text(self.fingerprint)
        return self

    def _marker(self, unit: str) -> Path:
        return self.path / DONE_DIR / f"{unit}.json"

    def is_done(self, unit: str) -> bool:
        return self._marker(unit).is_file()

    def mark_done(self, unit: str, info: dict[str, Any]) -> None:
        atomic_write_json(self._marker(unit), info)

    def done_info(self, unit: str) -> dict[str, Any]:
        return json.loads(self._marker(unit).read_text(encoding="utf-8"))

    def done_units(self) -> list[str]:
        return sorted(p.stem for p in (self.path / DONE_DIR).glob("*.json"))

    def publish(self, manifest_name: str, manifest: dict[str, Any]) -> None:
        """Drop the markers, write the manifest last, and rename the directory into place."""
        shutil.rmtree(self.path / DONE_DIR)
        (self.path / FINGERPRINT_MARKER).unlink()
        atomic_write_json(self.path / manifest_name, manifest)
        replace_dir(self.path, self.final)
