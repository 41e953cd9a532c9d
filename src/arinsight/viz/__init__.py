"""Figure builders shared by the dashboard and the report notebooks.

``arinsight.viz.theme`` holds the palette, the plotly template, number formats
(:func:`fmt_eur`, :func:`fmt_days`, :func:`fmt_pct`) and the de/en labels
(:func:`t`). The builders take the polars frames :mod:`arinsight.metrics`
returns and give plotly figures; they never compute a metric.
"""

from __future__ import annotations

from arinsight.viz import theme
from arinsight.viz.figures import (
    aging_stacked,
    behaviour_mix,
    billing_cohorts,
    cash_vs_billed,
    channel_comparison,
    churn_by_stage,
    churn_trend,
    dso_trend,
    guardrail_bars,
    ladder_timeline,
    outstanding_vs_overdue,
    recovery_by_horizon,
    recovery_rates,
    roll_rate_matrix,
    segment_breakdown,
    stage_funnel,
    survival_curves,
)
from arinsight.viz.scores import cash_forecast, worklist_bars, worklist_columns, worklist_rows
from arinsight.viz.theme import fmt_days, fmt_eur, fmt_pct, t

__all__ = [
    "aging_stacked",
    "behaviour_mix",
    "billing_cohorts",
    "cash_forecast",
    "cash_vs_billed",
    "channel_comparison",
    "churn_by_stage",
    "churn_trend",
    "dso_trend",
    "fmt_days",
    "fmt_eur",
    "fmt_pct",
    "guardrail_bars",
    "ladder_timeline",
    "outstanding_vs_overdue",
    "recovery_by_horizon",
    "recovery_rates",
    "roll_rate_matrix",
    "segment_breakdown",
    "stage_funnel",
    "survival_curves",
    "t",
    "theme",
    "worklist_bars",
    "worklist_columns",
    "worklist_rows",
]
