"""Dedup at corpus scale on datatrove: exact by hash, then near by MinHash LSH, shard-parallel.

BigCode's setting: 5-grams, Jaccard 0.7. A pair is judged as `NearDedup` (the in-memory path)
judges it: the same signature (`textbooks.data.dedup.MinHasher`, computed in datatrove's
signature stage), the bands and rows datasketch picks at the same threshold and number of
permutations, and a candidate pair kept only if its Jaccard estimate reaches the threshold
(`textbooks.curate.dedup_steps`), and the same choice of what to remove: a file near an
earlier file that is kept (datatrove's own union-find would remove all but one of a chain).

Memory stays bounded as the corpus grows: signatures are written per shard and sorted on disk,
the bucket stage merges sorted files (a heap of one signature per file), the verify stage reads
whole signatures through memory maps, and only the cluster stage holds anything global: the
verified pairs and the documents it removes.

Stages (datatrove's steps, four of them subclassed or ours; tasks in brackets, N = input shards):
  exact-signatures [N]  hash of the normalised text (whitespace runs collapsed, lower case)
  exact-find       [1]  the copies of each hash after the first (in shard, row order)
  minhash-signatures [N] on the text with exact copies already dropped (NearDedup's signature)
  minhash-buckets  [bands]  candidate pairs per LSH band
  minhash-verify   [bands]  candidate pairs below the threshold dropped
  minhash-cluster  [1]  first seen kept: a file near an earlier kept file is removed
  filter           [N]  drops both kinds, writes the output shards (+ `minhash_cluster_size`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textbooks.config import output, output_data
from textbooks.curate.executor import ExecutorConfig, Stage, counter_of, finish_logs, logs_dir, run_stages
from textbooks.data.datasets import Dataset, DatasetWriter
from textbooks.data.dedup import MinHasher, normalize
from textbooks.errors import UserError


@dataclass(frozen=True)
class DedupConfig:
    """YAML section `dedup:`."""

    threshold: float = output(0.7)  # Jaccard similarity of 5-gram sets above which files are near duplicates
    num_perm: int = output(128)  # MinHash permutations; bands x rows come from datasketch's choice for the threshold
    n_grams: int = output(5)
    seed: int = output(1)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise UserError(f"dedup.threshold: {self.threshold}; expected between 0 and 1")
        if self.num_perm < 2 or self.n_grams < 1:
            raise UserError(f"dedup: num_perm {self.num_perm}, n_grams {self.n_grams}; expected num_perm >= 2, n_grams >= 1")

    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) that datasketch's MinHashLSH chooses for this threshold."""
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        return lsh.b, lsh.r


def normalized_text(doc) -> str:
    """What exact dedup hashes (the same normalisation as `textbooks.dedup`)."""
    return normalize(doc.text)


def dedup_stages(dataset: Dataset, config: DedupConfig, work: Path) -> list[Stage]:
    from datatrove.pipeline.dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactFindDedups,
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupFilter,
    )
    from datatrove.utils.hashing import HashConfig

    from textbooks.curate.dedup_steps import (
        MAX_SHARDS,
        FirstSeenCluster,
        FirstSeenExactSignature,
        NearDedupSignature,
        VerifyCandidatePairs,
    )
    from textbooks.curate.steps import DatasetShardReader, DatasetShardWriter, MetadataDefaults

    bands, rows = config.bands()
    # Only the band layout and the 32-bit width matter: the signature is NearDedup's (MinHasher).
    minhash = MinhashConfig(n_grams=config.n_grams, num_buckets=bands, hashes_per_bucket=rows, seed=config.seed,
                            hash_config=HashConfig(precision=32))
    hasher = MinHasher(config.num_perm, config.n_grams, config.seed)
    exact = ExactDedupConfig(content_getter=normalized_text)
    shards = len(dataset.shards)
    if shards > MAX_SHARDS:
        raise UserError(f"{dataset.path}: {shards} shards; dedup keeps the first of each copy in at most {MAX_SHARDS} "
                        "shards, expected fewer, larger shards")

    def read():
        return DatasetShardReader(dataset.path)

    def exact_filter():
        return ExactDedupFilter(str(work / "exact-dups"), config=exact)

    return [
        Stage("exact-signatures", shards, lambda _: [read(), FirstSeenExactSignature(str(work / "exact-sigs"), exact)]),
        Stage("exact-find", 1, lambda _: [ExactFindDedups(str(work / "exact-sigs"), str(work / "exact-dups"), exact)]),
        Stage("minhash-signatures", shards, lambda _: [
            read(), exact_filter(), NearDedupSignature(str(work / "sigs"), work / "signatures", minhash, hasher)]),
        Stage("minhash-buckets", bands, lambda _: [MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=minhash)]),
        Stage("minhash-verify", bands, lambda _: [
            VerifyCandidatePairs(work / "buckets", work / "signatures", work / "verified", minhash, config.threshold)]),
        Stage("minhash-cluster", 1, lambda _: [
            FirstSeenCluster(str(work / "verified"), str(work / "remove"), config=minhash, save_cluster_size=True)]),
        Stage("filter", shards, lambda staged: [
            read(), exact_filter(), MinhashDedupFilter(str(work / "remove"), load_cluster_sizes=True),
            MetadataDefaults(minhash_cluster_size=1), DatasetShardWriter(staged, "code", drop_columns=("duplicate_count",))]),
    ]


def dedup_dataset(dataset: Dataset, out: str | Path, config: DedupConfig, executor: ExecutorConfig) -> tuple[Dataset, bool]:
    """Exact and near duplicates removed from `dataset` into `out`; (dataset, already_done)."""
    out = Path(out)
    # `pairs` and `keep` name the method: a dataset deduplicated before pairs were verified (and
    # every file of a chain but one removed) has another fingerprint, so it is made again.
    method = {"pairs": "verified", "keep": "first-seen"}
    writer = DatasetWriter(out, stage="curate-dedup", kind="code", config={**output_data(config), **method},
                           inputs=[dataset])
    if writer.done:
        return Dataset.open(out), True
    work = logs_dir(out, writer.fingerprint) / "work"  # removed with the logs once published
    with writer:
        counts = run_stages(writer, dedup_stages(dataset, config, work), executor)
        final = counts["filter"]
        exact = counter_of(final, "exact-deduplication stage 3")["dropped"]
        near = counter_of(final, "MinHash stage 4")["dropped"]
        pairs = counter_of(counts["minhash-verify"], "MinHash verify pairs")
        bands, rows = config.bands()
        writer.extra_manifest["curate-dedup"] = {
            "input": dataset.num_rows, "exact_duplicates": exact, "near_duplicates": near, "bands": bands, "rows": rows,
            # LSH candidate pairs (each once) and those whose Jaccard estimate fell below the threshold
            "candidate_pairs": pairs["candidates"], "rejected_pairs": pairs["rejected"]}
    finish_logs(out)
    return Dataset.open(out), False
