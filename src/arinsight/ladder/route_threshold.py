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

:func:`extend` wires it into ``arinsight recommend``: a ``route`` rule (a phone
call instead of the handover, no fallback — the break-even above assumes
nothing more happens to an unpaid routed case) is proposed for a segment only
where the evidence carries it (:func:`supported`), with its expected effect
over the last year's handovers (:func:`effect`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import numpy as np

    from arinsight.config import Ladder, Settings
    from arinsight.warehouse import Warehouse

MIN_THRESHOLD, MAX_THRESHOLD = 0.01, 0.99
#: Fewer handovers than this in a segment: no route is proposed (too little evidence).
MIN_HANDED_OVER = 100
#: Fewer handovers of the last year above the threshold than this: no route.
MIN_ROUTED = 10
#: The gentler step a proposed route sends instead of the handover.
ROUTE_STEP_NAME: Final = "Telefonat"
ROUTE_STEP_CHANNEL: Final = "phone"
#: The horizon of the route's probability (``Route.within_days``).
ROUTE_WITHIN_DAYS = 30


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
    churn_delta_low_ratio: float = 0.0  # Δq at its lower 95 % bound
    churn_delta_high_ratio: float = 0.0  # Δq at its upper 95 % bound


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
        needed = (
            a["involuntary_churn_pct"],
            a["involuntary_churn_ci_low_pct"],
            a["involuntary_churn_ci_high_pct"],
            b["involuntary_churn_pct"],
        )
        if any(x is None for x in needed):  # no customer to measure churn on
            continue
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
                churn_delta_low_ratio=dq_lo,
                churn_delta_high_ratio=dq_hi,
            )
        )
    return out


@dataclass(frozen=True)
class RouteEffect:
    """What a route at a proposal's threshold would have done to the handovers of the
    last year (amounts EUR; ``delta_*`` Δ net value against handing every case over)."""

    segment: str
    stage: int
    threshold_ratio: float
    count_cases: int
    count_routed: int
    delta_net_value_amount: float
    delta_net_value_amount_low: float  # Δq at its lower 95 % bound
    delta_net_value_amount_high: float  # Δq at its upper 95 % bound


def case_gain(
    *,
    paid_ratio: Any,
    amount: Any,
    recovery_ratio: float,
    commission_pct: float,
    agency_cost: float,
    step_cost: float,
    churn_delta_ratio: float,
    lifetime_value: float,
) -> Any:
    """Δ net value of routing one case instead of handing it over (the module doc):
    p·A − k_s − (r·(1 − c)·A − k_a − Δq·L); zero at p = p* for that amount. Pure."""
    handover = recovery_ratio * (1 - commission_pct / 100) * amount - agency_cost
    return paid_ratio * amount - step_cost - (handover - churn_delta_ratio * lifetime_value)


def effect(
    proposal: ThresholdProposal,
    stage: int,
    threshold: float,
    paid_ratio: Any,
    amount: Any,
    inputs: dict[str, float],
) -> RouteEffect:
    """Route the cases with ``paid_ratio`` ≥ ``threshold``; sum their gains at the
    proposal's Δq and at its 95 % bounds.

    ``paid_ratio``: per past handover, the model's P(paid within 30 days without the
    agency) on its handover day; ``amount``: its amount; ``inputs``: the
    :func:`case_gain` terms other than p, A and Δq. Pure (see the tests).
    """
    import numpy as np

    routed = np.asarray(paid_ratio, float) >= threshold
    p, a = np.asarray(paid_ratio, float)[routed], np.asarray(amount, float)[routed]
    mid, low, high = (
        float(np.sum(case_gain(paid_ratio=p, amount=a, churn_delta_ratio=dq, **inputs)))
        for dq in (
            proposal.churn_delta_ratio,
            proposal.churn_delta_low_ratio,
            proposal.churn_delta_high_ratio,
        )
    )
    return RouteEffect(
        segment=proposal.segment,
        stage=stage,
        threshold_ratio=threshold,
        count_cases=int(routed.size),
        count_routed=int(routed.sum()),
        delta_net_value_amount=mid,
        delta_net_value_amount_low=low,
        delta_net_value_amount_high=high,
    )


def supported(proposal: ThresholdProposal, e: RouteEffect) -> tuple[bool, str]:
    """Whether the evidence carries a route, and why (not). Pure.

    A route is proposed only with at least :data:`MIN_HANDED_OVER` handovers
    behind the recovery and churn terms, at least :data:`MIN_ROUTED` of the last
    year's handovers above the threshold, and a positive expected Δ net value
    even with the churn difference Δq at its lower 95 % bound. (:func:`extend`
    routes at that bound's threshold too, ``threshold_high_ratio``: the
    cautious end.)
    """
    if proposal.count_handed_over < MIN_HANDED_OVER:
        return False, (
            f"only {proposal.count_handed_over} handovers (need {MIN_HANDED_OVER}) behind "
            "the agency's recovery and churn"
        )
    if e.count_routed < MIN_ROUTED:
        return False, (
            f"{e.count_routed} of {e.count_cases} handovers of the last year reach the "
            f"threshold {e.threshold_ratio:.2f} (need {MIN_ROUTED})"
        )
    if e.delta_net_value_amount_low <= 0:
        return False, (
            f"expected Δ net value {e.delta_net_value_amount:+,.0f} EUR is not positive with "
            f"the churn difference at its lower bound ({e.delta_net_value_amount_low:+,.0f})"
        )
    return True, (
        f"route: {ROUTE_STEP_NAME} ({ROUTE_STEP_CHANNEL}) instead of stage {e.stage} when "
        f"P(paid within {ROUTE_WITHIN_DAYS} d) >= {e.threshold_ratio:.2f} (break-even at "
        f"{proposal.median_amount:,.0f} EUR with the extra churn at its lower 95 % bound, "
        f"{proposal.threshold_ratio:.2f} at its estimate; recovery "
        f"{proposal.recovery_ratio:.0%}, extra churn after the handover "
        f"{proposal.churn_delta_ratio * 100:+.1f} points); "
        f"{e.count_routed} of {e.count_cases} handovers of the last year would have been "
        f"routed, expected Δ net value {e.delta_net_value_amount:+,.0f} EUR "
        f"({e.delta_net_value_amount_low:+,.0f} to {e.delta_net_value_amount_high:+,.0f} with "
        "Δq at its 95 % bounds); observational, the model runs optimistic at the handover "
        "day (docs/propensity.md): test it on a random share first"
    )


def _handover_probabilities(
    wh: Warehouse, as_of: dt.date, segment: str
) -> tuple[np.ndarray, np.ndarray]:
    """P(paid within 30 days without the agency) on the handover day, and the amount,
    for the segment's handovers of the year before ``as_of``.

    The payment model is fitted on the warehouse with payments after a handover not
    counting (``without_agency``); each case is scored at the month end before its
    handover and read conditionally: (S(t) − S(t + 30)) ÷ S(t), t = days from that
    month end to the handover. In sample: the model saw these cases' outcomes.
    """
    import numpy as np
    import polars as pl

    from arinsight.propensity.features import month_ends, point_in_time
    from arinsight.propensity.model import MAX_DAYS, fit, survival_matrix

    model = fit(wh, as_of, without_agency=True, held_out_calibration=False)
    origins = month_ends(as_of - dt.timedelta(days=366), as_of - dt.timedelta(days=1))
    feats = point_in_time(wh, origins).filter(
        (pl.col("segment") == segment)
        & pl.col("agency_handover_date").is_not_null()
        & (pl.col("agency_handover_date") > pl.col("origin_date"))
        & (pl.col("agency_handover_date") <= pl.col("origin_date") + pl.duration(days=31))
        & (pl.col("agency_handover_date") <= as_of)
    )
    if feats.height == 0:
        return np.zeros(0), np.zeros(0)
    surv = survival_matrix(model, feats)
    t = (feats["agency_handover_date"] - feats["origin_date"]).dt.total_days().to_numpy()
    t = np.clip(t, 0, MAX_DAYS - ROUTE_WITHIN_DAYS)
    rows = np.arange(feats.height)
    at, later = surv[rows, t], surv[rows, t + ROUTE_WITHIN_DAYS]
    p = np.where(at > 0, (at - later) / np.where(at > 0, at, 1.0), 0.0)
    return p, feats["invoice_amount"].cast(pl.Float64).to_numpy()


#: ``judge(segment, stage) -> (ok, handover row columns, whole-ladder row columns, why)``:
#: may the call replace the handover on the recommender's fitted model
#: (``recommend._call_judge``)?
Judge = Callable[[str, int], tuple[bool, dict[str, Any], dict[str, Any], str]]


def extend(
    db: str | Path | None,
    proposal: Ladder,
    current: Ladder,
    rows: list[dict[str, Any]],
    judge: Judge | None = None,
) -> tuple[Ladder, dict[str, Any]]:
    """Add ``route`` rules to a recommendation where the evidence carries them.

    Per segment with a handover in ``proposal`` and no route of the user's on it
    (``current`` keeps its own routes): the break-even threshold
    (:func:`propose`), its effect on the last year's handovers (:func:`effect`),
    the decision (:func:`supported`). A supported route is added to the ladder
    and its reason appended to the rationale of the segment's handover row (or
    its whole-segment row); every segment's evidence goes into the summary
    ``{"routes": [...]}``. Warehouse and settings only — never world files.

    Where the cautious break-even is at its floor the call would replace the stage;
    with ``judge`` (``arinsight recommend`` passes one) the replacement must also
    pass the fitted model's evidence rule, and the handover row and the segment's
    whole-ladder row then carry its effect (Δ DSO, recovery, churn, net value with
    their 80 % intervals); when it does not pass, the handover stays (no route at
    the floor either: that is the same policy) and the row says why.
    """
    from arinsight import connect
    from arinsight.config import Route, RouteStep, load_settings
    from arinsight.errors import ArinsightError
    from arinsight.propensity.model import data_as_of

    settings = load_settings()
    nv = settings.net_value
    summary: list[dict[str, Any]] = []
    added: list[Route] = []
    replaced: dict[str, int] = {}
    with connect(str(db) if db is not None else None) as wh:
        found = propose(wh, proposal, settings, ROUTE_STEP_CHANNEL)
        as_of = data_as_of(wh) if found else None
        for prop in found:
            stages = proposal.for_segment(prop.segment)
            stage = next(s.stage for s in stages if s.channel == "collection_agency")
            entry: dict[str, Any] = {
                "segment": prop.segment,
                "stage_number": stage,
                "threshold_ratio": round(prop.threshold_ratio, 3),
                "threshold_interval": [
                    round(prop.threshold_low_ratio, 3),
                    round(prop.threshold_high_ratio, 3),
                ],
                "count_handed_over": prop.count_handed_over,
                "proposed": False,
            }
            summary.append(entry)
            if current.route_for(prop.segment, stage) is not None:
                entry["rationale"] = "the ladder in force routes this stage already: kept"
                continue
            if prop.count_handed_over < MIN_HANDED_OVER or as_of is None:
                entry["rationale"] = (
                    f"only {prop.count_handed_over} handovers (need {MIN_HANDED_OVER}) "
                    "behind the agency's recovery and churn"
                )
                continue
            try:
                p, amount = _handover_probabilities(wh, as_of, prop.segment)
            except ArinsightError as err:
                entry["rationale"] = f"no payment model: {err}"
                continue
            inputs = {
                "recovery_ratio": prop.recovery_ratio,
                "commission_pct": nv.agency_commission_pct,
                "agency_cost": nv.channel_cost.get("collection_agency", 0.0),
                "step_cost": nv.channel_cost.get(ROUTE_STEP_CHANNEL, 0.0),
                "lifetime_value": nv.lifetime_value(prop.segment),
            }
            # the cautious end: the threshold with Δq at its lower bound
            threshold = max(round(prop.threshold_high_ratio, 2), MIN_THRESHOLD)
            e = effect(prop, stage, threshold, p, amount, inputs)
            ok, why = supported(prop, e)
            entry.update(
                route_threshold_ratio=threshold,
                proposed=ok,
                rationale=why,
                count_cases=e.count_cases,
                count_routed=e.count_routed,
                delta_net_value_amount=round(e.delta_net_value_amount, 2),
                delta_net_value_interval=[
                    round(e.delta_net_value_amount_low, 2),
                    round(e.delta_net_value_amount_high, 2),
                ],
            )
            if not ok:
                continue
            target = [r for r in rows if r["segment"] == prop.segment]
            row = next((r for r in target if r["stage_number"] == stage), None) or next(
                (r for r in target if r["stage_number"] == -1), None
            )
            replaces = prop.threshold_high_ratio <= MIN_THRESHOLD
            judged: tuple[bool, dict[str, Any], dict[str, Any], str] | None = None
            if replaces and judge is not None:
                judged = judge(prop.segment, stage)
                if not judged[0]:
                    entry.update(
                        proposed=False,
                        rationale=f"{why}; not proposed: {judged[3]}",
                    )
                    if row is not None:
                        note = (
                            f"the handover stays: the break-even says it does not pay for "
                            f"any case at the cautious end, yet {judged[3]}"
                        )
                        row["rationale"] = (
                            f"{row['rationale']}; {note}" if row["rationale"] else note
                        )
                    continue
            if replaces:
                # the handover does not pay for any case at the cautious end: a route
                # would send every case the gentler step, so the step replaces the stage
                # (no payment model needed when the ladder runs)
                why = (
                    f"{ROUTE_STEP_NAME} ({ROUTE_STEP_CHANNEL}) replaces stage {stage}: at this "
                    f"break-even every case would be routed; {why}"
                )
                entry["replaces_stage"] = True
                replaced[prop.segment] = stage
            else:
                added.append(
                    Route(
                        stage=stage,
                        segments=(prop.segment,),
                        min_paid_ratio=threshold,
                        within_days=ROUTE_WITHIN_DAYS,
                        instead=RouteStep(
                            name=ROUTE_STEP_NAME, channel=ROUTE_STEP_CHANNEL, fee=0.0
                        ),
                        fallback_after_days=None,
                    )
                )
            if row is None:
                continue
            if replaces and row["stage_number"] == stage:
                # the replacement first: it is the change; the timing verdict after it
                row.update(proposed_channel=ROUTE_STEP_CHANNEL, proposed_fee_amount=0.0)
                if judged is not None:
                    # the row carries the whole option: the call on the proposed day
                    # against the handover on its current day; so does the whole ladder
                    why = f"{why}; {judged[3]}"
                    row.update(judged[1])
                    whole = next((r for r in target if r["stage_number"] == -1), None)
                    if whole is not None:
                        whole.update(judged[2])
                        if str(whole["rationale"]).startswith("no change"):
                            whole["rationale"] = "all changes of this segment together"
                row["rationale"] = f"{why}; timing: {row['rationale']}" if row["rationale"] else why
            else:
                row["rationale"] = f"{row['rationale']}; {why}" if row["rationale"] else why
    if replaced:
        segs = dict(proposal.segments)
        for seg, stage in replaced.items():
            segs[seg] = tuple(
                s.model_copy(
                    update={"name": ROUTE_STEP_NAME, "channel": ROUTE_STEP_CHANNEL, "fee": 0.0}
                )
                if s.stage == stage
                else s
                for s in proposal.for_segment(seg)
            )
        proposal = proposal.model_copy(update={"segments": segs})
    if added:
        proposal = proposal.model_copy(update={"route": (*proposal.route, *added)})
    return proposal, {"routes": summary}
