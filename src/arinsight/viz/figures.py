"""Pure figure builders: polars frames (as :mod:`arinsight.metrics` returns them) in,
plotly figures out. No I/O, no metric arithmetic: a builder filters, orders,
and draws the columns the marts computed. Every builder accepts ``lang`` ("en" /
"de") and returns a figure with the ``arinsight`` template; an empty selection
gives a figure that says so instead of raising.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from arinsight.viz.theme import (
    AGING_COLOURS,
    NEUTRAL,
    OKABE_ITO,
    PALETTE,
    TEMPLATE_NAME,
    bucket_label,
    fmt_count,
    fmt_days,
    separators,
    t,
)

#: plotly validates every property it is given (~1 ms each). Builders are tested with
#: validation on (tests set this to True); served figures skip it, which halves the
#: time a page's callback spends building figures.
VALIDATE = False

AGING_BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")
HORIZONS = (30, 60, 90, 180)
STAGE_NAMES_FALLBACK = "Stage {k}"


def _scatter(**kwargs: Any) -> go.Scatter:
    return go.Scatter(_validate=VALIDATE, **kwargs)


def _bar(**kwargs: Any) -> go.Bar:
    return go.Bar(_validate=VALIDATE, **kwargs)


def _heatmap(**kwargs: Any) -> go.Heatmap:
    return go.Heatmap(_validate=VALIDATE, **kwargs)


def _fig(title: str, lang: str) -> go.Figure:
    fig = go.Figure(_validate=VALIDATE)
    # the template object, not its name: without validation a name is not resolved
    fig.update_layout(
        template=pio.templates[TEMPLATE_NAME], title={"text": title}, separators=separators(lang)
    )
    return fig


def _empty(fig: go.Figure, lang: str) -> go.Figure:
    fig.add_annotation(
        text=t("no_data", lang),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 15, "color": NEUTRAL},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _floats(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Decimal amount columns as Float64 (plotly wants plain floats)."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns([pl.col(c).cast(pl.Float64) for c in present])


def _months(frame: pl.DataFrame) -> list[dt.date]:
    """Month ends as the first day of their month: plotly labels a date axis at month
    starts, so a bar at June 30 would sit under "Jul". Hover shows "Jun 2025"."""
    return frame["month_end_date"].dt.month_start().to_list()


def _monthly(fig: go.Figure) -> go.Figure:
    # ticks on whole months only (plotly's automatic ticks can fall mid-month and
    # label two ticks with the same month); fewer labels on long ranges
    months = {x for trace in fig.data for x in (getattr(trace, "x", None) or ())}
    step = "M1" if len(months) <= 13 else ("M3" if len(months) <= 40 else "M6")
    fig.update_xaxes(hoverformat="%b %Y", tickformat="%b %Y", dtick=step)
    return fig


def _segment(frame: pl.DataFrame, segment: str | None) -> pl.DataFrame:
    if segment is None or "segment" not in frame.columns:
        return frame
    return frame.filter(pl.col("segment") == segment)


def _month(frame: pl.DataFrame, month_end: dt.date | None) -> tuple[pl.DataFrame, dt.date | None]:
    """Rows of ``month_end`` (default: the latest month end in the frame)."""
    if frame.height == 0:
        return frame, None
    if month_end is None:
        month_end = frame["month_end_date"].max()  # type: ignore[assignment]
    return frame.filter(pl.col("month_end_date") == month_end), month_end


def _eur_hover(lang: str) -> str:
    return "%{y:,.0f} €" if lang == "de" else "€%{y:,.0f}"


def stage_label(stage: int, name: str | None = None, sep: str = " · ") -> str:
    """``"1 · Zahlungserinnerung"`` (or just the number when no name is known).

    With ``sep="<br>"`` (axis labels) a name longer than 12 characters breaks
    after its first hyphen ("Vorab-<br>Erinnerung"), so neighbouring stage
    labels do not run into each other on a narrow chart.
    """
    if not name:
        return str(stage)
    if sep == "<br>" and len(name) > 12 and "-" in name.strip("-"):
        head, tail = name.split("-", 1)
        name = f"{head}-<br>{tail}"
    return f"{stage}{sep}{name}"


# --------------------------------------------------------------------------- overview


def dso_trend(
    dso: pl.DataFrame,
    *,
    segment: str = "all",
    target_days: float | None = None,
    lang: str = "en",
) -> go.Figure:
    """DSO, best possible DSO and countback DSO over month ends, with a target line.

    Args:
        dso: ``metrics.dso_monthly`` rows.
        segment: which segment's rows to draw ("all" = every segment together).
        target_days: draws a dashed horizontal target when given.
    """
    fig = _fig(t("dso_trend_title", lang), lang)
    rows = _segment(dso, segment).sort("month_end_date")
    if "is_window_complete" in rows.columns:
        # Months whose DSO window reaches back before the first invoice understate
        # sales and overstate DSO; the mart flags them, the chart leaves them out.
        rows = rows.filter(pl.col("is_window_complete"))
    if rows.height == 0:
        return _empty(fig, lang)
    x = _months(rows)
    series = [
        ("dso_days", "dso", OKABE_ITO["blue"], "solid", 3),
        ("countback_dso_days", "countback_dso", OKABE_ITO["orange"], "dot", 2),
        ("best_possible_dso_days", "best_possible_dso", OKABE_ITO["green"], "dash", 2),
    ]
    unit = t("days", lang)
    for column, key, colour, dash, width in series:
        fig.add_trace(
            _scatter(
                x=x,
                y=rows[column].to_list(),
                name=t(key, lang),
                mode="lines+markers",
                line={"color": colour, "dash": dash, "width": width},
                marker={"size": 5},
                hovertemplate=f"%{{y:.1f}} {unit}<extra>{t(key, lang)}</extra>",
            )
        )
    if target_days is not None:
        fig.add_hline(
            y=target_days,
            line={"color": OKABE_ITO["vermillion"], "dash": "dash", "width": 2},
            annotation_text=f"{t('target', lang)} {target_days:g} {unit}",
            annotation_position="top left",
        )
    fig.update_yaxes(title_text=t("dso_days", lang), rangemode="tozero")
    return _monthly(fig)


def outstanding_vs_overdue(
    dso: pl.DataFrame, *, segment: str = "all", lang: str = "en"
) -> go.Figure:
    """Receivables at each month end split into not-yet-due and overdue (stacked bars)."""
    fig = _fig(t("outstanding_title", lang), lang)
    rows = _floats(_segment(dso, segment), "current_ar_amount", "overdue_ar_amount").sort(
        "month_end_date"
    )
    if rows.height == 0:
        return _empty(fig, lang)
    x = _months(rows)
    for column, key, colour in (
        ("current_ar_amount", "current_ar", OKABE_ITO["blue"]),
        ("overdue_ar_amount", "overdue_ar", OKABE_ITO["vermillion"]),
    ):
        fig.add_trace(
            _bar(
                x=x,
                y=rows[column].to_list(),
                name=t(key, lang),
                marker_color=colour,
                hovertemplate=_eur_hover(lang) + f"<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=f"{t('ar', lang)} (EUR)", tickformat="~s")
    return _monthly(fig)


def segment_breakdown(
    dso: pl.DataFrame, *, month_end: dt.date | None = None, lang: str = "en"
) -> go.Figure:
    """Per segment at one month end: not-yet-due and overdue AR (bars), DSO in the labels."""
    fig = _fig(t("segment_title", lang), lang)
    rows, month_end = _month(dso.filter(pl.col("segment") != "all"), month_end)
    rows = _floats(rows, "current_ar_amount", "overdue_ar_amount").sort("segment")
    if rows.height == 0:
        return _empty(fig, lang)
    segs = [
        f"{s}<br>DSO {fmt_days(v, lang)}" if v is not None else s
        for s, v in zip(rows["segment"].to_list(), rows["dso_days"].to_list(), strict=True)
    ]
    for column, key, colour in (
        ("current_ar_amount", "current_ar", OKABE_ITO["blue"]),
        ("overdue_ar_amount", "overdue_ar", OKABE_ITO["vermillion"]),
    ):
        fig.add_trace(
            _bar(
                y=segs,
                x=rows[column].to_list(),
                name=t(key, lang),
                orientation="h",
                marker_color=colour,
                hovertemplate=("%{x:,.0f} €" if lang == "de" else "€%{x:,.0f}")
                + f"<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="stack", hovermode="y unified")
    fig.update_xaxes(title_text=f"{t('ar', lang)} (EUR)", tickformat="~s")
    return fig


def cash_vs_billed(cash: pl.DataFrame, *, segment: str = "all", lang: str = "en") -> go.Figure:
    """Cash collected (payments dated in the month) beside net sales billed, per month."""
    fig = _fig(t("cash_title", lang), lang)
    rows = _floats(_segment(cash, segment), "collected_amount", "billed_amount").sort(
        "month_end_date"
    )
    if rows.height == 0:
        return _empty(fig, lang)
    for column, key, colour in (
        ("billed_amount", "billed", OKABE_ITO["sky"]),
        ("collected_amount", "collected", OKABE_ITO["green"]),
    ):
        fig.add_trace(
            _bar(
                x=_months(rows),
                y=rows[column].to_list(),
                name=t(key, lang),
                marker_color=colour,
                hovertemplate=_eur_hover(lang) + f"<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="EUR", tickformat="~s")
    return _monthly(fig)


BEHAVIOURS = ("reliable", "occasional", "chronic", "unscored")
BEHAVIOUR_COLOURS = {
    "reliable": OKABE_ITO["blue"],
    "occasional": OKABE_ITO["orange"],
    "chronic": OKABE_ITO["vermillion"],
    "unscored": NEUTRAL,
}


def behaviour_mix(
    mix: pl.DataFrame,
    *,
    segment: str = "all",
    highlight: str | None = None,
    lang: str = "en",
) -> go.Figure:
    """Share of active customers per payment-behaviour segment over month ends (stacked).

    ``highlight`` (a behaviour segment) draws the others faded.
    """
    fig = _fig(t("behaviour_title", lang), lang)
    rows = _segment(mix, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    for behaviour in BEHAVIOURS:
        part = rows.filter(pl.col("behaviour_segment") == behaviour)
        if part.height == 0:
            continue
        fig.add_trace(
            _bar(
                x=_months(part),
                y=part["share_of_customers_pct"].to_list(),
                customdata=part["count_customers"].to_list(),
                name=t(behaviour, lang),
                marker_color=BEHAVIOUR_COLOURS[behaviour],
                opacity=1.0 if highlight in (None, behaviour) else 0.3,
                hovertemplate="%{y:.1f} % (n = %{customdata:,})"
                + f"<extra>{t(behaviour, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=t("share_of_customers", lang), range=[0, 100])
    return _monthly(fig)


# --------------------------------------------------------------------------- aging


def aging_stacked(aging: pl.DataFrame, *, segment: str = "all", lang: str = "en") -> go.Figure:
    """Open amount per aging bucket over month ends (stacked bars, young at the bottom)."""
    fig = _fig(t("aging_title", lang), lang)
    rows = _floats(_segment(aging, segment), "open_amount").sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    for bucket in AGING_BUCKETS:
        part = rows.filter(pl.col("aging_bucket") == bucket)
        fig.add_trace(
            _bar(
                x=_months(part),
                y=part["open_amount"].to_list(),
                customdata=part["share_of_ar_pct"].to_list(),
                name=bucket_label(bucket, lang),
                marker_color=AGING_COLOURS[bucket],
                hovertemplate=_eur_hover(lang)
                + " (%{customdata:.1f} %)"
                + f"<extra>{bucket_label(bucket, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=f"{t('ar', lang)} (EUR)", tickformat="~s")
    return _monthly(fig)


def roll_rate_matrix(
    roll: pl.DataFrame,
    *,
    segment: str = "all",
    month_end: dt.date | None = None,
    lang: str = "en",
) -> go.Figure:
    """Heatmap: rows = bucket at the previous month end, columns = what became of it (%).

    Cell text is the rate; the hover adds how many invoices the row rests on.
    """
    rows, month_end = _month(_segment(roll, segment), month_end)
    title = t("roll_title", lang) + (f" ({month_end.isoformat()})" if month_end else "")
    fig = _fig(title, lang)
    rows = rows.sort("from_bucket_order")
    if rows.height == 0:
        return _empty(fig, lang)
    outcomes = [
        ("cure_rate_pct", "cured"),
        ("stay_rate_pct", "stayed"),
        ("roll_rate_pct", "rolled"),
        ("write_off_rate_pct", "written_off"),
    ]
    z = [[r[c] for c, _ in outcomes] for r in rows.iter_rows(named=True)]
    y = [bucket_label(b, lang) for b in rows["from_aging_bucket"].to_list()]
    n = rows["count_open_invoices"].to_list()
    text = [[("–" if v is None else f"{v:.1f} %") for v in row] for row in z]
    fig.add_trace(
        _heatmap(
            z=z,
            x=[t(k, lang) for _, k in outcomes],
            y=y,
            text=text,
            texttemplate="%{text}",
            customdata=[[c] * len(outcomes) for c in n],
            colorscale="Blues",
            zmin=0,
            zmax=100,
            showscale=False,
            hovertemplate="%{y} → %{x}: %{text}<br>"
            + t("n", lang)
            + " = %{customdata:,} "
            + t("invoices", lang)
            + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title_text=t("from_bucket", lang), showgrid=False)
    fig.update_xaxes(side="top", showgrid=False)
    fig.update_layout(hovermode="closest", margin={"t": 90})
    return fig


def billing_cohorts(cohorts: pl.DataFrame, *, segment: str = "all", lang: str = "en") -> go.Figure:
    """Per invoice month: share of the invoiced amount paid within 30/60/90 days of issue.

    Args:
        cohorts: ``metrics.billing_cohorts`` rows (``paid_within_<h>d_pct``, null
            until the horizon is fully observed).
    """
    fig = _fig(t("cohort_title", lang), lang)
    rows = _segment(cohorts, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["blue"]]
    for h, colour in zip((30, 60, 90), colours, strict=True):
        fig.add_trace(
            _scatter(
                x=_months(rows),
                y=rows[f"paid_within_{h}d_pct"].to_list(),
                customdata=rows["count_invoices"].to_list(),
                name=t(f"within_{h}", lang),
                mode="lines+markers",
                line={"color": colour},
                hovertemplate="%{y:.1f} % (n = %{customdata:,})"
                + f"<extra>{t(f'within_{h}', lang)}</extra>",
            )
        )
    fig.update_yaxes(title_text=t("share_pct", lang), range=[0, 100])
    fig.update_xaxes(title_text=t("issue_month", lang))
    return _monthly(fig)


# --------------------------------------------------------------------------- dunning


def _stage_names(frame: pl.DataFrame) -> dict[int, str]:
    if "stage_name" not in frame.columns:
        return {}
    return {
        int(k): str(v)
        for k, v in frame.select("stage_number", "stage_name").unique().iter_rows()
        if v is not None
    }


def stage_funnel(
    conversion: pl.DataFrame,
    *,
    segment: str = "all",
    month_end: dt.date | None = None,
    stage_names: dict[int, str] | None = None,
    lang: str = "en",
) -> go.Figure:
    """Per stage in one send month: invoices that reached it, paid before the next, escalated.

    Bars are counts (``count_entered``, ``count_converted``, ``count_progressed``,
    ``count_pending``); the label over the paid bar is ``conversion_pct`` as the
    mart computed it.
    """
    rows, month_end = _month(_segment(conversion, segment), month_end)
    title = t("funnel_title", lang) + (f" ({month_end.isoformat()[:7]})" if month_end else "")
    fig = _fig(title, lang)
    rows = rows.sort("stage_number")
    if rows.height == 0:
        return _empty(fig, lang)
    names = stage_names or {}
    x = [stage_label(k, names.get(k), sep="<br>") for k in rows["stage_number"].to_list()]
    series = [
        ("count_entered", "entered", OKABE_ITO["sky"]),
        ("count_converted", "converted", OKABE_ITO["green"]),
        ("count_progressed", "progressed", OKABE_ITO["vermillion"]),
        ("count_pending", "pending", NEUTRAL),
    ]
    for column, key, colour in series:
        text = None
        if column == "count_converted":
            text = [("" if p is None else f"{p:.0f} %") for p in rows["conversion_pct"].to_list()]
        fig.add_trace(
            _bar(
                x=x,
                y=rows[column].to_list(),
                name=t(key, lang),
                marker_color=colour,
                text=text,
                textposition="outside",
                hovertemplate=f"%{{y:,}} {t('invoices', lang)}<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=t("invoices", lang))
    fig.update_xaxes(title_text=t("stage", lang))
    return fig


def survival_curves(
    survival: pl.DataFrame,
    *,
    segment: str = "all",
    stages: list[int] | None = None,
    stage_names: dict[int, str] | None = None,
    max_days: int | None = 120,
    lang: str = "en",
) -> go.Figure:
    """Kaplan-Meier curves: share of a stage's cases still unpaid d days after the send.

    Step functions starting at 1 on day 0; when the frame has ``lower_ratio`` /
    ``upper_ratio`` (``metrics.stage_survival_bands``) a shaded 95 % band is drawn
    under each curve. Values are shown in percent (ratio x 100, a unit change).
    """
    fig = _fig(t("survival_title", lang), lang)
    rows = _segment(survival, segment)
    if stages is not None:
        rows = rows.filter(pl.col("stage_number").is_in(stages))
    if max_days is not None:
        rows = rows.filter(pl.col("days_since_send") <= max_days)
    rows = rows.sort("stage_number", "days_since_send")
    if rows.height == 0:
        return _empty(fig, lang)
    names = stage_names or {}
    has_band = {"lower_ratio", "upper_ratio"} <= set(rows.columns)
    for i, stage in enumerate(rows["stage_number"].unique(maintain_order=True).to_list()):
        part = rows.filter(pl.col("stage_number") == stage)
        colour = PALETTE[i % len(PALETTE)]
        label = f"{t('stage', lang)} {stage_label(stage, names.get(stage))}"
        x = [0, *part["days_since_send"].to_list()]
        y = [100.0, *(v * 100 for v in part["still_open_ratio"].to_list())]
        if has_band:
            lo = [100.0, *(v * 100 for v in part["lower_ratio"].to_list())]
            hi = [100.0, *(v * 100 for v in part["upper_ratio"].to_list())]
            fig.add_trace(
                _scatter(
                    x=x + x[::-1],
                    y=hi + lo[::-1],
                    fill="toself",
                    fillcolor=_rgba(colour, 0.18),
                    line={"width": 0, "shape": "hv"},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=label,
                    name=f"{label} 95 %",
                )
            )
        fig.add_trace(
            _scatter(
                x=x,
                y=y,
                name=label,
                legendgroup=label,
                mode="lines",
                line={"color": colour, "shape": "hv", "width": 2.5},
                customdata=[None, *part["count_at_risk"].to_list()],
                hovertemplate="%{y:.1f} % (n = %{customdata:,})" + f"<extra>{label}</extra>",
            )
        )
    fig.update_yaxes(title_text=f"{t('still_open', lang)} (%)", range=[0, 100])
    fig.update_xaxes(title_text=t("days_since_send", lang))
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def channel_comparison(
    channels: pl.DataFrame,
    *,
    segment: str = "all",
    stage_names: dict[int, str] | None = None,
    lang: str = "en",
) -> go.Figure:
    """Per stage and channel of the send: share paid before the next stage, with n.

    ``channels`` holds ``fct_stage_channels`` rows of one month and one
    behaviour segment; the ``'all'`` channel rollup is left out. Bars are
    ``conversion_pct`` as the mart computed it, labelled with the number of
    invoices each rests on.
    """
    fig = _fig(t("channel_title", lang), lang)
    rows = _segment(channels, segment)
    if "channel" in rows.columns:
        rows = rows.filter(pl.col("channel") != "all")
    rows = rows.sort("stage_number", "channel")
    if rows.height == 0:
        return _empty(fig, lang)
    names = stage_names or {}
    stages = rows["stage_number"].unique(maintain_order=True).to_list()
    order = [stage_label(k, names.get(k), sep="<br>") for k in stages]
    for i, channel in enumerate(rows["channel"].unique(maintain_order=True).to_list()):
        part = rows.filter(pl.col("channel") == channel)
        label = t(channel, lang)
        fig.add_trace(
            _bar(
                x=[stage_label(k, names.get(k), sep="<br>") for k in part["stage_number"]],
                y=part["conversion_pct"].to_list(),
                customdata=part["count_entered"].to_list(),
                name=label,
                marker_color=PALETTE[i % len(PALETTE)],
                text=[f"n={fmt_count(n, lang)}" for n in part["count_entered"].to_list()],
                textposition="outside",
                hovertemplate="%{y:.1f} % (n = %{customdata:,} "
                + t("invoices", lang)
                + f")<extra>{label}</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=t("conversion_pct", lang), range=[0, 110])
    fig.update_xaxes(
        title_text=t("stage", lang), type="category", categoryorder="array", categoryarray=order
    )
    return fig


def guardrail_bars(
    guardrails: pl.DataFrame, *, segment: str = "all", lang: str = "en"
) -> go.Figure:
    """Guardrail findings per month (stacked by kind, counts)."""
    fig = _fig(t("guardrail_title", lang), lang)
    rows = _segment(guardrails, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    kinds = ("reminder_after_settlement", "skipped_stage", "reminder_on_disputed_invoice")
    colours = (OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["purple"])
    for kind, colour in zip(kinds, colours, strict=True):
        part = rows.filter(pl.col("finding_kind") == kind)
        fig.add_trace(
            _bar(
                x=_months(part),
                y=part["count_findings"].to_list(),
                name=t(kind, lang),
                marker_color=colour,
                hovertemplate="%{y:,}" + f"<extra>{t(kind, lang)}</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=t("findings", lang))
    return _monthly(fig)


# --------------------------------------------------------------------------- recovery, churn


def recovery_by_horizon(
    recovery: pl.DataFrame, *, segment: str = "all", lang: str = "en"
) -> go.Figure:
    """Per due-month cohort: share of the overdue amount recovered within 30/60/90/180 days.

    A horizon's line stops where the cohort's horizon is not fully observed yet
    (the mart leaves those null).
    """
    fig = _fig(t("recovery_title", lang), lang)
    rows = _segment(recovery, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["sky"], OKABE_ITO["blue"]]
    for h, colour in zip(HORIZONS, colours, strict=True):
        fig.add_trace(
            _scatter(
                x=_months(rows),
                y=rows[f"recovery_{h}d_pct"].to_list(),
                customdata=rows["count_overdue_cases"].to_list(),
                name=t(f"h{h}", lang),
                mode="lines+markers",
                line={"color": colour},
                hovertemplate="%{y:.1f} % (n = %{customdata:,})"
                + f"<extra>{t(f'h{h}', lang)}</extra>",
            )
        )
    fig.update_yaxes(title_text=t("recovered_pct", lang), range=[0, 100])
    fig.update_xaxes(title_text=t("due_month", lang))
    return _monthly(fig)


def recovery_rates(recovery: pl.DataFrame, *, segment: str = "all", lang: str = "en") -> go.Figure:
    """Closed-case recovery, agency recovery and fee yield (%) per due-month cohort."""
    fig = _fig(
        f"{t('closed_case', lang)} · {t('agency_recovery', lang)} · {t('fee_yield', lang)}", lang
    )
    rows = _segment(recovery, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    for (column, key, colour), n_col in zip(
        (
            ("closed_case_recovery_pct", "closed_case", OKABE_ITO["blue"]),
            ("agency_recovery_pct", "agency_recovery", OKABE_ITO["orange"]),
            ("fee_yield_pct", "fee_yield", OKABE_ITO["green"]),
        ),
        ("count_closed_cases", "count_handed_over", "count_overdue_cases"),
        strict=True,
    ):
        fig.add_trace(
            _scatter(
                x=_months(rows),
                y=rows[column].to_list(),
                customdata=rows[n_col].to_list(),
                name=t(key, lang),
                mode="lines+markers",
                line={"color": colour},
                hovertemplate="%{y:.1f} % (n = %{customdata:,})" + f"<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_yaxes(title_text="%", rangemode="tozero")
    fig.update_xaxes(title_text=t("due_month", lang))
    # cohorts whose 180-day horizon is not observed yet (the mart leaves
    # recovery_180d_pct null): their agency collections and fee payments are
    # still coming in, so the rates there read low; shade and say so
    if "recovery_180d_pct" in rows.columns:
        young = rows.filter(pl.col("recovery_180d_pct").is_null())
        if young.height:
            young_ends: list[dt.date] = young["month_end_date"].to_list()
            all_ends: list[dt.date] = rows["month_end_date"].to_list()
            start = min(young_ends)
            first = dt.date(start.year, start.month, 1) - dt.timedelta(days=15)
            last = max(all_ends) + dt.timedelta(days=1)
            fig.add_vrect(
                x0=first,
                x1=last,
                fillcolor=NEUTRAL,
                opacity=0.12,
                line_width=0,
                annotation_text=t("maturing", lang),
                annotation_position="bottom left",
                annotation_font_size=11,
            )
    return _monthly(fig)


def churn_by_stage(
    churn_by_stage: pl.DataFrame,
    *,
    segment: str = "all",
    month_end: dt.date | None = None,
    lang: str = "en",
) -> go.Figure:
    """Churn rate (%) by highest dunning stage reached, with relative risk and n in the labels."""
    rows, month_end = _month(_segment(churn_by_stage, segment), month_end)
    title = t("churn_title", lang) + (f" ({month_end.isoformat()[:7]})" if month_end else "")
    fig = _fig(title, lang)
    rows = rows.sort("highest_stage_number")
    if rows.height == 0:
        return _empty(fig, lang)
    x = [
        t("never_dunned", lang) if s == 0 else f"{t('stage', lang)} {s}"
        for s in rows["highest_stage_number"].to_list()
    ]
    rr = rows["relative_risk_ratio"].to_list()
    n = rows["count_customers"].to_list()
    text = [
        (f"RR {r:.1f}×" if r is not None else "") + f"<br>n={c:,}"
        for r, c in zip(rr, n, strict=True)
    ]
    colours = [NEUTRAL if s == 0 else OKABE_ITO["vermillion"] for s in rows["highest_stage_number"]]
    fig.add_trace(
        _bar(
            x=x,
            y=rows["churn_rate_pct"].to_list(),
            marker_color=colours,
            text=text,
            textposition="outside",
            customdata=list(zip(n, rows["count_churned"].to_list(), strict=True)),
            name=t("churn_rate_pct", lang),
            hovertemplate="%{y:.2f} % (%{customdata[1]:,} / %{customdata[0]:,})<extra></extra>",
        )
    )
    fig.update_yaxes(title_text=t("churn_rate_pct", lang), rangemode="tozero")
    fig.update_xaxes(title_text=t("highest_stage", lang))
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def churn_trend(churn: pl.DataFrame, *, segment: str = "all", lang: str = "en") -> go.Figure:
    """Churn rate and involuntary churn rate (%) per month."""
    fig = _fig(t("churn_trend_title", lang), lang)
    rows = _segment(churn, segment).sort("month_end_date")
    if rows.height == 0:
        return _empty(fig, lang)
    for column, key, colour in (
        ("churn_rate_pct", "all_churn", NEUTRAL),
        ("involuntary_churn_rate_pct", "involuntary_churn", OKABE_ITO["vermillion"]),
    ):
        fig.add_trace(
            _scatter(
                x=_months(rows),
                y=rows[column].to_list(),
                customdata=rows["count_active_customers"].to_list(),
                name=t(key, lang),
                mode="lines+markers",
                line={"color": colour},
                hovertemplate="%{y:.2f} % (n = %{customdata:,})" + f"<extra>{t(key, lang)}</extra>",
            )
        )
    fig.update_yaxes(title_text="%", rangemode="tozero")
    return _monthly(fig)


# --------------------------------------------------------------------------- ladder


def ladder_timeline(
    current: pl.DataFrame,
    proposed: pl.DataFrame | None = None,
    *,
    lang: str = "en",
) -> go.Figure:
    """The ladder per segment on a days-after-due axis; the proposal beside it when given.

    Args:
        current: ``metrics.ladder_in_force`` rows (``segment``, ``stage_number``,
            ``stage_name``, ``due_offset_days``, ``channel``, ``fee_amount``).
        proposed: rows with ``segment``, ``stage_number`` and
            ``proposed_offset_days`` (days after due; null: the stage is
            dropped), optionally ``proposed_channel``, e.g. from
            ``metrics.ladder_recommendations``; drawn as hollow diamonds (outlined in
            the proposed channel's colour) with an arrow from the current send day,
            a dropped stage as a cross over its current send day.
    """
    with_proposal = proposed is not None and proposed.height > 0
    fig = _fig(t("ladder_title_proposed" if with_proposal else "ladder_title", lang), lang)
    if current.height == 0:
        return _empty(fig, lang)
    rows = current.sort("segment", "stage_number")
    segments = rows["segment"].unique(maintain_order=True).to_list()
    channels = rows["channel"].unique(maintain_order=True).to_list()
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    for channel in channels:
        part = rows.filter(pl.col("channel") == channel)
        fig.add_trace(
            _scatter(
                x=part["due_offset_days"].to_list(),
                y=part["segment"].to_list(),
                mode="markers+text",
                marker={"size": 22, "color": colour[channel], "symbol": "circle"},
                text=[str(s) for s in part["stage_number"].to_list()],
                textfont={"color": "white", "size": 12},
                customdata=list(
                    zip(
                        part["stage_name"].to_list(),
                        part["fee_amount"].cast(pl.Float64).to_list(),
                        strict=True,
                    )
                ),
                name=f"{t('current_ladder', lang)}: {t(channel, lang)}",
                hovertemplate="%{customdata[0]} · "
                + t(channel, lang)
                + " · %{x:+d} "
                + t("days", lang)
                + " · fee %{customdata[1]:.2f} €<extra></extra>",
            )
        )
    if proposed is not None and proposed.height:
        joined = proposed.join(
            rows.select("segment", "stage_number", "due_offset_days"),
            on=["segment", "stage_number"],
            how="left",
        )
        # a stage of the ladder in force the proposal drops: a cross on its send day
        dropped = joined.filter(
            pl.col("proposed_offset_days").is_null() & pl.col("due_offset_days").is_not_null()
        )
        joined = joined.filter(pl.col("proposed_offset_days").is_not_null())
        if dropped.height:
            label = t("proposed_dropped", lang)
            fig.add_trace(
                _scatter(
                    x=dropped["due_offset_days"].to_list(),
                    y=dropped["segment"].to_list(),
                    mode="markers",
                    marker={
                        "size": 30,
                        "color": OKABE_ITO["vermillion"],
                        "symbol": "x-thin",
                        "line": {"color": OKABE_ITO["vermillion"], "width": 3},
                    },
                    name=label,
                    hovertemplate=label + ": %{x:+d} " + t("days", lang) + "<extra></extra>",
                )
            )
        # one trace per proposed channel (outline in the channel's colour), so a stage
        # that changes channel shows it; frames without the column: one "Proposed" trace
        by_channel = "proposed_channel" in joined.columns
        groups = (
            joined["proposed_channel"].fill_null("").unique(maintain_order=True).to_list()
            if by_channel
            else [None]
        )
        for ch in groups:
            part = (
                joined
                if ch is None
                else joined.filter(pl.col("proposed_channel").fill_null("") == ch)
            )
            if ch and ch not in colour:
                colour[ch] = PALETTE[len(colour) % len(PALETTE)]
            label = t("proposed_ladder", lang) + (f": {t(ch, lang)}" if ch else "")
            fig.add_trace(
                _scatter(
                    x=part["proposed_offset_days"].to_list(),
                    y=part["segment"].to_list(),
                    mode="markers+text",
                    marker={
                        "size": 22,
                        "color": "white",
                        "line": {"color": colour[ch] if ch else OKABE_ITO["black"], "width": 3},
                        "symbol": "diamond",
                    },
                    text=[str(s) for s in part["stage_number"].to_list()],
                    textfont={"size": 10},
                    name=label,
                    hovertemplate=label + ": %{x:+d} " + t("days", lang) + "<extra></extra>",
                )
            )
        for r in joined.iter_rows(named=True):
            if (
                r["due_offset_days"] is not None
                and r["due_offset_days"] != r["proposed_offset_days"]
            ):
                fig.add_annotation(
                    x=r["proposed_offset_days"],
                    y=r["segment"],
                    ax=r["due_offset_days"],
                    ay=r["segment"],
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    showarrow=True,
                    arrowhead=2,
                    arrowcolor=NEUTRAL,
                    standoff=9,
                    startstandoff=9,
                )
    fig.add_vline(x=0, line={"color": NEUTRAL, "dash": "dot"})
    fig.add_annotation(
        x=0,
        y=0.0,
        yref="paper",
        text=t("due_date", lang),
        showarrow=False,
        yanchor="bottom",
        xanchor="left",
        xshift=4,
        font={"color": NEUTRAL, "size": 11},
    )
    fig.update_xaxes(title_text=t("days_after_due", lang), zeroline=False)
    fig.update_yaxes(title_text=t("segment", lang), categoryorder="array", categoryarray=segments)
    fig.update_layout(hovermode="closest", height=max(260, 90 + 70 * len(segments)))
    return fig


def figure_values(fig: go.Figure, name: str) -> list[Any]:
    """The y values of the trace called ``name`` (a helper for tests and notebooks)."""
    for trace in fig.data:
        if trace.name == name:
            return list(trace.y)
    raise KeyError(name)
