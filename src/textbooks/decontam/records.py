"""The training data to check: one of our datasets, or a JSONL file, as records with their code.

A JSONL file holds one object per line with `text`, or `prompt` and `solution` (an exercise).
Where a record's code is, by kind:
  exercise   prompt + solution (one program);
  code       the text, or its fenced code blocks if it has any (markdown);
  textbook   its fenced code blocks (a section without any has no code).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.datasets import Dataset
from textbooks.errors import UserError
from textbooks.schemas import validate_record

# Fenced blocks as the teachers write them: ```python, ```py or a bare ```.
FENCED_CODE = re.compile(r"```(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL)


def code_of(record: dict[str, Any], kind: str) -> list[str]:
    if kind == "exercise":
        return [record["text"]]
    blocks = [block for block in FENCED_CODE.findall(record["text"]) if block.strip()]
    if blocks or kind == "textbook":
        return blocks
    return [record["text"]] if record["text"].strip() else []


@dataclass(frozen=True)
class TrainingData:
    """The input: `dataset` is set for a dataset directory, `jsonl` for a JSONL file."""

    path: Path
    kind: str
    fingerprint: str
    num_rows: int
    dataset: Dataset | None = None

    @classmethod
    def open(cls, path: str | Path) -> TrainingData:
        path = Path(path)
        if path.is_dir():
            dataset = Dataset.open(path)
            data = cls(path, dataset.kind, dataset.fingerprint, dataset.num_rows, dataset)
        elif path.is_file():
            kind, rows = _scan_jsonl(path)
            data = cls(path, kind, hashlib.sha256(path.read_bytes()).hexdigest(), rows)
        else:
            raise UserError(f"{path}: not found; expected a dataset directory or a JSONL file")
        if data.num_rows == 0:
            raise UserError(f"{path}: empty dataset (0 records); expected at least one record to check")
        return data

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, validated, in a fixed order."""
        if self.dataset is not None:
            yield from self.dataset.iter_records()
            return
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield validate_record(self.kind, _json(line, self.path, number), f"{self.path} line {number}")


def _json(line: str, path: Path, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} line {number}: not valid JSON ({err.msg} at column {err.colno}); "
                        "expected one object with `text` (or `prompt` and `solution`) per line") from None


def _scan_jsonl(path: Path) -> tuple[str, int]:
    """The kind of a JSONL file's records (exercises if the first has prompt and solution, else code)
    and how many there are."""
    kind, rows = None, 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if kind is None:
                first = _json(line, path, number)
                kind = "exercise" if isinstance(first, dict) and "prompt" in first and "solution" in first else "code"
            rows += 1
    return kind or "code", rows
