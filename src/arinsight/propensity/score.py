"""``arinsight score``: fit at the as-of date, score the open invoices, forecast cash.

Writes (replacing the rows of the same scoring date, keeping other dates):

- ``marts.fct_open_invoice_scores`` — one row per open invoice per scoring date;
- ``marts.fct_cash_forecast`` — one row per week (1-13) per scoring date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    import polars as pl

    from arinsight.config import Ladder
    from arinsight.propensity.model import FittedModel
    from arinsight.warehouse import Warehouse

SCORES_TABLE = "marts.fct_open_invoice_scores"
FORECAST_TABLE = "marts.fct_cash_forecast"


@dataclass(frozen=True)
class ScoreResult:
    scoring_date: dt.date
    count_open_invoices: int
    count_training_rows: int
    count_training_events: int
    concordance: float
    scores: pl.DataFrame
    forecast: pl.DataFrame


def next_step(
    ladder: Ladder, segment: str, stage: int | None, days_past_due: int | None = None
) -> tuple[int, str, str] | None:
    """The ladder's next stage after ``stage`` (None: before the first one).

    Once the invoice is past its due date (``days_past_due`` > 0) a stage that goes
    out before the due date (a pre-due reminder) is skipped: it is no step for an
    overdue invoice.

    Returns ``(stage, name, channel)``, or None when the next step is the agency
    handover or there is none (the model knows nothing after a handover).
    """
    stages = ladder.for_segment(segment)
    offsets = ladder.due_offsets(segment)
    for s, offset in zip(stages, offsets, strict=True):
        if stage is None or s.stage > stage:
            if days_past_due is not None and days_past_due > 0 and offset < 0:
                continue
            if s.channel == "collection_agency":
                return None
            return s.stage, s.name, s.channel
    return None


def score_frame(model: FittedModel, features: pl.DataFrame, ladder: Ladder) -> pl.DataFrame:
    """Scores plus the model's answer to "what if the next step went out today".

    ``paid_within_14d_if_next_step_ratio`` scores the same invoice as if the
    ladder's next stage had been sent on the scoring date; ``value_of_acting_amount``
    = open amount × the gain in 14-day payment probability (≥ 0). A disputed
    invoice has no next step (no reminder while the dispute is open: settle it
    first), so no value of acting either.
    """
    import polars as pl

    from arinsight.propensity.model import predict

    scores = predict(model, features, ladder)
    steps = [
        None if disputed else next_step(ladder, seg, None if st is None else int(st), dpd)
        for seg, st, dpd, disputed in zip(
            features["segment"],
            features["stage_at_origin"],
            features["days_past_due"],
            features["is_disputed"],
            strict=True,
        )
    ]
    moved = features.with_columns(
        stage_at_origin=pl.Series([s[0] if s else None for s in steps], dtype=pl.Int32),
        days_since_stage=pl.lit(0, dtype=pl.Int32),
    )
    has_step = pl.Series([s is not None for s in steps])
    if_next = predict(model, moved, ladder)["paid_within_14d_ratio"]
    amount = features["open_amount_at_as_of"].fill_null(features["invoice_amount"])
    gain = (if_next - scores["paid_within_14d_ratio"]).clip(lower_bound=0)
    return scores.with_columns(
        open_amount=amount,
        next_step_name=pl.Series([s[1] if s else None for s in steps], dtype=pl.String),
        next_step_channel=pl.Series([s[2] if s else None for s in steps], dtype=pl.String),
        paid_within_14d_if_next_step_ratio=pl.when(has_step).then(if_next),
        value_of_acting_amount=pl.when(has_step).then(amount * gain).otherwise(0.0),
    )


def band_terms(model: FittedModel, wh: Warehouse, day: dt.date) -> dict[str, Any]:
    """The forecast band's terms for :func:`~arinsight.propensity.forecast.weekly`.

    With past origins to learn from
    (:func:`~arinsight.propensity.model.forecast_week_errors`): the per-week ratio
    band of the forecast's own past errors. Without: draws with ``shock_sd``.
    """
    from arinsight.propensity.model import forecast_week_errors

    band = forecast_week_errors(wh, day)
    if band:
        return {"week_ratio_band": band}
    return {"shock_sd": model.shock_sd}


def run(wh: Warehouse, as_of: dt.date | None = None, *, seed: int = 0) -> ScoreResult:
    """Fit on data up to ``as_of`` (default: the ledger's as-of), score, forecast, write marts.

    Raises:
        ArinsightError: no marts, no open invoices, or too little history.
    """
    import polars as pl

    from arinsight.propensity.features import point_in_time
    from arinsight.propensity.forecast import weekly
    from arinsight.propensity.model import data_as_of, fit, ladder_in_force, survival_matrix

    end = data_as_of(wh)
    day = as_of or end
    if day > end:
        raise ArinsightError(
            f"--as-of {day} is after the ledger's as-of date {end}; pick a date on or before it"
        )
    model = fit(wh, day)
    ladder = ladder_in_force(wh, day)
    features = point_in_time(wh, [day])
    if features.height == 0:
        raise ArinsightError(f"no open invoices at {day}: nothing to score")
    scores = score_frame(model, features, ladder).with_columns(
        scoring_date=pl.lit(day),
        model_concordance=pl.lit(model.concordance),
        count_training_rows=pl.lit(model.count_training_rows),
    )
    scores = scores.rename({"stage_at_origin": "stage_reached"}).drop("origin_date")
    surv = survival_matrix(model, features)
    amounts = scores["open_amount"].cast(pl.Float64).to_numpy()
    run_rate = wh.sql(
        "select coalesce(sum(invoice_amount), 0) / 13.0 as a from marts.fct_invoice_lifecycle "
        "where issue_date > ? - interval 91 day and issue_date <= ?",
        [day, day],
    )["a"][0]
    forecast = weekly(surv, amounts, day, seed=seed, **band_terms(model, wh, day)).with_columns(
        scoring_date=pl.lit(day),
        count_open_invoices=pl.lit(features.height),
        open_amount=pl.lit(float(amounts.sum())),
        invoicing_run_rate_weekly_amount=pl.lit(float(run_rate)),
    )
    _replace(wh, SCORES_TABLE, scores, day)
    _replace(wh, FORECAST_TABLE, forecast, day)
    return ScoreResult(
        scoring_date=day,
        count_open_invoices=features.height,
        count_training_rows=model.count_training_rows,
        count_training_events=model.count_training_events,
        concordance=model.concordance,
        scores=scores,
        forecast=forecast,
    )


def _replace(wh: Warehouse, table: str, frame: pl.DataFrame, day: dt.date) -> None:
    """Rows of ``frame`` replace ``table``'s rows of scoring date ``day`` (one transaction)."""
    from arinsight.warehouse import transaction

    arrow = frame.select("scoring_date", *[c for c in frame.columns if c != "scoring_date"])
    wh.con.register("arinsight_new_rows", arrow.to_arrow())
    try:
        with transaction(wh.con):
            wh.con.execute(
                f"create table if not exists {table} as select * from arinsight_new_rows limit 0"
            )
            wh.con.execute(f"delete from {table} where scoring_date = ?", [day])
            wh.con.execute(f"insert into {table} by name select * from arinsight_new_rows")
    finally:
        wh.con.unregister("arinsight_new_rows")
