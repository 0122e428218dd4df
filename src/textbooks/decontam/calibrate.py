"""How often the AST tier calls unrelated programs copies: the match rate over every pair of
different HumanEval programs (164 choose 2 = 13,366 pairs), all pairs and those of similar length
(the shorter dump at least 80% of the longer; these are the hard ones). tau is chosen so that at
most 1% of unrelated pairs reach it. The statement tier the same way: how many different HumanEval
and MBPP problems hold enough of each other's statement to be flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz.process import cdist

from textbooks.benchmarks import benchmark_problems
from textbooks.decontam.ast_match import normalise, similarity
from textbooks.decontam.ngrams import NgramIndex, TokenHashes, word_tokens
from textbooks.decontam.statement import problem_statement

SIMILAR_LENGTH = 0.8
PERCENTILES = (50, 90, 99, 99.9)


@dataclass(frozen=True)
class Calibration:
    rates: np.ndarray  # match rate of each unrelated pair
    similar_length: np.ndarray  # bool per pair

    def share_at_or_above(self, tau: float, similar_length_only: bool = False) -> float:
        rates = self.rates[self.similar_length] if similar_length_only else self.rates
        return float((rates >= tau).mean()) if len(rates) else 0.0

    def summary(self, taus: tuple[float, ...]) -> str:
        lines = []
        for label, rates in (("all pairs", self.rates), ("similar length", self.rates[self.similar_length])):
            cuts = ", ".join(f"p{q:g} {np.percentile(rates, q):.3f}" for q in PERCENTILES)
            shares = ", ".join(f">= {tau:g}: {(rates >= tau).mean():.2%}" for tau in taus)
            lines.append(f"- {label} ({len(rates):,}): {cuts}, max {rates.max():.3f}; flagged {shares}")
        return "\n".join(lines)


def calibrate(data_dir: str | Path | None = None) -> Calibration:
    dumps = [normalise(p.program).dump for p in benchmark_problems(["humaneval"], data_dir)]
    matrix = cdist(dumps, dumps, scorer=similarity, dtype=np.float32)
    first, second = np.triu_indices(len(dumps), k=1)
    lengths = np.array([len(d) for d in dumps])
    shorter, longer = np.minimum(lengths[first], lengths[second]), np.maximum(lengths[first], lengths[second])
    return Calibration(matrix[first, second], shorter >= SIMILAR_LENGTH * longer)


def statement_calibration(min_statement: float, n: int, max_df: int, data_dir: str | Path | None = None) -> str:
    """One line: the ordered pairs of different HumanEval and MBPP problems in which one problem's
    text holds at least `min_statement` of the other's statement n-grams (MBPP asks some tasks
    twice, so a few of these are the same task)."""
    problems = benchmark_problems(["humaneval", "mbpp"], data_dir)
    index = NgramIndex([word_tokens(problem_statement(p)) for p in problems], n, max_df, TokenHashes())
    said = index.overlap([word_tokens(p.text) for p in problems])
    share = said.shared / np.maximum(index.sizes[said.problem], 1)
    flagged = int(((share >= min_statement) & (said.record != said.problem)).sum())
    pairs = len(problems) * (len(problems) - 1)
    return (f"- statement tier: {flagged:,} of the {pairs:,} ordered pairs of different HumanEval and MBPP problems "
            f"({flagged / pairs:.4%}) hold at least {min_statement:.0%} of the other's statement {n}-grams")
