"""What each dedup path decides on a corpus, for comparing them (tests and benchmarks/dedup_agreement.py).

Each judge returns a `Verdicts`: the LSH candidate pairs it judged, how many of them fell below
the threshold, the files it removes, and the files in a duplicate pair: the removed ones and the
kept file each near duplicate is near (datatrove: kept files whose MinHash cluster has two or
more; the file an exact copy repeats is not counted, datatrove does not say which it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textbooks.data.datasets import Dataset


@dataclass(frozen=True)
class Verdicts:
    candidate_pairs: int
    rejected_pairs: int
    removed: set[str]
    members: set[str]


def near_dedup_verdicts(dataset: Dataset, threshold: float) -> Verdicts:
    """NearDedup in dataset order; the candidate pairs are all those datasketch's own LSH proposes
    among the files that are not exact copies of earlier ones (what the datatrove path judges)."""
    from datasketch import MinHashLSH

    from textbooks.data.dedup import NearDedup, normalize, similarity

    dedup = NearDedup(threshold=threshold, num_perm=128, shingle_size=5)
    lsh, signatures, seen = MinHashLSH(threshold=threshold, num_perm=128), {}, set()
    removed, members = set(), set()
    for record in dataset.iter_records(columns=["id", "text"]):
        duplicate = dedup.match(record["id"], record["text"])
        if duplicate is not None:
            removed.add(record["id"])
            members |= {record["id"], duplicate.of} if duplicate.kind == "near" else {record["id"]}
        if normalize(record["text"]) not in seen:
            seen.add(normalize(record["text"]))
            signatures[record["id"]] = minhash = dedup.hasher.minhash(record["text"])
            lsh.insert(record["id"], minhash)
    pairs = {tuple(sorted((a, b))) for a, minhash in signatures.items() for b in lsh.query(minhash) if b != a}
    rejected = sum(similarity(signatures[a].hashvalues, signatures[b].hashvalues) < threshold for a, b in pairs)
    return Verdicts(len(pairs), rejected, removed, members)


def datatrove_verdicts(dataset: Dataset, out: Path, threshold: float, workers: int = 2) -> Verdicts:
    from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
    from textbooks.curate.executor import ExecutorConfig

    kept, _ = dedup_dataset(dataset, out, DedupConfig(threshold=threshold), ExecutorConfig(workers=workers))
    all_ids = {r["id"] for r in dataset.iter_records(columns=["id"])}
    kept_rows = list(kept.iter_records(columns=["id", "minhash_cluster_size"]))
    removed = all_ids - {r["id"] for r in kept_rows}
    manifest = kept.manifest["curate-dedup"]
    return Verdicts(manifest["candidate_pairs"], manifest["rejected_pairs"], removed,
                    removed | {r["id"] for r in kept_rows if r["minhash_cluster_size"] > 1})
