"""Figure builders for the payment scores: the collector's worklist and the cash forecast.

Frames in as :func:`arinsight.metrics.worklist` and
:func:`arinsight.metrics.cash_forecast` return them; plotly figures (and
formatted table rows) out. No metric arithmetic: the marts computed every value.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from arinsight.viz.figures import _bar, _empty, _fig, _scatter
from arinsight.viz.theme import NEUTRAL, OKABE_ITO, fmt_eur, fmt_pct

#: Labels of this module (en, de); the reasons in the worklist are English.
LABELS: dict[str, tuple[str, str]] = {
    "worklist_title": (
        "Where acting today pays most: value of the next step",
        "Wo Handeln heute am meisten bringt: Wert des nächsten Schritts",
    ),
    "value_of_acting": ("Value of acting (EUR)", "Wert des Handelns (EUR)"),
    "forecast_title": (
        "Cash forecast: expected collections per week from open invoices (80 % interval)",
        "Zahlungsprognose: erwartete Eingänge je Woche aus offenen Posten (80-%-Intervall)",
    ),
    "expected": ("Expected collections", "Erwartete Eingänge"),
    "run_rate": (
        "Invoicing run-rate (new invoices, not in the forecast)",
        "Fakturierung je Woche (neue Rechnungen, nicht in der Prognose)",
    ),
    "week": ("Week ending", "Woche bis"),
    "invoice": ("Invoice", "Rechnung"),
    "customer": ("Customer", "Kunde"),
    "segment": ("Segment", "Segment"),
    "open": ("Open", "Offen"),
    "dpd": ("Days overdue", "Tage überfällig"),
    "p14": ("Pays in 14 d as is", "Zahlt in 14 T ohne Schritt"),
    "p14_next": ("… after next step", "… nach nächstem Schritt"),
    "value": ("Value of acting", "Wert des Handelns"),
    "reason": ("Why", "Warum"),
}


def label(key: str, lang: str = "en") -> str:
    en, de = LABELS[key]
    return de if lang == "de" else en


def worklist_bars(rows: pl.DataFrame, *, lang: str = "en", top: int = 15) -> go.Figure:
    """Horizontal bars of ``value_of_acting_amount`` for the first ``top`` worklist rows
    (the list's order, largest on top); the hover shows the reason."""
    fig = _fig(label("worklist_title", lang), lang)
    if rows.height == 0:
        return _empty(fig, lang)
    head = rows.head(top).with_columns(pl.col("value_of_acting_amount").cast(pl.Float64))
    ids = head["invoice_id"].to_list()[::-1]
    fig.add_trace(
        _bar(
            x=head["value_of_acting_amount"].to_list()[::-1],
            y=ids,
            orientation="h",
            marker_color=OKABE_ITO["blue"],
            customdata=head["reason"].to_list()[::-1],
            hovertemplate="%{y}: %{x:,.0f} EUR<br>%{customdata}<extra></extra>",
            name=label("value_of_acting", lang),
        )
    )
    fig.update_xaxes(title_text=label("value_of_acting", lang), tickformat="~s")
    fig.update_yaxes(type="category")
    return fig


def worklist_rows(rows: pl.DataFrame, *, lang: str = "en") -> list[dict[str, Any]]:
    """Worklist rows formatted for a table (amounts in EUR, probabilities in %)."""
    out = []
    for r in rows.iter_rows(named=True):
        out.append(
            {
                "invoice_id": r["invoice_id"],
                "customer_id": r["customer_id"],
                "segment": r["segment"],
                "open_amount": fmt_eur(_f(r["open_amount"]), lang),
                "days_past_due": r["days_past_due"],
                "p14": fmt_pct(_pct(r["paid_within_14d_ratio"]), lang, decimals=0),
                "p14_next": fmt_pct(
                    _pct(r["paid_within_14d_if_next_step_ratio"]), lang, decimals=0
                ),
                "value": fmt_eur(_f(r["value_of_acting_amount"]), lang),
                "reason": r["reason"],
            }
        )
    return out


def worklist_columns(lang: str = "en") -> list[tuple[str, str]]:
    keys = ("invoice", "customer", "segment", "open", "dpd", "p14", "p14_next", "value", "reason")
    cols = (
        "invoice_id",
        "customer_id",
        "segment",
        "open_amount",
        "days_past_due",
        "p14",
        "p14_next",
        "value",
        "reason",
    )
    return [(c, label(k, lang)) for c, k in zip(cols, keys, strict=True)]


def cash_forecast(forecast: pl.DataFrame, *, lang: str = "en") -> go.Figure:
    """Expected collections per week with the 80 % interval as error bars, and the
    invoicing run-rate as a separate dashed line (it is not part of the forecast)."""
    fig = _fig(label("forecast_title", lang), lang)
    if forecast.height == 0:
        return _empty(fig, lang)
    rows = forecast.sort("week_number").with_columns(
        pl.col(
            "expected_collections_amount",
            "collections_p10_amount",
            "collections_p90_amount",
            "invoicing_run_rate_weekly_amount",
        ).cast(pl.Float64)
    )
    exp = rows["expected_collections_amount"].to_list()
    lo = rows["collections_p10_amount"].to_list()
    hi = rows["collections_p90_amount"].to_list()
    x = rows["week_end_date"].to_list()
    fig.add_trace(
        _bar(
            x=x,
            y=exp,
            name=label("expected", lang),
            marker_color=OKABE_ITO["green"],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [max(h - e, 0.0) for h, e in zip(hi, exp, strict=True)],
                "arrayminus": [max(e - v, 0.0) for e, v in zip(exp, lo, strict=True)],
                "color": NEUTRAL,
            },
            customdata=list(zip(lo, hi, strict=True)),
            hovertemplate="%{y:,.0f} EUR (80 %: %{customdata[0]:,.0f}–%{customdata[1]:,.0f})"
            f"<extra>{label('expected', lang)}</extra>",
        )
    )
    fig.add_trace(
        _scatter(
            x=x,
            y=rows["invoicing_run_rate_weekly_amount"].to_list(),
            name=label("run_rate", lang),
            mode="lines",
            line={"dash": "dash", "color": OKABE_ITO["orange"]},
            hovertemplate=f"%{{y:,.0f}} EUR<extra>{label('run_rate', lang)}</extra>",
        )
    )
    fig.update_xaxes(title_text=label("week", lang), tickformat="%d %b")
    fig.update_yaxes(title_text="EUR", tickformat="~s")
    # legend under the axis title, clear of the date labels
    fig.update_layout(legend={"orientation": "h", "y": -0.32, "yanchor": "top"}, margin={"b": 110})
    return fig


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _pct(x: Any) -> float | None:
    return None if x is None else 100.0 * float(x)
