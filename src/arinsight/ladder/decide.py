"""Decision rules of the recommender, as pure functions (tested from tables of cases).

Nothing here reads data: each rule takes numbers and returns a verdict or a
sentence, so the rules can be checked by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

Verdict = Literal["change", "no_change_small_n", "no_change_evidence"]
Confidence = Literal["high", "medium", "low", "none"]


def interval(samples: Sequence[float], low_pct: float, high_pct: float) -> tuple[float, float]:
    """Percentile interval of bootstrap draws (linear interpolation between order statistics).

    Raises:
        ValueError: no samples.
    """
    xs = sorted(float(x) for x in samples)
    if not xs:
        raise ValueError("interval of no samples")

    def pct(p: float) -> float:
        pos = (len(xs) - 1) * p / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return pct(low_pct), pct(high_pct)


def stage_verdict(n_events: int, min_events: int, delta_low: float) -> Verdict:
    """Change a stage only with enough sends and a Δ net value interval above 0.

    Args:
        n_events: sends of the stage in the segment under the ladder in force.
        min_events: ``min_stage_events`` of the options.
        delta_low: lower end of the 80 % interval of the change's Δ net value (EUR).
    """
    if n_events < min_events:
        return "no_change_small_n"
    if delta_low <= 0.0:
        return "no_change_evidence"
    return "change"


def within_trust_region(
    sends: Iterable[float],
    sends_now: Iterable[float],
    max_ratio: float,
    slack: float,
    first_day: Iterable[float] | None = None,
    first_day_now: Iterable[float] | None = None,
) -> bool:
    """Does a candidate ladder stay where the data speak?

    The response and churn models are learned from the invoices each channel reaches
    under the ladder in force; a candidate may not make any channel reach more than
    ``max_ratio`` times as many invoices (plus ``slack``) with its first send *when
    that first send goes out earlier than the channel's earliest observed day*: the
    extra invoices are then younger than any the channel was seen to reach, i.e.
    customers the model has not seen receive that channel (a letter moved from day
    21 to day 7). A channel whose first send stays on or after its observed earliest
    day reaches only invoices at least as old as those it reached (e.g. the handover
    at its day after the letters before it are dropped): more of them, but of the
    kind the data show. Without ``first_day``/``first_day_now`` every channel is
    capped. (Dropping the first of two letters keeps the letters' reach a subset of
    today's: allowed either way.)
    """
    rows = list(zip(sends, sends_now, strict=True))
    if first_day is None or first_day_now is None:
        return all(s <= max_ratio * n + slack for s, n in rows)
    days = list(zip(first_day, first_day_now, strict=True))
    return all(
        s <= max_ratio * n + slack or d >= d_now
        for (s, n), (d, d_now) in zip(rows, days, strict=True)
    )


def stage_keep(n_events: int, min_events: int, share_better: float) -> bool:
    """Keep a stage's change inside a proposal?

    Args:
        n_events: sends of the stage under the ladder in force in the segment.
        min_events: ``min_stage_events``.
        share_better: share of bootstrap draws in which the proposal beats the same
            proposal with this stage back at its current timing.

    Returns:
        True when the stage rests on enough sends and its change helps in more than
        half of the draws.
    """
    return n_events >= min_events and share_better > 0.5


def segment_keep(delta_low: float) -> bool:
    """Keep a segment's proposal only when its 80 % interval of Δ net value lies above 0."""
    return delta_low > 0.0


def confidence_flag(
    delta_low: float, delta_high: float, n_events: int, min_events: int
) -> Confidence:
    """How sure the recommendation is.

    ``high``: the interval excludes 0 and rests on at least 5x the minimum sends;
    ``medium``: it excludes 0; ``low``: it includes 0; ``none``: too few sends.
    """
    if n_events < min_events:
        return "none"
    if delta_low > 0.0 and n_events >= 5 * min_events:
        return "high"
    if delta_low > 0.0:
        return "medium"
    if delta_high < 0.0:
        return "medium"
    return "low"


def response_fade_days(amplitude: float, half_life: float, floor: float) -> float:
    """Days after a send until its extra payment hazard falls below ``floor`` per day.

    The lift decays as ``amplitude * 0.5 ** (days / half_life)``; 0 when it starts below.
    """
    if amplitude <= floor or floor <= 0 or half_life <= 0:
        return 0.0
    return half_life * math.log2(amplitude / floor)


def rationale(
    *,
    stage_name: str,
    current_day: int | None,
    proposed_day: int | None,
    verdict: Verdict,
    n_events: int,
    min_events: int,
    delta_low: float,
    delta_high: float,
    fade_days: float,
    next_gap_days: int | None,
) -> str:
    """One plain sentence saying what changes and why (or why not).

    ``fade_days``: days until the response to the previous stage (to this stage for
    the first one) has died out; ``next_gap_days``: days since the previous stage
    under the ladder in force (None for the first stage).
    """
    if current_day is None and proposed_day is None:
        return f"{stage_name}: not in either ladder"
    if verdict == "no_change_small_n":
        return (
            f"no change: {stage_name} was sent only {n_events} times here "
            f"(fewer than {min_events}), too few to judge a new timing"
        )
    if verdict == "no_change_evidence":
        if current_day == proposed_day:
            return (
                f"no change: no timing of {stage_name} does measurably better "
                f"than day {current_day}"
            )
        return (
            f"no change: the 80 % interval of the gain from moving {stage_name} "
            f"({delta_low:,.0f} to {delta_high:,.0f} EUR) includes 0"
        )
    if proposed_day is None:
        return (
            f"drop {stage_name}: its reminder lift is too small to pay for its cost and "
            f"the churn it adds (gain {delta_low:,.0f} to {delta_high:,.0f} EUR, 80 %)"
        )
    assert current_day is not None
    gain = f"gain {delta_low:,.0f} to {delta_high:,.0f} EUR (80 %)"
    if proposed_day < current_day:
        if next_gap_days is None:
            why = (
                "customers answer a reminder more the sooner it comes, and the "
                f"response dies out within ~{fade_days:.0f} days"
            )
        else:
            why = (
                f"the response to the stage before dies out within ~{fade_days:.0f} days, "
                f"yet this stage waited {next_gap_days} days"
            )
        return f"send {stage_name} earlier (day {current_day} → {proposed_day}): {why}; {gain}"
    return (
        f"send {stage_name} later (day {current_day} → {proposed_day}): many customers "
        f"still pay on their own at day {current_day}, so the send costs and annoys "
        f"more than it collects; {gain}"
    )


def handover_rationale(
    *,
    stage_name: str,
    current_day: int,
    proposed_day: int,
    halving_days: float,
    halving_from_data: bool,
    churn_per_case: float,
    cost_per_case: float,
    commission_pct: float,
    delta_low: float,
    delta_high: float,
) -> str:
    """One plain sentence for a moved collection handover (``verdict == "change"``).

    ``halving_days``: the agency's own recovery halves every this many days of case
    age; ``halving_from_data``: False when every case was handed over at one age and
    the prior decided it; ``churn_per_case``: the fitted excess churn hazard of one
    handover; ``cost_per_case``/``commission_pct``: from ``settings.yaml``.
    """
    gain = f"gain {delta_low:,.0f} to {delta_high:,.0f} EUR (80 %)"
    source = "fitted" if halving_from_data else "the prior: every case went over at one age"
    cost = (
        f"each case costs EUR {cost_per_case:,.2f} and {commission_pct:g} % commission and "
        f"drives away {100 * churn_per_case:.1f} % of its customers"
    )
    if proposed_day > current_day:
        return (
            f"hand {stage_name} over later (day {current_day} → {proposed_day}): more customers "
            f"pay before it, so fewer cases go to the agency ({cost}), while the agency's "
            f"recovery halves only every ~{halving_days:,.0f} days of case age ({source}); {gain}"
        )
    return (
        f"hand {stage_name} over earlier (day {current_day} → {proposed_day}): the agency "
        f"recovers more of younger cases (recovery halves every ~{halving_days:,.0f} days of "
        f"case age, {source}), which outweighs the extra cases ({cost}); {gain}"
    )


def handover_drop_rationale(
    *,
    stage_name: str,
    current_day: int,
    recovery_share: float,
    churn_per_case: float,
    cost_per_case: float,
    commission_pct: float,
    lifetime_value: float,
    write_off_day: int,
    delta_low: float,
    delta_high: float,
) -> str:
    """One plain sentence for a dropped collection handover (nothing in its place).

    ``recovery_share``: the agency's fitted own recovery share of what is handed over;
    ``churn_per_case``: the fitted excess churn hazard of one handover;
    ``cost_per_case``/``commission_pct``/``lifetime_value``: from ``settings.yaml``;
    ``write_off_day``: days after due at which a case never handed over is written off.
    """
    return (
        f"drop {stage_name} (day {current_day}; nothing in its place): the agency recovers "
        f"~{100 * recovery_share:.0f} % of what it is handed, less {commission_pct:g} % "
        f"commission (also on payments that would have come anyway) and EUR "
        f"{cost_per_case:,.2f} per case, but drives away {100 * churn_per_case:.1f} % of the "
        f"customers it reaches (EUR {lifetime_value:,.0f} lifetime value each); without it "
        f"the case stays open, late payments still come and the rest is written off at day "
        f"{write_off_day}; gain {delta_low:,.0f} to {delta_high:,.0f} EUR (80 %)"
    )


def handover_drop_keep(n_handovers: int, min_handovers: int, delta_low: float) -> bool:
    """May a proposal drop the collection handover? Only on at least ``min_handovers``
    handovers (fewer: today's handover stays, whatever the model says) and when the
    drop's own 80 % interval of Δ net value lies above 0 (``delta_low`` > 0)."""
    return n_handovers >= min_handovers and delta_low > 0.0


def channel_rationale(
    *,
    stage_name: str,
    channel: str,
    to: str,
    evidence: str,
    cost_from: float,
    cost_to: float,
    delta_low: float,
    delta_high: float,
    timing: str | None = None,
) -> str:
    """One plain sentence for a stage whose channel changes (and maybe its day: ``timing``
    is then the timing sentence, kept in front)."""
    text = (
        f"send {stage_name} by {to} instead of {channel}: {evidence}; a {to} costs "
        f"EUR {cost_to:,.2f} instead of {cost_from:,.2f} and reaches the customer "
        f"(gain of the channel change {delta_low:,.0f} to {delta_high:,.0f} EUR, 80 %)"
    )
    return f"{timing}; {text}" if timing else text


def no_channel_change(
    *, channel: str, to: str, evidence: str, gain_low: float, gain_high: float
) -> str:
    """Why a stage keeps its channel although it bounces: the 80 % interval of the gain
    from sending it by ``to`` (``gain_low``..``gain_high`` EUR) does not lie above 0."""
    if gain_high < 0.0:
        why = "it would lose"
    elif gain_low <= 0.0:
        why = "an interval that includes 0, so the evidence cannot tell them apart"
    else:
        why = "but it did not survive the pruning of the whole proposal"
    return (
        f"no channel change: {evidence}, yet sending it by {to} instead of {channel} would "
        f"change net value by {gain_low:,.0f} to {gain_high:,.0f} EUR (80 %): {why}"
    )


def handover_within_trust_region(handover_days: Iterable[int], earliest_now: float) -> bool:
    """May a candidate hand cases to the agency on these days?

    Not earlier than the ladder in force (or a randomised arm) does: who would still
    have paid on their own among younger cases, and what the agency recovers of
    them, was never observed (the natural-payment tail decides it). A later
    handover reaches a subset of today's cases, at older ages: allowed
    (``earliest_now`` is inf when no handover is in force; the search adds none).
    """
    return all(d >= earliest_now for d in handover_days)
