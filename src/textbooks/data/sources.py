"""Raw code sources as `code` records: local trees, JSONL and Parquet files, Hugging Face datasets
(streamed), and the StackOverflow data dump.

    import_sources(["Lib/json", "hf:bigcode/the-stack-dedup"], "raw", hf_data_dir="data/python")

Every record has `id`, `text`, `source`, `path`, `repo`, `license` (empty where the source has
none). Columns are taken as The Stack names them (`content`, `max_stars_repo_path`,
`max_stars_repo_name`, `max_stars_repo_licenses`, `hexsha`) or as our schema does (`text`, `path`,
...). A file that is not UTF-8 is kept with U+FFFD in place of the bad bytes, for cleaning to
count as undecodable rather than vanish here. Bad input is a `UserError` naming the file and line.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from textbooks.config import output
from textbooks.data.datasets import DEFAULT_ROWS_PER_SHARD, Dataset, DatasetWriter
from textbooks.data.schemas import stable_id
from textbooks.errors import UserError
from textbooks.io import read_jsonl

HF_PREFIX = "hf:"
MAX_READ_BYTES = 10_000_000  # files past this are not read at all (cleaning drops those over 1 MB anyway)
# Our column <- the first of these a source has.
COLUMNS = {
    "text": ("text", "content"),
    "id": ("id", "hexsha"),
    "path": ("path", "max_stars_repo_path", "max_forks_repo_path", "max_issues_repo_path"),
    "repo": ("repo", "max_stars_repo_name", "repo_name"),
    "license": ("license", "max_stars_repo_licenses", "licenses"),
}


def local_tree_records(root: Path, pattern: str = "*.py", max_bytes: int = MAX_READ_BYTES) -> Iterator[dict[str, Any]]:
    """Every file under `root` matching `pattern`, in sorted order (stable ids and shard order).

    Files larger than `max_bytes` are not read (no code file is that large; data blobs are)."""
    for path in sorted(root.rglob(pattern)):
        if not path.is_file() or path.stat().st_size > max_bytes:
            continue
        relative = path.relative_to(root).as_posix()
        yield {
            "id": hashlib.sha256(f"{root.name}/{relative}".encode()).hexdigest()[:24],
            "text": path.read_bytes().decode("utf-8", errors="replace"),
            "source": "local",
            "path": relative,
            "repo": root.name,
            "license": "",
        }


def code_record(row: Mapping[str, Any], source: str, where: str) -> dict[str, Any]:
    """A row of JSONL, Parquet or a Hugging Face dataset as a `code` record (columns mapped)."""
    record: dict[str, Any] = {"source": source}
    for ours, names in COLUMNS.items():
        value = next((row[name] for name in names if row.get(name) is not None), None)
        if isinstance(value, (list, tuple)):  # The Stack lists licenses
            value = ",".join(map(str, value))
        record[ours] = value
    if not isinstance(record["text"], str):
        raise UserError(f"{where}: no text; expected a string field 'text' (or The Stack's 'content')")
    record["id"] = str(record["id"]) if record["id"] is not None else stable_id(record["text"])
    for name in ("path", "repo", "license"):
        record[name] = "" if record[name] is None else str(record[name])
    return record


def jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        for number, row in read_jsonl(path):
            yield code_record(row, "jsonl", f"{path}:{number}")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 ({err.reason} at byte {err.start}); expected UTF-8 JSON lines") from None


def parquet_records(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError(f"{path}: not a readable Parquet file ({err})") from None
    names = parquet.schema_arrow.names
    if not set(COLUMNS["text"]) & set(names):
        raise UserError(f"{path}: no text column; expected 'text' or 'content', found {', '.join(names) or 'none'}")
    row_number = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            row_number += 1
            yield code_record(row, "parquet", f"{path} row {row_number}")


def hf_records(name: str, data_dir: str | None = None, split: str = "train", data_files: Any = None) -> Iterator[dict[str, Any]]:
    """A Hugging Face dataset, streamed (nothing is downloaded whole): e.g. bigcode/the-stack-dedup
    with data_dir="data/python". `name` may also be a builder such as "parquet" with `data_files`."""
    from datasets import load_dataset

    try:
        rows = load_dataset(name, data_dir=data_dir, data_files=data_files, split=split, streaming=True)
        for number, row in enumerate(rows, start=1):
            yield code_record(row, f"hf:{name}", f"{name} row {number}")
    except (FileNotFoundError, ValueError, ConnectionError) as err:
        raise UserError(f"{HF_PREFIX}{name}: cannot stream the dataset ({type(err).__name__}: {err})") from None


class _PostText(HTMLParser):
    """A post's HTML as plain text; <pre> blocks become fenced code blocks, kept verbatim."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "pre":
            self.parts.append("\n```\n")
        elif tag in ("p", "br", "li", "h1", "h2", "h3", "blockquote"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.parts[-1] = self.parts[-1].rstrip("\n")
            self.parts.append("\n```\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def post_text(body: str) -> str:
    parser = _PostText()
    parser.feed(body)
    parser.close()
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def stackoverflow_records(path: Path, tag: str | None = "python") -> Iterator[dict[str, Any]]:
    """Each question of a StackOverflow `Posts.xml` (with `tag`, if given) joined with its accepted
    answer, or else its highest-scored one, as one document; questions without answers are skipped.

    One pass over the dump; the questions with the tag and their best answers are held in memory
    until the end (for the full dump, split it by year first)."""
    questions: dict[str, dict[str, str]] = {}
    best: dict[str, tuple[int, str]] = {}  # question id -> (rank, answer body); accepted ranks first
    try:
        for _, row in ET.iterparse(path, events=("end",)):
            if row.tag != "row":
                continue
            attrs = row.attrib
            if attrs.get("PostTypeId") == "1":
                tags = attrs.get("Tags", "")
                if tag is None or f"<{tag}>" in tags or f"|{tag}|" in tags:
                    questions[attrs["Id"]] = {k: attrs.get(k, "") for k in ("Title", "Body", "AcceptedAnswerId", "ContentLicense")}
            elif attrs.get("PostTypeId") == "2" and attrs.get("ParentId") in questions:
                question = questions[attrs["ParentId"]]
                accepted = attrs.get("Id") == question["AcceptedAnswerId"]
                rank = 10**9 if accepted else int(attrs.get("Score", "0") or 0)
                if rank > best.get(attrs["ParentId"], (-(10**9), ""))[0]:
                    best[attrs["ParentId"]] = (rank, attrs.get("Body", ""))
            row.clear()
    except ET.ParseError as err:
        raise UserError(f"{path} line {err.position[0]}: not a well-formed StackOverflow Posts.xml ({err})") from None
    for question_id, question in questions.items():
        if question_id not in best:
            continue
        text = f"{question['Title']}\n\n{post_text(question['Body'])}\n\n{post_text(best[question_id][1])}\n"
        yield {"id": f"stackoverflow-{question_id}", "text": text, "source": "stackoverflow",
               "path": f"questions/{question_id}", "repo": "", "license": question["ContentLicense"]}


def source_records(source: str, pattern: str = "*.py", hf_data_dir: str | None = None,
                   so_tag: str | None = "python") -> Iterator[dict[str, Any]]:
    """The records of one source, by its form: hf:ID, a directory, .jsonl(.gz), .parquet or .xml."""
    if source.startswith(HF_PREFIX):
        return hf_records(source[len(HF_PREFIX) :], data_dir=hf_data_dir)
    path = Path(source)
    if path.is_dir():
        return local_tree_records(path, pattern)
    if not path.is_file():
        raise UserError(f"{source}: no such file or directory; expected a directory, a .jsonl, .parquet or "
                        f"Posts.xml file, or {HF_PREFIX}DATASET_ID")
    suffixes = "".join(path.suffixes[-2:])
    if path.suffix == ".jsonl" or suffixes == ".jsonl.gz":
        return jsonl_records(path)
    if path.suffix == ".parquet":
        return parquet_records(path)
    if path.suffix == ".xml":
        return stackoverflow_records(path, so_tag)
    raise UserError(f"{source}: unknown kind of source; expected a directory, .jsonl(.gz), .parquet, Posts.xml or {HF_PREFIX}ID")


def listing_sha256(sources: Sequence[str], pattern: str) -> str:
    """What the sources hold, for the fingerprint: paths, sizes and times (a Hub id: its name)."""
    listing = hashlib.sha256()
    for source in sources:
        path = Path(source)
        files = sorted(p for p in path.rglob(pattern) if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat() if file.exists() else None
            listing.update(f"{file}\0{stat.st_size if stat else ''}\0{stat.st_mtime_ns if stat else ''}\n".encode())
    return listing.hexdigest()


def import_sources(
    sources: Sequence[str | Path], out: str | Path, pattern: str = "*.py", hf_data_dir: str | None = None,
    so_tag: str | None = "python", rows_per_shard: int = DEFAULT_ROWS_PER_SHARD, stage: str = "import-source",
) -> Dataset:
    """Every record of every source, in the order given, as one `code` dataset (resumable)."""
    sources = [str(source) for source in sources]
    if not sources:
        raise UserError("no source given; expected directories, .jsonl/.parquet/Posts.xml files or hf:DATASET_ID")
    config = {
        "sources": [s if s.startswith(HF_PREFIX) else str(Path(s).resolve()) for s in sources],
        "pattern": pattern, "hf_data_dir": hf_data_dir, "so_tag": so_tag,
        "listing_sha256": listing_sha256([s for s in sources if not s.startswith(HF_PREFIX)], pattern),
        "rows_per_shard": rows_per_shard,
    }
    records = itertools.chain.from_iterable(source_records(s, pattern, hf_data_dir, so_tag) for s in sources)
    seen = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal seen
        for seen, record in enumerate(records, start=1):
            yield record

    with DatasetWriter(out, stage=stage, kind="code", config=config) as writer:
        if not writer.done:
            writer.write_records(counted(), rows_per_shard)
            if seen == 0:  # raised inside the block: nothing is published
                raise UserError(f"{', '.join(sources)}: no records; is the source empty (or the pattern {pattern!r} wrong)?")
    return Dataset.open(out)


@dataclass
class ImportConfig:
    """Local trees of source files as a `code` dataset (`textbooks dataset import DIR ...`; the `import` stage)."""

    roots: list[Path] = output(default_factory=list)  # `$STDLIB/json`: a package of the standard library
    pattern: str = output("*.py")
    rows_per_shard: int = output(50_000)


def import_local_trees(
    roots: Sequence[str | Path], out: str | Path, pattern: str = "*.py", rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
) -> Dataset:
    """Every matching file of every tree, in the order given, as one `code` dataset."""
    for root in roots:
        if not Path(root).is_dir():
            raise UserError(f"{root}: directory not found")
    return import_sources(roots, out, pattern=pattern, rows_per_shard=rows_per_shard, stage="import-tree")
