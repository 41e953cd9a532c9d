"""Typed readers over the marts. They return polars frames and never recompute a
metric: every definition lives in SQL (``sql/marts``), documented in
``docs/metrics.md``.

Conventions (``docs/conventions.md``): ``*_amount`` in the reporting currency,
``*_days`` in days, ``*_pct`` 0-100, ``*_ratio`` 0-1, ``count_*`` counts. Segment
``'all'`` is every segment together. Every reader raises
:class:`~arinsight.errors.ArinsightError` when the warehouse has no marts yet.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse

#: Aging buckets in order (fct_aging_snapshots.aging_bucket).
AGING_BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")


def _require_marts(wh: Warehouse) -> None:
    if not wh.has_marts():
        raise ArinsightError(f"{wh.path} has no marts yet — run `arinsight build` first")


def _read(wh: Warehouse, mart: str, order_by: str, **filters: Any) -> pl.DataFrame:
    """``select * from marts.<mart>`` with optional equality filters (None = no filter).

    Mart and column names come from this module only; values are bound.
    """
    _require_marts(wh)
    where, params = [], []
    for column, value in filters.items():
        where.append(f"(? is null or {column} = ?)")
        params += [value, value]
    clause = f" where {' and '.join(where)}" if where else ""
    return wh.sql(f"select * from marts.{mart}{clause} order by {order_by}", params)


def _day(value: dt.date | dt.datetime | None) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def dso_monthly(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_dso_monthly``: one row per month end per segment (and 'all').

    AR, current/overdue AR and sales windows in the reporting currency; DSO
    (30/90/365 and the configured window), best possible DSO, ADD, countback
    DSO and weighted DBT in days; CEI in percent (0-100).
    """
    return _read(wh, "fct_dso_monthly", "month_end_date, segment", segment=segment)


def aging_snapshots(
    wh: Warehouse, segment: str | None = None, month_end: dt.date | None = None
) -> pl.DataFrame:
    """``marts.fct_aging_snapshots``: one row per month end x segment x aging bucket.

    ``open_amount`` (reporting currency) and ``count_open_invoices`` per bucket;
    the buckets of a month end and segment sum to its AR exactly;
    ``share_of_ar_pct`` 0-100.
    """
    return _read(
        wh,
        "fct_aging_snapshots",
        "month_end_date, segment, bucket_order",
        segment=segment,
        month_end_date=month_end,
    )


def aging_roll_rates(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_aging_roll_rates``: one row per month end x segment x from-bucket.

    Invoices open at the previous month end, by what became of them at this
    one: rolled / stayed / cured / written off (counts, opening amounts, and
    ``*_rate_pct`` that add up to 100).
    """
    return _read(
        wh, "fct_aging_roll_rates", "month_end_date, segment, from_bucket_order", segment=segment
    )


def invoice_lifecycle(
    wh: Warehouse, segment: str | None = None, customer_id: str | None = None
) -> pl.DataFrame:
    """``marts.fct_invoice_lifecycle``: one row per invoice.

    Settled date (null while open), ``days_to_settle``, ``days_late``, amounts
    paid / credited / written off / unapplied / open (reporting currency),
    highest stage reached, first send per stage, and reminder-after-settlement flags.
    """
    return _read(
        wh, "fct_invoice_lifecycle", "invoice_id", segment=segment, customer_id=customer_id
    )


def stage_conversion(
    wh: Warehouse, segment: str | None = None, stage: int | None = None
) -> pl.DataFrame:
    """``marts.fct_stage_conversion``: one row per send month x segment x stage.

    Entered / converted / progressed / pending counts, entered and converted
    amounts (open amount at the send), ``conversion_pct``,
    ``conversion_amount_pct``, ``progression_pct`` (0-100) and Kaplan-Meier
    ``median_days_to_settle`` / ``p75_days_to_settle`` (days).
    """
    return _read(
        wh,
        "fct_stage_conversion",
        "month_end_date, segment, stage_number",
        segment=segment,
        stage_number=stage,
    )


def stage_survival(
    wh: Warehouse, segment: str | None = None, stage: int | None = None
) -> pl.DataFrame:
    """``marts.fct_stage_survival``: Kaplan-Meier curves, one row per segment x stage x day.

    ``still_open_ratio`` (0-1) = share of a stage's entries still open
    ``days_since_send`` days after the send, open cases censored; the curve is
    flat between rows and 1 before the first. Plot it as a step function.
    """
    return _read(
        wh,
        "fct_stage_survival",
        "segment, stage_number, days_since_send",
        segment=segment,
        stage_number=stage,
    )


def recovery(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_recovery``: one row per due-month cohort x segment.

    Overdue cases and amount; recovered within 30/60/90/180 days of due
    (amounts and ``recovery_<h>d_pct``, null until the horizon is fully
    observed); closed-case, agency recovery and fee yield in percent.
    """
    return _read(wh, "fct_recovery", "month_end_date, segment", segment=segment)


def churn(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_churn``: one row per month end x segment.

    Customers active at the month start, churned and involuntarily churned in
    the month (counts) and the rates in percent of the active base.
    """
    return _read(wh, "fct_churn", "month_end_date, segment", segment=segment)


def churn_by_stage(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_churn_by_stage``: one row per month end x segment x highest stage.

    Churn rate (percent) of customers grouped by the highest dunning stage
    they reached (0 = never dunned) and ``relative_risk_ratio`` against the
    never-dunned group.
    """
    return _read(
        wh, "fct_churn_by_stage", "month_end_date, segment, highest_stage_number", segment=segment
    )


def customers(
    wh: Warehouse, as_of: dt.date | dt.datetime | None = None, segment: str | None = None
) -> pl.DataFrame:
    """``marts.dim_customers`` at one month end: one row per customer.

    ``as_of`` picks the latest month end on or before it (default: the
    latest); ``month_end_date`` says which. ``dim_customers`` stores change
    points; this returns the one holding at that month end
    (``valid_from_date <= month_end_date < valid_to_date``). Behaviour segment
    (reliable / occasional / chronic / unscored), highest stage reached, the
    month flags and ``is_involuntary_churn`` hold at that month end;
    ``count_scored_invoices``, ``count_late_invoices``, ``late_ratio`` (0-1)
    and ``weighted_days_late`` (days) are the figures at the change point
    (``valid_from_date``). Scored from history only (no look-ahead).

    Raises:
        ArinsightError: no marts, or ``as_of`` before the data.
    """
    month_end = resolve_month_end(wh, as_of)
    is_latest = month_end == resolve_month_end(wh, None)
    return wh.sql(
        "select customer_id, cast(? as date) as month_end_date, segment, behaviour_segment, "
        "is_active_at_month_start, is_churned_in_month, is_involuntary_churn, "
        "count_scored_invoices, count_late_invoices, late_ratio, weighted_days_late, "
        "highest_stage_number, is_current and ? as is_current, valid_from_date, valid_to_date "
        "from marts.dim_customers "
        "where valid_from_date <= ? and valid_to_date > ? and (? is null or segment = ?) "
        "order by customer_id",
        [month_end, is_latest, month_end, month_end, segment, segment],
    )


def customer_history(wh: Warehouse, customer_id: str) -> pl.DataFrame:
    """``marts.dim_customers`` rows of one customer: its change points in date order.

    Each row holds from ``valid_from_date`` to the day before ``valid_to_date``
    (month ends; 9999-12-31 while current).
    """
    return _read(wh, "dim_customers", "valid_from_date", customer_id=customer_id)


def guardrails(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_guardrails``: one row per month end x segment x finding kind.

    Counts of reminders after settlement, skipped stages and reminders on
    disputed invoices, events sent, and ``finding_pct`` (0-100 of events sent).
    """
    return _read(wh, "fct_guardrails", "month_end_date, segment, finding_kind", segment=segment)


def guardrail_findings(wh: Warehouse, kind: str | None = None) -> pl.DataFrame:
    """``marts.fct_guardrail_findings``: one row per dunning event per finding."""
    return _read(
        wh, "fct_guardrail_findings", "sent_date, event_id, finding_kind", finding_kind=kind
    )


def resolve_month_end(wh: Warehouse, as_of: dt.date | dt.datetime | None) -> dt.date:
    """The latest built month end on or before ``as_of`` (default: the latest).

    Raises:
        ArinsightError: no month end on or before ``as_of``.
    """
    _require_marts(wh)
    day = _day(as_of)
    rows = wh.con.execute(
        "select max(month_end_date), min(month_end_date) from marts.fct_dso_monthly "
        "where ? is null or month_end_date <= ?",
        [day, day],
    ).fetchall()
    if rows[0][0] is None:
        first = wh.con.execute("select min(month_end_date) from marts.fct_dso_monthly").fetchall()[
            0
        ][0]
        raise ArinsightError(f"no month end on or before {day}; the data starts at {first}")
    value: dt.date = rows[0][0]
    return value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _extras(wh: Warehouse, month_end: dt.date) -> dict[str, dict[str, Any]]:
    """Headline figures from the other marts, per segment, at ``month_end``."""
    out: dict[str, dict[str, Any]] = {}
    aging = wh.sql(
        "select segment, aging_bucket, share_of_ar_pct from marts.fct_aging_snapshots"
        " where month_end_date = ? order by segment, bucket_order",
        [month_end],
    )
    for seg, bucket, pct in aging.rows():
        out.setdefault(seg, {}).setdefault("aging_pct", {})[bucket] = _float(pct)
    # The latest due-month cohort whose 90-day horizon had passed by month_end.
    rec = wh.sql(
        """
        select segment, month_end_date, recovery_90d_pct, closed_case_recovery_pct
        from marts.fct_recovery
        where month_end_date + 90 <= ? and recovery_90d_pct is not null
        qualify row_number() over (partition by segment order by month_end_date desc) = 1
    """,
        [month_end],
    )
    for seg, cohort, pct, closed in rec.rows():
        out.setdefault(seg, {}).update(
            {
                "recovery_cohort_month_end": cohort.isoformat(),
                "recovery_90d_pct": _float(pct),
                "closed_case_recovery_pct": _float(closed),
            }
        )
    churned = wh.sql(
        "select segment, churn_rate_pct, involuntary_churn_rate_pct "
        "from marts.fct_churn where month_end_date = ?",
        [month_end],
    )
    for seg, rate, involuntary in churned.rows():
        out.setdefault(seg, {}).update(
            {"churn_pct": _float(rate), "involuntary_churn_pct": _float(involuntary)}
        )
    findings = wh.sql(
        "select segment, sum(count_findings) from marts.fct_guardrails "
        "where month_end_date = ? group by segment",
        [month_end],
    )
    for seg, n in findings.rows():
        out.setdefault(seg, {})["count_guardrail_findings"] = int(n)
    return out


def quarantine_share(wh: Warehouse) -> pl.DataFrame:
    """How much of each raw table's input sits in the quarantine: one row per table.

    Counts come from ``meta.loads``, the latest load of each file (a reloaded,
    repaired file replaces its earlier count); rows released from the
    quarantine later (a payment whose invoice arrived) count as loaded.
    Columns: ``table_name``, ``count_rows_read``, ``count_rows_quarantined``,
    ``quarantine_pct`` (0-100), ``max_quarantine_pct`` (the setting) and
    ``is_accepted_quarantine``: some file's share is above the setting, so marts
    built on it were published with ``build --accept-quarantine``.
    """
    from arinsight.config import load_settings

    limit = load_settings().max_quarantine_pct
    return wh.sql(
        """
        with latest as (
            select *
            from meta.loads
            qualify load_id = max(load_id) over (partition by file, table_name)
        )
        select
            table_name,
            sum(rows_read) as count_rows_read,
            sum(rows_quarantined) as count_rows_quarantined,
            coalesce(100.0 * sum(rows_quarantined) / nullif(sum(rows_read), 0), 0)
                as quarantine_pct,
            ? as max_quarantine_pct,
            bool_or(rows_read > 0 and 100.0 * rows_quarantined / rows_read > ?)
                as is_accepted_quarantine
        from latest
        group by table_name
        order by table_name
        """,
        [limit, limit],
    )


def _provenance(wh: Warehouse, currency: str) -> dict[str, Any]:
    """Quarantine share and currency provenance for the headline (see ``headline``)."""
    share = quarantine_share(wh)
    quarantine = {
        r["table_name"]: {
            "rows_read": int(r["count_rows_read"]),
            "rows_quarantined": int(r["count_rows_quarantined"]),
            "quarantine_pct": float(r["quarantine_pct"]),
            "is_accepted_quarantine": bool(r["is_accepted_quarantine"]),
        }
        for r in share.to_dicts()
    }
    warnings = [
        f"figures rest on accepted quarantine: {v['quarantine_pct']:.1f} % of {t} rows "
        f"({v['rows_quarantined']:,} of {v['rows_read']:,}) were not loaded"
        for t, v in quarantine.items()
        if v["is_accepted_quarantine"]
    ]
    if "invoices" not in wh.tables("raw"):  # marts without their raw tables (a Spark build)
        source = "not known here: the marts were read without the raw invoices"
        return {"quarantine": quarantine, "warnings": warnings, "currency_source": source}
    no_currency = int(
        wh.con.execute("select count(*) from raw.invoices where currency is null").fetchall()[0][0]
    )
    if no_currency:
        source = (
            f"assumed: {no_currency:,} invoice(s) carry no currency and count as {currency} "
            "(settings reporting_currency; name it with currency: in the load profile)"
        )
    else:
        source = "invoice currencies, converted with fx_rates where they differ"
    return {"quarantine": quarantine, "warnings": warnings, "currency_source": source}


def headline(
    wh: Warehouse, as_of: dt.date | dt.datetime | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Headline figures per segment at one month end, as plain JSON-able data.

    Returns:
        ``{"as_of", "reporting_currency", "dso_window_days", "segments": {segment:
        {"dso_days", "dso_change_days", "best_possible_dso_days", "add_days",
        "ar_amount", "current_ar_amount", "overdue_ar_amount", "overdue_pct",
        "sales_window_amount", "count_open_invoices", "is_window_complete",
        "countback_dso_days", "cei_pct", "weighted_dbt_days", "aging_pct": {bucket:
        pct}, "recovery_cohort_month_end", "recovery_90d_pct",
        "closed_case_recovery_pct", "churn_pct", "involuntary_churn_pct",
        "count_guardrail_findings"}}}``. Amounts are floats in the reporting
        currency; ``*_days`` in days; ``*_pct`` 0-100. Recovery is that of the
        latest due-month cohort whose 90-day horizon ended by the month end
        (absent when there is none). Provenance: ``"quarantine": {table:
        {"rows_read", "rows_quarantined", "quarantine_pct",
        "is_accepted_quarantine"}}`` (see :func:`quarantine_share`),
        ``"warnings"`` (one line per table whose quarantine was accepted above
        ``max_quarantine_pct``) and ``"currency_source"`` (where the currency
        label comes from: invoice currencies, or assumed for invoices without one).

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
            cur.dso_change_days,
            cur.best_possible_dso_days,
            cur.add_days,
            cast(cur.ar_amount as double) as ar_amount,
            cast(cur.current_ar_amount as double) as current_ar_amount,
            cast(cur.overdue_ar_amount as double) as overdue_ar_amount,
            cur.overdue_ar_pct as overdue_pct,
            cast(cur.sales_window_amount as double) as sales_window_amount,
            cur.count_open_invoices,
            cur.is_window_complete,
            cur.countback_dso_days,
            cur.cei_pct,
            cur.weighted_dbt_days,
            cur.dso_window_days
        from marts.fct_dso_monthly as cur
        where cur.month_end_date = ? and (? is null or cur.segment = ?)
        order by cur.segment = 'all', cur.segment
        """,
        [month_end, segment, segment],
    )
    if rows.height == 0:
        known = wh.sql("select distinct segment from marts.fct_dso_monthly order by 1")
        raise ArinsightError(
            f"unknown segment {segment!r}; known: {', '.join(known['segment'].to_list())}"
        )
    window = int(rows["dso_window_days"][0])
    extras = _extras(wh, month_end)
    segments = {}
    for r in rows.to_dicts():
        seg = r.pop("segment")
        r.pop("dso_window_days")
        segments[seg] = {**r, **extras.get(seg, {})}
    currency = load_settings().reporting_currency
    return {
        "as_of": month_end.isoformat(),
        "reporting_currency": currency,
        "dso_window_days": window,
        "segments": segments,
        **_provenance(wh, currency),
    }


# --- ladder: legal-check inputs and response analysis (docs/ladder.md) ---


def segment_terms(wh: Warehouse) -> pl.DataFrame:
    """``marts.dim_segment_terms``: customers per segment x customer type x payment terms.

    ``customer_type`` is b2b / b2c / unknown; ``payment_terms_days`` -1 = not given.
    """
    return _read(wh, "dim_segment_terms", "segment, customer_type, payment_terms_days")


def stage_response_cases(
    wh: Warehouse, segment: str | None = None, stage: int | None = None
) -> pl.DataFrame:
    """``marts.fct_stage_response_cases``: one row per invoice x stage in the response cohort.

    Planned vs sent offset (``planned_due_offset_days``, ``sent_due_offset_days``,
    ``send_delay_days``), the ladder version in force, the observation window.
    """
    return _read(
        wh,
        "fct_stage_response_cases",
        "invoice_id, stage_number",
        segment=segment,
        stage_number=stage,
    )


def stage_response_daily(
    wh: Warehouse,
    segment_type: str | None = None,
    segment: str | None = None,
    stage: int | None = None,
) -> pl.DataFrame:
    """``marts.fct_stage_response_daily``: settlement hazard per day around a stage's send.

    ``hazard_ratio`` (0-1) with Wilson interval, ``lift_ratio`` vs the days -7..-1
    baseline with its interval; ``segment_type`` is segment / behaviour / all.
    """
    return _read(
        wh,
        "fct_stage_response_daily",
        "segment_type, segment, stage_number, channel, days_from_send",
        segment_type=segment_type,
        segment=segment,
        stage_number=stage,
    )


def stage_response(
    wh: Warehouse, segment_type: str | None = None, segment: str | None = None
) -> pl.DataFrame:
    """``marts.fct_stage_response``: lift, decay half-life and died-out day per stage x channel."""
    return _read(
        wh,
        "fct_stage_response",
        "segment_type, segment, stage_number, channel",
        segment_type=segment_type,
        segment=segment,
    )


def stage_competing(
    wh: Warehouse,
    segment_type: str | None = None,
    segment: str | None = None,
    stage: int | None = None,
) -> pl.DataFrame:
    """``marts.fct_stage_competing``: cumulative incidence of settlement vs the next stage."""
    return _read(
        wh,
        "fct_stage_competing",
        "segment_type, segment, stage_number, channel, days_since_send",
        segment_type=segment_type,
        segment=segment,
        stage_number=stage,
    )


def stage_reached(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_stage_reached``: fee yield and churn by the highest stage reached."""
    return _read(wh, "fct_stage_reached", "segment, highest_stage_number", segment=segment)


def experiment_customers(wh: Warehouse) -> pl.DataFrame:
    """``marts.fct_experiment_customers``: one row per customer in a ladder experiment."""
    return _read(wh, "fct_experiment_customers", "customer_id")


def experiment_arms(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_experiment_arms``: per-arm outcomes and effects vs control (95 % CIs)."""
    return _read(wh, "fct_experiment_arms", "segment, experiment_variant", segment=segment)


def payment_retries(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_payment_retries``: per segment x failure reason x retry number.

    Attempts, recoveries and recovery_pct (0-100), mean days to recovery, and
    the reason's failed invoices recovered by retry / by reminder / not at
    all. Empty without ``payment_attempts`` (or in a warehouse built before
    the mart existed).
    """
    _require_marts(wh)
    if not has_relation(wh, "marts", "fct_payment_retries"):
        return pl.DataFrame()
    return _read(
        wh, "fct_payment_retries", "segment, failure_reason, retry_number", segment=segment
    )


def message_engagement(
    wh: Warehouse, segment: str | None = None, month_end: dt.date | None = None
) -> pl.DataFrame:
    """``marts.fct_message_engagement``: per month x segment x stage x channel x template.

    Sent / delivered / opened / clicked / bounced / replied counts and rates
    (0-100), and conversion within the stage's window for engaged vs. not
    engaged sends. Empty without ``message_events``.
    """
    _require_marts(wh)
    if not has_relation(wh, "marts", "fct_message_engagement"):
        return pl.DataFrame()
    return _read(
        wh,
        "fct_message_engagement",
        "month_end_date, segment, stage_number, channel, template_name",
        segment=segment,
        month_end_date=_day(month_end),
    )


# --------------------------------------------------------------------------- dashboard readers
# Marts fct_dash_* are small pre-aggregations for the dashboard and the report
# (sql/marts/fct_dash_*.sql); the meta readers show bookkeeping as recorded.


def month_ends(wh: Warehouse) -> list[dt.date]:
    """Built month ends, oldest first (``marts.fct_dso_monthly``)."""
    _require_marts(wh)
    rows = wh.con.execute(
        "select distinct month_end_date from marts.fct_dso_monthly order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def segments(wh: Warehouse) -> list[str]:
    """Master-data segments in the marts (without 'all'), sorted."""
    _require_marts(wh)
    rows = wh.con.execute(
        "select distinct segment from marts.fct_dso_monthly where segment <> 'all' order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def has_relation(wh: Warehouse, schema: str, name: str) -> bool:
    """Whether ``schema.name`` exists (optional tables written by other verbs)."""
    return name in wh.tables(schema)


def kpis(
    wh: Warehouse, month_end: dt.date | None = None, segment: str | None = None
) -> pl.DataFrame:
    """``marts.fct_dash_kpis``: one row per month end x segment x KPI.

    ``kpi_value``, ``prev_month_value``, ``prev_year_value`` and the changes
    ``change_vs_prev_month`` / ``change_vs_prev_year`` in the KPI's unit.
    """
    return _read(
        wh,
        "fct_dash_kpis",
        "month_end_date, segment, kpi_name",
        month_end_date=month_end,
        segment=segment,
    )


def cash_monthly(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_dash_cash_monthly``: cash collected and net billed per month end x segment."""
    return _read(wh, "fct_dash_cash_monthly", "month_end_date, segment", segment=segment)


def behaviour_mix(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_dash_behaviour_mix``: active customers per month end x segment x
    behaviour segment, with ``share_of_customers_pct`` (0-100)."""
    return _read(
        wh, "fct_dash_behaviour_mix", "month_end_date, segment, behaviour_segment", segment=segment
    )


def billing_cohorts(wh: Warehouse, segment: str | None = None) -> pl.DataFrame:
    """``marts.fct_dash_billing_cohorts``: per issue month, share paid within 30/60/90 days."""
    return _read(wh, "fct_dash_billing_cohorts", "month_end_date, segment", segment=segment)


def stage_survival_bands(
    wh: Warehouse, segment: str | None = None, stage: int | None = None
) -> pl.DataFrame:
    """``marts.fct_dash_survival_bands``: ``stage_survival`` plus ``lower_ratio`` /
    ``upper_ratio``, the pointwise 95 % log-log band."""
    return _read(
        wh,
        "fct_dash_survival_bands",
        "segment, stage_number, days_since_send",
        segment=segment,
        stage_number=stage,
    )


def stage_channels(
    wh: Warehouse,
    segment: str | None = None,
    behaviour_segment: str | None = None,
    month_end: dt.date | None = None,
) -> pl.DataFrame:
    """``marts.fct_stage_channels``: stage entries per month end x segment x
    behaviour segment x stage x channel (each with an ``'all'`` rollup): entered,
    converted (paid before the next stage), progressed, pending, amounts,
    ``conversion_pct`` (0-100)."""
    return _read(
        wh,
        "fct_stage_channels",
        "month_end_date, segment, behaviour_segment, stage_number, channel",
        segment=segment,
        behaviour_segment=behaviour_segment,
        month_end_date=month_end,
    )


def overdue_customers(
    wh: Warehouse,
    segment: str | None = None,
    behaviour_segment: str | None = None,
    limit: int = 20,
) -> pl.DataFrame:
    """``marts.fct_dash_overdue_customers``: the ``limit`` customers with most overdue AR."""
    _require_marts(wh)
    return wh.sql(
        "select * from marts.fct_dash_overdue_customers"
        " where (? is null or segment = ?) and (? is null or behaviour_segment = ?)"
        " order by overdue_amount desc, customer_id limit ?",
        [segment, segment, behaviour_segment, behaviour_segment, int(limit)],
    )


def guardrail_examples(
    wh: Warehouse,
    kind: str | None = None,
    segment: str = "all",
    month_end: dt.date | None = None,
    limit: int = 5,
) -> pl.DataFrame:
    """``marts.fct_dash_guardrail_examples``: the latest ``limit`` (at most 5) findings
    of each kind sent in the month of ``month_end`` (default: the latest month end)."""
    month = resolve_month_end(wh, month_end)
    return wh.sql(
        """
        select * from marts.fct_dash_guardrail_examples
        where month_end_date = ? and segment = ? and (? is null or finding_kind = ?)
            and example_rank <= ?
        order by finding_kind, example_rank
        """,
        [month, segment, kind, kind, int(limit)],
    )


def loads(wh: Warehouse) -> pl.DataFrame:
    """``meta.loads``: one row per loaded file, newest first."""
    return wh.sql("select * from meta.loads order by loaded_at desc, load_id desc")


def quarantine_reasons(wh: Warehouse) -> pl.DataFrame:
    """``meta.quarantine`` grouped by file, table, field and reason, with one sample row."""
    return wh.sql(
        """
        select file, table_name, field, reason, count(*) as count_rows,
            min(line_number) as first_line_number, arg_min(raw_row, line_number) as sample_raw_row
        from meta.quarantine
        group by file, table_name, field, reason
        order by count_rows desc, file, reason
        """
    )


def builds(wh: Warehouse, limit: int = 20) -> pl.DataFrame:
    """``meta.builds`` per build: when, models, mart rows, seconds; newest first."""
    return wh.sql(
        """
        select build_id, max(built_at) as built_at, count(*) as count_models,
            sum(row_count) filter (where layer = 'marts') as count_mart_rows,
            sum(seconds) as seconds
        from meta.builds group by build_id order by build_id desc limit ?
        """,
        [int(limit)],
    )


def ladder_versions(wh: Warehouse) -> pl.DataFrame | None:
    """``meta.ladders`` (version, effective date, name, sha256, applied at), newest
    first; None when no ladder was ever applied (the table does not exist)."""
    if not has_relation(wh, "meta", "ladders"):
        return None
    return wh.sql("select * from meta.ladders order by effective_date desc, applied_at desc")


def ladder_in_force(wh: Warehouse, as_of: dt.date | None = None) -> tuple[pl.DataFrame, str]:
    """The ladder in force per segment, one row per segment x stage.

    The ``meta.ladders`` version with the latest effective date on or before
    ``as_of`` (default: today); the shipped default ladder when none applies.
    Columns: ``segment``, ``stage_number``, ``stage_name``, ``due_offset_days``
    (anchors resolved: days after the due date), ``channel``, ``fee_amount``.

    Returns:
        The frame and where it came from (``"meta.ladders v<version> (<name>)"``
        or ``"default"``).
    """
    import polars as pl

    from arinsight.config import Ladder, load_ladder

    ladder: Ladder | None = None
    source = "default"
    versions = ladder_versions(wh)
    if versions is not None and "yaml_text" in versions.columns:
        on = as_of or dt.date.today()
        rows = versions.filter(pl.col("effective_date").cast(pl.Date) <= on)
        if rows.height:
            import yaml

            r = rows.row(0, named=True)
            ladder = Ladder.model_validate(yaml.safe_load(r["yaml_text"]))
            source = f"meta.ladders v{r.get('version')} ({r.get('name')})"
    if ladder is None:
        ladder = load_ladder()
    names = segments(wh) if wh.has_marts() else []
    out = []
    for seg in names or ["default"]:
        stages = ladder.for_segment(seg)
        for stage, offset in zip(stages, ladder.due_offsets(seg), strict=True):
            out.append(
                {
                    "segment": seg,
                    "stage_number": stage.stage,
                    "stage_name": stage.name,
                    "due_offset_days": offset,
                    "channel": stage.channel,
                    "fee_amount": float(stage.fee),
                }
            )
    return pl.DataFrame(out), source


def ladder_recommendations(wh: Warehouse) -> pl.DataFrame | None:
    """``marts.ladder_recommendations`` as ``arinsight recommend`` wrote it; None when absent."""
    if not has_relation(wh, "marts", "ladder_recommendations"):
        return None
    return wh.sql("select * from marts.ladder_recommendations")


def retry_recommendations(wh: Warehouse) -> pl.DataFrame | None:
    """``marts.retry_recommendations`` (retry schedule per failure reason, then channel
    advice per segment x stage) as ``arinsight recommend`` wrote it; None when absent,
    no rows when the ledger has no payment attempts (docs/payments.md)."""
    if not has_relation(wh, "marts", "retry_recommendations"):
        return None
    return wh.sql(
        "select * from marts.retry_recommendations "
        "order by advice desc, failure_reason, segment, stage_number"
    )


def checks(wh: Warehouse, check_id: int | None = None) -> pl.DataFrame | None:
    """``meta.checks``: one row per expectation of the latest ``arinsight check`` run
    (or of run ``check_id``), failed first, then by suite and expectation.

    Columns: check_id, checked_at, suite, layer, table_name, column_names,
    expectation, expectation_kind, suite_status, success (null: suite skipped),
    unexpected_count (bad rows over the whole table), row_count, examples (JSON
    list), note. None when ``arinsight check`` never ran on this warehouse.
    """
    if not has_relation(wh, "meta", "checks"):
        return None
    return wh.sql(
        """
        select * from meta.checks
        where check_id = coalesce(?, (select max(check_id) from meta.checks))
        order by coalesce(success, true), suite, expectation
        """,
        [check_id],
    )


# ---------------------------------------------------------------- payment scores (arinsight score)


def score_dates(wh: Warehouse) -> list[dt.date]:
    """Scoring dates in ``marts.fct_open_invoice_scores``, oldest first ([] before scoring)."""
    if not has_relation(wh, "marts", "fct_open_invoice_scores"):
        return []
    rows = wh.sql("select distinct scoring_date from marts.fct_open_invoice_scores order by 1")
    return [_day(d) for d in rows["scoring_date"].to_list()]  # type: ignore[misc]


def worklist(
    wh: Warehouse,
    segment: str | None = None,
    top: int = 25,
    as_of: dt.date | None = None,
    lang: str = "en",
) -> pl.DataFrame:
    """The collector's worklist at the latest scoring date (or ``as_of``), as `arinsight worklist`.

    One row per overdue invoice whose next step is a reminder, ranked by
    ``value_of_acting_amount`` (open amount × gain in 14-day payment probability
    from the next step), with ``reason`` in words (``lang`` "en" or "de"); see
    docs/propensity.md.

    Raises:
        ArinsightError: no scores yet (run `arinsight score`).
    """
    from arinsight.propensity.worklist import worklist as _worklist

    return _worklist(wh, segment=segment, top=top, as_of=as_of, lang=lang)


def cash_forecast(
    wh: Warehouse, scoring_date: dt.date | None = None, on_or_before: dt.date | None = None
) -> pl.DataFrame:
    """``marts.fct_cash_forecast`` of one scoring date: 13 weekly rows.

    ``scoring_date`` picks that date; else the latest scoring date on or before
    ``on_or_before`` (default: the latest of all).

    Expected collections from the invoices open at the scoring date with the 80 %
    interval (``collections_p10_amount`` / ``collections_p90_amount``) and the
    invoicing run-rate (``invoicing_run_rate_weekly_amount``, not in the forecast).
    Empty before `arinsight score`.
    """
    import polars as pl

    if not has_relation(wh, "marts", "fct_cash_forecast"):
        return pl.DataFrame()
    return wh.sql(
        "select * from marts.fct_cash_forecast where scoring_date = coalesce(?, "
        "(select max(scoring_date) from marts.fct_cash_forecast "
        "where ? is null or scoring_date <= ?)) order by week_number",
        [scoring_date, on_or_before, on_or_before],
    )
