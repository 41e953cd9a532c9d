"""Shared building blocks of the pages: KPI tiles, chart cards, tables, notices.

Everything here formats values the marts computed (:mod:`arinsight.viz.theme`
formats); nothing computes a metric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from dash import dcc, html

from arinsight.dashboard.data import NeedsCommand
from arinsight.viz.theme import fmt_days, fmt_eur, fmt_pct, fmt_signed, t

GRAPH_CONFIG: Any = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d"],
}

_TEXT: dict[str, tuple[str, str]] = {
    "not_ready": ("Nothing to show yet", "Noch nichts anzuzeigen"),
    "run": ("Run:", "Ausführen:"),
    "unexpected": ("This page could not be drawn", "Diese Seite konnte nicht erstellt werden"),
    "latest": ("latest month", "letzter Monat"),
}


def txt(key: str, lang: str) -> str:
    """Page-chrome text (labels of charts live in :data:`arinsight.viz.theme.LABELS`)."""
    en, de = _TEXT[key]
    return de if lang == "de" else en


def notice(state: NeedsCommand, lang: str = "en", *, page: str = "page") -> html.Div:
    """The box a page shows instead of charts when the warehouse cannot answer."""
    return html.Div(
        [
            html.H3(txt("not_ready", lang)),
            html.P(state.message),
            html.P([txt("run", lang), " ", html.Code(state.command, className="cmd")]),
        ],
        className="notice",
        id=f"{page}-notice",
    )


def guarded(page: str, lang: str, build: Callable[[], Any]) -> Any:
    """``build()`` on one short-lived connection, or a notice saying which command to
    run when data is missing."""
    from arinsight.dashboard.data import request

    try:
        with request():
            return build()
    except NeedsCommand as state:
        return notice(state, lang, page=page)


def graph(component_id: str, figure: Any, *, height: int = 380) -> dcc.Graph:
    """A chart of fixed height (a responsive graph needs one to fill)."""
    if figure.layout.height:
        height = int(figure.layout.height)
    figure.update_layout(height=height)
    return dcc.Graph(
        id=component_id,
        figure=figure,
        config=GRAPH_CONFIG,
        className="chart",
        style={"height": f"{height}px"},
    )


def card(
    children: Any, *, title: str | None = None, note: str | None = None, wide: bool = False
) -> html.Div:
    parts: list[Any] = []
    if title:
        parts.append(html.H3(title, className="card-title"))
    parts.append(children)
    if note:
        parts.append(html.P(note, className="card-note"))
    return html.Div(parts, className="card wide" if wide else "card")


def grid(*cards: Any) -> html.Div:
    return html.Div(list(cards), className="grid")


def format_value(value: Any, unit: str, lang: str) -> str:
    """A KPI value: unit is ``days``, ``pct`` or ``eur``."""
    if unit == "days":
        return fmt_days(value, lang)
    if unit == "pct":
        return fmt_pct(value, lang)
    return fmt_eur(value, lang, compact=True)


def kpi_tile(
    component_id: str,
    label: str,
    value: Any,
    unit: str,
    change_month: Any,
    change_year: Any,
    lang: str,
    *,
    higher_is_better: bool = False,
) -> html.Div:
    """Value with its change vs last month and last year (green = better, with a sign
    and an arrow, so the colour is never the only cue)."""

    def delta(change: Any, key: str) -> html.Span:
        if change is None:
            return html.Span(f"– {t(key, lang)}", className="delta")
        better = (change > 0) == higher_is_better if change != 0 else None
        arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
        cls = "delta good" if better else ("delta bad" if better is False else "delta")
        text = fmt_signed(change, "pp" if unit == "pct" else unit, lang)
        return html.Span(f"{arrow} {text} {t(key, lang)}", className=cls)

    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div(format_value(value, unit, lang), className="kpi-value"),
            delta(change_month, "vs_last_month"),
            delta(change_year, "vs_last_year"),
        ],
        className="kpi",
        id=component_id,
    )


def table(
    component_id: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    page_size: int = 50,
) -> html.Table:
    """A plain HTML table (prints in full, unlike a paginated grid).

    ``columns`` = (key, header) pairs; values are shown as given (format them
    first). Each cell carries the class ``col-<key>``. At most ``page_size`` rows.
    """
    head = html.Thead(html.Tr([html.Th(h, className=f"col-{k}") for k, h in columns]))
    body = html.Tbody(
        [
            html.Tr([html.Td(_cell(r.get(k)), className=f"col-{k}") for k, _ in columns])
            for r in list(rows)[:page_size]
        ]
    )
    return html.Table([head, body], id=component_id, className="table")


def _cell(value: Any) -> Any:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return (
            value.isoformat(sep=" ", timespec="minutes")
            if isinstance(value, dt.datetime)
            else value.isoformat()
        )
    return value


def month_label(day: dt.date, lang: str) -> str:
    """``Dec 2025`` / ``Dez. 2025``."""
    en = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    de = (
        "Jan.",
        "Feb.",
        "März",
        "Apr.",
        "Mai",
        "Juni",
        "Juli",
        "Aug.",
        "Sep.",
        "Okt.",
        "Nov.",
        "Dez.",
    )
    return f"{(de if lang == 'de' else en)[day.month - 1]} {day.year}"


def behaviour_scope(
    page: str, behaviour: str | None, lang: str, *, split: Sequence[str], not_split: Sequence[str]
) -> html.P | None:
    """With a payment-behaviour filter chosen: which charts on the page follow it and
    which cannot be split by it (their marts have no behaviour column). None
    without a behaviour filter.

    ``split`` / ``not_split``: chart titles, already in ``lang``.
    """
    if not behaviour:
        return None
    de = lang == "de"
    chosen = t(behaviour, lang)
    parts: list[str] = []
    if split:
        parts.append(
            (
                f"Filter Zahlverhalten „{chosen}“ gilt für: "
                if de
                else f"Behaviour filter “{chosen}” applies to: "
            )
            + ", ".join(split)
            + "."
        )
    else:
        parts.append(
            f"Filter Zahlverhalten „{chosen}“: keine Grafik dieser Seite lässt sich "
            "danach aufteilen."
            if de
            else f"Behaviour filter “{chosen}”: no chart on this page can be split by "
            "payment behaviour."
        )
    if not_split and split:
        parts.append(
            (
                "Nicht nach Zahlverhalten aufteilbar (alle Kunden): "
                if de
                else "Cannot be split by behaviour (all customers): "
            )
            + ", ".join(not_split)
            + "."
        )
    elif not_split:
        parts.append(
            ("Gezeigt für alle Kunden: " if de else "Shown for all customers: ")
            + ", ".join(not_split)
            + "."
        )
    return html.P(" ".join(parts), className="scope-note", id=f"{page}-behaviour-scope")
