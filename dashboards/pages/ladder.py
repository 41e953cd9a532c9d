# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Ladder: the ladder in force per segment on a days-after-due axis; the recommender's
proposal beside it (rationale, evidence, expected effect with intervals) when
``marts.ladder_recommendations`` exists, otherwise the command that produces it."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from arinsight import metrics, viz
from arinsight.dashboard import data
from arinsight.dashboard.components import behaviour_scope, card, graph, table
from arinsight.dashboard.context import render_page
from arinsight.dashboard.filters import Filters

dash.register_page(__name__, path="/ladder", name="Ladder", order=4)

#: Column names the recommender may use for the same thing (first match wins).
STAGE_COLUMNS = ("stage_number", "stage")
PROPOSED_COLUMNS = ("proposed_offset_days", "proposed_due_offset_days", "proposed_offset")


def layout(**_: Any) -> html.Div:
    return html.Div(dcc.Loading(html.Div(id="ld-body")), className="page")


@callback(Output("ld-body", "children"), Input("url", "search"), Input("data-version", "data"))
def render(search: str | None, _version: str | None) -> Any:
    return render_page("ld", search, body)


def proposal_frame(recs: pl.DataFrame | None) -> pl.DataFrame | None:
    """``segment``, ``stage_number``, ``proposed_offset_days`` from the recommendations
    (None when absent or without those columns)."""
    if recs is None or recs.height == 0 or "segment" not in recs.columns:
        return None
    stage = next((c for c in STAGE_COLUMNS if c in recs.columns), None)
    proposed = next((c for c in PROPOSED_COLUMNS if c in recs.columns), None)
    if stage is None or proposed is None:
        return None
    return recs.select(
        pl.col("segment").cast(pl.String),
        pl.col(stage).cast(pl.Int64).alias("stage_number"),
        pl.col(proposed).cast(pl.Int64).alias("proposed_offset_days"),
    ).drop_nulls()


def body(f: Filters) -> list[Any]:
    de = f.lang == "de"
    current, source = data.read(metrics.ladder_in_force, f.period)
    if f.segment != "all":
        current = current.filter(pl.col("segment") == f.segment)
    recs = data.read(metrics.ladder_recommendations)
    proposed = proposal_frame(recs)
    if proposed is not None and f.segment != "all":
        proposed = proposed.filter(pl.col("segment") == f.segment)
    if source == "default":
        source_note = (
            "Kein Mahnplan angewendet (meta.ladders fehlt): gezeigt wird der mitgelieferte Standard-Mahnplan. "
            "`arinsight ladder apply LADDER.yaml` hinterlegt den gültigen."
            if de
            else "No ladder has been applied (no meta.ladders): showing the shipped default ladder. "
            "`arinsight ladder apply LADDER.yaml` records the one in force."
        )
    else:
        source_note = ("Quelle: " if de else "Source: ") + source
    scope = behaviour_scope(
        "ld",
        f.behaviour,
        f.lang,
        split=[],
        not_split=[
            "Mahnplan je Segment (Stammdaten-Segment, nicht Zahlverhalten)"
            if de
            else "Ladder per segment (master-data segment, not payment behaviour)",
            "Empfehlungen" if de else "Recommendations",
        ],
    )
    parts: list[Any] = [
        *([scope] if scope else []),
        card(
            graph("ld-timeline", viz.ladder_timeline(current, proposed, lang=f.lang)),
            note=source_note,
            wide=True,
        ),
        card(
            table(
                "ld-current",
                current.to_dicts(),
                [
                    ("segment", "Segment"),
                    ("stage_number", "Stufe" if de else "Stage"),
                    ("stage_name", "Name"),
                    ("due_offset_days", "Tage nach Fälligkeit" if de else "Days after due"),
                    ("channel", "Kanal" if de else "Channel"),
                    ("fee_amount", "Gebühr (EUR)" if de else "Fee (EUR)"),
                ],
                page_size=25,
            ),
            title="Gültiger Mahnplan" if de else "Ladder in force",
            wide=True,
        ),
    ]
    if recs is None:
        parts.append(
            html.P(
                [
                    "Noch keine Empfehlungen: " if de else "No recommendations yet: ",
                    html.Code("arinsight recommend", className="cmd"),
                    " schreibt marts.ladder_recommendations (Vorschlag, Begründung, Evidenz, "
                    "erwartete Wirkung mit Intervallen)."
                    if de
                    else " writes marts.ladder_recommendations (proposal, rationale, evidence, "
                    "expected effect with intervals).",
                ],
                className="notice",
                id="ld-no-recommendations",
            )
        )
    else:
        shown = (
            recs
            if f.segment == "all" or "segment" not in recs.columns
            else recs.filter(pl.col("segment") == f.segment)
        )
        rows, columns = with_intervals(shown)
        parts.append(
            card(
                table("ld-recommendations", rows, columns, page_size=25),
                title="Empfehlungen (arinsight recommend)"
                if de
                else "Recommendations (arinsight recommend)",
                note=(
                    "Erwartete Wirkung mit 80-%-Intervallen, n = Evidenz; wie vom Empfehlungsmodul geschrieben."
                    if de
                    else "Expected effects with their 80 % intervals and the evidence n, as the "
                    "recommender wrote them."
                ),
                wide=True,
            )
        )
    versions = data.read(metrics.ladder_versions)
    if versions is not None and versions.height:
        cols = [
            c
            for c in ("version", "effective_date", "name", "sha256", "applied_at")
            if c in versions.columns
        ]
        parts.append(
            card(
                table(
                    "ld-versions",
                    versions.select(cols).to_dicts(),
                    [(c, c.replace("_", " ")) for c in cols],
                ),
                title="Versionen" if de else "Versions",
                wide=True,
            )
        )
    return parts


def with_intervals(recs: pl.DataFrame) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Rows and columns for the table, an estimate and its ``*_low`` / ``*_high`` bounds
    shown together as ``-1.4 (-2.1 to -0.7)``."""
    cols = list(recs.columns)
    merged: dict[str, tuple[str, str]] = {}
    for low in (c for c in cols if c.endswith("_low")):
        stem = low.removesuffix("_low")
        high = stem + "_high"
        base = next(
            (c for c in cols if c.startswith(stem) and not c.endswith(("_low", "_high"))), None
        )
        if base is not None and high in cols:
            merged[base] = (low, high)
    hidden = {c for pair in merged.values() for c in pair}
    rows = []
    for r in recs.iter_rows(named=True):
        row = {k: _fmt(v) for k, v in r.items() if k not in hidden}
        for base, (low, high) in merged.items():
            row[base] = f"{_fmt(r[base])} ({_fmt(r[low])} to {_fmt(r[high])})"
        rows.append(row)
    columns = [
        (c, c.replace("_", " ") + (" (80 % interval)" if c in merged else ""))
        for c in cols
        if c not in hidden
    ]
    return rows, columns


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    return value
