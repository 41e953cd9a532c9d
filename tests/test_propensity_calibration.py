"""Recalibration of the payment probabilities and the common shock in the forecast band."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from arinsight.propensity.forecast import week_ratio_band, weekly
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


def test_week_ratio_band_is_the_conformal_pair_of_order_statistics() -> None:
    # one past origin, 13 weeks of 100 expected; actual 50, 80, 100, ..., week 13 nothing
    expected = [100.0] * 13
    actual = [50.0, 80.0] + [100.0] * 10 + [0.0]
    band = week_ratio_band(expected, actual, window=1, min_ratios=2)
    assert len(band) == 13
    # week 1 pools weeks 1-2: ratios 0.5, 0.8 (n = 2); the 10 % / 90 % positions
    # (n + 1) · 0.1 = 0.3 and 2.7 lie outside 1..2: the smallest and the largest
    assert band[0] == pytest.approx((0.5, 0.8))
    # week 2 pools weeks 1-3: 0.5, 0.8, 1.0 (n = 3); positions 0.4 → 0.5 and 3.6 → 1.0
    assert band[1] == pytest.approx((0.5, 1.0))
    # week 13 pools weeks 12-13: 1.0 and 0 (nothing collected is a real miss, ratio 0)
    assert band[12] == pytest.approx((0.0, 1.0))
    # four origins × three weeks = 12 ratios for week 2: 0.1, 0.2, ..., 1.2 (each
    # origin k saw weeks 1-3 at 0.1·k, 0.1·(k + 4), 0.1·(k + 8)); positions
    # 13 · 0.1 = 1.3 → 0.1 + 0.3 · 0.1 = 0.13 and 13 · 0.9 = 11.7 → 1.1 + 0.7 · 0.1 = 1.17
    many_act = [[10.0 * k, 10.0 * (k + 4), 10.0 * (k + 8)] + [100.0] * 10 for k in (1, 2, 3, 4)]
    four = week_ratio_band([expected] * 4, many_act)
    assert four[1] == pytest.approx((0.13, 1.17))
    # a week with nothing expected has no ratio; too few ratios: no band (draws instead)
    assert week_ratio_band([100.0, 0.0], [50.0, 5.0], window=0, min_ratios=1) == ()
    assert week_ratio_band(expected, actual) == ()  # one origin: 2-3 ratios a week < 5


def test_the_ratio_band_scales_the_expected_week_and_skips_the_draws() -> None:
    # A (100 EUR) is paid on day 3 for sure (week 1), B (200 EUR) on day 10 (week 2)
    surv = np.ones((2, 92))
    surv[0, 3:] = 0.0
    surv[1, 10:] = 0.0
    band = [(0.5, 1.5)] + [(0.9, 1.2)] * 12
    out = weekly(surv, np.array([100.0, 200.0]), dt.date(2025, 1, 31), week_ratio_band=band)
    assert out["expected_collections_amount"][0] == pytest.approx(100.0)
    assert out["collections_p10_amount"][0] == pytest.approx(50.0)
    assert out["collections_p90_amount"][0] == pytest.approx(150.0)
    assert out["collections_p10_amount"][1] == pytest.approx(180.0)
    assert out["collections_p90_amount"][1] == pytest.approx(240.0)
    # week 3: nothing expected, nothing in the band
    assert out["collections_p90_amount"][2] == 0.0
