# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Recovery & churn: recovery by horizon and cohort, closed-case and agency recovery,
fee yield, involuntary churn and relative risk by highest stage reached."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.dashboard import data
from arinsight.dashboard.components import behaviour_scope, card, graph, grid, month_label
from arinsight.dashboard.context import month, no_rows, page_layout, render_page, upto
from arinsight.dashboard.filters import Filters

dash.register_page(__name__, path="/recovery", name="Recovery & churn", order=3)


def layout(**query: Any) -> Any:
    return page_layout("rc", query, body)


@callback(
    Output("rc-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("rc", search, body)


def body(f: Filters) -> list[Any]:
    end = month(f)
    recovery = upto(data.read(metrics.recovery, f.segment), end)
    churn = upto(data.read(metrics.churn, f.segment), end)
    by_stage = data.read(metrics.churn_by_stage, f.segment)
    if churn.filter(churn["month_end_date"] == end).height == 0:
        raise no_rows("churn figures", f, end)
    de = f.lang == "de"
    scope = behaviour_scope(
        "rc",
        f.behaviour,
        f.lang,
        split=[],
        not_split=[
            "Einbringung" if de else "Recovery",
            "Abwanderung" if de else "Churn",
            "Abwanderung nach Mahnstufe" if de else "Churn by dunning stage",
        ],
    )
    return [
        html.H2(f"{month_label(end, f.lang)} · {f.segment}", id="rc-heading"),
        *([scope] if scope else []),
        grid(
            card(
                graph(
                    "rc-horizon", viz.recovery_by_horizon(recovery, segment=f.segment, lang=f.lang)
                ),
                note=(
                    "Kohorte = Monat der Fälligkeit; eine Linie endet, wo der Zeitraum noch nicht vollständig beobachtet ist."
                    if de
                    else "Cohort = month the invoices fell due; a line stops where its horizon is not "
                    "fully observed yet."
                ),
            ),
            card(
                graph("rc-rates", viz.recovery_rates(recovery, segment=f.segment, lang=f.lang)),
                note=(
                    "Abgeschlossene Fälle: eingebracht ÷ (eingebracht + abgeschrieben). Inkasso: eingebracht "
                    "nach Übergabe ÷ übergebener Betrag. Gebührenertrag: bezahlte ÷ berechnete Mahngebühren."
                    if de
                    else "Closed cases: recovered ÷ (recovered + written off). Agency: recovered after "
                    "handover ÷ amount handed over. Fee yield: dunning fees paid ÷ fees charged."
                ),
            ),
            card(graph("rc-churn", viz.churn_trend(churn, segment=f.segment, lang=f.lang))),
            card(
                graph(
                    "rc-churn-stage",
                    viz.churn_by_stage(by_stage, segment=f.segment, month_end=end, lang=f.lang),
                ),
                note=(
                    "RR = Abwanderungsquote der Gruppe ÷ Quote nie gemahnter Kunden im selben Monat; n = Kunden."
                    if de
                    else "RR = the group's churn rate ÷ that of never-dunned customers in the same "
                    "month; n = customers in the group."
                ),
            ),
        ),
    ]
