# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Worklist: the open invoices a collector should act on today, ranked by the value
of acting, with the reason in words; the 13-week cash forecast beside it."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.dashboard import data
from arinsight.dashboard.components import card, graph, grid, table
from arinsight.dashboard.context import page_layout, render_page
from arinsight.dashboard.filters import Filters

dash.register_page(__name__, path="/worklist", name="Worklist", order=6)

#: Invoices listed (the chart shows the first 15 of them).
TOP = 25


def layout(**query: Any) -> Any:
    return page_layout("wl", query, body)


@callback(
    Output("wl-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("wl", search, body)


def body(f: Filters) -> list[Any]:
    dates = data.read(metrics.score_dates)
    if not dates:
        raise data.NeedsCommand(
            f"{data.db_path()} has no payment scores yet: the worklist ranks the open "
            "invoices the payment model scored.",
            "arinsight score",
        )
    day = dates[-1]
    segment = None if f.segment == "all" else f.segment
    rows = data.read(metrics.worklist, segment, TOP, lang=f.lang)
    forecast = data.read(metrics.cash_forecast)
    de = f.lang == "de"
    heading = (
        f"Arbeitsliste · bewertet am {day.isoformat()} · {f.segment}"
        if de
        else f"Worklist · scored on {day.isoformat()} · {f.segment}"
    )
    listing: Any
    if rows.height == 0:
        listing = html.P(
            "Keine überfällige Rechnung, bei der ein Schritt die Zahlung wahrscheinlicher macht."
            if de
            else "No overdue invoice where a step would make payment more likely.",
            id="wl-empty",
        )
    else:
        listing = table(
            "wl-table", viz.worklist_rows(rows, lang=f.lang), viz.worklist_columns(f.lang)
        )
    return [
        html.H2(heading, id="wl-heading"),
        grid(
            card(
                graph("wl-value", viz.worklist_bars(rows, lang=f.lang)),
                note=(
                    "Wert des Handelns = offener Betrag × Zuwachs der Wahrscheinlichkeit, binnen 14 Tagen zu zahlen, durch den nächsten Schritt des Mahnplans (Modell aus der eigenen Historie, docs/propensity.md)."
                    if de
                    else "Value of acting = open amount × how much the ladder's next step raises the "
                    "probability of payment within 14 days (a model fitted on this ledger's own history, "
                    "docs/propensity.md)."
                ),
            ),
            card(
                graph("wl-forecast", viz.cash_forecast(forecast, lang=f.lang)),
                note=(
                    "Aus den offenen Posten am Bewertungstag; das Intervall ist so breit wie die "
                    "Fehler früherer Prognosen je Woche (im Backtest 79-82 % der Wochen darin). "
                    "Neue Rechnungen sind nicht enthalten."
                    if de
                    else "From the invoices open on the scoring date; the band spans the misses of "
                    "past forecasts per week (79-82 % of weeks inside it in the backtest). New "
                    "invoicing is not in the forecast."
                ),
            ),
        ),
        card(listing, wide=True),
    ]
