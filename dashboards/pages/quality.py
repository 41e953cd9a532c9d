"""Data quality: loads (rows read / loaded / quarantined per file), quarantine reasons
with a sample row, the latest `arinsight check` result, build history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from arinsight import metrics
from arinsight.dashboard import data
from arinsight.dashboard.components import card, table
from arinsight.dashboard.context import render_page
from arinsight.dashboard.filters import Filters

dash.register_page(__name__, path="/quality", name="Data quality", order=5)

#: Where `arinsight check` writes its Data Docs (relative to the working directory).
CHECK_INDEX = Path("reports") / "quality" / "index.html"


def layout(**_: Any) -> html.Div:
    return html.Div(dcc.Loading(html.Div(id="dq-body")), className="page")


@callback(Output("dq-body", "children"), Input("url", "search"), Input("data-version", "data"))
def render(search: str | None, _version: str | None) -> Any:
    return render_page("dq", search, body)


def body(f: Filters) -> list[Any]:
    de = f.lang == "de"
    loads = data.read(metrics.loads)
    reasons = data.read(metrics.quarantine_reasons)
    builds = data.read(metrics.builds)
    if CHECK_INDEX.exists():
        validations = CHECK_INDEX.parent / "validations"
        suites = sum(1 for layer in validations.glob("*") for _ in layer.glob("*"))
        stamp = dt.datetime.fromtimestamp(CHECK_INDEX.stat().st_mtime).isoformat(
            sep=" ", timespec="minutes"
        )
        check: Any = html.P(
            [
                ("Letzter Lauf von " if de else "Latest run of "),
                html.Code("arinsight check", className="cmd"),
                f": {stamp} — {suites} "
                + ("Suiten" if de else "suites")
                + f"; Data Docs: {CHECK_INDEX.resolve()}",
            ],
            id="dq-check",
        )
    else:
        check = html.P(
            [
                (
                    "Noch kein Prüflauf in diesem Verzeichnis: "
                    if de
                    else "No check run found here: "
                ),
                html.Code("arinsight check", className="cmd"),
                (" prüft Eingaben und Marts." if de else " validates the inputs and the marts."),
            ],
            className="notice",
            id="dq-check",
        )
    total_q = int(loads["rows_quarantined"].sum()) if loads.height else 0
    return [
        card(
            table(
                "dq-loads",
                loads.to_dicts(),
                [
                    ("loaded_at", "Geladen" if de else "Loaded at"),
                    ("file", "Datei" if de else "File"),
                    ("table_name", "Tabelle" if de else "Table"),
                    ("profile", "Profil" if de else "Profile"),
                    ("rows_read", "gelesen" if de else "read"),
                    ("rows_loaded", "geladen" if de else "loaded"),
                    ("rows_quarantined", "Quarantäne" if de else "quarantined"),
                    ("rows_replaced", "ersetzt" if de else "replaced"),
                ],
            ),
            title="Ladevorgänge" if de else "Loads",
            note=(
                f"Gelesen = geladen + Quarantäne, je Datei. {total_q:,} Zeilen in Quarantäne."
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
        card(check, title="Qualitätsprüfung" if de else "Quality check", wide=True),
        card(
            table(
                "dq-builds",
                builds.to_dicts(),
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
