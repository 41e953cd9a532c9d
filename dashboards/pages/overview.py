"""Overview: KPI tiles with changes, DSO trend with target, outstanding vs overdue,
segment breakdown."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from arinsight import metrics, viz
from arinsight.config import load_settings
from arinsight.dashboard import data
from arinsight.dashboard.components import (
    behaviour_scope,
    card,
    graph,
    grid,
    kpi_tile,
    month_label,
)
from arinsight.dashboard.context import month, no_rows, page_layout, render_page, upto
from arinsight.dashboard.filters import Filters
from arinsight.viz.theme import t

dash.register_page(__name__, path="/", name="Overview", order=0)

#: (kpi_name in fct_dash_kpis, label key, unit, higher is better)
TILES = (
    ("dso_days", "dso", "days", False),
    ("best_possible_dso_days", "best_possible_dso", "days", False),
    ("add_days", "add", "days", False),
    ("countback_dso_days", "countback_dso", "days", False),
    ("cei_pct", "cei", "pct", True),
    ("overdue_ar_pct", "overdue_share", "pct", False),
    ("collected_amount", "cash_collected", "eur", True),
)


def layout(**query: Any) -> Any:
    return page_layout("ov", query, body)


@callback(
    Output("ov-body", "children"),
    Input("url", "search"),
    Input("data-version", "data"),
    prevent_initial_call=True,
)
def render(search: str | None, _version: str | None) -> Any:
    return render_page("ov", search, body)


def body(f: Filters) -> list[Any]:
    end = month(f)
    kpis = data.read(metrics.kpis, end, f.segment)
    if kpis.height == 0:
        raise no_rows("KPIs", f, end)
    by_name = {r["kpi_name"]: r for r in kpis.iter_rows(named=True)}
    tiles = [
        kpi_tile(
            f"ov-kpi-{name}",
            t(key, f.lang),
            by_name.get(name, {}).get("kpi_value"),
            unit,
            by_name.get(name, {}).get("change_vs_prev_month"),
            by_name.get(name, {}).get("change_vs_prev_year"),
            f.lang,
            higher_is_better=better,
        )
        for name, key, unit, better in TILES
    ]
    dso = upto(data.read(metrics.dso_monthly), end)
    target = load_settings().dashboard.dso_target_days
    window = dso["dso_window_days"][0] if dso.height else None
    heading = f"{month_label(end, f.lang)} · {f.segment}" + (
        f" · DSO window {window} d" if f.lang == "en" else f" · DSO-Fenster {window} T"
    )
    de = f.lang == "de"
    scope = behaviour_scope(
        "ov",
        f.behaviour,
        f.lang,
        split=[t("behaviour_title", f.lang) + (" (hervorgehoben)" if de else " (highlighted)")],
        not_split=[
            "Kennzahlen" if de else "KPI tiles",
            "DSO-Verlauf" if de else "DSO trend",
            "Forderungen" if de else "Receivables",
            "Zahlungseingang" if de else "Cash",
            "Segmente" if de else "Segments",
        ],
    )
    return [
        html.H2(heading, id="ov-heading"),
        *([scope] if scope else []),
        html.Div(tiles, className="kpis", id="ov-kpis"),
        grid(
            card(
                graph(
                    "ov-dso-trend",
                    viz.dso_trend(dso, segment=f.segment, target_days=target, lang=f.lang),
                ),
                note=_note("dso", f.lang),
            ),
            card(
                graph(
                    "ov-outstanding",
                    viz.outstanding_vs_overdue(dso, segment=f.segment, lang=f.lang),
                )
            ),
            card(
                graph(
                    "ov-cash",
                    viz.cash_vs_billed(
                        upto(data.read(metrics.cash_monthly), end), segment=f.segment, lang=f.lang
                    ),
                )
            ),
            card(
                graph(
                    "ov-behaviour",
                    viz.behaviour_mix(
                        upto(data.read(metrics.behaviour_mix), end),
                        segment=f.segment,
                        highlight=f.behaviour,
                        lang=f.lang,
                    ),
                ),
                note=_note("behaviour", f.lang),
            ),
            card(
                graph("ov-segments", viz.segment_breakdown(dso, month_end=end, lang=f.lang)),
                note=_note("segments", f.lang),
            ),
            _forecast_card(end, f.lang),
        ),
    ]


def _forecast_card(end: Any, lang: str) -> Any:
    """The 13-week cash forecast scored on or before the month end (`arinsight score`)."""
    from arinsight.viz.theme import fmt_eur

    fc = data.read(metrics.cash_forecast, None, end)
    de = lang == "de"
    if fc.height == 0:
        note = (
            f"Keine Zahlungsprognose zum {end.isoformat()} oder davor: `arinsight score --as-of "
            f"{end.isoformat()}` erstellt sie."
            if de
            else f"No cash forecast scored on or before {end.isoformat()}: run `arinsight score "
            f"--as-of {end.isoformat()}`."
        )
    else:
        first = fc.row(0, named=True)
        total = fmt_eur(float(fc["expected_collections_amount"].cast(float).sum()), lang)
        rate = fmt_eur(float(first["invoicing_run_rate_weekly_amount"]), lang)
        day = first["scoring_date"].isoformat()
        note = (
            f"Bewertet am {day}: {total} in 13 Wochen erwartet aus den offenen Posten; Balken = "
            f"80-%-Intervall. Fakturierung {rate} je Woche — neue Rechnungen, nicht enthalten."
            if de
            else f"Scored on {day}: {total} expected in 13 weeks from the open invoices; bars = "
            f"80 % interval. Invoicing run-rate {rate} per week — new invoices, not included."
        )
    return card(graph("ov-forecast", viz.cash_forecast(fc, lang=lang)), note=note)


def _note(key: str, lang: str) -> str:
    notes = {
        "dso": (
            "DSO = receivables ÷ sales of the window × days. Best possible DSO counts only "
            "receivables not yet due; the gap between them (ADD) is what late payment costs.",
            "DSO = Forderungen ÷ Umsatz im Fenster × Tage. Die bestmögliche DSO zählt nur "
            "noch nicht fällige Forderungen; die Differenz (ADD) kostet der Zahlungsverzug.",
        ),
        "behaviour": (
            "Scored each month from the customer's own history (share paid late, days late, "
            "highest dunning stage). The behaviour filter highlights one group.",
            "Monatlich aus der eigenen Historie bewertet (Anteil verspätet, Verzugstage, höchste "
            "Mahnstufe). Der Filter Zahlverhalten hebt eine Gruppe hervor.",
        ),
        "segments": (
            "All master-data segments at the selected month; the segment filter does not apply.",
            "Alle Stammdaten-Segmente im gewählten Monat; der Segmentfilter gilt hier nicht.",
        ),
    }
    en, de = notes[key]
    return de if lang == "de" else en
