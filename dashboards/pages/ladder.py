# ruff: noqa: E501  (bilingual prose notes read better unsplit)
"""Ladder: the ladder in force per segment on a days-after-due axis; the recommender's
proposal beside it (rationale, evidence, expected effect with intervals) when
``marts.ladder_recommendations`` exists, otherwise the command that produces it."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.dashboard import data
from arinsight.dashboard.components import behaviour_scope, card, graph, table
from arinsight.dashboard.context import page_layout, render_page
from arinsight.dashboard.filters import Filters
from arinsight.viz.theme import fmt_count, fmt_eur, t

dash.register_page(__name__, path="/ladder", name="Ladder", order=4)

#: Column names the recommender may use for the same thing (first match wins).
STAGE_COLUMNS = ("stage_number", "stage")
PROPOSED_COLUMNS = ("proposed_offset_days", "proposed_due_offset_days", "proposed_offset")


def layout(**query: Any) -> Any:
    return page_layout("ld", query, body)


@callback(
    Output("ld-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("ld", search, body)


def proposal_frame(recs: pl.DataFrame | None) -> pl.DataFrame | None:
    """``segment``, ``stage_number``, ``proposed_offset_days`` (null: the stage is
    dropped; and ``proposed_channel`` when the recommendations have it) from the
    recommendations (None when absent or without those columns)."""
    if recs is None or recs.height == 0 or "segment" not in recs.columns:
        return None
    stage = next((c for c in STAGE_COLUMNS if c in recs.columns), None)
    proposed = next((c for c in PROPOSED_COLUMNS if c in recs.columns), None)
    if stage is None or proposed is None:
        return None
    channel = (
        [pl.col("proposed_channel").cast(pl.String)] if "proposed_channel" in recs.columns else []
    )
    return recs.select(
        pl.col("segment").cast(pl.String),
        pl.col(stage).cast(pl.Int64).alias("stage_number"),
        pl.col(proposed).cast(pl.Int64).alias("proposed_offset_days"),
        *channel,
    ).drop_nulls(["segment", "stage_number"])


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
                [
                    {
                        **r,
                        "channel": t(r["channel"], f.lang),
                        "fee_amount": fmt_eur(r["fee_amount"], f.lang),
                    }
                    for r in current.to_dicts()
                ],
                [
                    ("segment", "Segment"),
                    ("stage_number", "Stufe" if de else "Stage"),
                    ("stage_name", "Name"),
                    ("due_offset_days", "Tage nach Fälligkeit" if de else "Days after due"),
                    ("channel", "Kanal" if de else "Channel"),
                    ("fee_amount", "Gebühr" if de else "Fee"),
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
        rows, columns = readable(shown, f.lang)
        parts.append(
            card(
                table("ld-recommendations", rows, columns, page_size=25),
                title="Empfehlungen (arinsight recommend)"
                if de
                else "Recommendations (arinsight recommend)",
                note=(
                    "Erwartete Wirkung mit 80-%-Intervallen (Δ DSO: betragsgewichtete offene Tage; "
                    "Nettowert über die nachgespielte Historie); Stufe −1 = der ganze Mahnplan des "
                    "Segments; Mahnungen (n) = Evidenz."
                    if de
                    else "Expected effects with their 80 % intervals (Δ DSO: amount-weighted days "
                    "outstanding; net value over the replayed history); stage −1 = the segment's "
                    "whole ladder; sends (n) = the evidence."
                )
                + _provenance(recs, de),
                wide=True,
            )
        )
    advice = data.read(metrics.retry_recommendations)
    if advice is not None and advice.height:
        parts.append(retry_card(advice, f.segment, de))
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


def retry_card(advice: pl.DataFrame, segment: str, de: bool) -> Any:
    """``marts.retry_recommendations`` as a table: the retry schedule per failure
    reason (ladder-wide), then the stages whose channel bounces (the segment's)."""
    if segment != "all":
        advice = advice.filter(
            (pl.col("advice") == "retry_schedule") | (pl.col("segment") == segment)
        )
    rows = []
    for r in advice.iter_rows(named=True):
        schedule = r["advice"] == "retry_schedule"
        n = r["evidence_count_attempts"] if schedule else r["evidence_count_sends"]
        if schedule:
            what = r["failure_reason"]
            tag = "" if r["is_changed"] else (" (behalten)" if de else " (keep)")
            unit = "Wiederholungen" if de else "retries"
        else:
            what = f"{r['segment']} · {'Stufe' if de else 'stage'} {r['stage_number']}"
            tag = (
                (" (im Vorschlag)" if de else " (in the proposed ladder)")
                if r["is_changed"]
                else (" (Hinweis)" if de else " (advice only)")
            )
            unit = "Sendungen" if de else "sends"
        rows.append(
            {
                "what": what,
                "current": r["current"],
                "proposed": f"{r['proposed']}{tag}",
                "n": f"{n:,} {unit}" if n is not None else "",
                "rationale": r["rationale"],
            }
        )
    return card(
        table(
            "ld-retry-recommendations",
            rows,
            [
                ("what", "Fehlgrund / Stufe" if de else "Failure reason / stage"),
                ("current", "jetzt" if de else "now"),
                ("proposed", "Vorschlag" if de else "proposed"),
                ("n", "n"),
                ("rationale", "Begründung" if de else "why"),
            ],
            page_size=25,
        ),
        title="Wiederholungen fehlgeschlagener Abbuchungen und Kanäle (arinsight recommend)"
        if de
        else "Retry schedules and channel advice (arinsight recommend)",
        note=(
            "Wiederholungsplan je Fehlgrund (für den ganzen Mahnplan, aus fct_payment_retries); "
            "Kanalhinweise, wo Mahnungen klar häufiger als 10 % unzustellbar sind (der Kanal im "
            "Vorschlag bleibt unverändert). docs/payments.md"
            if de
            else "Retry schedule per failure reason (ladder-wide, from fct_payment_retries); "
            "channel advice where a stage's sends bounce clearly more than 10 % (the proposed "
            "ladder keeps the channel). docs/payments.md"
        ),
        wide=True,
    )


#: Recommendation columns shown, with their labels (en, de); the rest is left out
#: (ladder_source and recommended_at go to the note). Channel and fee columns only
#: when the proposal changes them.
READABLE = (
    ("segment", "Segment", "Segment"),
    ("stage_number", "Stage", "Stufe"),
    ("stage_name", "Name", "Name"),
    ("current_offset_days", "Now (days after due)", "Jetzt (Tage nach Fälligkeit)"),
    ("proposed_offset_days", "Proposed", "Vorschlag"),
    ("current_channel", "Channel now", "Kanal jetzt"),
    ("proposed_channel", "Channel proposed", "Kanal Vorschlag"),
    ("current_fee_amount", "Fee now", "Gebühr jetzt"),
    ("proposed_fee_amount", "Fee proposed", "Gebühr Vorschlag"),
    ("delta_dso_days", "Δ DSO, days (80 %)", "Δ DSO, Tage (80 %)"),
    ("delta_recovery_pct", "Δ recovery, pp (80 %)", "Δ Einbringung, pp (80 %)"),
    (
        "delta_involuntary_churn",
        "Δ involuntary churn, customers (80 %)",
        "Δ unfreiw. Abwanderung, Kunden (80 %)",
    ),
    ("delta_net_value_amount", "Δ net value (80 %)", "Δ Nettowert (80 %)"),
    ("evidence_count_events", "Sends (n)", "Mahnungen (n)"),
    ("confidence", "Confidence", "Konfidenz"),
    ("rationale", "Rationale", "Begründung"),
)


def readable(recs: pl.DataFrame, lang: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The recommendations for people: the columns of :data:`READABLE` with labels,
    each expected effect as ``estimate (low to high)``, money as whole euros,
    stage -1 named "whole ladder". Falls back to :func:`with_intervals` for a
    table without the recommender's columns."""
    if not {"segment", "stage_number", "delta_dso_days"} <= set(recs.columns):
        return with_intervals(recs)
    de = lang == "de"
    unchanged = {
        c
        for now, new in (
            ("current_channel", "proposed_channel"),
            ("current_fee_amount", "proposed_fee_amount"),
        )
        if now in recs.columns
        and new in recs.columns
        and all(a == b or b is None for a, b in recs.select(now, new).rows())
        for c in (now, new)
    }
    shown = [
        (c, de_label if de else en_label)
        for c, en_label, de_label in READABLE
        if c in recs.columns and c not in unchanged
    ]

    def num(value: Any, money: bool) -> str:
        if value is None:
            return "–"
        if money:
            return fmt_eur(value, lang)
        return f"{value:+.1f}".replace(".", ",") if de else f"{value:+.1f}"

    rows = []
    for r in recs.iter_rows(named=True):
        row: dict[str, Any] = {}
        for c, _ in shown:
            v = r.get(c)
            if c.startswith("delta_"):
                money = c.endswith("_amount")
                low, high = r.get(f"{c}_low"), r.get(f"{c}_high")
                v = num(v, money) + (
                    f" ({num(low, money)} {'bis' if de else 'to'} {num(high, money)})"
                    if low is not None and high is not None
                    else ""
                )
            elif c.endswith("_fee_amount"):
                v = fmt_eur(v, lang) if v is not None else None
            elif c.endswith("_channel") and v:
                v = t(v, lang)
            elif c == "stage_name" and r.get("stage_number") == -1:
                v = "ganzer Mahnplan" if de else "whole ladder"
            elif c.endswith(("_days", "_events")) and v is not None:
                v = fmt_count(v, lang) if isinstance(v, int) else v
            row[c] = v
        rows.append(row)
    return rows, shown


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


def _provenance(recs: pl.DataFrame, de: bool) -> str:
    """`` Recommended 2026-12-02 from <ladder>.`` from the table's own columns."""
    parts = []
    if "recommended_at" in recs.columns and recs["recommended_at"].drop_nulls().len():
        when = str(recs["recommended_at"].drop_nulls().max())[:10]
        parts.append(("Empfohlen am " if de else "Recommended on ") + when)
    if "ladder_source" in recs.columns and recs["ladder_source"].drop_nulls().len():
        src = str(recs["ladder_source"].drop_nulls()[0])
        parts.append(("ausgehend von " if de else "from ") + src)
    return (" " + ", ".join(parts) + ".") if parts else ""
