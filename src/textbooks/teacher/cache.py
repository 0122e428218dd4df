"""Answers kept in SQLite so nothing is paid for twice.

One row per request key, committed as soon as the answer arrives: a run killed at any moment
(even SIGKILL) and started again re-asks only the requests that were in flight at the kill.
WAL mode lets readers (another process, a progress check) look while a run writes.
`synchronous=NORMAL` skips the fsync per commit; a committed row survives the process being
killed (it is in the OS page cache), only a power loss may take the last few back.

Stored: text, finish_reason, token usage, model. Never headers or the API key.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from textbooks.errors import UserError
from textbooks.teacher.records import Answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


class AnswerCache:
    """A SQLite file of answers keyed by `Request.key`. Use as a context manager or `close()`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit; each `put` is its own transaction.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise UserError(f"{self.path}: cannot open as the teacher's answer cache ({err}); expected a SQLite file or a new path") from None

    def get(self, key: str) -> Answer | None:
        row = self._db.execute(
            "SELECT key, text, finish_reason, prompt_tokens, completion_tokens, model FROM answers WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else Answer(*row, cached=True)

    def put(self, answer: Answer) -> None:
        """Store and commit one answer (a key already present is left as it was)."""
        self._db.execute(
            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
            (answer.key, answer.model, answer.text, answer.finish_reason, answer.prompt_tokens, answer.completion_tokens, time.time()),
        )

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM answers")}

    def count_present(self, keys: Iterable[str]) -> int:
        """How many of `keys` are already answered (for the dry-run estimate)."""
        return sum(1 for key in keys if key in self)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AnswerCache({str(self.path)!r})"
