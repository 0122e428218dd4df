"""The learning rate at each optimizer step: linear warmup, then a linear or cosine decay.

A pure function of the step, so the schedule's whole state is the step number (saved in every
checkpoint). Steps count from 1: step 1 is the first update.

The decay runs over `total_steps`, which may exceed the steps actually trained: phi-1-base is the
24K-step checkpoint of a 36K-step schedule (paper, section 2), so its last update still uses
1e-3 * (36000 - 24000) / (36000 - 750) = 3.4e-4.
"""

from __future__ import annotations

import math


def lr_at(step: int, *, peak: float, warmup_steps: int, total_steps: int, kind: str = "linear",
          min_lr: float = 0.0) -> float:
    if step <= warmup_steps:
        return peak * step / warmup_steps
    if kind == "constant":
        return peak
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    if kind == "linear":
        remaining = 1.0 - progress
    elif kind == "cosine":
        remaining = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule kind {kind!r}")
    return min_lr + (peak - min_lr) * remaining
