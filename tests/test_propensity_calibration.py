"""Recalibration of the payment probabilities and the common shock in the forecast band."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from arinsight.propensity.forecast import weekly
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
