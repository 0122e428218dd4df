"""Exact and near-duplicate detection, one text at a time (the project's one dedup module).

    dedup = NearDedup(threshold=0.8, num_perm=128)
    for id, text in records:
        if dedup.add(id, text) is None:
            keep(id, text)

Exact duplicates are found by a hash of the normalised text (whitespace runs collapsed, lower
case). Near duplicates by MinHash over shingles of `shingle_size` consecutive word/code tokens,
with `datasketch`'s LSH index proposing candidates and the MinHash Jaccard estimate confirming
them (LSH alone lets through pairs somewhat below the threshold). The first text seen is the
original; later ones are reported as duplicates of the most similar kept text (the earliest on a
tie). Memory per kept text: its id, a 20-byte hash, the LSH buckets and `num_perm` 32-bit hash
values (512 bytes at 128).

`MinHasher` and `similarity` are the one definition of a signature and of the Jaccard estimate:
the corpus-scale path (`textbooks.curate.dedup_datatrove`) uses them too, so both paths judge a
pair alike.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from datasketch import MinHash, MinHashLSH

# Words, numbers and single punctuation marks: code tokens good enough to compare texts by.
TOKEN = re.compile(r"\w+|[^\w\s]")
SCHEME = "affine32"  # datasketch's 32-bit hashing; named, so a datasketch upgrade cannot change it


@dataclass(frozen=True)
class Duplicate:
    of: str  # id of the text seen first
    kind: Literal["exact", "near"]
    similarity: float  # 1.0 for exact; the MinHash Jaccard estimate for near


def normalize(text: str) -> str:
    return " ".join(text.split()).lower()


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def shingles(text: str, size: int) -> set[bytes]:
    """Runs of `size` consecutive tokens; a text shorter than that is its own single shingle."""
    toks = tokens(text)
    if len(toks) <= size:
        return {" ".join(toks).encode("utf-8")}
    return {" ".join(toks[i : i + size]).encode("utf-8") for i in range(len(toks) - size + 1)}


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """MinHash estimate of the Jaccard similarity of two signatures: the fraction of equal values."""
    return float(np.mean(a == b))


class MinHasher:
    """The MinHash signature of a text: datasketch's `SCHEME` over the text's `shingles`."""

    def __init__(self, num_perm: int = 128, shingle_size: int = 5, seed: int = 1):
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.seed = seed
        # Drawing the permutations once, not per text, makes hashing short texts about 3x faster.
        self._permutations = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations

    def minhash(self, text: str) -> MinHash:
        signature = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self._permutations, scheme=SCHEME)
        signature.update_batch(list(shingles(text, self.shingle_size)))
        return signature

    def signature(self, text: str) -> np.ndarray:
        """`num_perm` uint32 values."""
        return self.minhash(text).hashvalues


class NearDedup:
    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle_size: int = 5, seed: int = 1):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold {threshold}: expected 0 < threshold <= 1")
        self.threshold = threshold
        self.hasher = MinHasher(num_perm, shingle_size, seed)
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._exact: dict[bytes, str] = {}
        self._signatures: dict[str, np.ndarray] = {}
        self._order: dict[str, int] = {}
        self.counts = {"kept": 0, "exact": 0, "near": 0}

    def match(self, id: str, text: str) -> Duplicate | None:
        """The duplicate `text` is of, or None; a text that is new is remembered under `id`."""
        digest = hashlib.sha1(normalize(text).encode("utf-8")).digest()
        if digest in self._exact:
            self.counts["exact"] += 1
            return Duplicate(self._exact[digest], "exact", 1.0)
        signature = self.hasher.minhash(text)
        best: Duplicate | None = None
        # In the order the candidates were kept, so a tie goes to the earliest whatever the set
        # order (the corpus-scale path decides ties the same way).
        for candidate in sorted(self._lsh.query(signature), key=self._order.__getitem__):
            estimate = similarity(self._signatures[candidate], signature.hashvalues)
            if estimate >= self.threshold and (best is None or estimate > best.similarity):
                best = Duplicate(candidate, "near", estimate)
        if best is not None:
            self.counts["near"] += 1
            return best
        if id in self._signatures:
            raise ValueError(f"id {id!r} added twice")
        self._exact[digest] = id
        self._signatures[id] = signature.hashvalues
        self._order[id] = len(self._order)
        self._lsh.insert(id, signature)
        self.counts["kept"] += 1
        return None

    def add(self, id: str, text: str) -> str | None:
        """The id of the text this one duplicates, or None (then it is kept and remembered)."""
        duplicate = self.match(id, text)
        return None if duplicate is None else duplicate.of

    def __len__(self) -> int:
        return len(self._signatures)
