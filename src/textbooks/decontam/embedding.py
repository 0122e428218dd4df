"""The embedding tier: the nearest benchmark problems of each record, by cosine similarity and L2.

Exact search by chunked matrix products: a chunk of records times the (few thousand) problems is
one BLAS call, so memory is chunk x problems floats and time grows linearly with the records.
For ~1,700 problems that is all the kNN needs (an approximate index such as faiss would only pay
off with far more problems than any benchmark has). Vectors come from the project's one embedder
interface (`textbooks.data.embed`), whose rows are unit length, so L2 = sqrt(2 - 2 cos).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 4096


@dataclass(frozen=True)
class Neighbours:
    record: np.ndarray
    problem: np.ndarray
    cosine: np.ndarray


def nearest(records: np.ndarray, problems: np.ndarray, k: int, min_cosine: float) -> Neighbours:
    """Each record's `k` most similar problems with cosine >= `min_cosine`, most similar first."""
    k = min(k, problems.shape[0])
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, records.shape[0], CHUNK_ROWS):
        sims = records[start : start + CHUNK_ROWS] @ problems.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(np.arange(k), (len(sims), 1))
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        cosine = np.take_along_axis(sims, top, axis=1)
        keep = cosine >= min_cosine
        rows = np.nonzero(keep)[0]
        found.append((rows + start, top[keep], cosine[keep]))
    if not found:
        return Neighbours(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    record, problem, cosine = (np.concatenate(parts) for parts in zip(*found))
    return Neighbours(record.astype(np.int64), problem.astype(np.int64), cosine.astype(np.float32))


def pair_distances(records: np.ndarray, problems: np.ndarray, record: np.ndarray, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, L2) for given pairs (any tier's candidates)."""
    r, p = records[record], problems[problem]
    cosine = np.einsum("ij,ij->i", r, p)
    l2 = np.linalg.norm(r - p, axis=1)
    return cosine.astype(np.float32), l2.astype(np.float32)
