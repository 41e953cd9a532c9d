"""Retry schedules per failure reason and channel advice from engagement (issue 16).

Reads ``marts.fct_payment_retries`` and ``marts.fct_message_engagement``
(never world files or truth) and proposes:

* per failure reason, the retries that still contribute: a retry whose
  recovery rate is below ``min_recovery_ratio`` with 95 % confidence (Wilson
  upper bound, at least ``min_attempts`` attempts) is dropped together with
  every later one -- e.g. an expired card that no retry recovers: stop
  retrying and send the update-card email instead; when the last retry still
  recovers at least ``extend_recovery_ratio`` (Wilson lower bound), one more
  retry after the same gap is proposed;
* per segment and stage, a channel change where a tracked channel bounces
  more than ``max_bounce_ratio`` of its sends (Wilson lower bound): email
  bounces -> letter.

Decisions are pure functions over plain numbers (:func:`retry_advice`,
:func:`channel_advice`); :func:`extend` applies them to a recommendation.
Ratios 0-1, counts of attempts / sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arinsight.config import Ladder, RetryRule, RetrySchedule


@dataclass(frozen=True)
class RetryAdviceOptions:
    """Thresholds of the advice (documented in docs/payments.md)."""

    min_attempts: int = 30
    min_recovery_ratio: float = 0.05
    extend_recovery_ratio: float = 0.30
    max_bounce_ratio: float = 0.10
    min_sends: int = 50
    #: gap (days) of an added retry when the rule has none to copy
    default_gap_days: int = 7
    #: the channel proposed instead of one that bounces
    fallback_channel: str = "letter"


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial ratio (scipy); (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class RetryStats:
    """One retry number of one failure reason: attempts and how many recovered."""

    retry_number: int
    attempts: int
    recovered: int


def retry_advice(
    rule: RetryRule, stats: list[RetryStats], opts: RetryAdviceOptions
) -> tuple[RetryRule, str]:
    """The rule to use for a reason, and why.

    Args:
        rule: the rule in force for the reason.
        stats: per retry number (>= 1) the attempts and recoveries observed.
        opts: thresholds.

    Returns:
        ``(proposed rule, rationale)``; the rule is ``rule`` itself when the
        evidence does not call for a change.
    """
    by_n = {s.retry_number: s for s in stats if s.retry_number >= 1}
    n_now = rule.n_retries
    for n in range(1, n_now + 1):
        s = by_n.get(n)
        if s is None or s.attempts < opts.min_attempts:
            continue
        lo, hi = wilson(s.recovered, s.attempts)
        if hi < opts.min_recovery_ratio:
            keep = n - 1
            new = (
                RetryRule(days_of_month=rule.days_of_month, count=keep)
                if rule.days_of_month and keep
                else RetryRule(gaps_days=rule.gaps_days[:keep])
            )
            what = (
                "stop retrying" if keep == 0 else f"keep {keep} retr{'y' if keep == 1 else 'ies'}"
            )
            return new, (
                f"retry {n} recovered {s.recovered:,} of {s.attempts:,} "
                f"({100 * s.recovered / s.attempts:.1f} %, "
                f"95 % CI {100 * lo:.1f}-{100 * hi:.1f} %): {what}"
            )
    last = by_n.get(n_now)
    if n_now and last is not None and last.attempts >= opts.min_attempts:
        lo, hi = wilson(last.recovered, last.attempts)
        if lo >= opts.extend_recovery_ratio and n_now < 20:
            if rule.days_of_month:
                new = RetryRule(days_of_month=rule.days_of_month, count=n_now + 1)
            else:
                gap = rule.gaps_days[-1] if rule.gaps_days else opts.default_gap_days
                new = RetryRule(gaps_days=(*rule.gaps_days, gap))
            return new, (
                f"the last retry ({n_now}) still recovered {last.recovered:,} of {last.attempts:,} "
                f"({100 * last.recovered / last.attempts:.1f} %, 95 % CI {100 * lo:.1f}-"
                f"{100 * hi:.1f} %): add one more"
            )
    return rule, "keep: no retry is clearly without effect, none clearly worth extending"


def channel_advice(channel: str, sends: int, bounced: int, opts: RetryAdviceOptions) -> str | None:
    """A channel change when ``channel`` bounces clearly more than ``max_bounce_ratio``."""
    if sends < opts.min_sends or channel == opts.fallback_channel:
        return None
    lo, hi = wilson(bounced, sends)
    if lo <= opts.max_bounce_ratio:
        return None
    return (
        f"{channel} bounced {bounced:,} of {sends:,} sends ({100 * bounced / sends:.1f} %, "
        f"95 % CI {100 * lo:.1f}-{100 * hi:.1f} %): send this stage by "
        f"{opts.fallback_channel} (or fix the addresses)"
    )


REASON_ADVICE = {
    "card_expired": "send the update-card email instead",
    "card_cancelled": "ask for a new payment method instead",
    "account_changed": "ask for the new account details instead",
}


def extend(
    db: str | Path | None,
    proposal: Ladder,
    current: Ladder,
    rows: list[dict[str, Any]],
    opts: RetryAdviceOptions | None = None,
) -> tuple[Ladder, dict[str, Any]]:
    """Add retry schedules and channel advice to a recommendation.

    Returns the proposal with a ``retries`` block (only when a rule changes)
    and a summary ``{"payment_retries": [...], "channel_changes": [...]}``;
    channel advice is also appended to the rationale of the matching rows
    (same segment and stage). Without the marts' rows nothing changes.
    """
    from arinsight import connect, metrics

    opts = opts or RetryAdviceOptions()
    with connect(str(db) if db is not None else None) as wh:
        retries = metrics.payment_retries(wh, "all")
        engagement = metrics.message_engagement(wh)
    summary: dict[str, Any] = {"payment_retries": [], "channel_changes": []}
    sched = current.retries or RetrySchedule()
    by_reason = dict(sched.by_reason)
    changed = False
    for reason in sorted(set(retries["failure_reason"].to_list())):
        part = retries.filter(retries["failure_reason"] == reason)
        stats = [
            RetryStats(int(r["retry_number"]), int(r["count_attempts"]), int(r["count_recovered"]))
            for r in part.iter_rows(named=True)
        ]
        rule = sched.rule(reason)
        new, why = retry_advice(rule, stats, opts)
        if new.n_retries == 0 and rule.n_retries and reason in REASON_ADVICE:
            why += f"; {REASON_ADVICE[reason]}"
        summary["payment_retries"].append(
            {
                "failure_reason": reason,
                "current": rule.model_dump(mode="json"),
                "proposed": new.model_dump(mode="json"),
                "rationale": why,
                "evidence_count_attempts": sum(s.attempts for s in stats if s.retry_number),
            }
        )
        if new != rule:
            by_reason[reason] = new
            changed = True
    if changed:
        proposal = proposal.model_copy(
            update={"retries": RetrySchedule(default=sched.default, by_reason=by_reason)}
        )
    if engagement.height:
        import polars as pl

        agg = (
            engagement.filter(pl.col("segment") != "all")
            .group_by("segment", "stage_number", "channel")
            .agg(pl.col("count_sent").sum(), pl.col("count_bounced").sum())
            .sort("segment", "stage_number", "channel")
        )
        for r in agg.iter_rows(named=True):
            text = channel_advice(r["channel"], r["count_sent"], r["count_bounced"], opts)
            if text is None:
                continue
            proposed = {st.stage: st.channel for st in proposal.for_segment(str(r["segment"]))}.get(
                int(r["stage_number"])
            )
            item = {
                "segment": r["segment"],
                "stage_number": r["stage_number"],
                "channel": r["channel"],
                "proposed_channel": opts.fallback_channel,
                "count_sent": int(r["count_sent"]),
                "count_bounced": int(r["count_bounced"]),
                "rationale": text,
                # the recommender's search tried the change (ladder.recommend.switch_channels)
                "written_into_ladder": proposed == opts.fallback_channel,
            }
            summary["channel_changes"].append(item)
            for row in rows:
                if (
                    row["segment"] == r["segment"]
                    and row["stage_number"] == r["stage_number"]
                    and "bounced" not in str(row["rationale"])  # the search said it already
                ):
                    row["rationale"] = f"{row['rationale']}; {text}"
    return proposal, summary


#: Columns of ``marts.retry_recommendations``, in order (one row per failure
#: reason's retry schedule, then one per flagged segment x stage x channel).
RETRY_COLUMNS = (
    "advice",
    "segment",
    "failure_reason",
    "stage_number",
    "current",
    "proposed",
    "is_changed",
    "rationale",
    "evidence_count_attempts",
    "evidence_count_sends",
    "ladder_source",
    "recommended_at",
)


def describe_rule(rule: RetryRule | dict[str, Any]) -> str:
    """A retry rule in words: ``retry after 3, 7 d`` / ``no retry`` /
    ``retry on day 2, 16 of the month (2x)``."""
    r = rule if isinstance(rule, RetryRule) else RetryRule.model_validate(rule)
    if r.days_of_month:
        days = ", ".join(str(d) for d in r.days_of_month)
        return f"retry on day {days} of the month ({r.count}x)"
    if not r.gaps_days:
        return "no retry"
    return "retry after " + ", ".join(str(g) for g in r.gaps_days) + " d"


def advice_rows(summary: dict[str, Any], source: str, when: Any) -> list[dict[str, Any]]:
    """Rows of ``marts.retry_recommendations`` from :func:`extend`'s summary.

    ``advice`` is ``retry_schedule`` (segment 'all', one row per failure reason
    seen in ``fct_payment_retries``, changed or kept) or ``channel`` (a stage
    whose channel bounces; ``current`` / ``proposed`` are channels;
    ``is_changed`` says whether the proposed ladder carries the change, which
    the recommender's search decides with its bootstrap evidence). Empty when the
    ledger has no payment attempts and no channel bounces clearly.
    """
    out: list[dict[str, Any]] = []
    for a in summary.get("payment_retries", []):
        out.append(
            {
                "advice": "retry_schedule",
                "segment": "all",
                "failure_reason": a["failure_reason"],
                "stage_number": None,
                "current": describe_rule(a["current"]),
                "proposed": describe_rule(a["proposed"]),
                "is_changed": a["current"] != a["proposed"],
                "rationale": a["rationale"],
                "evidence_count_attempts": a["evidence_count_attempts"],
                "evidence_count_sends": None,
                "ladder_source": source,
                "recommended_at": when,
            }
        )
    for c in summary.get("channel_changes", []):
        out.append(
            {
                "advice": "channel",
                "segment": c["segment"],
                "failure_reason": None,
                "stage_number": c["stage_number"],
                "current": c.get("channel"),
                "proposed": c.get("proposed_channel"),
                # written into the proposed ladder when the search's evidence carried it
                "is_changed": bool(c.get("written_into_ladder", False)),
                "rationale": c["rationale"],
                "evidence_count_attempts": None,
                "evidence_count_sends": c.get("count_sent"),
                "ladder_source": source,
                "recommended_at": when,
            }
        )
    return out


def advice_frame(rows: list[dict[str, Any]]) -> Any:
    """:func:`advice_rows` as a polars frame with the mart's column types."""
    import polars as pl

    schema: dict[str, Any] = {
        "advice": pl.Utf8,
        "segment": pl.Utf8,
        "failure_reason": pl.Utf8,
        "stage_number": pl.Int64,
        "current": pl.Utf8,
        "proposed": pl.Utf8,
        "is_changed": pl.Boolean,
        "rationale": pl.Utf8,
        "evidence_count_attempts": pl.Int64,
        "evidence_count_sends": pl.Int64,
        "ladder_source": pl.Utf8,
        "recommended_at": pl.Datetime("us"),
    }
    return pl.DataFrame([{c: r.get(c) for c in RETRY_COLUMNS} for r in rows], schema=schema)
