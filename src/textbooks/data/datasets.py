"""Datasets on disk: a directory of Parquet shards plus `manifest.json`.

    out/
      part-00000.parquet   zstd Parquet, readable by pyarrow and `datasets.load_dataset("parquet")`
      part-00001.parquet
      manifest.json        stage, kind, config, inputs, fingerprint, rows, shards (name, rows, bytes,
                           sha256), version, time

A stage writes into a staging directory beside the target (`.NAME.partial/`, a
`textbooks.io.StagedDirectory`); each shard is written to a temp file and renamed, then marked
done, so a crashed stage resumes at the first unfinished shard. Only when every shard is in place is the manifest written
and the staging directory renamed over the target: a half dataset never looks complete.

The fingerprint hashes (stage, config, input fingerprints) and never a time, so running an
unchanged stage again on unchanged inputs is recognised as done and costs nothing.

Opening a dataset checks each shard's size against the manifest (a stat: a shard torn by a full
disk or an interrupted copy is named at once); `verify` checks their sha256 (a full read).
Manifests written before sizes were recorded still open.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from textbooks import __version__
from textbooks.data.schemas import check_table, schema_for, validate_record
from textbooks.errors import UserError
from textbooks.io import StagedDirectory, finished_manifest, read_jsonl, sha256_file

MANIFEST = "manifest.json"
SHARD_PATTERN = "part-{:05d}.parquet"
DEFAULT_ROWS_PER_SHARD = 50_000


def fingerprint(stage: str, config: Mapping[str, Any], input_fingerprints: Sequence[str]) -> str:
    payload = json.dumps(
        {"stage": stage, "config": config, "inputs": list(input_fingerprints)}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def iter_shard_batches(shard: Path, columns: Sequence[str] | None = None,
                       batch_size: int = 1024) -> Iterator[pa.RecordBatch]:
    """Record batches of one shard of a dataset; a shard pyarrow cannot read (torn, with a
    manifest too old to record sizes) is one line naming it and what to do."""
    try:
        yield from pq.ParquetFile(shard).iter_batches(batch_size=batch_size, columns=columns)
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError(f"{shard}: not a readable Parquet file ({err}); run `textbooks dataset verify "
                        f"{Path(shard).parent}`, then copy the dataset again or re-run the stage that wrote it") from None


@dataclass(frozen=True)
class Dataset:
    """A finished dataset directory (its manifest says so)."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path, check_sizes: bool = True) -> Dataset:
        """The dataset at `path`; `check_sizes=False` skips the shard size check (`verify` does more)."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not path.is_dir():
            raise UserError(f"{path}: dataset directory not found")
        if not manifest_path.is_file():
            raise UserError(f"{path}: not a finished dataset (no {MANIFEST}); was its stage interrupted?")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"{manifest_path} line {err.lineno}: not valid JSON ({err.msg})") from None
        for key in ("kind", "fingerprint", "shards"):
            if key not in manifest:
                raise UserError(f"{manifest_path}: field '{key}' missing")
        for shard in manifest["shards"]:
            shard_path = path / shard["name"]
            if not shard_path.is_file():
                raise UserError(f"{path}: shard {shard['name']} listed in {MANIFEST} is missing")
            if check_sizes and "bytes" in shard and shard_path.stat().st_size != shard["bytes"]:
                raise UserError(f"{shard_path}: {shard_path.stat().st_size} bytes, but {MANIFEST} records {shard['bytes']} "
                                f"(torn by a full disk or an interrupted copy?); copy the dataset again or re-run the "
                                f"stage that wrote it")
        return cls(path, manifest)

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def num_rows(self) -> int:
        return sum(shard["rows"] for shard in self.manifest["shards"])

    @property
    def shards(self) -> list[Path]:
        return [self.path / shard["name"] for shard in self.manifest["shards"]]

    @property
    def column_names(self) -> list[str]:
        return pq.ParquetFile(self.shards[0]).schema_arrow.names if self.shards else []

    def iter_batches(self, columns: Sequence[str] | None = None, batch_size: int = 1024) -> Iterator[pa.RecordBatch]:
        """Stream record batches shard by shard (bounded memory)."""
        for shard in self.shards:
            yield from iter_shard_batches(shard, columns, batch_size)

    def verify(self) -> list[str]:
        """One line per shard whose bytes differ from what the manifest records (sha256; a full
        read of every shard), or, for a manifest without hashes, that pyarrow cannot read."""
        problems = []
        for shard, path in zip(self.manifest["shards"], self.shards):
            if "sha256" in shard:
                if sha256_file(path) != shard["sha256"]:
                    problems.append(f"{path}: sha256 differs from the one in {MANIFEST} (damaged or replaced)")
                continue
            try:
                pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as err:
                problems.append(f"{path}: not a readable Parquet file ({err}); {MANIFEST} records no sha256")
        return problems

    def iter_records(self, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        for batch in self.iter_batches(columns):
            yield from batch.to_pylist()


class DatasetWriter:
    """Atomic, resumable writer of one dataset.

        with DatasetWriter(out, stage="synth-textbooks", kind="textbook", config=cfg, inputs=[...]) as w:
            if not w.done:
                for i, rows in enumerate(chunks):
                    if not w.shard_done(i):
                        w.write_shard(i, rows)

    Leaving the block without an exception publishes the dataset; an exception leaves the staging
    directory (with its finished shards) for the next run to resume.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        stage: str,
        kind: str,
        config: Mapping[str, Any],
        inputs: Sequence[Dataset] = (),
        extra_manifest: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        schema_for(kind)
        self.stage = stage
        self.config = dict(config)
        self.inputs = list(inputs)
        self.extra_manifest = dict(extra_manifest or {})
        self.fingerprint = fingerprint(stage, self.config, [d.fingerprint for d in self.inputs])
        self.staged = StagedDirectory(self.path, self.fingerprint)
        self.staging = self.staged.path
        self.done = self._already_done()

    def _already_done(self) -> bool:
        manifest = finished_manifest(self.path, MANIFEST, "textbooks dataset")
        return manifest is not None and manifest.get("fingerprint") == self.fingerprint

    def __enter__(self) -> DatasetWriter:
        if not self.done:
            self.staged.open()
        return self

    def shard_done(self, index: int) -> bool:
        return self.staged.is_done(_unit_name(index))

    def completed_shards(self) -> list[int]:
        return [int(unit.removeprefix("part-")) for unit in self.staged.done_units()]

    def write_shard(self, index: int, rows: Iterable[Mapping[str, Any]] | pa.Table, **stats: int) -> int:
        """Write shard `index` atomically; `stats` (e.g. tokens=...) are summed into the manifest."""
        table = rows if isinstance(rows, pa.Table) else records_to_table(self.kind, list(rows))
        check_table(self.kind, table.schema, f"{self.path} shard {index}")
        name = SHARD_PATTERN.format(index)
        tmp = self.staging / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, self.staging / name)
        self.staged.mark_done(_unit_name(index), {**shard_entry(self.staging / name, table.num_rows), **stats})
        return table.num_rows

    def write_records(self, records: Iterable[Mapping[str, Any]], rows_per_shard: int = DEFAULT_ROWS_PER_SHARD) -> None:
        """Chunk a deterministic record stream into shards, skipping shards already done."""
        buffer: list[Mapping[str, Any]] = []
        index = 0
        for record in records:
            buffer.append(record)
            if len(buffer) == rows_per_shard:
                if not self.shard_done(index):
                    self.write_shard(index, buffer)
                buffer, index = [], index + 1
        if buffer or index == 0:
            if not self.shard_done(index):
                self.write_shard(index, buffer)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.done or exc_type is not None:
            return
        shards = [self.staged.done_info(_unit_name(i)) for i in self.completed_shards()]
        # Shards marked done before sizes and hashes were recorded (a run resumed across versions).
        shards = [s if "sha256" in s else {**s, **shard_entry(self.staging / s["name"], s["rows"])} for s in shards]
        totals: dict[str, int] = {}
        for shard in shards:
            for key, value in shard.items():
                if key not in SHARD_FIELDS:
                    totals[key] = totals.get(key, 0) + value
        manifest = {
            "stage": self.stage,
            "kind": self.kind,
            "config": self.config,
            "inputs": [{"path": str(d.path), "fingerprint": d.fingerprint} for d in self.inputs],
            "fingerprint": self.fingerprint,
            "num_rows": sum(s["rows"] for s in shards),
            **{f"num_{key}": value for key, value in totals.items()},
            "shards": [{key: s[key] for key in SHARD_FIELDS} for s in shards],
            "textbooks_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **self.extra_manifest,
        }
        self.staged.publish(MANIFEST, manifest)
        self.done = True


def _unit_name(index: int) -> str:
    return f"part-{index:05d}"


SHARD_FIELDS = ("name", "rows", "bytes", "sha256")  # a shard's entry in the manifest


def shard_entry(path: Path, rows: int) -> dict[str, Any]:
    """A shard's manifest entry: what opening (size) and `verify` (sha256) check it against."""
    return {"name": path.name, "rows": rows, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def write_shard_file(staged: StagedDirectory, index: int, kind: str, batches: Iterable[list[Mapping[str, Any]]],
                     column_types: Mapping[str, pa.DataType] | None = None, **stats: int) -> int:
    """Stream record batches into shard `index` of a `DatasetWriter`'s staging directory, as a
    worker in another process (or on another node) does: written to a temp file, renamed, then
    marked done, so the writer that publishes the dataset sees only whole shards."""
    name = SHARD_PATTERN.format(index)
    tmp = staged.path / f".{name}.tmp"
    rows, writer = 0, None
    try:
        for batch in batches:
            if not batch:
                continue
            table = records_to_table(kind, batch)
            for column, type_ in (column_types or {}).items():
                if column in table.column_names:
                    table = table.set_column(table.column_names.index(column), column, table[column].cast(type_))
            if writer is None:
                check_table(kind, table.schema, f"{staged.final} shard {index}")
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
        if writer is None:
            pq.write_table(schema_for(kind).empty_table(), tmp, compression="zstd")
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, staged.path / name)
    staged.mark_done(_unit_name(index), {**shard_entry(staged.path / name, rows), **stats})
    return rows


def records_to_table(kind: str, records: list[Mapping[str, Any]]) -> pa.Table:
    """Records of `kind` as a table: schema columns with their types first, extra columns after."""
    schema = schema_for(kind)
    if not records:
        return schema.empty_table()
    extra = [k for k in records[0] if schema.get_field_index(k) < 0]
    inferred = pa.Table.from_pylist([{k: r.get(k) for k in extra} for r in records]) if extra else None
    columns = {f.name: pa.array([r.get(f.name) for r in records], type=f.type) for f in schema}
    if inferred is not None:
        columns.update({name: inferred.column(name) for name in extra})
    return pa.table(columns)


def import_jsonl(src: str | Path, out: str | Path, kind: str, rows_per_shard: int = DEFAULT_ROWS_PER_SHARD) -> Dataset:
    """A JSONL file (one record per line) -> a dataset of `kind`; errors name the file and line."""
    src = Path(src)
    if not src.is_file():
        raise UserError(f"{src}: file not found")
    digest = sha256_file(src)
    with DatasetWriter(out, stage="import-jsonl", kind=kind, config={"source_sha256": digest, "rows_per_shard": rows_per_shard}) as writer:
        if not writer.done:
            writer.write_records(_read_jsonl_records(src, kind), rows_per_shard)
    return Dataset.open(out)


def _read_jsonl_records(src: Path, kind: str) -> Iterator[dict[str, Any]]:
    for number, record in read_jsonl(src):
        yield validate_record(kind, record, f"{src}:{number}")


def export_jsonl(dataset: str | Path | Dataset, dst: str | Path) -> int:
    """Write every record as one JSON line (atomically); returns the number of records."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for record in ds.iter_records():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return count
