"""The proposed route threshold (arinsight.ladder.route_threshold): break-even arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinsight.ladder.route_threshold import (
    ThresholdProposal,
    break_even,
    case_gain,
    effect,
    propose,
    supported,
)

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


def _proposal(**kw: float) -> ThresholdProposal:
    base: dict[str, float] = {
        "threshold_ratio": 0.2,
        "threshold_low_ratio": 0.1,
        "threshold_high_ratio": 0.3,
        "median_amount": 100.0,
        "recovery_ratio": 0.8,
        "churn_delta_ratio": 0.1,
        "count_handed_over": 200,
        "churn_delta_low_ratio": 0.05,
        "churn_delta_high_ratio": 0.15,
    }
    base.update(kw)
    n = int(base.pop("count_handed_over"))
    return ThresholdProposal(segment="consumer", count_handed_over=n, **base)


INPUTS = {
    "recovery_ratio": 0.8,
    "commission_pct": 20.0,
    "agency_cost": 15.0,
    "step_cost": 4.5,
    "lifetime_value": 350.0,
}


def test_case_gain_is_zero_at_the_break_even() -> None:
    # at A = 100 and Δq = 0.1 the break-even is 0.185 (test_break_even): routing such a
    # case gains nothing; at p = 0.5 it gains (0.5 − 0.185) × 100 = 31.5
    kw = {**INPUTS, "amount": 100.0, "churn_delta_ratio": 0.1}
    assert case_gain(paid_ratio=0.185, **kw) == pytest.approx(0.0)
    assert case_gain(paid_ratio=0.5, **kw) == pytest.approx(31.5)


def test_effect_routes_the_cases_above_the_threshold() -> None:
    # three past handovers of 100 EUR with p = 0.1, 0.3, 0.5: at threshold 0.3 the
    # last two are routed. Gain per case = 100 p − 4.5 − (0.64 × 100 − 15) + 350 Δq
    # = 100 p − 53.5 + 350 Δq. Δq = 0.10: (30 − 18.5) + (50 − 18.5) = 11.5 + 31.5 = 43;
    # Δq = 0.05: 43 − 2 × 17.5 = 8; Δq = 0.15: 43 + 35 = 78
    e = effect(_proposal(), 4, 0.3, [0.1, 0.3, 0.5], [100.0, 100.0, 100.0], INPUTS)
    assert (e.count_cases, e.count_routed, e.threshold_ratio) == (3, 2, 0.3)
    assert e.delta_net_value_amount == pytest.approx(43.0)
    assert e.delta_net_value_amount_low == pytest.approx(8.0)
    assert e.delta_net_value_amount_high == pytest.approx(78.0)


@pytest.mark.parametrize(
    ("proposal", "probs", "ok", "says"),
    [
        # twelve routed cases at p = 0.5: low bound 12 × (50 − 53.5 + 17.5) = 168 > 0
        (_proposal(), [0.5] * 12, True, "route: Telefonat (phone) instead of stage 4"),
        # too few handovers behind recovery and churn
        (_proposal(count_handed_over=99), [0.5] * 12, False, "only 99 handovers"),
        # too few cases reach the threshold
        (_proposal(), [0.5] * 9 + [0.1] * 30, False, "9 of 39 handovers"),
        # Δq's lower bound 0: 12 × (50 − 53.5) < 0 — not carried by the evidence
        (_proposal(churn_delta_low_ratio=0.0), [0.5] * 12, False, "not positive"),
    ],
)
def test_a_route_is_proposed_only_where_the_evidence_carries_it(
    proposal: ThresholdProposal, probs: list[float], ok: bool, says: str
) -> None:
    e = effect(proposal, 4, 0.3, probs, [100.0] * len(probs), INPUTS)
    decided, why = supported(proposal, e)
    assert decided is ok
    assert says in why


@pytest.mark.slow
def test_extend_adds_routes_only_where_supported(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring into `arinsight recommend` on a small simulated warehouse (the
    evidence minimums lowered to its size): every proposed route is in the ladder
    with its threshold and no fallback, its reason in the segment's rationale;
    a route the ladder in force already has on the handover is kept, not replaced."""
    from arinsight.config import Route, RouteStep, load_ladder
    from arinsight.ladder import route_threshold as rt
    from report_warehouse import small_warehouse

    monkeypatch.setattr(rt, "MIN_HANDED_OVER", 5)
    monkeypatch.setattr(rt, "MIN_ROUTED", 1)
    db: Path = small_warehouse(tmp_path_factory)
    lad = load_ladder()
    segments = ("consumer", "enterprise", "smb")
    rows = [{"segment": s, "stage_number": -1, "rationale": "kept as is"} for s in segments]
    new, summary = rt.extend(db, lad, lad, rows)
    entries = {e["segment"]: e for e in summary["routes"]}
    assert entries, "the small world hands cases over: every such segment is assessed"
    proposed = {s: e for s, e in entries.items() if e["proposed"]}
    # a route that would send every case the gentler step (cautious break-even at the
    # 0.01 floor) is written as the step replacing the handover; others as routes
    replaced = {s for s, e in proposed.items() if e.get("replaces_stage")}
    assert replaced, "in the small world the handover pays for no smb case: replaced"
    assert replaced == {s for s, e in proposed.items() if e["threshold_interval"][1] <= 0.01}
    assert {r.segments[0]: r.min_paid_ratio for r in new.route if r.segments} == {
        s: e["route_threshold_ratio"] for s, e in proposed.items() if s not in replaced
    }
    for seg in segments:
        handover = next(s for s in new.for_segment(seg) if s.stage == 4)
        before = next(s for s in lad.for_segment(seg) if s.stage == 4)
        if seg in replaced:
            assert (handover.name, handover.channel, handover.fee) == ("Telefonat", "phone", 0.0)
            assert handover.offset_days == before.offset_days
        else:
            assert handover == before
    for r in new.route:
        assert (r.stage, r.instead.channel, r.fallback_after_days) == (4, "phone", None)
    for e in entries.values():
        assert e["rationale"]
        if "delta_net_value_interval" in e:
            low, high = e["delta_net_value_interval"]
            assert low <= e["delta_net_value_amount"] <= high
        assert e["proposed"] == (e.get("delta_net_value_interval", [0])[0] > 0)
    for row in rows:
        assert ("; route: " in row["rationale"]) == (row["segment"] in proposed)
    # the user's own route on the handover stays as it is
    user = lad.model_copy(
        update={
            "route": (
                Route(stage=4, min_paid_ratio=0.5, instead=RouteStep(name="call", channel="phone")),
            )
        }
    )
    again, summary2 = rt.extend(db, user, user, [])
    assert again.route == user.route
    assert all(not e["proposed"] for e in summary2["routes"])
