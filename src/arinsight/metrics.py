"""Typed readers over the marts. They return polars frames and never recompute a
metric: every definition lives in SQL (``sql/marts``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse


def _require_marts(wh: Warehouse) -> None:
    if not wh.has_marts():
        raise ArinsightError(f"{wh.path} has no marts yet — run `arinsight build` first")


def dso_monthly(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_dso_monthly``: one row per month end per segment (and 'all').

    Amounts in the reporting currency; DSO columns in days.
    """
    _require_marts(wh)
    return wh.sql(
        "select * from marts.fct_dso_monthly where ? is null or segment = ? "
        "order by month_end_date, segment",
        [segment, segment],
    )


def resolve_month_end(wh: Warehouse, as_of: dt.date | dt.datetime | None) -> dt.date:
    """The latest built month end on or before ``as_of`` (default: the latest).

    Raises:
        ArinsightError: no month end on or before ``as_of``.
    """
    _require_marts(wh)
    day = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    rows = wh.con.execute(
        "select max(month_end_date), min(month_end_date) from marts.fct_dso_monthly "
        "where ? is null or month_end_date <= ?",
        [day, day],
    ).fetchall()
    if rows[0][0] is None:
        first = wh.con.execute("select min(month_end_date) from marts.fct_dso_monthly"
                               ).fetchall()[0][0]
        raise ArinsightError(f"no month end on or before {day}; the data starts at {first}")
    value: dt.date = rows[0][0]
    return value


def headline(wh: Warehouse, as_of: dt.date | dt.datetime | None = None,
             segment: str | None = None) -> dict[str, Any]:
    """Headline figures per segment at one month end, as plain JSON-able data.

    Returns:
        ``{"as_of", "reporting_currency", "dso_window_days", "segments": {segment:
        {"dso_days", "dso_change_days", "best_possible_dso_days", "add_days",
        "ar_amount", "current_ar_amount", "overdue_ar_amount", "overdue_pct",
        "sales_window_amount", "count_open_invoices", "is_window_complete"}}}``.
        Amounts are floats in the reporting currency; ``*_days`` in days.

    Raises:
        ArinsightError: no marts, unknown segment, or ``as_of`` before the data.
    """
    from arinsight.config import load_settings

    month_end = resolve_month_end(wh, as_of)
    rows = wh.sql(
        """
        select
            cur.segment,
            cur.dso_days,
            cur.dso_days - prev.dso_days as dso_change_days,
            cur.best_possible_dso_days,
            cur.add_days,
            cast(cur.ar_amount as double) as ar_amount,
            cast(cur.current_ar_amount as double) as current_ar_amount,
            cast(cur.overdue_ar_amount as double) as overdue_ar_amount,
            100.0 * cur.overdue_ar_amount / nullif(cur.ar_amount, 0) as overdue_pct,
            cast(cur.sales_window_amount as double) as sales_window_amount,
            cur.count_open_invoices,
            cur.is_window_complete,
            cur.dso_window_days
        from marts.fct_dso_monthly as cur
        left join marts.fct_dso_monthly as prev
            on prev.segment = cur.segment
            and prev.month_end_date = last_day(cur.month_end_date - interval 1 month)
        where cur.month_end_date = ? and (? is null or cur.segment = ?)
        order by cur.segment = 'all', cur.segment
        """,
        [month_end, segment, segment],
    )
    if rows.height == 0:
        known = wh.sql("select distinct segment from marts.fct_dso_monthly order by 1")
        raise ArinsightError(f"unknown segment {segment!r}; known: "
                             f"{', '.join(known['segment'].to_list())}")
    window = int(rows["dso_window_days"][0])
    segments = {
        r.pop("segment"): {k: v for k, v in r.items() if k != "dso_window_days"}
        for r in rows.to_dicts()
    }
    return {
        "as_of": month_end.isoformat(),
        "reporting_currency": load_settings().reporting_currency,
        "dso_window_days": window,
        "segments": segments,
    }
