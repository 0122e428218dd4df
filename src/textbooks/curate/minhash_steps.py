"""datatrove's MinHash dedup steps, made to judge pairs exactly as `textbooks.data.dedup.NearDedup`.

`NearDedupSignature` computes NearDedup's signature (`MinHasher`: our shingles, datasketch's
permutations and 32-bit scheme) instead of datatrove's own hashing, and writes it into datatrove's
per-band bucket files, so the bucket stage proposes exactly the candidate pairs datasketch's LSH
would. It also writes each document's whole signature per shard (`<rank>.npy`, one row per
document in the order the bucket files number them), for `VerifyCandidatePairs`: datatrove keeps
every LSH collision, NearDedup keeps a candidate only if its Jaccard estimate reaches the
threshold, and this step applies that check to the bucket stage's pairs before datatrove's
union-find. Memory stays bounded: the signatures are read through memory maps, one group of
documents that share a band at a time.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.binaryio import read_tuples_from_file

from textbooks.curate.steps import CodeWordTokenizer
from textbooks.data.dedup import MinHasher, similarity

ROWS_AT_ONCE = 65_536  # signature rows copied per chunk when a shard's file is finished


def signature_file(folder: str | Path, rank: int) -> Path:
    return Path(folder) / f"{rank:05d}.npy"


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
    it and writes a spanning forest of the pairs that pass (the same clusters, fewer lines) into
    `output_folder` under the same file names, for `MinhashDedupCluster`. Counts: `candidates`
    and `rejected`, each pair once (in the first band it collides in), and `kept_pairs`.
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
        signatures = np.stack([self.signature(*member) for member in members])
        parent = list(range(len(members)))  # union-find over this run only: a spanning forest

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                first = self.first_band(signatures[i], signatures[j]) == band
                accepted = similarity(signatures[i], signatures[j]) >= self.threshold
                if first:
                    self.stat_update("candidates")
                    if not accepted:
                        self.stat_update("rejected")
                if accepted and root(i) != root(j):
                    parent[root(j)] = root(i)
                    out.write(struct.pack("<4I", *members[i], *members[j]))
                    self.stat_update("kept_pairs")

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
