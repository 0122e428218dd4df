"""datatrove's dedup steps, made to decide exactly as `textbooks.data.dedup.NearDedup`.

- `FirstSeenExactSignature` (exact stage 1): of exact copies datatrove keeps the one of highest
  priority, then lowest row within its shard whatever the shard; a priority falling with the
  shard makes it keep the first in (shard, row) order, as NearDedup keeps the first seen.
- `NearDedupSignature` (stage 1) computes NearDedup's signature (`MinHasher`: our shingles,
  datasketch's permutations and 32-bit scheme) instead of datatrove's own hashing, and writes it
  into datatrove's per-band bucket files, so the bucket stage (datatrove's, unchanged) proposes
  exactly the candidate pairs datasketch's LSH would. It also writes each document's whole
  signature per shard (`<rank>.npy`, one row per document in the order the bucket files number
  them) for the next step.
- `VerifyCandidatePairs` (after stage 2): datatrove keeps every LSH collision, NearDedup a
  candidate only if its Jaccard estimate reaches the threshold; this step applies that check.
  Memory stays bounded: signatures are read through memory maps, one run of documents that share
  a band's values at a time.
- `FirstSeenCluster` (stage 3): datatrove's cluster stage removes all but one file of each
  connected component, so a chain A~B, B~C loses B and C; NearDedup removes a file only if it is
  near one it kept (A kept, B removed, C kept). This one makes NearDedup's first-seen choice over
  the verified pairs, in the documents' order, and writes datatrove's `.remove`/`.sizes` files
  for its filter stage.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup import ExactDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupCluster, MinhashDedupSignature
from datatrove.utils.binaryio import read_tuples_from_file

from textbooks.curate.steps import CodeWordTokenizer
from textbooks.data.dedup import MinHasher, similarity

PAIR = "<5I"  # a verified pair: two documents (shard, row) and how many signature values they share
ROWS_AT_ONCE = 65_536  # signature rows copied per chunk when a shard's file is finished
MAX_SHARDS = 65_535  # datatrove's exact-dedup priorities are 16-bit, from 1


def signature_file(folder: str | Path, rank: int) -> Path:
    return Path(folder) / f"{rank:05d}.npy"


class FirstSeenExactSignature(ExactDedupSignature):
    """datatrove's exact-dedup stage 1, with shard `rank`'s documents at priority 65535 - rank."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1):
        assert rank < MAX_SHARDS, f"shard {rank}: at most {MAX_SHARDS} shards keep the first copy"
        self.config = dataclasses.replace(self.config, document_priority=lambda doc: MAX_SHARDS - rank)
        super().run(data, rank, world_size)


class NearDedupSignature(MinhashDedupSignature):
    """datatrove's MinHash stage 1 with NearDedup's signature; the whole signature also goes to
    `signature_folder`. `config` must have 32-bit hashes and bands x rows <= num_perm."""

    name = "🎯 MinHash stage 1 (NearDedup signature)"

    def __init__(self, output_folder: str, signature_folder: str | Path, config: MinhashConfig, hasher: MinHasher):
        if config.hash_config.precision != 32 or config.num_buckets * config.hashes_per_bucket > hasher.num_perm:
            raise ValueError(f"{config}: expected 32-bit hashes and at most {hasher.num_perm} values in the bands")
        # datatrove's constructor insists on a word tokenizer; shingling is the hasher's own.
        super().__init__(output_folder, config, language=CodeWordTokenizer())
        self.signature_folder = Path(signature_folder)
        self.hasher = hasher
        self._rows = None  # the open raw file of this task's whole signatures

    def get_shingles(self, text: str) -> np.ndarray:
        # datatrove's run() calls get_shingles, then get_signature on a non-empty result: the
        # whole signature is computed here (a text of no tokens is one empty shingle, as in NearDedup).
        return self.hasher.signature(text)

    def get_signature(self, signature: np.ndarray) -> list[list[int]]:
        self._rows.write(signature.astype("<u4").tobytes())
        rows = self.config.hashes_per_bucket
        # datasketch's LSH bands are the consecutive runs of `rows` values from the start.
        return [signature[band * rows : (band + 1) * rows].tolist() for band in range(self.config.num_buckets)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1):
        self.signature_folder.mkdir(parents=True, exist_ok=True)
        raw = self.signature_folder / f"{rank:05d}.raw"
        with raw.open("wb") as self._rows:  # streamed: a shard's signatures never sit in memory
            super().run(data, rank, world_size)
        # A .npy, not the raw file, so the verify step np.loads it with its shape and dtype; a task
        # killed midway is rerun by datatrove and rewrites both files.
        count = raw.stat().st_size // (4 * self.hasher.num_perm)
        out = np.lib.format.open_memmap(signature_file(self.signature_folder, rank), mode="w+", dtype="<u4",
                                        shape=(count, self.hasher.num_perm))
        if count:
            rows = np.memmap(raw, dtype="<u4", mode="r", shape=out.shape)
            for start in range(0, count, ROWS_AT_ONCE):
                out[start : start + ROWS_AT_ONCE] = rows[start : start + ROWS_AT_ONCE]
            del rows
        out.flush()
        del out
        raw.unlink()


class VerifyCandidatePairs(PipelineStep):
    """Between datatrove's MinHash stages 2 and 3: keeps a candidate pair only if its Jaccard
    estimate (fraction of equal signature values) reaches `threshold`, as NearDedup does.

    datatrove's bucket stage writes, for each run of documents sharing a band's values, the chain
    of consecutive pairs (a, b), (b, c), ...; this step rebuilds each run, checks every pair in
    it and writes those that pass into `output_folder` under the same file names, for the cluster
    stage, as (shard, row, shard, row, number of equal signature values). Each pair is counted and
    written once, in the first band it collides in (`candidates`, `rejected`, `kept_pairs`). A run
    of k documents costs k^2/2 comparisons; runs stay short since exact copies are gone by then.
    Task `rank` handles the .dups files rank, rank + world_size, ..."""

    type = "🫂 - DEDUP"
    name = "🎯 MinHash verify pairs"

    def __init__(self, input_folder: str | Path, signature_folder: str | Path, output_folder: str | Path,
                 config: MinhashConfig, threshold: float):
        super().__init__()
        self.input_folder = Path(input_folder)
        self.signature_folder = Path(signature_folder)
        self.output_folder = Path(output_folder)
        self.config = config
        self.threshold = threshold
        self._signatures: dict[int, np.ndarray] = {}

    def signature(self, file: int, doc: int) -> np.ndarray:
        if file not in self._signatures:  # memory-mapped: pages are read as pairs need them
            self._signatures[file] = np.load(signature_file(self.signature_folder, file), mmap_mode="r")
        return self._signatures[file][doc]

    def first_band(self, a: np.ndarray, b: np.ndarray) -> int:
        bands, rows = self.config.num_buckets, self.config.hashes_per_bucket
        return int(np.argmax((a[: bands * rows] == b[: bands * rows]).reshape(bands, rows).all(axis=1)))

    def verify_run(self, members: list[tuple[int, int]], band: int, out) -> None:
        # Every pair of the run, not only the chain datatrove wrote: NearDedup compares a file with
        # every kept file it collides with.
        signatures = np.stack([self.signature(*member) for member in members])
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                if self.first_band(signatures[i], signatures[j]) != band:
                    continue  # judged in an earlier band
                self.stat_update("candidates")
                if similarity(signatures[i], signatures[j]) >= self.threshold:
                    equal = int(np.count_nonzero(signatures[i] == signatures[j]))
                    out.write(struct.pack(PAIR, *members[i], *members[j], equal))
                    self.stat_update("kept_pairs")
                else:
                    self.stat_update("rejected")

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1):
        assert data is None, "VerifyCandidatePairs reads the bucket stage's files, not documents"
        self.output_folder.mkdir(parents=True, exist_ok=True)
        files = sorted(self.input_folder.glob("*.dups"))[rank::world_size]
        with self.track_time():
            for path in files:
                band = int(path.name.split("_")[0])
                with path.open("rb") as pairs, (self.output_folder / path.name).open("wb") as out:
                    run: list[tuple[int, int]] = []
                    for f1, d1, f2, d2 in read_tuples_from_file(pairs, "4I", lines_to_buffer=1024):
                        if run and run[-1] == (f1, d1):  # the chain goes on: same band values
                            run.append((f2, d2))
                        else:
                            if run:
                                self.verify_run(run, band, out)
                            run = [(f1, d1), (f2, d2)]
                    if run:
                        self.verify_run(run, band, out)


class FirstSeenCluster(MinhashDedupCluster):
    """datatrove's MinHash stage 3 with NearDedup's choice: in the documents' order (shard, then
    row), a document is removed if a verified pair joins it to an earlier document that is kept;
    its cluster is that of the most similar such (the earliest on a tie). Holds the verified pairs
    (20 bytes each) and the removed documents in memory, as datatrove's union-find holds every
    paired document."""

    name = "🎯 MinHash stage 3 (first seen kept)"

    def run(self, data: DocumentsPipeline = None, _: int = 0, world_size: int = 1):
        assert world_size == 1, "the cluster stage is one task"
        with self.track_time():
            chunks = [np.frombuffer(self.input_folder.open(name, "rb").read(), dtype="<u4").reshape(-1, 5)
                      for name in self.input_folder.list_files(glob_pattern="*.dups")]
            pairs = np.concatenate(chunks).astype(np.uint64) if chunks else np.zeros((0, 5), np.uint64)
            # A document as one number, (shard << 32) | row, so that number order is document order.
            a, b = pairs[:, 0] << np.uint64(32) | pairs[:, 1], pairs[:, 2] << np.uint64(32) | pairs[:, 3]
            earlier, later = np.minimum(a, b), np.maximum(a, b)
            # Each document's pairs together, its most similar (then earliest) earlier document first.
            order = np.lexsort((earlier, -pairs[:, 4].astype(np.int64), later))
            original: dict[int, int] = {}  # removed document -> the kept one it duplicates
            for doc, other in zip(later[order].tolist(), earlier[order].tolist()):
                if doc not in original and other not in original:
                    original[doc] = other
            members: dict[int, int] = {}  # kept document -> its cluster's size
            for kept in original.values():
                members[kept] = members.get(kept, 1) + 1
            self.stat_update("to_remove", value=len(original))
            self.stat_update("clusters", value=len(members))
            with self.output_folder.get_output_file_manager(mode="wb") as output:
                for doc in sorted({*original, *members}):
                    shard, row = divmod(doc, 1 << 32)
                    # Written (empty) for a shard that only keeps: datatrove's filter reads a shard's
                    # .sizes only when it has a .remove file.
                    output.write(f"{shard:06d}.remove", struct.pack("<I", row) if doc in original else b"")
                    if self.save_cluster_size:
                        size = members[original.get(doc, doc)]
                        output.write(f"{shard:06d}.sizes", struct.pack("<2I", row, size))
