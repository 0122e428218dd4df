"""NearDedup: exact duplicates by normalised hash, near duplicates by MinHash LSH."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

from textbooks.data.dedup import NearDedup, shingles

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_sources(count: int) -> dict[str, str]:
    """Real, varied Python files: the first `count` stdlib modules of 2-20 KB."""
    files = sorted(p for p in STDLIB.glob("*.py") if 2_000 < p.stat().st_size < 20_000)[:count]
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def edit(text: str, seed: int) -> str:
    """A near copy: a few lines changed, one removed, one added."""
    rng = random.Random(seed)
    lines = text.splitlines()
    for i in rng.sample(range(len(lines)), 3):
        lines[i] = lines[i] + "  # edited"
    del lines[rng.randrange(len(lines))]
    lines.insert(rng.randrange(len(lines)), "x = 1")
    return "\n".join(lines)


def test_exact_duplicate_ignores_whitespace_and_case_and_names_the_first():
    dedup = NearDedup()
    assert dedup.add("a", "def f(x):\n    return x + 1\n") is None
    match = dedup.match("b", "DEF f(x):   return  x + 1")
    assert (match.of, match.kind, match.similarity) == ("a", "exact", 1.0)
    assert dedup.add("c", "def g(y):\n    return y * 2\n") is None
    assert dedup.counts == {"kept": 2, "exact": 1, "near": 0}
    assert len(dedup) == 2


def test_planted_near_duplicates_of_real_files_are_all_caught_and_originals_kept():
    sources = stdlib_sources(40)
    dedup = NearDedup(threshold=0.8)
    kept = [name for name, text in sources.items() if dedup.add(name, text) is None]
    planted = {f"copy-of-{name}": name for name in list(sources)[::4]}
    found = {copy: dedup.match(copy, edit(sources[original], seed=len(copy))) for copy, original in planted.items()}
    assert len(kept) == len(sources)
    assert {copy: m.of for copy, m in found.items() if m is not None} == planted
    assert all(m.kind == "near" and m.similarity >= 0.8 for m in found.values())


def test_texts_below_the_threshold_are_kept():
    dedup = NearDedup(threshold=0.8)
    base = " ".join(f"word{i}" for i in range(200))
    half = " ".join(f"word{i}" for i in range(100)) + " " + " ".join(f"other{i}" for i in range(100))
    assert dedup.add("base", base) is None
    assert dedup.add("half", half) is None  # Jaccard about 1/3


def test_short_texts_are_one_shingle():
    assert shingles("return x", 5) == {b"return x"}
    dedup = NearDedup()
    assert dedup.add("a", "x = 1") is None
    assert dedup.add("b", "y = 2") is None


def test_the_same_id_twice_is_a_bug():
    dedup = NearDedup()
    dedup.add("a", "one text here")
    with pytest.raises(ValueError, match="added twice"):
        dedup.add("a", "a different text altogether, nothing alike")
