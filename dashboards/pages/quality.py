"""Data quality: loads (rows read / loaded / quarantined per file), quarantine reasons
with a sample row, the latest `arinsight check` result (``meta.checks``: which
expectations failed, on which table and column, on how many rows), build history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, callback, html

from arinsight import metrics
from arinsight.dashboard import data
from arinsight.dashboard.components import card, table
from arinsight.dashboard.context import page_layout, render_page
from arinsight.dashboard.filters import Filters
from arinsight.viz.theme import fmt_count

#: charts=False: no plotly.js on this page (the app does not start it here)
dash.register_page(__name__, path="/quality", name="Data quality", order=5, charts=False)

#: Where `arinsight check` writes its Data Docs (relative to the working directory).
CHECK_INDEX = Path("reports") / "quality" / "index.html"


def layout(**query: Any) -> Any:
    return page_layout("dq", query, body)


@callback(
    Output("dq-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("dq", search, body)


def body(f: Filters) -> list[Any]:
    de = f.lang == "de"
    loads = data.read(metrics.loads)
    reasons = data.read(metrics.quarantine_reasons)
    builds = data.read(metrics.builds)
    check = check_section(data.read(metrics.checks), de)
    total_q = int(loads["rows_quarantined"].sum()) if loads.height else 0
    return [
        card(
            table(
                "dq-loads",
                [
                    {
                        **r,
                        **{
                            k: fmt_count(r[k], f.lang)
                            for k in (
                                "rows_read",
                                "rows_loaded",
                                "rows_quarantined",
                                "rows_replaced",
                            )
                            if r.get(k) is not None
                        },
                    }
                    for r in loads.to_dicts()
                ],
                [
                    ("loaded_at", "Geladen" if de else "Loaded at"),
                    ("file", "Datei" if de else "File"),
                    ("table_name", "Tabelle" if de else "Table"),
                    ("profile", "Profil" if de else "Profile"),
                    ("rows_read", "Gelesen" if de else "Read"),
                    ("rows_loaded", "Geladen" if de else "Loaded"),
                    ("rows_quarantined", "Quarantäne" if de else "Quarantined"),
                    ("rows_replaced", "Ersetzt" if de else "Replaced"),
                ],
            ),
            title="Ladevorgänge" if de else "Loads",
            note=(
                "Gelesen = geladen + Quarantäne, je Datei. "
                f"{fmt_count(total_q, 'de')} Zeilen in Quarantäne."
                if de
                else f"Rows read = loaded + quarantined, per file. {total_q:,} rows in quarantine."
            ),
            wide=True,
        ),
        card(
            table(
                "dq-quarantine",
                reasons.to_dicts(),
                [
                    ("file", "Datei" if de else "File"),
                    ("field", "Feld" if de else "Field"),
                    ("reason", "Grund" if de else "Reason"),
                    ("count_rows", "Zeilen" if de else "Rows"),
                    ("first_line_number", "Erste Zeile" if de else "First line"),
                    ("sample_raw_row", "Beispiel" if de else "Sample row"),
                ],
            )
            if reasons.height
            else html.P(
                "Keine Zeilen in Quarantäne." if de else "No rows in quarantine.",
                id="dq-no-quarantine",
            ),
            title="Quarantäne-Gründe" if de else "Quarantine reasons",
            wide=True,
        ),
        card(
            check,
            title=(
                "Letzte Qualitätsprüfung (arinsight check)"
                if de
                else "Latest quality check (arinsight check)"
            ),
            wide=True,
        ),
        card(
            table(
                "dq-builds",
                [
                    {
                        **r,
                        "count_mart_rows": fmt_count(r["count_mart_rows"], f.lang)
                        if r["count_mart_rows"] is not None
                        else None,
                        "seconds": f"{r['seconds']:.1f}" if r["seconds"] is not None else None,
                    }
                    for r in builds.to_dicts()
                ],
                [
                    ("build_id", "Build"),
                    ("built_at", "Erstellt" if de else "Built at"),
                    ("count_models", "Modelle" if de else "Models"),
                    ("count_mart_rows", "Mart-Zeilen" if de else "Mart rows"),
                    ("seconds", "Sekunden" if de else "Seconds"),
                ],
            ),
            title="Build-Historie" if de else "Build history",
            wide=True,
        ),
    ]


def check_section(checks: Any, de: bool) -> Any:
    """The latest ``arinsight check`` run from ``meta.checks``: a summary line and
    every failed expectation (suite, table, column, expectation, bad rows of rows,
    example values); skipped suites with their reason."""
    lang = "de" if de else "en"
    if checks is None or checks.height == 0:
        return html.P(
            [
                (
                    "Für dieses Warehouse wurde noch keine Prüfung gespeichert: "
                    if de
                    else "No check result stored for this warehouse yet: "
                ),
                html.Code("arinsight check", className="cmd"),
                (
                    " prüft Eingaben und Marts und speichert das Ergebnis hier."
                    if de
                    else " validates the inputs and the marts and stores the result here."
                ),
            ],
            className="notice",
            id="dq-check",
        )
    rows = checks.to_dicts()
    ran = [r for r in rows if r["success"] is not None]
    failed = [r for r in ran if not r["success"]]
    skipped = [r for r in rows if r["success"] is None]
    stamp = rows[0]["checked_at"].isoformat(sep=" ", timespec="minutes")
    suites = len({r["suite"] for r in ran})
    if de:
        summary = (
            f"Lauf {rows[0]['check_id']} am {stamp} UTC: {len(ran) - len(failed)} von "
            f"{len(ran)} Erwartungen in {suites} Suiten erfüllt, {len(failed)} verletzt"
            + (f", {len(skipped)} Suiten übersprungen." if skipped else ".")
        )
    else:
        summary = (
            f"Run {rows[0]['check_id']} at {stamp} UTC: {len(ran) - len(failed)} of "
            f"{len(ran)} expectations in {suites} suites passed, {len(failed)} failed"
            + (f", {len(skipped)} suites skipped." if skipped else ".")
        )
    parts: list[Any] = [
        html.P(summary, id="dq-check-summary", className="bad" if failed else "good")
    ]
    if failed:
        parts.append(
            table(
                "dq-check-failed",
                [
                    {
                        **r,
                        "bad": f"{fmt_count(r['unexpected_count'], lang)} / "
                        f"{fmt_count(r['row_count'], lang)}"
                        if r["row_count"] is not None and r["unexpected_count"] is not None
                        else "–",
                        "examples": ", ".join(str(v) for v in json.loads(r["examples"]))
                        if r["examples"]
                        else "–",
                    }
                    for r in failed
                ],
                [
                    ("table_name", "Tabelle" if de else "Table"),
                    ("column_names", "Spalte" if de else "Column"),
                    ("expectation", "Erwartung" if de else "Expectation"),
                    ("bad", "Zeilen verletzt / gesamt" if de else "Rows failing / total"),
                    ("examples", "Beispielwerte" if de else "Example values"),
                ],
            )
        )
    if skipped:
        parts.append(
            html.Details(
                [
                    html.Summary("Übersprungene Suiten" if de else "Skipped suites"),
                    table(
                        "dq-check-skipped",
                        skipped,
                        [
                            ("table_name", "Tabelle" if de else "Table"),
                            ("note", "Grund" if de else "Reason"),
                        ],
                    ),
                ]
            )
        )
    if CHECK_INDEX.exists():
        parts.append(
            html.P(
                ("Ausführlicher Bericht: " if de else "Full report: ") + str(CHECK_INDEX.resolve()),
                className="card-note",
            )
        )
    return html.Div(parts, id="dq-check")
