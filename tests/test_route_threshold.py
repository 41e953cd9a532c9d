"""The proposed route threshold (arinsight.ladder.route_threshold): break-even arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinsight.ladder.route_threshold import break_even, propose

BASE = {
    "recovery_ratio": 0.8,
    "commission_pct": 20.0,
    "amount": 100.0,
    "agency_cost": 15.0,
    "step_cost": 4.5,
    "churn_delta_ratio": 0.0,
    "lifetime_value": 0.0,
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # 0.8 × 0.8 − (15 − 4.5) / 100 = 0.64 − 0.105 = 0.535
        ({}, 0.535),
        # churn after the handover: − 0.1 × 350 / 100 = − 0.35 → 0.185
        ({"churn_delta_ratio": 0.1, "lifetime_value": 350.0}, 0.185),
        # a small invoice: 0.64 − 10.5 / 20 = 0.115
        ({"amount": 20.0}, 0.115),
        # the handover never pays: below zero, clipped to 0.01 (route every case)
        ({"churn_delta_ratio": 0.3, "lifetime_value": 350.0}, 0.01),
        # a free agency recovering everything: 1.0, clipped to 0.99
        (
            {"commission_pct": 0.0, "recovery_ratio": 1.0, "agency_cost": 0.0, "step_cost": 0.0},
            0.99,
        ),
        # no amount: never route
        ({"amount": 0.0}, 0.99),
    ],
)
def test_break_even(change: dict[str, float], expected: float) -> None:
    assert break_even(**{**BASE, **change}) == pytest.approx(expected)


@pytest.mark.slow
def test_proposals_from_a_warehouse(tmp_path_factory: pytest.TempPathFactory) -> None:
    import arinsight
    from arinsight.config import load_ladder, load_settings
    from report_warehouse import small_warehouse

    db: Path = small_warehouse(tmp_path_factory)
    with arinsight.connect(str(db)) as wh:
        found = propose(wh, load_ladder(), load_settings())
        handed = wh.sql(
            "select segment, sum(count_handed_over) as n from marts.fct_recovery group by 1"
        )
    assert found
    counts = dict(handed.iter_rows())
    for p in found:
        assert 0.01 <= p.threshold_low_ratio <= p.threshold_ratio <= p.threshold_high_ratio <= 0.99
        assert p.count_handed_over == counts[p.segment] > 0
        assert 0 <= p.recovery_ratio <= 1
