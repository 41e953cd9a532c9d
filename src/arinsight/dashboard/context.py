"""What every page callback needs first: the filters from the URL and the month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import polars as pl

from arinsight import metrics
from arinsight.dashboard import data
from arinsight.dashboard.filters import Filters, parse


def filters_for(search: str | None) -> Filters:
    """The URL's filters, validated against the warehouse's segments and months."""
    from arinsight.config import load_settings

    lang = load_settings().dashboard.language
    try:
        segs = data.read(metrics.segments)
        months = data.read(metrics.month_ends)
    except data.NeedsCommand:
        return parse(search, default_lang=lang)
    return parse(search, segments=segs, periods=months, default_lang=lang)


def month(f: Filters) -> dt.date:
    """The selected month end (default: the latest built).

    Raises:
        data.NeedsCommand: the warehouse has no month ends.
    """
    months: list[dt.date] = data.read(metrics.month_ends)
    if not months:
        raise data.NeedsCommand(
            f"{data.db_path()} has marts but no month ends (no invoices were loaded).",
            "arinsight load EXPORTS_DIR && arinsight build",
        )
    return f.period or months[-1]


def upto(frame: pl.DataFrame, end: dt.date) -> pl.DataFrame:
    """Rows with ``month_end_date`` on or before ``end`` (trend charts stop at the period)."""
    return frame.filter(pl.col("month_end_date") <= end)


def no_rows(what: str, f: Filters, end: dt.date) -> data.NeedsCommand:
    """The notice for a month or segment without figures."""
    return data.NeedsCommand(
        f"No {what} for segment '{f.segment}' at {end.isoformat()}: that month has no "
        "data in this warehouse.",
        "pick another period, or load the exports covering it: "
        "arinsight load EXPORTS_DIR && arinsight build",
    )


def stage_names() -> dict[int, str]:
    """Stage number → name from the ladder in force (the first segment's)."""
    frame, _ = data.read(metrics.ladder_in_force)
    if frame.height == 0:
        return {}
    first = frame["segment"][0]
    rows = frame.filter(pl.col("segment") == first)
    return dict(zip(rows["stage_number"].to_list(), rows["stage_name"].to_list(), strict=True))


def render_page(page: str, search: str | None, body: Callable[[Filters], Any]) -> Any:
    """What every page callback does: filters from the URL, then ``body(filters)``, all
    on one short-lived connection; a notice naming the command when data is missing."""
    from arinsight.dashboard.components import notice

    with data.request():
        f = filters_for(search)
        try:
            if page == "dq":  # also reads files beside the warehouse (check results)
                return body(f)
            return data.memo(("page", page, f), lambda: body(f))
        except data.NeedsCommand as state:
            return notice(state, f.lang, page=page)


def page_layout(page: str, query: Mapping[str, Any], body: Callable[[Filters], Any]) -> Any:
    """The page as Dash's router serves it, its body already drawn from the query
    string (``query``: the URL's parameters as the router passes them).

    The page's own callback (``prevent_initial_call``) then only redraws the body when
    the filters or the build change: a first visit or a page link costs one callback
    round trip instead of the router's and then the body's, one after the other.
    """
    from dash import dcc, html

    search = "?" + urlencode(dict(query), doseq=True) if query else ""
    return html.Div(
        dcc.Loading(html.Div(render_page(page, search, body), id=f"{page}-body")),
        className="page",
    )
