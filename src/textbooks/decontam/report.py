"""What a decontamination run found: the split file and the report (phi-1's Table 3 shape).

`split.json` lists, per benchmark, the task ids similar to the training data at the chosen tau
and those not: the retraining experiment scores each part apart, as the paper did. `report.md`
counts, at every tau, the records each tier flags and the problems they touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textbooks.benchmarks import Problem
from textbooks.decontam.calibrate import Calibration


def flags(matches: pa.Table, tau: float) -> np.ndarray:
    """The combined verdict per pair: an AST match rate at or above tau, or the judge said rephrased."""
    ast = pc.fill_null(matches["ast_match"], -1.0).to_numpy()
    judged = pc.fill_null(matches["judge"], False).to_numpy(zero_copy_only=False)
    return (ast >= tau) | judged


def split(matches: pa.Table, problems: Sequence[Problem], tau: float) -> dict[str, Any]:
    flagged = flags(matches, tau)
    similar = set(zip(np.asarray(matches["benchmark"].to_pylist(), dtype=object)[flagged],
                      np.asarray(matches["task_id"].to_pylist(), dtype=object)[flagged]))
    out: dict[str, Any] = {"tau": tau, "benchmarks": {}}
    for problem in problems:
        entry = out["benchmarks"].setdefault(problem.benchmark, {"similar": [], "not_similar": []})
        entry["similar" if (problem.benchmark, problem.task_id) in similar else "not_similar"].append(problem.task_id)
    return out


def _counts(matches: pa.Table, mask: np.ndarray) -> tuple[int, int]:
    """(records, problems) among the pairs in `mask`."""
    records = len(set(np.asarray(matches["record_index"])[mask].tolist()))
    problems = len(set(np.asarray(matches["problem_index"])[mask].tolist()))
    return records, problems


def tier_table(matches: pa.Table, taus: Sequence[float]) -> list[str]:
    ast = pc.fill_null(matches["ast_match"], -1.0).to_numpy()
    cosine = pc.fill_null(matches["embed_cosine"], -1.0).to_numpy()
    judged = pc.fill_null(matches["judge"], False).to_numpy(zero_copy_only=False)
    rows = ["| tau | combined: records removed | combined: problems similar | AST >= tau: records / problems "
            "| embedding cosine >= tau: records / problems | judge said rephrased: records / problems |",
            "| --- | --- | --- | --- | --- | --- |"]
    for tau in taus:
        combined = _counts(matches, (ast >= tau) | judged)
        rows.append(f"| {tau:g} | {combined[0]:,} | {combined[1]:,} | {'%d / %d' % _counts(matches, ast >= tau)} "
                    f"| {'%d / %d' % _counts(matches, cosine >= tau)} | {'%d / %d' % _counts(matches, judged)} |")
    return rows


def render(*, source: str, num_records: int, min_code_containment: float, problems: Sequence[Problem], matches: pa.Table, tau: float,
           taus: Sequence[float], split_data: dict[str, Any], stats: dict[str, Any], calibration: Calibration) -> str:
    words = np.asarray(matches["ngram_words"]) > 0
    code = np.asarray(matches["ngram_code"])
    per_benchmark = [f"| {name} | {len(v['similar']) + len(v['not_similar']):,} | {len(v['similar']):,} |"
                     for name, v in split_data["benchmarks"].items()]
    lines = [
        "# Decontamination report",
        "",
        f"Input: `{source}`, {num_records:,} records; {len(problems):,} benchmark problems. "
        f"Chosen tau = {tau:g}: {stats['removed']:,} records removed.",
        "",
        "## Records flagged per tier (phi-1, Table 3: AST match rate tau)",
        "",
        *tier_table(matches, taus),
        "",
        f"n-gram tier (independent of tau): {'%d records / %d problems' % _counts(matches, words)} share a word "
        f"n-gram; {'%d / %d' % _counts(matches, code >= min_code_containment)} hold at least {min_code_containment:.0%} of a problem's normalised-code n-grams. "
        f"Candidate pairs scored: {stats['pairs']:,}.",
        "",
        f"## Problems similar to the training data at tau = {tau:g} (split.json)",
        "",
        "| benchmark | problems | similar |",
        "| --- | --- | --- |",
        *per_benchmark,
        "",
        "## Calibration: AST match rate of unrelated pairs (every pair of different HumanEval programs)",
        "",
        calibration.summary(tuple(sorted(set(taus) | {tau}, reverse=True))),
        "",
        "## Counts",
        "",
        f"- records without code (no AST tier): {stats['records_without_code']:,}",
        f"- records compared on the AST tier: {stats['ast_records']:,}, of which with code that does not parse "
        f"(compared as text): {stats['ast_records_unparsed']:,}",
        f"- benchmark programs that do not parse (compared as text): {stats['unparsed_problems']:,}",
        f"- LLM judge: {stats.get('judge') or 'not used'}",
        "",
    ]
    return "\n".join(lines)
