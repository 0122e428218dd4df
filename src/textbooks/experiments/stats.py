"""Mean and spread over seeds, and whether a difference between two arms is inside the noise.

Two sources of noise are counted: training (the spread of a metric over seeds, the sample standard
deviation) and, for pass@1, the benchmark's finite size (a rate over T tasks has variance
p(1-p)/T). A difference is inside the noise when it is under two standard errors of the
difference, about a 95% band. With one seed and no binomial term the noise is unknown, and the
comparison says so rather than guessing. (A few lines of arithmetic: not worth scipy.)
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    values: tuple[float, ...]
    tasks: int | None = None  # for a pass rate: the tasks it is over (adds the binomial variance)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.values) if self.n > 1 else None

    def variance_of_mean(self) -> float | None:
        parts = []
        if self.sd is not None:
            parts.append(self.sd**2 / self.n)
        if self.tasks:
            parts.append(self.mean * (1 - self.mean) / self.tasks)
        return sum(parts) if parts else None

    def text(self, form: str = "{:.3f}") -> str:
        mean = form.format(self.mean)
        return mean if self.sd is None else f"{mean} ± {form.format(self.sd)}"


@dataclass(frozen=True)
class Comparison:
    difference: float  # this arm's mean minus the baseline's
    noise: float | None  # two standard errors of the difference; None when unknown

    @property
    def inside_noise(self) -> bool | None:
        if self.difference == 0:
            return True
        return None if self.noise is None else abs(self.difference) < self.noise

    def verdict(self) -> str:
        if self.difference == 0:
            return "no difference"
        if self.noise is None:
            return "noise unknown (one seed)"
        return f"{'inside' if self.inside_noise else 'outside'} the noise (2 SE = {self.noise:.3g})"


def compare(arm: Spread, baseline: Spread) -> Comparison:
    variances = [arm.variance_of_mean(), baseline.variance_of_mean()]
    noise = None if None in variances else 2 * math.sqrt(sum(variances))
    if noise == 0.0:  # every value identical on both sides (e.g. pass@1 0 everywhere): nothing to go on
        noise = None
    return Comparison(arm.mean - baseline.mean, noise)
