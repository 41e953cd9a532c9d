# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Dunning funnel: per stage entered / paid / escalated, time-to-settle curves with
95 % bands, conversion per stage and channel, guardrail findings with examples.
The behaviour filter splits the funnel, the channels and the stage table
(fct_stage_channels); the curves and the findings pool every payer."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.dashboard import data, payments
from arinsight.dashboard.components import (
    behaviour_scope,
    card,
    graph,
    grid,
    month_label,
    table,
)
from arinsight.dashboard.context import month, no_rows, page_layout, render_page, stage_names, upto
from arinsight.dashboard.filters import Filters
from arinsight.viz.theme import fmt_count, fmt_days, fmt_eur, fmt_pct, t

dash.register_page(__name__, path="/dunning", name="Dunning funnel", order=2)


def layout(**query: Any) -> Any:
    return page_layout("dn", query, body)


@callback(
    Output("dn-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
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
    # stage entries by channel and payment behaviour (fct_stage_channels)
    split = data.read(metrics.stage_channels, f.segment, f.behaviour or "all", end)
    by_channel = split.filter(pl.col("channel") != "all")
    if f.behaviour:
        # the funnel and the table of the chosen payers: the same counts as
        # fct_stage_conversion, split by behaviour (no time-to-settle quantiles)
        in_month = split.filter(pl.col("channel") == "all")
    guard = upto(data.read(metrics.guardrails, f.segment), end)
    examples = data.read(metrics.guardrail_examples, None, f.segment, end, 3)
    de = f.lang == "de"
    scope = behaviour_scope(
        "dn",
        f.behaviour,
        f.lang,
        split=[
            t("funnel_title", f.lang),
            t("channel_title", f.lang),
            "Stufen im Monat" if de else "Stages in the month",
        ],
        not_split=[
            t("survival_title", f.lang),
            t("guardrail_title", f.lang),
            "Beispiele" if de else "Examples",
        ],
    )
    single = _single_channel_stages(by_channel)
    return [
        html.H2(f"{month_label(end, f.lang)} · {f.segment}", id="dn-heading"),
        *([scope] if scope else []),
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
                    viz.channel_comparison(
                        by_channel, segment=f.segment, stage_names=names, lang=f.lang
                    ),
                ),
                note=_channel_note(single, f.lang),
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
            )
            + (
                (
                    " Median und p75 gibt es nur für alle Zahler zusammen (–)."
                    if de
                    else " Median and p75 exist for all payers together only (–)."
                )
                if f.behaviour
                else ""
            ),
            wide=True,
        ),
        card(
            table(
                "dn-examples",
                [
                    {
                        **r,
                        "finding_kind": t(r["finding_kind"], f.lang),
                        "channel": t(r["channel"], f.lang) if r["channel"] else None,
                    }
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
            "entered": fmt_count(r["count_entered"], lang),
            "entered_amount": fmt_eur(r["entered_amount"], lang),
            "converted": fmt_count(r["count_converted"], lang),
            "converted_amount": fmt_eur(r["converted_amount"], lang),
            "conversion": fmt_pct(r["conversion_pct"], lang),
            "conversion_amount": fmt_pct(r["conversion_amount_pct"], lang),
            "progression": fmt_pct(r["progression_pct"], lang),
            "pending": fmt_count(r["count_pending"], lang),
            "median": fmt_days(r.get("median_days_to_settle"), lang, decimals=0),
            "p75": fmt_days(r.get("p75_days_to_settle"), lang, decimals=0),
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


def _single_channel_stages(by_channel: pl.DataFrame) -> bool:
    """Whether every stage went out through one channel only in the month."""
    if by_channel.height == 0:
        return True
    per_stage = by_channel.group_by("stage_number").agg(pl.col("channel").n_unique())
    return bool(per_stage["channel"].max() == 1)


def _channel_note(single: bool, lang: str) -> str:
    if single:
        return (
            "Share paid before the next stage, by the channel of the stage's first send "
            "(n = invoices). In this month each stage went out through one channel only, "
            "so channels compare only through the stages that use them; a channel test "
            "within a stage (an experiment arm) shows up as bars side by side."
            if lang != "de"
            else "Anteil vor der nächsten Stufe bezahlt, nach dem Kanal des ersten Versands "
            "der Stufe (n = Rechnungen). In diesem Monat nutzte jede Stufe nur einen Kanal; "
            "Kanäle vergleichen sich daher nur über ihre Stufen. Ein Kanaltest innerhalb "
            "einer Stufe erscheint als Balken nebeneinander."
        )
    return (
        "Share paid before the next stage, by the channel of the stage's first send "
        "(n = invoices). Bars side by side = the same stage sent through different channels."
        if lang != "de"
        else "Anteil vor der nächsten Stufe bezahlt, nach dem Kanal des ersten Versands der "
        "Stufe (n = Rechnungen). Balken nebeneinander = dieselbe Stufe über verschiedene Kanäle."
    )
