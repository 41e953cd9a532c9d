"""Sections of the dunning-effectiveness notebook (stage by stage, behaviour, experiments).

Selected from ``marts.fct_stage_conversion``, ``marts.fct_report_behaviour_stages``
and, when built, ``marts.fct_experiment_arms``; nothing is recomputed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    """Arms of a randomised ladder experiment with 95 % intervals, or why there are none.

    Reads ``marts.fct_experiment_arms`` (built with the experiment marts:
    per arm, mean days to settle, 90-day recovery and involuntary churn, each
    arm's effect against the control arm with its interval).
    """
    lang = rv.lang
    with rv.connect() as wh:
        present = "fct_experiment_arms" in wh.tables("marts")
        frame = (
            wh.sql(
                "select * from marts.fct_experiment_arms where segment = ? "
                "order by experiment_variant",
                [rv.segment],
            )
            if present
            else None
        )
    if frame is None or frame.height == 0:
        why = (
            (
                "the dunning log names no variant (column variant)"
                if present
                else "this warehouse has no experiment marts (marts.fct_experiment_arms)"
            )
            if lang == "en"
            else (
                "das Mahnprotokoll nennt keine Variante (Spalte variant)"
                if present
                else "dieses Warehouse hat keine Experiment-Marts (marts.fct_experiment_arms)"
            )
        )
        lead = "No experiment results: " if lang == "en" else "Keine Experiment-Ergebnisse: "
        return Html(f'<p class="ai-note">{lead}{why}.</p>')
    head = (
        [
            "Arm",
            "Customers",
            "Days to settle [95 %]",
            "Δ vs control (days) [95 %]",
            "Recovered ≤90 d (%)",
            "Δ vs control (pp) [95 %]",
            "Involuntary churn (%)",
            "Δ vs control (pp) [95 %]",
        ]
        if lang == "en"
        else [
            "Arm",
            "Kunden",
            "Tage bis Zahlung [95 %]",
            "Δ zur Kontrolle (Tage) [95 %]",
            "Realisiert ≤90 T (%)",
            "Δ zur Kontrolle (pp) [95 %]",
            "Unfreiw. Abwanderung (%)",
            "Δ zur Kontrolle (pp) [95 %]",
        ]
    )

    def ci(r: dict[str, Any], value: str, low: str, high: str, signed: bool) -> str:
        text = _fmt(r.get(value), "days", lang, signed)
        if r.get(low) is not None and r.get(high) is not None:
            text += (
                f" [{_fmt(r[low], 'days', lang, signed)}, {_fmt(r[high], 'days', lang, signed)}]"
            )
        return text

    rows = []
    for r in frame.iter_rows(named=True):
        arm = str(r["experiment_variant"])
        control = bool(r.get("is_control"))
        rows.append(
            (
                arm,
                [
                    arm
                    + (
                        " (control)"
                        if control and lang == "en"
                        else " (Kontrolle)"
                        if control
                        else ""
                    ),
                    _fmt(r.get("count_customers"), "count", lang),
                    ci(
                        r,
                        "mean_days_to_settle",
                        "mean_days_to_settle_ci_low",
                        "mean_days_to_settle_ci_high",
                        False,
                    ),
                    "–"
                    if control
                    else ci(
                        r,
                        "delta_days_to_settle",
                        "delta_days_to_settle_ci_low",
                        "delta_days_to_settle_ci_high",
                        True,
                    ),
                    _fmt(r.get("recovery_90d_pct"), "pct", lang),
                    "–"
                    if control
                    else ci(
                        r,
                        "delta_recovery_90d_pct",
                        "delta_recovery_90d_ci_low_pct",
                        "delta_recovery_90d_ci_high_pct",
                        True,
                    ),
                    _fmt(r.get("involuntary_churn_pct"), "pct", lang),
                    "–"
                    if control
                    else ci(
                        r,
                        "delta_involuntary_churn_pct",
                        "delta_involuntary_churn_ci_low_pct",
                        "delta_involuntary_churn_ci_high_pct",
                        True,
                    ),
                ],
            )
        )
    return Html(_table("ai-experiment", head, rows))
