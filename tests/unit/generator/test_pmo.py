import pytest

from crucible.generator.pmo import auc_top_k


def test_constant_scores_give_that_value_after_the_first_segment() -> None:
    # first segment ramps from 0 (trapezoid), then the curve is flat at 1
    assert auc_top_k([1.0] * 1000, 1000, k=10, freq_log=100) == pytest.approx(0.95)


def test_short_run_is_extended_with_its_last_value() -> None:
    assert auc_top_k([1.0] * 500, 1000) == pytest.approx((50 + 400 + 500) / 1000)
    assert auc_top_k([1.0] * 500, 1000, finish=False) == pytest.approx(450 / 1000)


def test_calls_beyond_the_budget_are_ignored_and_top_k_is_a_mean() -> None:
    scores = [0.5] * 200 + [1.0] * 5 + [0.0] * 1000
    value = auc_top_k(scores, 200, k=10, freq_log=100)
    assert value == pytest.approx((100 * 0.25 + 100 * 0.5) / 200)
    assert auc_top_k(scores, 300, k=10) > value
