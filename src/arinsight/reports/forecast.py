"""The monthly report's cash-forecast section (``marts.fct_cash_forecast``, `arinsight score`).

The forecast shown is the one scored on the report's month end, else the latest
scored before it (the section says which, and how old it is). Without one, the
section names the command that writes it. The run-rate of new invoicing is
stated on its own line: it is not part of the forecast.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

from arinsight.reports.review import Html, Review, _fmt, _table
from arinsight.viz.theme import fmt_count

if TYPE_CHECKING:
    import polars as pl


def frame(rv: Review) -> pl.DataFrame:
    """The 13 weekly rows scored on or before the report's month end (empty: none)."""
    from arinsight import metrics

    with rv.connect() as wh:
        return metrics.cash_forecast(wh, on_or_before=rv.month_end)


def summary_html(rv: Review, fc: pl.DataFrame) -> Html:
    """Totals, the invoicing run-rate (apart), the weekly table with the 80 % interval."""
    lang = rv.lang
    de = lang == "de"
    if fc.height == 0:
        cmd = f"arinsight score --as-of {rv.month_end.isoformat()}"
        text = (
            f"Keine Zahlungsprognose zum {rv.month_end.isoformat()} oder davor. Erstellen mit "
            if de
            else f"No cash forecast scored on or before {rv.month_end.isoformat()}. Write one with "
        )
        return Html(f'<p class="ai-note">{html.escape(text)}<code>{html.escape(cmd)}</code>.</p>')
    first = fc.row(0, named=True)
    day: dt.date = first["scoring_date"]
    total = float(fc["expected_collections_amount"].cast(float).sum())
    parts: list[str] = []
    age = (rv.month_end - day).days
    when = (
        f"bewertet am {day.isoformat()}" + (f" ({age} Tage vor Monatsende)" if age else "")
        if de
        else f"scored on {day.isoformat()}" + (f" ({age} days before the month end)" if age else "")
    )
    c = rv.currency
    rate = _fmt(first["invoicing_run_rate_weekly_amount"], "amount", lang)
    n_open = fmt_count(first["count_open_invoices"], lang)
    lines = (
        [
            f"Erwartete Eingänge in 13 Wochen aus {n_open} offenen "
            f"Posten über {_fmt(first['open_amount'], 'amount', lang)} {c}: "
            f"{_fmt(total, 'amount', lang)} {c} ({when}).",
            f"Fakturierung zuletzt {rate} {c} je Woche (Schnitt der letzten 13 Wochen) — "
            "neue Rechnungen, nicht in der Prognose.",
        ]
        if de
        else [
            f"Expected collections over 13 weeks from {n_open} open "
            f"invoices of {_fmt(first['open_amount'], 'amount', lang)} {c}: "
            f"{_fmt(total, 'amount', lang)} {c} ({when}).",
            f"Invoicing run-rate {rate} {c} per week (last 13 weeks' average) — "
            "new invoices, not in the forecast.",
        ]
    )
    parts += [f'<p class="ai-narrative">{html.escape(x)}</p>' for x in lines]
    if rv.segment != "all":
        note = (
            "Die Prognose umfasst alle Segmente."
            if de
            else "The forecast covers all segments (it is not split by segment)."
        )
        parts.append(f'<p class="ai-note">{html.escape(note)}</p>')
    head = (
        ["Woche bis", f"Erwartet ({c})", "80 % von", "80 % bis"]
        if de
        else ["Week ending", f"Expected ({c})", "80 % from", "80 % to"]
    )
    rows = [
        (
            str(r["week_number"]),
            [
                r["week_end_date"].isoformat(),
                _fmt(r["expected_collections_amount"], "amount", lang),
                _fmt(r["collections_p10_amount"], "amount", lang),
                _fmt(r["collections_p90_amount"], "amount", lang),
            ],
        )
        for r in fc.sort("week_number").iter_rows(named=True)
    ]
    parts.append(_table("ai-forecast", head, rows))
    caveat = (
        "Das 80-%-Intervall ist so breit wie die Fehler des Modells bei den Prognosen der "
        "letzten vier Monatsenden (Eingang ÷ Prognose je Woche; mit weniger Historie "
        "simulierte Zahltage); im Backtest lagen 79-82 % der Wochen darin (docs/propensity.md)."
        if de
        else "The 80 % interval spans the model's own misses on the forecasts of the last four "
        "month ends (collected ÷ forecast per week; with less history, simulated payment "
        "days); in the backtest 79-82 % of weeks fell inside it (docs/propensity.md)."
    )
    parts.append(f'<p class="ai-note">{html.escape(caveat)}</p>')
    return Html("".join(parts))
