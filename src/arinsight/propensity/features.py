"""Point-in-time features of open invoices, read from ``marts.fct_invoice_lifecycle``.

Grain: one row per invoice open at an origin date (issued on or before it, not
settled and not handed to the collection agency by then) per origin date.
Everything a feature uses is dated on or before the origin — the customer's
history counts only invoices *settled by payment* on or before the origin, the
stage reached counts only sends on or before it — so scoring at a past date
reads nothing that happened later (``tests/test_propensity.py`` proves it by
deleting every later row and scoring again).

Outcome columns (``settled_date``, ``settled_by``) are attached for training and
backtests only; :func:`training_frame` censors them at the cut-off date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse

#: Stages above this are pooled into one stratum (few invoices reach them).
MAX_STAGE_STRATUM = 4

FEATURES_SQL = """
with

lifecycle as (
    select * from marts.fct_invoice_lifecycle
),

origins as (
    select cast(origin_date as date) as origin_date from origin_frame
),

open_at_origin as (
    select
        origins.origin_date,
        lifecycle.*,
        case
            when lifecycle.stage_5_sent_date <= origins.origin_date then 5
            when lifecycle.stage_4_sent_date <= origins.origin_date then 4
            when lifecycle.stage_3_sent_date <= origins.origin_date then 3
            when lifecycle.stage_2_sent_date <= origins.origin_date then 2
            when lifecycle.stage_1_sent_date <= origins.origin_date then 1
            when lifecycle.stage_0_sent_date <= origins.origin_date then 0
        end as stage_at_origin,
        greatest(
            case when lifecycle.stage_0_sent_date <= origins.origin_date
                then lifecycle.stage_0_sent_date end,
            case when lifecycle.stage_1_sent_date <= origins.origin_date
                then lifecycle.stage_1_sent_date end,
            case when lifecycle.stage_2_sent_date <= origins.origin_date
                then lifecycle.stage_2_sent_date end,
            case when lifecycle.stage_3_sent_date <= origins.origin_date
                then lifecycle.stage_3_sent_date end,
            case when lifecycle.stage_4_sent_date <= origins.origin_date
                then lifecycle.stage_4_sent_date end,
            case when lifecycle.stage_5_sent_date <= origins.origin_date
                then lifecycle.stage_5_sent_date end
        ) as last_stage_date
    from origins
    inner join lifecycle
        on lifecycle.issue_date <= origins.origin_date
        and (lifecycle.settled_date is null
             or lifecycle.settled_date > origins.origin_date)
        and (lifecycle.agency_handover_date is null
             or lifecycle.agency_handover_date > origins.origin_date)
),

history as (
    select
        customer_id,
        settled_date as history_date,
        count(*) over w as count_paid_before,
        avg(case when days_late > 0 then 1.0 else 0.0 end) over w
            as late_ratio,
        sum(cast(invoice_amount as double) * days_late) over w
            / nullif(sum(cast(invoice_amount as double)) over w, 0)
            as weighted_days_late,
        median(days_late) over w as median_days_late,
        max(coalesce(highest_stage_number, -1)) over w as max_stage_before
    from lifecycle
    where settled_by = 'payment'
    window w as (
        partition by customer_id order by settled_date
        range between unbounded preceding and current row
    )
    qualify row_number() over (
        partition by customer_id, settled_date order by invoice_id
    ) = 1
),

with_history as (
    select
        open_at_origin.*,
        history.count_paid_before,
        history.late_ratio,
        history.weighted_days_late,
        history.median_days_late,
        history.max_stage_before
    from open_at_origin
    asof left join history
        on open_at_origin.customer_id = history.customer_id
        and open_at_origin.origin_date >= history.history_date
),

final as (
    select
        origin_date,
        invoice_id,
        customer_id,
        segment,
        issue_date,
        due_date,
        cast(invoice_amount as double) as invoice_amount,
        cast(open_amount as double) as open_amount_at_as_of,
        coalesce(is_disputed, false) as is_disputed,
        origin_date - due_date as days_past_due,
        stage_at_origin,
        origin_date - last_stage_date as days_since_stage,
        coalesce(count_paid_before, 0) as count_paid_before,
        late_ratio,
        weighted_days_late,
        median_days_late,
        max_stage_before,
        count(*) filter (where due_date < origin_date) over (
            partition by origin_date, customer_id
        ) as count_customer_overdue,
        settled_date,
        settled_by,
        agency_handover_date,
        as_of_date
    from with_history
)

select * from final
order by origin_date, invoice_id
"""


def point_in_time(wh: Warehouse, origins: Sequence[dt.date]) -> pl.DataFrame:
    """Features of every invoice open at each of ``origins`` (see the module doc).

    Args:
        wh: an open warehouse with marts.
        origins: origin dates (scoring dates).

    Returns:
        One row per (origin_date, open invoice); amounts in the reporting
        currency, ``days_*`` in days; ``late_ratio`` 0-1; history columns are
        null for a customer with no invoice paid before the origin.
    """
    import polars as pl

    origin_frame = pl.DataFrame({"origin_date": list(origins)}, schema={"origin_date": pl.Date})
    wh.con.register("origin_frame", origin_frame.to_arrow())
    try:
        frame: pl.DataFrame = wh.con.sql(FEATURES_SQL).pl()
    finally:
        wh.con.unregister("origin_frame")
    return frame


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """Month ends ``m`` with ``first <= m <= last``."""
    out: list[dt.date] = []
    year, month = first.year, first.month
    while True:
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        year, month = nxt.year, nxt.month
