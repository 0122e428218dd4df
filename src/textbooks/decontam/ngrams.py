"""The n-gram tier: hashed n-grams shared between training records and benchmark problems.

Two views of a text, each cut into n-grams:
  words        lower-cased `\\w+` runs, 13 at a time by default (phi-1's and GPT-3's test);
  code tokens  Python tokens with identifiers abstracted to `I`, numbers to `N` and strings to `S`
               (keywords, builtins and operators kept, comments dropped), so a renamed copy of a
               solution still shares all of its n-grams.
Every token gets a 64-bit hash (blake2b, so runs agree across processes), an n-gram the
polynomial hash of its tokens' hashes, computed for a whole batch at once with numpy. The
benchmark side is a sorted array of n-gram hashes with, for each, the problems that contain it;
a batch of records is matched with one `searchsorted`. Memory is bounded by the benchmark index
(~1,700 problems: a few hundred thousand hashes) and one batch.

Hand-written rather than datatrove's `decont` step: that one depends on lighteval, which fetches
the benchmarks from the Hugging Face Hub.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"\w+")
_CODE_TOKEN = re.compile(
    r"""(?P<string>(?:[rRbBuUfF]{1,2})?(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))"""
    r"|(?P<comment>#[^\n]*)|(?P<number>\d[\w.]*)|(?P<name>[^\W\d]\w*)|(?P<op>[^\w\s])"
)
# Names that mean the same in every program: kept, they make a code n-gram specific.
_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_ABSTRACT = {"string": "S", "number": "N"}
_PRIME = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: the polynomial base, odd and large


def word_tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


def code_tokens(code: str) -> list[str]:
    tokens = []
    for match in _CODE_TOKEN.finditer(code):
        kind, token = match.lastgroup, match.group()
        if kind == "name":
            tokens.append(token if token in _KEPT_NAMES else "I")
        elif kind == "op":
            tokens.append(token)
        elif kind != "comment":
            tokens.append(_ABSTRACT[kind])
    return tokens


class TokenHashes:
    """A stable 64-bit hash per distinct token, memoised (vocabularies are small, texts are not)."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def _new(self, token: str) -> int:
        value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        self._known[token] = value
        return value

    def flat(self, texts: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """All texts' token hashes end to end (uint64), and each text's token count."""
        known, new = self._known, self._new
        values = [known.get(t) or new(t) for tokens in texts for t in tokens]
        return np.array(values, dtype=np.uint64), np.array([len(t) for t in texts], dtype=np.int64)


def ngram_hashes(flat: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text index) of every n-gram that lies inside one text; a text shorter than n has none."""
    windows = len(flat) - n + 1
    if windows <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    hashes = np.zeros(windows, dtype=np.uint64)
    for k in range(n):  # Horner's rule over the window, modulo 2**64 (uint64 wraps)
        hashes = hashes * _PRIME + flat[k : k + windows]
    ends = np.cumsum(lengths)
    owner = np.repeat(np.arange(len(lengths)), lengths)[:windows]
    inside = np.arange(windows) + n <= ends[owner]
    return hashes[inside], owner[inside]


@dataclass(frozen=True)
class Overlap:
    """Per (record, problem) pair sharing n-grams: how many distinct ones."""

    record: np.ndarray  # index of the record in its batch
    problem: np.ndarray  # index of the problem
    shared: np.ndarray


class NgramIndex:
    """The benchmark problems' n-grams of one view; `overlap` matches a batch of records against them.

    An n-gram found in more than `max_df` problems is boilerplate (`def I ( I ) :` with its
    docstring quotes, "write a python function to ..."), not evidence of a copy: it is left out.
    `sizes[p]` counts problem p's distinct indexed n-grams, the denominator of containment.
    """

    def __init__(self, problem_tokens: Sequence[list[str]], n: int, max_df: int, hasher: TokenHashes):
        self.n, self.hasher = n, hasher
        hashes, owner = ngram_hashes(*hasher.flat(problem_tokens), n)
        pairs = np.unique(np.stack([hashes, owner.astype(np.uint64)], axis=1), axis=0)  # distinct per problem
        keys, first, df = np.unique(pairs[:, 0], return_index=True, return_counts=True)
        kept = df <= max_df
        self.keys = keys[kept]
        self.starts = np.concatenate([[0], np.cumsum(df[kept])])
        rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first[kept], df[kept])]) if kept.any() else np.zeros(0, dtype=np.int64)
        self.problems = pairs[rows, 1].astype(np.int64)
        self.sizes = np.bincount(self.problems, minlength=len(problem_tokens))
        self.dropped = int((~kept).sum())

    def overlap(self, record_tokens: Sequence[list[str]]) -> Overlap:
        hashes, owner = ngram_hashes(*self.hasher.flat(record_tokens), self.n)
        empty = np.zeros(0, dtype=np.int64)
        if not len(self.keys) or not len(hashes):
            return Overlap(empty, empty, empty)
        position = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        hit = self.keys[position] == hashes
        distinct = np.unique(owner[hit] * len(self.keys) + position[hit])  # each n-gram once per record
        record, key = np.divmod(distinct, len(self.keys))
        per_key = self.starts[key + 1] - self.starts[key]
        # Expand each (record, n-gram) to the problems holding the n-gram.
        offsets = np.repeat(self.starts[key] - np.cumsum(per_key) + per_key, per_key) + np.arange(per_key.sum())
        pair = np.repeat(record, per_key) * len(self.sizes) + self.problems[offsets]
        pair, shared = np.unique(pair, return_counts=True)
        record, problem = np.divmod(pair, len(self.sizes))
        return Overlap(record, problem, shared)

