"""Failed payments with their retries, and message engagement, for the dunning funnel page.

``section(f, end)`` returns the cards the funnel page appends: retry recovery
per failure reason and retry number, and engagement per stage, channel and
template in the month. When the ledger has no ``payment_attempts`` /
``message_events`` (the marts are empty) it returns one line saying so.
Thin: formatting only; the figures come from the marts via ``arinsight.metrics``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from dash import html

from arinsight import metrics
from arinsight.dashboard import data
from arinsight.dashboard.components import card, table
from arinsight.viz.theme import fmt_count, fmt_days, fmt_pct

HINT_EN = (
    "No payment attempts or message events loaded: load payment_attempts / "
    "message_events (docs/payments.md) to see retries and engagement here."
)
HINT_DE = (
    "Keine Abbuchungsversuche oder Nachrichtenereignisse geladen: payment_attempts / "
    "message_events laden (docs/payments.md), um Wiederholungen und Reaktionen zu sehen."
)


def retry_rows(retries: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """One formatted row per failure reason x retry number (retry 0 = first failures)."""
    return [
        {
            "reason": r["failure_reason"],
            "retry": "first charge" if r["retry_number"] == 0 else str(r["retry_number"]),
            "attempts": fmt_count(r["count_attempts"], lang),
            "recovered": fmt_count(r["count_recovered"], lang),
            "rate": fmt_pct(r["recovery_pct"], lang) if r["retry_number"] else "",
            "days": fmt_days(r["avg_days_to_recovery"], lang, decimals=1),
            "by_retry": fmt_pct(r["recovered_by_retry_pct"], lang),
            "by_reminder": fmt_pct(r["recovered_by_reminder_pct"], lang),
            "lost": fmt_pct(r["not_recovered_pct"], lang),
        }
        for r in retries.sort("failure_reason", "retry_number").iter_rows(named=True)
    ]


def engagement_rows(engagement: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """One formatted row per stage x channel x template of the month."""
    return [
        {
            "stage": str(r["stage_number"]),
            "channel": r["channel"],
            "template": r["template_name"],
            "sent": fmt_count(r["count_sent"], lang),
            "delivered": fmt_pct(r["delivered_pct"], lang),
            "bounced": fmt_pct(r["bounced_pct"], lang),
            "opened": fmt_pct(r["opened_pct"], lang),
            "clicked": fmt_pct(r["clicked_pct"], lang),
            "replied": fmt_pct(r["replied_pct"], lang),
            "conv_engaged": fmt_pct(r["conversion_engaged_pct"], lang),
            "conv_not": fmt_pct(r["conversion_not_engaged_pct"], lang),
        }
        for r in engagement.sort("stage_number", "channel", "template_name").iter_rows(named=True)
    ]


def section(segment: str, end: dt.date, lang: str) -> list[Any]:
    """Cards for the funnel page (or one hint line when neither table has rows)."""
    de = lang == "de"
    retries = data.read(metrics.payment_retries, segment)
    engagement = data.read(metrics.message_engagement, segment, end)
    out: list[Any] = []
    if retries.height:
        out.append(
            card(
                table(
                    "dn-retries",
                    retry_rows(retries, lang),
                    [
                        ("reason", "Grund" if de else "Failure reason"),
                        ("retry", "Versuch" if de else "Retry"),
                        ("attempts", "Versuche" if de else "attempts"),
                        ("recovered", "erfolgreich" if de else "recovered"),
                        ("rate", "Quote" if de else "recovery %"),
                        ("days", "Tage" if de else "days to recovery"),
                        ("by_retry", "per Wiederholung" if de else "by retry %"),
                        ("by_reminder", "per Mahnung" if de else "by reminder %"),
                        ("lost", "nicht" if de else "not recovered %"),
                    ],
                    page_size=60,
                ),
                title=(
                    "Fehlgeschlagene Abbuchungen: Wiederholungen je Grund"
                    if de
                    else "Failed payments: retries by failure reason"
                ),
                note=(
                    "Alle Monate. Quote = erfolgreiche Wiederholungen / Wiederholungen; "
                    "rechts: Anteil der fehlgeschlagenen Rechnungen, die per Wiederholung, "
                    "per Mahnung oder nicht bezahlt wurden."
                    if de
                    else "All months. Recovery % = successful retries / retries; right: share "
                    "of the failed invoices paid by a retry, after the reminders, or not at all."
                ),
                wide=True,
            )
        )
    if engagement.height:
        out.append(
            card(
                table(
                    "dn-engagement",
                    engagement_rows(engagement, lang),
                    [
                        ("stage", "Stufe" if de else "Stage"),
                        ("channel", "Kanal" if de else "Channel"),
                        ("template", "Vorlage" if de else "Template"),
                        ("sent", "gesendet" if de else "sent"),
                        ("delivered", "zugestellt" if de else "delivered"),
                        ("bounced", "unzustellbar" if de else "bounced"),
                        ("opened", "geöffnet" if de else "opened"),
                        ("clicked", "geklickt" if de else "clicked"),
                        ("replied", "beantwortet" if de else "replied"),
                        ("conv_engaged", "bezahlt (reagiert)" if de else "paid % engaged"),
                        ("conv_not", "bezahlt (nicht)" if de else "paid % not engaged"),
                    ],
                ),
                title=(
                    "Reaktionen auf Mahnungen im Monat" if de else "Message engagement in the month"
                ),
                note=(
                    "Zustellung/Unzustellbar je Sendung, Öffnen/Klicken/Antworten je zugestellter "
                    "Sendung; bezahlt = im Fenster der Stufe beglichen."
                    if de
                    else "Delivered / bounced per send, opened / clicked / replied per delivered "
                    "send; paid = settled within the stage's window."
                ),
                wide=True,
            )
        )
    if not out:
        out.append(html.P(HINT_DE if de else HINT_EN, id="dn-payments-hint", className="card-note"))
    return out
