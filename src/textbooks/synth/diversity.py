"""How diverse is a synthetic dataset? (`textbooks synth report DATASET`)

Measured on a seeded sample of `sample` records (distinct n-grams and embeddings depend on how
many texts they see, so comparisons across datasets use the same sample size):
- distinct-n: distinct n-grams / all n-grams of code tokens, n = 1..4;
- mean pairwise cosine distance of the texts' embeddings;
and over all records: topic, subtopic, audience and style coverage against the taxonomy the
generator drew from, distinct function names, the length distribution; and from the manifest,
what generation cost: rejections by reason and tokens spent.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from textbooks.data.datasets import Dataset
from textbooks.data.dedup import tokens
from textbooks.data.embed import Embedder, get_embedder
from textbooks.io import atomic_write_json

NGRAM_SIZES = (1, 2, 3, 4)
PERCENTILES = (5, 25, 50, 75, 95)


def distinct_ngrams(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts (0.0 when there are none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        toks = tokens(text)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """Mean cosine distance over all pairs i != j of unit (or zero) rows, in O(n d):
    sum_{i != j} e_i . e_j = |sum_i e_i|^2 - sum_i |e_i|^2, over n (n - 1) pairs."""
    n = len(vectors)
    if n < 2:
        return 0.0
    vectors = vectors.astype(np.float64)
    total = vectors.sum(axis=0)
    similarity = (total @ total - np.einsum("ij,ij->", vectors, vectors)) / (n * (n - 1))
    return float(1.0 - similarity)


def _coverage(values: Counter, total: int | None) -> dict[str, Any]:
    present = len(values)
    return {"present": present, "total": total, "fraction": present / total if total else None,
            "most_common": values.most_common(5)}


def _distribution(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {"mean": float(array.mean()), **{f"p{p}": float(np.percentile(array, p)) for p in PERCENTILES}, "max": int(array.max())}


def diversity_report(dataset: str | Path | Dataset, embedder: Embedder | str = "hashing", sample: int = 2000, seed: int = 0) -> dict[str, Any]:
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder
    available = set(ds.column_names)
    columns = [c for c in ("text", "topic", "subtopic", "audience", "style", "function_name") if c in available]
    chosen = set(random.Random(seed).sample(range(ds.num_rows), min(sample, ds.num_rows)))
    sampled: list[str] = []
    counters: dict[str, Counter] = {c: Counter() for c in columns if c != "text"}
    char_lengths: list[int] = []
    token_lengths: list[int] = []
    for row, record in enumerate(ds.iter_records(columns)):
        text = record["text"]
        char_lengths.append(len(text))
        token_lengths.append(len(tokens(text)))
        if row in chosen:
            sampled.append(text)
        for column, counter in counters.items():
            if column == "subtopic":
                counter[f"{record['topic']} / {record['subtopic']}"] += 1
            elif record[column]:
                counter[record[column]] += 1
    synth = ds.manifest.get("synth", {})
    taxonomy = synth.get("taxonomy", {})
    totals = {"topic": taxonomy.get("topics"), "subtopic": taxonomy.get("subtopics"), "audience": taxonomy.get("audiences"),
              "style": taxonomy.get("styles"), "function_name": taxonomy.get("function_names")}
    return {
        "dataset": str(ds.path),
        "kind": ds.kind,
        "rows": ds.num_rows,
        "sample": len(sampled),
        "distinct_ngrams": {str(n): distinct_ngrams(sampled, n) for n in NGRAM_SIZES},
        "embedding": {"embedder": type(embedder).__name__, "dim": embedder.dim,
                      "mean_pairwise_distance": mean_pairwise_distance(embedder.embed(sampled))},
        "coverage": {column: _coverage(counter, totals[column]) for column, counter in counters.items()},
        "length_chars": _distribution(char_lengths),
        "length_tokens": _distribution(token_lengths),
        "generation": {key: synth.get(key) for key in ("requests", "kept", "rejected", "finish_reasons", "prompt_tokens",
                                                        "completion_tokens", "kept_completion_tokens")},
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['dataset']}: {report['rows']:,} {report['kind']} records (diversity measured on {report['sample']:,})"]
    lines.append("distinct n-grams: " + ", ".join(f"{n}-gram {v:.3f}" for n, v in report["distinct_ngrams"].items()))
    emb = report["embedding"]
    lines.append(f"mean pairwise distance ({emb['embedder']}, {emb['dim']} dims): {emb['mean_pairwise_distance']:.4f}")
    for column, cov in report["coverage"].items():
        of = f" of {cov['total']:,} ({cov['fraction']:.1%})" if cov["total"] else ""
        lines.append(f"{column} coverage: {cov['present']:,}{of}")
    for name in ("length_chars", "length_tokens"):
        dist = report[name]
        if dist:
            lines.append(f"{name.replace('_', ' in ')}: mean {dist['mean']:.0f}, median {dist['p50']:.0f}, "
                         f"p5 {dist['p5']:.0f}, p95 {dist['p95']:.0f}, max {dist['max']:,}")
    gen = report["generation"]
    if gen.get("requests") is not None:
        rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(gen["rejected"].items(), key=lambda kv: -kv[1])) or "none"
        lines.append(f"generation: {gen['kept']:,} kept of {gen['requests']:,} requests; rejected: {rejected}")
        lines.append(f"tokens spent: {gen['prompt_tokens']:,} prompt + {gen['completion_tokens']:,} completion; "
                     f"{gen['kept_completion_tokens']:,} completion tokens kept")
    return "\n".join(lines)


def default_report_path(dataset: str | Path) -> Path:
    """Beside the dataset: a published dataset directory is never written into."""
    dataset = Path(dataset)
    return dataset.parent / f"{dataset.name}.diversity.json"


def save_report(report: dict[str, Any], path: str | Path) -> None:
    atomic_write_json(path, report)
