"""A proposed ``min_paid_ratio`` for a route that replaces the agency handover.

Break-even per case of amount *A*, from the warehouse and the settings only
(never world files or truth):

- hand over: the agency recovers a share *r* of the amount handed over
  (``fct_recovery``: agency recovered ÷ handed over), keeps the commission *c*,
  costs *k_a*, and customers whose highest stage is the handover churn more
  than those who stopped one stage before: Δq (``fct_stage_reached``,
  involuntary churn by highest stage) × lifetime value *L*;
- the gentler step: paid with probability *p* (the payment model), costs *k_s*;
  nothing more if unpaid (no fallback).

Route when p·A − k_s ≥ r·(1 − c)·A − k_a − Δq·L, i.e.

    p* = r·(1 − c) − (k_a − k_s + Δq·L) / A

clipped to [0.01, 0.99] (below 0.01: the handover does not pay at amount *A*
for anyone; route every case). *A* is the median amount handed over in the
segment. Δq is observational — customers who reach the agency differ from the
others in more than the agency — so the proposal is a starting point for a
randomised test, not a measured effect; its interval comes from Δq's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arinsight.config import Ladder, Settings
    from arinsight.warehouse import Warehouse

MIN_THRESHOLD, MAX_THRESHOLD = 0.01, 0.99


def break_even(
    *,
    recovery_ratio: float,
    commission_pct: float,
    amount: float,
    agency_cost: float,
    step_cost: float,
    churn_delta_ratio: float,
    lifetime_value: float,
) -> float:
    """p* of the module doc, clipped to [0.01, 0.99] (pure; see the tests)."""
    if amount <= 0:
        return MAX_THRESHOLD
    p = (
        recovery_ratio * (1 - commission_pct / 100)
        - (agency_cost - step_cost + churn_delta_ratio * lifetime_value) / amount
    )
    return min(max(p, MIN_THRESHOLD), MAX_THRESHOLD)


@dataclass(frozen=True)
class ThresholdProposal:
    """One segment's proposed threshold and what it rests on (ratios 0-1, amounts EUR)."""

    segment: str
    threshold_ratio: float
    threshold_low_ratio: float  # with Δq at its upper 95 % bound (handover costlier)
    threshold_high_ratio: float  # with Δq at its lower bound
    median_amount: float
    recovery_ratio: float
    churn_delta_ratio: float
    count_handed_over: int


def propose(
    wh: Warehouse, ladder: Ladder, settings: Settings, step_channel: str = "phone"
) -> list[ThresholdProposal]:
    """A threshold per segment with a handover stage and handed-over cases ([] if none)."""
    nv = settings.net_value
    out: list[ThresholdProposal] = []
    segments = wh.sql("select distinct segment from marts.fct_stage_reached order by 1")
    for seg in segments["segment"].to_list():
        stages = ladder.for_segment(seg)
        agency = [i for i, s in enumerate(stages) if s.channel == "collection_agency"]
        if not agency or agency[0] == 0:
            continue
        k, before = stages[agency[0]].stage, stages[agency[0] - 1].stage
        rec = wh.sql(
            "select sum(agency_recovered_amount) as r, sum(handed_over_amount) as h, "
            "sum(count_handed_over) as n from marts.fct_recovery where segment = ?",
            [seg],
        ).row(0, named=True)
        amounts = wh.sql(
            "select median(invoice_amount) as a from marts.fct_invoice_lifecycle "
            "where segment = ? and agency_handover_date is not null",
            [seg],
        )["a"][0]
        churn = {
            r["highest_stage_number"]: r
            for r in wh.sql(
                "select * from marts.fct_stage_reached where segment = ? "
                "and highest_stage_number in (?, ?)",
                [seg, k, before],
            ).iter_rows(named=True)
        }
        if not rec["h"] or amounts is None or k not in churn or before not in churn:
            continue
        r = float(rec["r"] or 0) / float(rec["h"])
        a, b = churn[k], churn[before]
        dq = (float(a["involuntary_churn_pct"]) - float(b["involuntary_churn_pct"])) / 100
        # a conservative interval: the stage's bounds against the other's estimate
        dq_hi = (
            float(a["involuntary_churn_ci_high_pct"]) - float(b["involuntary_churn_pct"])
        ) / 100
        dq_lo = (float(a["involuntary_churn_ci_low_pct"]) - float(b["involuntary_churn_pct"])) / 100

        inputs = {
            "recovery_ratio": r,
            "commission_pct": nv.agency_commission_pct,
            "amount": float(amounts),
            "agency_cost": nv.channel_cost.get("collection_agency", 0.0),
            "step_cost": nv.channel_cost.get(step_channel, 0.0),  # type: ignore[call-overload]
            "lifetime_value": nv.lifetime_value(seg),
        }
        at = {d: break_even(churn_delta_ratio=d, **inputs) for d in (dq, dq_hi, dq_lo)}

        out.append(
            ThresholdProposal(
                segment=seg,
                threshold_ratio=at[dq],
                threshold_low_ratio=at[dq_hi],
                threshold_high_ratio=at[dq_lo],
                median_amount=float(amounts),
                recovery_ratio=r,
                churn_delta_ratio=dq,
                count_handed_over=int(rec["n"] or 0),
            )
        )
    return out
