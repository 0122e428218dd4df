"""pass@k: the unbiased estimator of Chen et al. (2021) and a bootstrap interval over tasks.

With n samples of a task of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), the chance that k
samples drawn without replacement hold at least one pass; computed as a running product so that
n = 200 does not overflow. The benchmark's score is its mean over tasks. The 95% interval
resamples the tasks with replacement: what another draw of tasks like these could have given
(164 tasks at 50% pass@1: sqrt(0.5 * 0.5 / 164) = 3.9 points of standard error, about +-7.7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KS = (1, 10, 100)
BOOTSTRAP_RESAMPLES = 10_000


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k for one task with `c` of `n` samples passing."""
    if not 0 <= c <= n or k > n:
        raise ValueError(f"pass@{k} needs 0 <= c <= n and k <= n; got n={n}, c={c}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def score(counts: Sequence[tuple[int, int]], ks: Sequence[int] = KS, *, resamples: int = BOOTSTRAP_RESAMPLES,
          seed: int = 0) -> dict[str, dict[str, float]]:
    """{"pass@k": {"estimate", "ci_low", "ci_high"}} over tasks' (n, c), for each k <= every n."""
    if not counts:
        return {}
    smallest_n = min(n for n, _ in counts)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(counts), size=(resamples, len(counts)))
    table = {}
    for k in ks:
        if k > smallest_n:
            continue
        per_task = np.array([pass_at_k(n, c, k) for n, c in counts])
        means = per_task[picks].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        table[f"pass@{k}"] = {"estimate": float(per_task.mean()), "ci_low": float(low), "ci_high": float(high)}
    return table
