"""Scoring one chunk of training records against every benchmark problem, tier by tier.

The n-gram and embedding tiers propose candidate pairs (record, problem); only candidates get the
AST match rate, so 1M records x ~1,700 problems costs about one AST comparison per record, not
1,700. Every candidate gets every tier's score, so the report can say what each tier saw.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from textbooks.benchmarks import Problem
from textbooks.decontam.ast_match import Normalised, match_rate, normalise, units
from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.embedding import nearest, pair_distances
from textbooks.decontam.ngrams import NgramIndex, TokenHashes, code_tokens, word_tokens
from textbooks.decontam.records import code_of

CHUNK_SCHEMA = pa.schema([
    ("record_index", pa.int64()),
    ("record_id", pa.string()),
    ("problem_index", pa.int64()),
    ("benchmark", pa.string()),
    ("task_id", pa.string()),
    ("ngram_words", pa.int32()),  # distinct word n-grams shared
    ("ngram_code", pa.float32()),  # share of the problem's normalised-code n-grams found in the record
    ("embed_cosine", pa.float32()),  # null without an embedder
    ("embed_l2", pa.float32()),
    ("ast_match", pa.float32()),  # null when the record has no code
    ("ast_as_text", pa.bool_()),  # the best comparison was as text: one side did not parse
])


class Scorer:
    def __init__(self, problems: Sequence[Problem], config: DecontamConfig, kind: str):
        from textbooks.data.embed import get_embedder

        self.problems, self.config, self.kind = list(problems), config, kind
        self.timings: Counter[str] = Counter()
        with self.timed("ngram"):
            hasher = TokenHashes()
            limit = config.max_problems_per_ngram
            self.words = NgramIndex([word_tokens(p.text) for p in self.problems], config.word_ngram, limit, hasher)
            self.code = NgramIndex([code_tokens(p.program) for p in self.problems], config.code_ngram, limit, hasher)
        with self.timed("ast"):
            # The same program in two benchmarks (HumanEval and HumanEval+) is compared once.
            forms: dict[Normalised, int] = {}
            self.form_of = np.array([forms.setdefault(normalise(p.program), len(forms)) for p in self.problems])
            self.forms = list(forms)
        with self.timed("embedding"):
            self.embedder = None if config.embedder == "none" else get_embedder(config.embedder)
            self.problem_vectors = self.embedder.embed([p.text for p in self.problems]) if self.embedder else None

    @contextmanager
    def timed(self, tier: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[tier] += time.perf_counter() - started

    @property
    def unparsed_problems(self) -> int:
        return sum(1 for form in self.form_of if not self.forms[form].parsed)

    def score(self, records: list[dict[str, Any]], offset: int) -> tuple[pa.Table, dict[str, int]]:
        """Every candidate pair of this chunk with every tier's score, and the chunk's counts."""
        config, n_problems = self.config, len(self.problems)
        texts = [r["text"] for r in records]
        codes = [code_of(r, self.kind) for r in records]
        with self.timed("ngram"):
            words = self.words.overlap([word_tokens(t) for t in texts])
            code = self.code.overlap([code_tokens("\n".join(blocks)) for blocks in codes])
            containment = code.shared / np.maximum(self.code.sizes[code.problem], 1)
            word_keys = words.record * n_problems + words.problem
            code_keys = code.record * n_problems + code.problem
            candidates = [word_keys, code_keys[containment >= config.min_code_containment]]
        vectors = None
        with self.timed("embedding"):
            if self.embedder is not None:
                vectors = self.embedder.embed(texts)
                near = nearest(vectors, self.problem_vectors, config.neighbours, config.min_cosine)
                candidates.append(near.record * n_problems + near.problem)
        pairs = np.unique(np.concatenate(candidates))
        record, problem = np.divmod(pairs, n_problems)
        columns: dict[str, Any] = {
            "ngram_words": _lookup(word_keys, words.shared, pairs, 0).astype(np.int32),
            "ngram_code": _lookup(code_keys, containment, pairs, 0.0).astype(np.float32),
        }
        with self.timed("embedding"):
            if vectors is not None:
                columns["embed_cosine"], columns["embed_l2"] = pair_distances(vectors, self.problem_vectors, record, problem)
            else:
                columns["embed_cosine"] = columns["embed_l2"] = pa.nulls(len(pairs), pa.float32())
        with self.timed("ast"):
            ast_match, as_text, stats = self._ast(codes, record, problem)
        table = pa.table({
            "record_index": record + offset,
            "record_id": [records[r]["id"] for r in record],
            "problem_index": problem,
            "benchmark": [self.problems[p].benchmark for p in problem],
            "task_id": [self.problems[p].task_id for p in problem],
            **columns,
            "ast_match": pa.array(ast_match, pa.float32(), mask=np.isnan(ast_match)),
            "ast_as_text": as_text,
        }, schema=CHUNK_SCHEMA)
        stats.update(records=len(records), records_without_code=sum(1 for blocks in codes if not blocks), pairs=len(pairs))
        return table, stats

    def _ast(self, codes: list[list[str]], record: np.ndarray, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        scores = np.full(len(record), np.nan, dtype=np.float32)
        as_text = np.zeros(len(record), dtype=bool)
        stats = Counter(ast_records=0, ast_records_unparsed=0)
        # `record` is sorted: each record's pairs are one run.
        for mine in np.split(np.arange(len(record)), np.flatnonzero(np.diff(record)) + 1):
            parts = [part for block in codes[record[mine[0]]] for part in units(block)] if len(mine) else []
            if not parts:
                continue
            stats["ast_records"] += 1
            stats["ast_records_unparsed"] += any(not part.parsed for part in parts)
            best: dict[int, tuple[float, bool]] = {}
            for j in mine:
                form = int(self.form_of[problem[j]])
                if form not in best:
                    target = self.forms[form]
                    best[form] = max(((match_rate(part, target), not (part.parsed and target.parsed)) for part in parts),
                                     key=lambda scored: scored[0])
                scores[j], as_text[j] = best[form]
        return scores, as_text, dict(stats)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, default: float) -> np.ndarray:
    """values[keys == q] for each q of `query` (keys sorted and unique), `default` where absent."""
    if not len(keys):
        return np.full(len(query), default)
    position = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[position] == query, values[position], default)
