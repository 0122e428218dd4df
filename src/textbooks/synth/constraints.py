"""What each teacher request is asked to be about: seeded draws of topic, audience, style, name.

phi-1's synthetic data owes its diversity to constraints put into every prompt: a topic and a
target audience for the textbooks, a function name for the exercises. The pools ship as data
files (synth/data/); request i draws from `random.Random(request_seed(seed, i))`, so the draws are
a function of (seed, i) alone: reproducible, independent of batch sizes, and extendable (asking
for more documents later keeps the first ones).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from textbooks.errors import UserError


@dataclass(frozen=True)
class Topic:
    topic: str
    subtopic: str


@dataclass(frozen=True)
class Constraints:
    """One request's draw."""

    topic: str
    subtopic: str
    audience: str
    style: str
    function_name: str


@dataclass(frozen=True)
class Pools:
    topics: tuple[Topic, ...]
    audiences: tuple[str, ...]
    styles: tuple[str, ...]
    function_names: tuple[str, ...]

    @classmethod
    def load(cls, topics: str | Path | None = None, audiences: str | Path | None = None, styles: str | Path | None = None,
             verbs: str | Path | None = None, nouns: str | Path | None = None) -> Pools:
        """The shipped pools, or the files given instead."""
        return cls(
            topics=tuple(load_topics(topics or data_path("topics.csv"))),
            audiences=tuple(load_lines(audiences or data_path("audiences.txt"))),
            styles=tuple(load_lines(styles or data_path("styles.txt"))),
            function_names=tuple(
                function_names(load_lines(verbs or data_path("verbs.txt")), load_lines(nouns or data_path("nouns.txt")))
            ),
        )

    def sha256(self) -> str:
        """Fingerprint of the pools: a changed taxonomy is a changed stage config."""
        digest = hashlib.sha256()
        for pool in (self.topics, self.audiences, self.styles, self.function_names):
            digest.update(repr(pool).encode("utf-8"))
        return digest.hexdigest()

    def sizes(self) -> dict[str, int]:
        """How many of each there are to draw from (coverage is measured against these)."""
        return {
            "topics": len({t.topic for t in self.topics}),
            "subtopics": len(self.topics),
            "audiences": len(self.audiences),
            "styles": len(self.styles),
            "function_names": len(self.function_names),
        }

    def draw(self, seed: int, index: int) -> Constraints:
        rng = random.Random(request_seed(seed, index))
        topic = rng.choice(self.topics)
        return Constraints(
            topic=topic.topic,
            subtopic=topic.subtopic,
            audience=rng.choice(self.audiences),
            style=rng.choice(self.styles),
            function_name=rng.choice(self.function_names),
        )


def request_seed(seed: int, index: int) -> int:
    """A 63-bit seed for request `index` of a run seeded `seed` (sha256, stable across Python
    processes, unlike `hash()` of a string); also sent as the server's sampling `seed`."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def data_path(name: str) -> Path:
    return Path(str(resources.files("textbooks.synth") / "data" / name))


def read_text(path: Path, what: str) -> str:
    """A data file's UTF-8 text; a missing or undecodable file is a user error naming it."""
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not UTF-8 text ({err.reason}); expected a UTF-8 {what}") from None


def load_topics(path: str | Path) -> list[Topic]:
    """`topic,subtopic` rows under that header; a bad row is a user error naming file and line."""
    path = Path(path)
    topics: list[Topic] = []
    seen: dict[Topic, int] = {}
    reader = csv.reader(io.StringIO(read_text(path, "topic taxonomy file"), newline=""))
    header = next(reader, None)
    if header != ["topic", "subtopic"]:
        raise UserError(f"{path} line 1: header is {header}; expected topic,subtopic")
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise UserError(f"{path} line {line}: {len(row)} fields; expected 2 (topic,subtopic; quote a value that holds a comma)")
        topic = Topic(row[0].strip(), row[1].strip())
        if not topic.topic or not topic.subtopic:
            raise UserError(f"{path} line {line}: empty topic or subtopic; expected both")
        _check_first(seen, topic, f"{topic.topic}, {topic.subtopic}", path, line)
        topics.append(topic)
    if not topics:
        raise UserError(f"{path}: no topics; expected topic,subtopic rows after the header")
    return topics


def load_lines(path: str | Path) -> list[str]:
    """One entry per line; blank lines and lines starting with # are skipped; no duplicates."""
    path = Path(path)
    entries: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(read_text(path, "file").splitlines(), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        _check_first(seen, entry, repr(entry), path, number)
        entries.append(entry)
    if not entries:
        raise UserError(f"{path}: empty; expected one entry per line")
    return entries


def _check_first(seen: dict, key: object, shown: str, path: Path, line: int) -> None:
    """Remember where `key` first appeared; a second appearance is a user error naming both lines."""
    if key in seen:
        raise UserError(f"{path} line {line}: duplicate of line {seen[key]} ({shown})")
    seen[key] = line


def function_names(verbs: list[str], nouns: list[str]) -> list[str]:
    """Every `verb_noun`: 168 verbs x 265 nouns shipped = 44,520 snake_case names."""
    for word in [*verbs, *nouns]:
        if not word.isidentifier() or word != word.lower():
            raise UserError(f"function-name word {word!r}: expected a lower-case snake_case identifier")
    return [f"{verb}_{noun}" for verb in verbs for noun in nouns]
