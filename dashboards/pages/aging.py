# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Aging: stacked buckets over month ends, roll/cure matrix, billing cohorts, top
overdue customers with their payment-behaviour rating."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.config import load_settings
from arinsight.dashboard import data
from arinsight.dashboard.components import (
    behaviour_scope,
    card,
    graph,
    grid,
    month_label,
    table,
)
from arinsight.dashboard.context import month, no_rows, page_layout, render_page, upto
from arinsight.dashboard.filters import BEHAVIOURS, Filters
from arinsight.viz.theme import fmt_days, fmt_eur, fmt_pct, t

dash.register_page(__name__, path="/aging", name="Aging", order=1)


def layout(**query: Any) -> Any:
    return page_layout("ag", query, body)


@callback(
    Output("ag-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("ag", search, body)


def body(f: Filters) -> list[Any]:
    end = month(f)
    aging = upto(data.read(metrics.aging_snapshots, f.segment), end)
    if aging.filter(aging["month_end_date"] == end).height == 0:
        raise no_rows("aging snapshot", f, end)
    roll = data.read(metrics.aging_roll_rates, f.segment)
    cohorts = upto(data.read(metrics.billing_cohorts, f.segment), end)
    de = f.lang == "de"
    scope = behaviour_scope(
        "ag",
        f.behaviour,
        f.lang,
        split=["Größte überfällige Kunden" if de else "Top overdue customers"],
        not_split=[
            "Altersstruktur" if de else "Aging buckets",
            "Roll- und Heilungsraten" if de else "Roll and cure rates",
            "Rechnungskohorten" if de else "Billing cohorts",
        ],
    )
    return [
        html.H2(f"{month_label(end, f.lang)} · {f.segment}", id="ag-heading"),
        *([scope] if scope else []),
        grid(
            card(
                graph("ag-stacked", viz.aging_stacked(aging, segment=f.segment, lang=f.lang)),
                wide=True,
            ),
            card(
                graph(
                    "ag-roll",
                    viz.roll_rate_matrix(roll, segment=f.segment, month_end=end, lang=f.lang),
                ),
                note=(
                    "Zeilen: Stufe am Vormonatsende; Spalten: was daraus bis zum Monatsende wurde "
                    "(Zeilen summieren sich zu 100 %)."
                    if de
                    else "Rows: bucket at the previous month end; columns: what became of those "
                    "invoices by this month end (each row adds up to 100 %)."
                ),
            ),
            card(
                graph("ag-cohorts", viz.billing_cohorts(cohorts, segment=f.segment, lang=f.lang)),
                note=(
                    "Anteil des Rechnungsbetrags, der innerhalb von 30/60/90 Tagen nach Rechnungsdatum "
                    "bezahlt wurde; junge Kohorten erscheinen, sobald der Zeitraum vollständig ist."
                    if de
                    else "Share of each month's invoiced amount paid within 30/60/90 days of the "
                    "invoice date; recent cohorts appear once that horizon has fully passed."
                ),
            ),
        ),
        card(
            top_customers(f),
            title=("Größte überfällige Kunden" if de else "Top overdue customers"),
            wide=True,
        ),
    ]


def top_customers(f: Filters) -> Any:
    settings = load_settings().dashboard
    rows = data.read(
        metrics.overdue_customers,
        None if f.segment == "all" else f.segment,
        f.behaviour,
        settings.top_customers,
    )
    de = f.lang == "de"
    as_of = rows["as_of_date"][0].isoformat() if rows.height else "–"
    shown = []
    for r in rows.iter_rows(named=True):
        who = r["customer_id"]
        if settings.show_customer_names and r["customer_name"]:
            who = f"{who} · {r['customer_name']}"
        shown.append(
            {
                "customer": who,
                "segment": r["segment"],
                "behaviour": t(r["behaviour_segment"], f.lang)
                if r["behaviour_segment"] in BEHAVIOURS
                else r["behaviour_segment"],
                "overdue": fmt_eur(r["overdue_amount"], f.lang),
                "invoices": r["count_overdue_invoices"],
                "oldest": fmt_days(r["max_days_past_due"], f.lang, decimals=0),
                "stage": r["highest_stage_number"],
                "late": fmt_pct(
                    None if r["late_ratio"] is None else r["late_ratio"] * 100, f.lang, decimals=0
                ),
                "wdl": fmt_days(r["weighted_days_late"], f.lang),
            }
        )
    columns = [
        ("customer", "Kunde" if de else "Customer"),
        ("segment", "Segment"),
        ("behaviour", "Zahlverhalten" if de else "Payment behaviour"),
        ("overdue", "Überfällig" if de else "Overdue"),
        ("invoices", "Rechnungen" if de else "Invoices"),
        ("oldest", "Älteste Überfälligkeit" if de else "Oldest past due"),
        ("stage", "Höchste Stufe" if de else "Highest stage"),
        ("late", "Anteil verspätet" if de else "Share paid late"),
        ("wdl", "Gew. Verzugstage" if de else "Weighted days late"),
    ]
    behaviour = t(f.behaviour, f.lang) if f.behaviour else ("alle" if de else "any")
    note = (
        f"Stand {as_of} (Ende der Daten); Filter Zahlverhalten: {behaviour}. "
        "Zahlverhalten: zuverlässig / gelegentlich / chronisch verspätet, aus der Historie bewertet."
        if de
        else f"As of {as_of} (end of the data); behaviour filter: {behaviour}. Payment "
        "behaviour is scored from each customer's history: reliable / occasional / chronic late payer."
    )
    if not settings.show_customer_names:
        note += (
            " Nur Kunden-IDs (Einstellung dashboard.show_customer_names)."
            if de
            else " Ids only (setting dashboard.show_customer_names)."
        )
    return html.Div(
        [table("ag-top-customers", shown, columns), html.P(note, className="card-note")]
    )
