"""Sections of the dunning-effectiveness notebook (stage by stage, behaviour, experiments).

Selected from ``marts.fct_stage_conversion``, ``marts.fct_report_behaviour_stages``
and ``marts.fct_report_experiment``; nothing is recomputed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arinsight.reports.review import Html, Review, _fmt, _table

if TYPE_CHECKING:
    import polars as pl


def stage_table(rv: Review) -> Html:
    """Per segment and stage, sends of the report month: entered, paid, escalated, days."""
    with rv.connect() as wh:
        frame = wh.sql(
            "select segment, stage_number, count_entered, conversion_pct, "
            "conversion_amount_pct, progression_pct, median_days_to_settle, p75_days_to_settle "
            "from marts.fct_stage_conversion where month_end_date = ? "
            "and (? is null or segment = ?) order by segment = 'all', segment, stage_number",
            [rv.month_end, rv.params.segment, rv.params.segment],
        )
    lang = rv.lang
    head = (
        [
            "Segment",
            "Stage",
            "Entered (n)",
            "Paid before next (%)",
            "Paid, by amount (%)",
            "Escalated (%)",
            "Median days to pay",
            "p75 days",
        ]
        if lang == "en"
        else [
            "Segment",
            "Stufe",
            "Erreicht (n)",
            "Bezahlt vor nächster (%)",
            "Bezahlt, Betrag (%)",
            "Eskaliert (%)",
            "Median Tage",
            "p75 Tage",
        ]
    )
    rows = [
        (
            f"{seg}|{k}",
            [
                str(seg),
                str(k),
                _fmt(n, "count", lang),
                _fmt(c, "pct", lang),
                _fmt(ca, "pct", lang),
                _fmt(p, "pct", lang),
                _fmt(m, "days", lang),
                _fmt(p75, "days", lang),
            ],
        )
        for seg, k, n, c, ca, p, m, p75 in frame.rows()
    ]
    return Html(_table("ai-stages", head, rows))


def behaviour_frame(rv: Review) -> pl.DataFrame:
    """``marts.fct_report_behaviour_stages`` for the report month and scope."""
    with rv.connect() as wh:
        return wh.sql(
            "select * from marts.fct_report_behaviour_stages where month_end_date = ? "
            "and segment = ? order by behaviour_segment, stage_number",
            [rv.month_end, rv.segment],
        )


_BEHAVIOURS = ("reliable", "occasional", "chronic", "unscored")


def behaviour_table(rv: Review) -> Html:
    """Invoices due in the month by payer behaviour: share reaching each stage, and paid after."""
    frame = behaviour_frame(rv)
    lang = rv.lang
    stages = sorted(set(frame["stage_number"].to_list()))
    head = ["Behaviour" if lang == "en" else "Zahlverhalten", "n"] + [
        (
            f"Stage {k}: reached / paid ≤30 d (%)"
            if lang == "en"
            else f"Stufe {k}: erreicht / bez. ≤30 T (%)"
        )
        for k in stages
    ]
    rows = []
    by = {(r["behaviour_segment"], r["stage_number"]): r for r in frame.iter_rows(named=True)}
    for b in _BEHAVIOURS:
        first = by.get((b, stages[0])) if stages else None
        if first is None:
            continue
        cells = [b, _fmt(first["count_invoices_due"], "count", lang)]
        for k in stages:
            r = by.get((b, k))
            cells.append(
                "–"
                if r is None
                else f"{_fmt(r['reached_pct'], 'pct', lang)} / "
                f"{_fmt(r['settled_30d_after_send_pct'], 'pct', lang)}"
            )
        rows.append((b, cells))
    if not rows:
        return Html('<p class="ai-note">No invoices fell due in this month.</p>')
    return Html(_table("ai-behaviour", head, rows))


def experiment_table(rv: Review) -> Html:
    """Outcomes per experiment arm with 95 % intervals, or a note when there is no experiment."""
    lang = rv.lang
    with rv.connect() as wh:
        frame = wh.sql(
            "select * from marts.fct_report_experiment where segment = ? "
            "order by experiment_variant",
            [rv.segment],
        )
    if frame.height == 0:
        return Html(
            '<p class="ai-note">'
            + (
                "No experiment: the dunning log names no variant (column variant). Run a "
                "randomised ladder test (simulator: experiment block) to compare arms."
                if lang == "en"
                else "Kein Experiment: das Mahnprotokoll nennt keine Variante (Spalte variant)."
            )
            + "</p>"
        )
    head = (
        [
            "Arm",
            "Customers",
            "Invoices",
            "Paid ≤90 d after due (%)",
            "95 % interval",
            "Mean days late",
            "Fee per invoice",
        ]
        if lang == "en"
        else [
            "Arm",
            "Kunden",
            "Rechnungen",
            "Bezahlt ≤90 T (%)",
            "95 %-Intervall",
            "Ø Verzugstage",
            "Gebühr je Rechnung",
        ]
    )
    rows = [
        (
            str(r["experiment_variant"]),
            [
                str(r["experiment_variant"]),
                _fmt(r["count_customers"], "count", lang),
                _fmt(r["count_invoices"], "count", lang),
                _fmt(r["settled_90d_pct"], "pct", lang),
                _fmt(r["settled_90d_low_pct"], "pct", lang)
                + "–"
                + _fmt(r["settled_90d_high_pct"], "pct", lang),
                _fmt(r["mean_days_late_days"], "days", lang),
                _fmt(r["fee_per_invoice_amount"], "days", lang),  # 1 decimal, like days
            ],
        )
        for r in frame.iter_rows(named=True)
    ]
    return Html(_table("ai-experiment", head, rows))
