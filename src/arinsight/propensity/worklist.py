"""A collector's worklist: the open invoices worth acting on today, with the reason in words.

Ranked by the expected value of acting, ``value_of_acting_amount`` in
``marts.fct_open_invoice_scores``: open amount × how much the ladder's next
step raises the model's probability of payment within 14 days. An invoice the
customer will pay anyway (high probability already) or that a reminder does
not move ranks low, however large it is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def reason(row: dict[str, Any]) -> str:
    """One sentence a collector can act on, from a scores row (pure; see the tests)."""
    parts: list[str] = []
    stage, since = row.get("stage_reached"), row.get("days_since_stage")
    dpd = int(row["days_past_due"])
    due = (
        f"{_days(dpd)} overdue"
        if dpd > 0
        else ("due today" if dpd == 0 else f"due in {_days(-dpd)}")
    )
    if stage is None:
        parts.append(f"{due}, no reminder yet")
    else:
        parts.append(f"{due}, stage {stage} sent {_days(int(since or 0))} ago")
    median = row.get("median_days_late")
    late = row.get("late_ratio")
    if median is None:
        parts.append("no payment history")
    else:
        parts.append(
            f"customer paid {_pct(late)} of earlier invoices late, "
            f"median {_days(round(float(median)))} late"
        )
    now, nxt = row.get("paid_within_14d_ratio"), row.get("paid_within_14d_if_next_step_ratio")
    if row.get("next_step_name") and nxt is not None:
        parts.append(
            f"{_pct(now)} likely to pay within 14 days as is, {_pct(nxt)} after "
            f"{row['next_step_name']} ({row['next_step_channel']})"
        )
    else:
        parts.append(f"{_pct(now)} likely to pay within 14 days; next step is the agency")
    if row.get("is_disputed"):
        parts.append("disputed: settle the dispute first")
    return "; ".join(parts)


def worklist(
    wh: Warehouse, *, segment: str | None = None, top: int = 25, as_of: dt.date | None = None
) -> pl.DataFrame:
    """The ``top`` overdue invoices by value of acting at the latest (or given) scoring date.

    Only invoices past their due date are listed (before it, the ladder's
    pre-due reminder is the automatic step), and only where the next step is a
    reminder, not the agency handover.

    Raises:
        ArinsightError: no scores yet (the message says to run `arinsight score`).
    """
    import polars as pl

    if "fct_open_invoice_scores" not in wh.tables("marts"):
        raise ArinsightError(f"{wh.path} has no payment scores yet — run `arinsight score` first")
    day = (
        as_of or wh.sql("select max(scoring_date) as d from marts.fct_open_invoice_scores")["d"][0]
    )
    rows = wh.sql(
        "select * from marts.fct_open_invoice_scores "
        "where scoring_date = ? and (? is null or segment = ?) and value_of_acting_amount > 0 "
        "and days_past_due > 0 "
        "order by value_of_acting_amount desc, invoice_id limit ?",
        [day, segment, segment, top],
    )
    return rows.with_columns(
        reason=pl.Series([reason(r) for r in rows.iter_rows(named=True)], dtype=pl.String)
    ).select(
        "scoring_date",
        "invoice_id",
        "customer_id",
        "segment",
        "open_amount",
        "days_past_due",
        "stage_reached",
        "paid_within_14d_ratio",
        "paid_within_14d_if_next_step_ratio",
        "value_of_acting_amount",
        "expected_paid_date",
        "reason",
    )
