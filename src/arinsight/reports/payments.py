"""Failed payments with their retries, and message engagement, for the monthly review.

``html(rv)`` renders both tables from ``marts.fct_payment_retries`` and
``marts.fct_message_engagement`` (through ``arinsight.metrics``) for the
review's segment and month, or one line saying the tables are not loaded.
"""

from __future__ import annotations

import html as _html

from arinsight import metrics
from arinsight.reports.review import Html, Review, _fmt, _table

HINT = {
    "en": "No payment attempts or message events loaded (optional tables "
    "payment_attempts / message_events, docs/payments.md).",
    "de": "Keine Abbuchungsversuche oder Nachrichtenereignisse geladen (optionale "
    "Tabellen payment_attempts / message_events, docs/payments.md).",
}


def html(rv: Review) -> Html:
    """Retry recovery per failure reason (all months) and the month's engagement."""
    de = rv.lang == "de"
    with rv.connect() as wh:
        retries = metrics.payment_retries(wh, rv.segment)
        engagement = metrics.message_engagement(wh, rv.segment, rv.month_end)
    if not retries.height and not engagement.height:
        return Html(f'<p class="ai-note" id="ai-payments-hint">{_html.escape(HINT[rv.lang])}</p>')
    parts: list[str] = []
    if retries.height:
        title = (
            "Fehlgeschlagene Abbuchungen: Wiederholungen je Grund (alle Monate)"
            if de
            else "Failed payments: retries by failure reason (all months)"
        )
        head = (
            [
                "Grund",
                "Versuch",
                "Versuche",
                "erfolgreich",
                "Quote (%)",
                "Tage",
                "per Wdh. (%)",
                "per Mahnung (%)",
                "nicht (%)",
            ]
            if de
            else [
                "Failure reason",
                "Retry",
                "Attempts",
                "Recovered",
                "Recovery (%)",
                "Days",
                "By retry (%)",
                "By reminder (%)",
                "Not recovered (%)",
            ]
        )
        rows = [
            (
                f"{r['failure_reason']}/{r['retry_number']}",
                [
                    r["failure_reason"],
                    ("Erstabbuchung" if de else "first charge")
                    if r["retry_number"] == 0
                    else str(r["retry_number"]),
                    _fmt(r["count_attempts"], "count", rv.lang),
                    _fmt(r["count_recovered"], "count", rv.lang),
                    _fmt(r["recovery_pct"] if r["retry_number"] else None, "pct", rv.lang),
                    _fmt(r["avg_days_to_recovery"], "days", rv.lang),
                    _fmt(r["recovered_by_retry_pct"], "pct", rv.lang),
                    _fmt(r["recovered_by_reminder_pct"], "pct", rv.lang),
                    _fmt(r["not_recovered_pct"], "pct", rv.lang),
                ],
            )
            for r in retries.sort("failure_reason", "retry_number").iter_rows(named=True)
        ]
        parts.append(f'<h3 class="ai-sub-section">{_html.escape(title)}</h3>')
        parts.append(_table("ai-retries", head, rows))
    if engagement.height:
        title = "Reaktionen auf Mahnungen im Monat" if de else "Message engagement in the month"
        head = (
            [
                "Stufe",
                "Kanal",
                "Vorlage",
                "gesendet",
                "zugestellt (%)",
                "unzustellbar (%)",
                "geöffnet (%)",
                "geklickt (%)",
                "beantwortet (%)",
                "bezahlt reagiert (%)",
                "bezahlt nicht (%)",
            ]
            if de
            else [
                "Stage",
                "Channel",
                "Template",
                "Sent",
                "Delivered (%)",
                "Bounced (%)",
                "Opened (%)",
                "Clicked (%)",
                "Replied (%)",
                "Paid, engaged (%)",
                "Paid, not engaged (%)",
            ]
        )
        rows = [
            (
                f"{r['stage_number']}/{r['channel']}/{r['template_name']}",
                [
                    str(r["stage_number"]),
                    r["channel"],
                    r["template_name"],
                    _fmt(r["count_sent"], "count", rv.lang),
                    _fmt(r["delivered_pct"], "pct", rv.lang),
                    _fmt(r["bounced_pct"], "pct", rv.lang),
                    _fmt(r["opened_pct"], "pct", rv.lang),
                    _fmt(r["clicked_pct"], "pct", rv.lang),
                    _fmt(r["replied_pct"], "pct", rv.lang),
                    _fmt(r["conversion_engaged_pct"], "pct", rv.lang),
                    _fmt(r["conversion_not_engaged_pct"], "pct", rv.lang),
                ],
            )
            for r in engagement.sort("stage_number", "channel", "template_name").iter_rows(
                named=True
            )
        ]
        parts.append(f'<h3 class="ai-sub-section">{_html.escape(title)}</h3>')
        parts.append(_table("ai-engagement", head, rows))
    return Html("".join(parts))
