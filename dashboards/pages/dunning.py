# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Dunning funnel: per stage entered / paid / escalated, time-to-settle curves with
95 % bands, stages by channel, guardrail findings with examples."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from arinsight import metrics, viz
from arinsight.dashboard import data, payments
from arinsight.dashboard.components import card, graph, grid, month_label, table
from arinsight.dashboard.context import month, no_rows, render_page, stage_names, upto
from arinsight.dashboard.filters import Filters
from arinsight.viz.theme import fmt_days, fmt_eur, fmt_pct, t

dash.register_page(__name__, path="/dunning", name="Dunning funnel", order=2)


def layout(**_: Any) -> html.Div:
    return html.Div(dcc.Loading(html.Div(id="dn-body")), className="page")


@callback(Output("dn-body", "children"), Input("url", "search"), Input("data-version", "data"))
def render(search: str | None, _version: str | None) -> Any:
    return render_page("dn", search, body)


def body(f: Filters) -> list[Any]:
    end = month(f)
    conversion = data.read(metrics.stage_conversion, f.segment)
    in_month = conversion.filter(pl.col("month_end_date") == end)
    if in_month.height == 0:
        raise no_rows("dunning sends", f, end)
    names = stage_names()
    survival = data.read(metrics.stage_survival_bands, f.segment)
    ladder, _ = data.read(metrics.ladder_in_force)
    channel_of = ladder.select("stage_number", "channel").unique(
        subset="stage_number", keep="first"
    )
    by_channel = in_month.join(channel_of, on="stage_number", how="left").with_columns(
        pl.col("channel").fill_null("unknown")
    )
    guard = upto(data.read(metrics.guardrails, f.segment), end)
    examples = data.read(metrics.guardrail_examples, None, f.segment, end, 3)
    de = f.lang == "de"
    return [
        html.H2(f"{month_label(end, f.lang)} · {f.segment}", id="dn-heading"),
        grid(
            card(
                graph(
                    "dn-funnel",
                    viz.stage_funnel(
                        in_month, segment=f.segment, month_end=end, stage_names=names, lang=f.lang
                    ),
                ),
                note=(
                    "Rechnungen, deren erste Mahnung dieser Stufe im Monat verschickt wurde; % = vor der "
                    "nächsten Stufe bezahlt."
                    if de
                    else "Invoices whose first reminder of the stage went out in the month; % = paid "
                    "before the next stage went out."
                ),
            ),
            card(
                graph(
                    "dn-survival",
                    viz.survival_curves(
                        survival, segment=f.segment, stage_names=names, lang=f.lang
                    ),
                ),
                note=(
                    "Kaplan-Meier über alle Sendungen; noch offene Fälle zensiert. Schattierung: 95-%-Band."
                    if de
                    else "Kaplan-Meier over all sends; cases still open are censored. Shading: 95 % band."
                ),
            ),
            card(
                graph(
                    "dn-channels",
                    viz.channel_comparison(by_channel, segment=f.segment, lang=f.lang),
                ),
                note=(
                    "Jede Stufe nutzt im gültigen Mahnplan einen Kanal; Kanäle vergleichen sich hier über ihre Stufen."
                    if de
                    else "Each stage uses one channel in the ladder in force, so channels compare "
                    "through the stages that use them."
                ),
            ),
            card(graph("dn-guardrails", viz.guardrail_bars(guard, segment=f.segment, lang=f.lang))),
        ),
        card(
            stage_table(in_month, names, f.lang),
            title=(
                "Stufen im Monat: Anzahl und Beträge"
                if de
                else "Stages in the month: counts and amounts"
            ),
            note=(
                "Beträge = offener Betrag beim Versand; Median/p75 = Tage bis zur Begleichung nach dem Versand (Kaplan-Meier)."
                if de
                else "Amounts = open amount when the stage went out; median / p75 = days from the send to settlement (Kaplan-Meier)."
            ),
            wide=True,
        ),
        card(
            table(
                "dn-examples",
                [
                    {**r, "finding_kind": t(r["finding_kind"], f.lang)}
                    for r in examples.iter_rows(named=True)
                ],
                [
                    ("finding_kind", "Befund" if de else "Finding"),
                    ("sent_date", "Versandt" if de else "Sent"),
                    ("event_id", "Ereignis" if de else "Event"),
                    ("invoice_id", "Rechnung" if de else "Invoice"),
                    ("customer_id", "Kunde" if de else "Customer"),
                    ("stage_number", "Stufe" if de else "Stage"),
                    ("channel", "Kanal" if de else "Channel"),
                    ("finding_detail", "Detail"),
                ],
                page_size=9,
            ),
            title=(
                "Beispiele: jüngste Befunde des Monats je Art"
                if de
                else "Examples: the month's latest findings of each kind"
            ),
            wide=True,
        ),
        # failed payments and message engagement (issue 16), or a one-line hint
        *payments.section(f.segment, end, f.lang),
    ]


def stage_table(rows: pl.DataFrame, names: dict[int, str], lang: str) -> Any:
    """Per stage: entered / paid / escalated counts and amounts as the mart holds them."""
    de = lang == "de"
    shown = [
        {
            "stage": f"{r['stage_number']} · {names.get(r['stage_number'], '')}".rstrip(" ·"),
            "entered": f"{r['count_entered']:,}",
            "entered_amount": fmt_eur(r["entered_amount"], lang),
            "converted": f"{r['count_converted']:,}",
            "converted_amount": fmt_eur(r["converted_amount"], lang),
            "conversion": fmt_pct(r["conversion_pct"], lang),
            "conversion_amount": fmt_pct(r["conversion_amount_pct"], lang),
            "progression": fmt_pct(r["progression_pct"], lang),
            "pending": f"{r['count_pending']:,}",
            "median": fmt_days(r["median_days_to_settle"], lang, decimals=0),
            "p75": fmt_days(r["p75_days_to_settle"], lang, decimals=0),
        }
        for r in rows.sort("stage_number").iter_rows(named=True)
    ]
    columns = [
        ("stage", "Stufe" if de else "Stage"),
        ("entered", "erreicht" if de else "reached"),
        ("entered_amount", "Betrag" if de else "amount"),
        ("converted", "bezahlt" if de else "paid"),
        ("converted_amount", "Betrag bezahlt" if de else "amount paid"),
        ("conversion", "Quote" if de else "paid %"),
        ("conversion_amount", "Quote (Betrag)" if de else "paid % (amount)"),
        ("progression", "eskaliert %" if de else "escalated %"),
        ("pending", "offen" if de else "pending"),
        ("median", "Median"),
        ("p75", "p75"),
    ]
    return table("dn-stages", shown, columns)
