"""Recalibration of the payment probabilities and the common shock in the forecast band."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from arinsight.propensity.forecast import week_error_sd, weekly
from arinsight.propensity.model import FittedModel, calibrated


def _model(**kw: object) -> FittedModel:
    return FittedModel(
        fitter=None,
        segments=("a",),
        columns=(),
        strata=frozenset(),
        cutoff=dt.date(2025, 1, 31),
        count_training_rows=0,
        count_training_events=0,
        concordance=0.5,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.3, 0.3),  # halfway between the knots 0.1 → 0.2 and 0.5 → 0.4
        (0.5, 0.4),  # on a knot
        (0.05, 0.2),  # below the first knot: its value (no extrapolation)
        (0.9, 0.4),  # above the last knot: its value
    ],
)
def test_calibrated_interpolates_the_isotonic_map(p: float, expected: float) -> None:
    m = _model(calibration={30: (np.array([0.1, 0.5]), np.array([0.2, 0.4]))})
    assert calibrated(m, 30, np.array([p]))[0] == pytest.approx(expected)
    assert calibrated(m, 7, np.array([p]))[0] == p  # no map for 7 days: unchanged


def test_a_common_shock_widens_the_band_not_the_expectation() -> None:
    # 1,000 invoices of 1 EUR, each with P(unpaid after 7 days) = 0.5, flat afterwards
    surv = np.ones((1000, 92))
    surv[:, 7:] = 0.5
    amounts = np.ones(1000)
    day = dt.date(2025, 1, 31)
    plain = weekly(surv, amounts, day, seed=1)
    shocked = weekly(surv, amounts, day, seed=1, shock_sd=0.5)
    # the expectation is analytic: 1,000 × (1 − 0.5) = 500 in week 1, nothing later
    assert plain["expected_collections_amount"][0] == pytest.approx(500.0)
    assert (
        shocked["expected_collections_amount"].to_list()
        == plain["expected_collections_amount"].to_list()
    )
    width = (plain["collections_p90_amount"] - plain["collections_p10_amount"])[0]
    wide = (shocked["collections_p90_amount"] - shocked["collections_p10_amount"])[0]
    # independent: sd √(1000 × 0.25) ≈ 15.8, p10..p90 ≈ 41; a shared shock of sd 0.5
    # moves every invoice at once: 0.5^exp(±0.64) spans ≈ 0.31..0.73 paid, ≈ 420 wide
    assert width < 60
    assert wide > 5 * width


def test_week_error_sd_pools_neighbouring_weeks_and_origins() -> None:
    expected = [100.0] * 13
    actual = [100.0] * 13
    actual[0] = 100.0 * math.exp(0.5)  # week 1 collected e^0.5 × the forecast
    actual[12] = 0.0  # week 13: nothing collected, no log ratio, left out
    sd = week_error_sd(expected, actual)
    # per week log²: 0.25, 0, 0, ..., (week 13 none)
    # week 1 = mean(0.25, 0) = 0.125; week 2 = mean(0.25, 0, 0) = 0.25 / 3;
    # week 3 = mean(0, 0, 0) = 0; week 13 = mean(week 12) = 0
    assert sd[0] == pytest.approx(math.sqrt(0.125))
    assert sd[1] == pytest.approx(math.sqrt(0.25 / 3))
    assert sd[2] == 0.0
    assert sd[12] == 0.0
    assert len(sd) == 13
    # two past origins pool per week: the second origin saw week 1 at e^−0.3 and
    # week 2 at e^0.1: week 1 = mean(0.25, 0, 0.09, 0.01) = 0.0875
    two = week_error_sd(
        [expected, expected],
        [actual, [100.0 * math.exp(-0.3), 100.0 * math.exp(0.1)] + [100.0] * 11],
    )
    assert two[0] == pytest.approx(math.sqrt(0.0875))
    # week 2 = mean(0.25, 0, 0, 0.09, 0.01, 0) = 0.35 / 6
    assert two[1] == pytest.approx(math.sqrt(0.35 / 6))
    # nothing to compare at all: no errors (the band falls back to the shock)
    assert week_error_sd([100.0, 0.0], [0.0, 5.0]) == ()


def test_week_errors_widen_their_own_week_only() -> None:
    # A (100 EUR) is paid on day 3 for sure (week 1), B (200 EUR) on day 10 (week 2):
    # without errors every draw gives 100 and 200
    surv = np.ones((2, 92))
    surv[0, 3:] = 0.0
    surv[1, 10:] = 0.0
    errors = [0.5] + [0.0] * 12
    out = weekly(surv, np.array([100.0, 200.0]), dt.date(2025, 1, 31), week_error_sd=errors)
    assert out["expected_collections_amount"][0] == pytest.approx(100.0)
    # week 1: 100 × exp(0.5 z), z standard normal: p10 = 100 × exp(−0.5 × 1.2816) = 52.7,
    # p90 = 100 × exp(0.5 × 1.2816) = 189.8 (the draws are a stratified normal grid)
    assert out["collections_p10_amount"][0] == pytest.approx(52.7, rel=0.01)
    assert out["collections_p90_amount"][0] == pytest.approx(189.8, rel=0.01)
    # week 2 has no error: its band stays the single value 200
    assert out["collections_p10_amount"][1] == pytest.approx(200.0)
    assert out["collections_p90_amount"][1] == pytest.approx(200.0)


def test_week_errors_add_only_what_the_draws_do_not_already_spread() -> None:
    # B (200 EUR) pays on day 1 with probability ½, else never; A (100 EUR) on day 3:
    # week 1 is 100 or 300 (p10 100, p90 300): on the log scale that band is
    # ±1.2816 sd with sd = ln(3) / 2.5631 = 0.4286, variance 0.1837
    surv = np.ones((2, 92))
    surv[0, 3:] = 0.0
    surv[1, 1:] = 0.5
    amounts = np.array([100.0, 200.0])
    day = dt.date(2025, 1, 31)
    # a past error of sd 0.4 (variance 0.16 < 0.1837) is already inside: unchanged
    same = weekly(surv, amounts, day, week_error_sd=[0.4] * 13)
    assert same["collections_p10_amount"][0] == pytest.approx(100.0)
    assert same["collections_p90_amount"][0] == pytest.approx(300.0)
    # sd 1.0: the draws get the remaining variance 1 − 0.1837, so the band widens
    wide = weekly(surv, amounts, day, week_error_sd=[1.0] * 13)
    assert wide["collections_p10_amount"][0] < 100.0
    assert wide["collections_p90_amount"][0] > 300.0
