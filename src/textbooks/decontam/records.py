"""The training data to check: one of our datasets, or a JSONL file, as records with their code.

A JSONL file holds one object per line with `text`, or `prompt` and `solution` (an exercise).
Where a record's code is, by kind:
  exercise   prompt + solution (one program);
  code       the text, or its fenced code blocks if it has any (markdown);
  textbook   its fenced code blocks (a section without any has no code).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.data.datasets import Dataset
from textbooks.data.schemas import validate_record
from textbooks.errors import UserError
from textbooks.io import read_jsonl, sha256_file

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
            data = cls(path, kind, sha256_file(path), rows)
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
        for number, record in read_jsonl(self.path):
            yield validate_record(self.kind, record, f"{self.path}:{number}")


def _scan_jsonl(path: Path) -> tuple[str, int]:
    """The kind of a JSONL file's records (exercises if the first has prompt and solution, else code)
    and how many there are."""
    kind, rows = "code", 0
    for _, record in read_jsonl(path):
        if rows == 0 and "prompt" in record and "solution" in record:
            kind = "exercise"
        rows += 1
    return kind, rows
