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
from textbooks.decontam.config import DecontamConfig

MIN_STATEMENT = DecontamConfig.min_statement_containment


def _column(matches: pa.Table, name: str, missing: Any) -> np.ndarray:
    return pc.fill_null(matches[name], missing).to_numpy(zero_copy_only=False)


def tier_flags(matches: pa.Table, tau: float, min_statement: float = MIN_STATEMENT) -> dict[str, np.ndarray]:
    """Each tier's verdict per pair: AST match rate >= tau, the problem's statement in the record,
    the record passes the problem's tests, the judge said rephrased."""
    return {"ast": _column(matches, "ast_match", -1.0) >= tau,
            "statement": _column(matches, "statement", 0.0) >= min_statement,
            "behaviour": _column(matches, "behaviour", False),
            "judge": _column(matches, "judge", False) if "judge" in matches.column_names else np.zeros(matches.num_rows, bool)}


def flags(matches: pa.Table, tau: float, min_statement: float = MIN_STATEMENT) -> np.ndarray:
    """The combined verdict per pair: any tier's."""
    return np.logical_or.reduce(list(tier_flags(matches, tau, min_statement).values()))


def split(matches: pa.Table, problems: Sequence[Problem], tau: float, min_statement: float = MIN_STATEMENT) -> dict[str, Any]:
    flagged = flags(matches, tau, min_statement)
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


def tier_table(matches: pa.Table, taus: Sequence[float], min_statement: float) -> list[str]:
    cosine = _column(matches, "embed_cosine", -1.0)
    rows = ["| tau | combined: records removed | combined: problems similar | AST >= tau: records / problems "
            f"| statement (>= {min_statement:.0%} of its word n-grams): records / problems "
            "| behaviour (passes the problem's tests): records / problems "
            "| embedding cosine >= tau: records / problems | judge said rephrased: records / problems |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for tau in taus:
        tiers = tier_flags(matches, tau, min_statement)
        combined = _counts(matches, np.logical_or.reduce(list(tiers.values())))
        per_tier = " | ".join("%d / %d" % _counts(matches, mask) for mask in
                              (tiers["ast"], tiers["statement"], tiers["behaviour"], cosine >= tau, tiers["judge"]))
        rows.append(f"| {tau:g} | {combined[0]:,} | {combined[1]:,} | {per_tier} |")
    return rows


def render(*, source: str, num_records: int, min_code_containment: float, min_statement: float, problems: Sequence[Problem],
           matches: pa.Table, tau: float, taus: Sequence[float], split_data: dict[str, Any], stats: dict[str, Any],
           calibration: Calibration, statement_calibration: str) -> str:
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
        "A record is removed when any tier flags it: the AST tier at tau; the statement tier (a benchmark "
        "problem's statement copied, whatever the code) and the behaviour tier (a function of the record "
        "passes the problem's own tests, in the sandbox) at any tau; the judge when it is used.",
        "",
        *tier_table(matches, taus, min_statement),
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
        statement_calibration,
        "",
        "## Counts",
        "",
        f"- records without code (no AST tier): {stats['records_without_code']:,}",
        f"- records compared on the AST tier: {stats['ast_records']:,}, of which with code that does not parse "
        f"(compared as text): {stats['ast_records_unparsed']:,}",
        f"- benchmark programs that do not parse (compared as text): {stats['unparsed_problems']:,}",
        f"- behaviour tier: {stats.get('behaviour_records', 0):,} records with functions run in the sandbox, "
        f"{stats.get('behaviour_tests', 0):,} (record, problem) pairs tested",
        f"- benchmark problems whose statement has no distinctive word n-gram (no statement tier): "
        f"{stats.get('problems_without_statement', 0):,}",
        f"- LLM judge: {stats.get('judge') or 'not used'}",
        "",
    ]
    return "\n".join(lines)
