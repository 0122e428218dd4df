"""Dedup at corpus scale (datatrove) against the in-memory NearDedup, on the standard library's sources."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
from textbooks.curate.executor import ExecutorConfig
from textbooks.data.datasets import Dataset
from textbooks.data.dedup import NearDedup, shingles
from textbooks.data.sources import import_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = ("json", "email", "logging", "http", "concurrent")


def near_copy(text: str, rng: random.Random) -> str:
    """A copy with about 3% of its lines edited: a near duplicate well above Jaccard 0.7."""
    lines = text.splitlines()
    for i in rng.sample(range(len(lines)), k=max(1, len(lines) // 33)):
        lines[i] = lines[i] + "  # edited"
    return "\n".join(lines) + "\n"


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def near_dedup_verdicts(dataset: Dataset, threshold: float) -> tuple[set[str], set[str]]:
    """(ids NearDedup removes, ids in any duplicate pair: removed ones and their originals)."""
    dedup = NearDedup(threshold=threshold, num_perm=128, shingle_size=5)
    removed, members = set(), set()
    for record in dataset.iter_records(columns=["id", "text"]):
        original = dedup.add(record["id"], record["text"])
        if original is not None:
            removed.add(record["id"])
            members |= {record["id"], original}
    return removed, members


def datatrove_verdicts(dataset: Dataset, out: Path, threshold: float) -> tuple[set[str], set[str]]:
    kept, _ = dedup_dataset(dataset, out, DedupConfig(threshold=threshold), ExecutorConfig(workers=2))
    all_ids = {r["id"] for r in dataset.iter_records(columns=["id"])}
    kept_rows = list(kept.iter_records(columns=["id", "minhash_cluster_size"]))
    removed = all_ids - {r["id"] for r in kept_rows}
    return removed, removed | {r["id"] for r in kept_rows if r["minhash_cluster_size"] > 1}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The stdlib slice as JSONL plus planted copies: 8 near and 2 exact (whitespace and case only)."""
    root = tmp_path_factory.mktemp("planted")
    originals = list(import_sources([STDLIB / p for p in PACKAGES], root / "stdlib", rows_per_shard=25).iter_records())
    rng = random.Random(0)
    substantial = [r for r in originals if r["text"].count("\n") > 60]
    chosen = rng.sample(substantial, 10)
    near, exact = chosen[:8], chosen[8:]
    copies = [{"id": f"near-{r['id']}", "text": near_copy(r["text"], rng), "of": r["id"]} for r in near]
    copies += [{"id": f"exact-{r['id']}", "text": r["text"].replace("\n", "  \n").upper(), "of": r["id"]} for r in exact]
    import json

    source = root / "corpus.jsonl"
    source.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in [*originals, *copies]))
    return import_sources([source], root / "raw", rows_per_shard=25), copies, root


@pytest.mark.slow
def test_both_paths_remove_exactly_the_planted_copies_and_keep_clear_non_duplicates(planted):
    dataset, copies, root = planted
    copy_ids = {c["id"] for c in copies}
    ours, _ = datatrove_verdicts(dataset, root / "dedup", 0.7)
    theirs, _ = near_dedup_verdicts(dataset, 0.7)
    for copy in copies:  # each method keeps exactly one file of each planted pair
        assert len({copy["id"], copy["of"]} & ours) == 1 and len({copy["id"], copy["of"]} & theirs) == 1
    assert copy_ids <= theirs  # NearDedup keeps the first seen; datatrove a cluster's root
    manifest = Dataset.open(root / "dedup").manifest["curate-dedup"]
    assert manifest["exact_duplicates"] >= 2 and manifest["near_duplicates"] >= 8
    # Files whose true Jaccard with every other file is below 0.5 are kept by both.
    texts = {r["id"]: shingles(r["text"], 5) for r in dataset.iter_records(columns=["id", "text"])}
    ids = sorted(texts)
    clear = {a for a in ids if all(jaccard(texts[a], texts[b]) < 0.5 for b in ids if b != a)}
    assert len(clear) >= 30 and not clear & (ours | theirs)


@pytest.mark.slow
def test_datatrove_judges_duplicate_at_least_95_percent_of_the_files_near_dedup_does(tmp_path):
    # Codec tables and e-mail modules: many real near duplicates. datatrove keeps every LSH
    # collision while NearDedup also checks the estimated Jaccard, so datatrove judges more files
    # duplicates (measured: 63 of 82 files judged by either are judged by both; see RESULTS.md);
    # what holds is that it finds what NearDedup finds.
    dataset = import_sources([STDLIB / "encodings", STDLIB / "email", STDLIB / "json"], tmp_path / "raw", rows_per_shard=40)
    _, ours = datatrove_verdicts(dataset, tmp_path / "dedup", 0.7)
    _, theirs = near_dedup_verdicts(dataset, 0.7)
    assert len(theirs) >= 20  # enough duplicates to measure on
    assert len(ours & theirs) / len(theirs) >= 0.95, sorted(theirs - ours)


def test_a_finished_dedup_is_not_run_again_and_a_bad_threshold_is_a_user_error(tmp_path):
    from textbooks.errors import UserError

    with pytest.raises(UserError, match="dedup.threshold: 1.5"):
        DedupConfig(threshold=1.5)
    dataset = import_sources([STDLIB / "json"], tmp_path / "raw")
    first, done = dedup_dataset(dataset, tmp_path / "dedup", DedupConfig(), ExecutorConfig(workers=1))
    assert not done and first.num_rows == dataset.num_rows
    again, done = dedup_dataset(dataset, tmp_path / "dedup", DedupConfig(), ExecutorConfig(workers=1))
    assert done and again.fingerprint == first.fingerprint
    assert not list(tmp_path.glob(".*datatrove*"))  # logs and signatures removed once published
