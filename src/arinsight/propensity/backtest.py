"""Rolling-origin backtest of the payment scores and the cash forecast.

For each origin month end *T*: fit on data up to *T* only, score the invoices
open at *T*, then compare with what happened after *T* (the warehouse holds
it; the model never saw it). Metrics are computed on those held-out months
only: AUC and Brier score of the 30-day probability, a calibration table by
decile, the mean absolute error of the expected payment date; the same for a
naive baseline (the customer's median days late); and for the cash forecast
the weekly MAPE and how often the actual week fell inside the 80 % interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from arinsight.warehouse import Warehouse

HORIZON_DAYS = 30


def num(value: Any) -> float:
    """A polars scalar (mean, sum, median, ...) as float; None → NaN."""
    return float("nan") if value is None else float(value)


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve (Mann-Whitney U / n1 n0; ties count half)."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    s, y = np.asarray(scores, float), np.asarray(labels, int)
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u / (pos.size * neg.size))


def calibration(pred: Any, observed: Any, bins: int = 10) -> pl.DataFrame:
    """Mean predicted vs observed rate per decile of the prediction (equal counts)."""
    import numpy as np
    import polars as pl

    frame = pl.DataFrame({"p": np.asarray(pred, float), "o": np.asarray(observed, float)})
    n = frame.height
    return (
        frame.sort("p")
        .with_columns(decile=(pl.int_range(0, n) * bins // max(n, 1)) + 1)
        .group_by("decile")
        .agg(
            predicted_pct=pl.col("p").mean() * 100,
            observed_pct=pl.col("o").mean() * 100,
            count_invoices=pl.len(),
        )
        .sort("decile")
    )


@dataclass
class Backtest:
    """Pooled held-out results over the origins."""

    origins: list[dt.date]
    rows: pl.DataFrame  # one row per scored invoice per origin
    forecast: pl.DataFrame  # one row per origin per week
    summary: dict[str, Any] = field(default_factory=dict)


def baseline_days(features: pl.DataFrame) -> np.ndarray:
    """Naive baseline: paid on due date + the customer's median days late (no history:
    the median over all customers with history), never before the day after the origin."""
    import polars as pl

    fallback = features["median_days_late"].median()
    fallback = 0.0 if fallback is None else num(fallback)
    days = features.select(
        (
            (pl.col("due_date") - pl.col("origin_date")).dt.total_days()
            + pl.col("median_days_late").fill_null(fallback)
        ).clip(lower_bound=1)
    ).to_series()
    out: np.ndarray = days.to_numpy().astype(float)
    return out


def run(wh: Warehouse, origins: list[dt.date], *, seed: int = 0) -> Backtest:
    """Fit at each origin, score, and compare with the outcome after it."""
    import polars as pl

    from arinsight.propensity.model import data_as_of, reuse_fits

    end = data_as_of(wh)
    parts: list[pl.DataFrame] = []
    fparts: list[pl.DataFrame] = []
    with reuse_fits():  # consecutive origins share their held-out and past-origin fits
        for origin in origins:
            _one_origin(wh, origin, end, seed, parts, fparts)
    rows = pl.concat(parts)
    forecast = pl.concat(fparts) if fparts else pl.DataFrame()
    bt = Backtest(origins=list(origins), rows=rows, forecast=forecast)
    bt.summary = summarise(rows, forecast)
    return bt


def _one_origin(
    wh: Warehouse,
    origin: dt.date,
    end: dt.date,
    seed: int,
    parts: list[pl.DataFrame],
    fparts: list[pl.DataFrame],
) -> None:
    """Fit at ``origin``, score and forecast; append the rows to ``parts`` / ``fparts``."""
    import polars as pl

    from arinsight.propensity.features import point_in_time
    from arinsight.propensity.forecast import WEEKS, weekly
    from arinsight.propensity.model import (
        MAX_DAYS,
        fit,
        ladder_in_force,
        predict,
        survival_matrix,
    )
    from arinsight.propensity.score import band_terms

    model = fit(wh, origin)
    feats = point_in_time(wh, [origin])
    scores = predict(model, feats, ladder_in_force(wh, origin))
    paid = (feats["settled_by"] == "payment").fill_null(False) & feats["settled_date"].is_not_null()
    actual_days = (feats["settled_date"] - feats["origin_date"]).dt.total_days()
    observed_30 = (paid & (actual_days <= HORIZON_DAYS)).cast(pl.Int8)
    expected_days = (scores["expected_paid_date"] - scores["origin_date"]).dt.total_days()
    parts.append(
        pl.DataFrame(
            {
                "origin_date": feats["origin_date"],
                "invoice_id": feats["invoice_id"],
                "p30_model": scores["paid_within_30d_ratio"],
                "p30_baseline": None,
                "observed_30": observed_30,
                "paid_observed": paid & (feats["settled_date"] <= end),
                "actual_days": actual_days,
                "expected_days_model": expected_days.fill_null(MAX_DAYS).cast(pl.Float64),
                "expected_days_baseline": baseline_days(feats),
            }
        ).with_columns(
            p30_baseline=(pl.col("expected_days_baseline") <= HORIZON_DAYS).cast(pl.Float64)
        )
    )
    if (end - origin).days >= 7 * WEEKS:
        surv = survival_matrix(model, feats)
        amounts = feats["invoice_amount"].to_numpy()
        fc = weekly(surv, amounts, origin, seed=seed, **band_terms(model, wh, origin))
        week = ((actual_days - 1) // 7 + 1).to_numpy()
        pay = paid.to_numpy()
        actual = [float(amounts[pay & (week == w)].sum()) for w in range(1, WEEKS + 1)]
        fparts.append(fc.with_columns(origin_date=pl.lit(origin), actual_amount=pl.Series(actual)))


def summarise(rows: pl.DataFrame, forecast: pl.DataFrame) -> dict[str, Any]:
    """AUC, Brier, calibration gap, MAE for model and baseline; forecast MAPE and coverage."""
    import polars as pl

    from arinsight.propensity.model import brier

    out: dict[str, Any] = {"count_scored": rows.height}
    for who in ("model", "baseline"):
        p = rows[f"p30_{who}"].to_numpy()
        o = rows["observed_30"].to_numpy()
        out[f"auc_{who}"] = auc(p, o)
        out[f"brier_{who}"] = brier(p, o)
        seen = rows.filter(pl.col("paid_observed"))
        err = (seen[f"expected_days_{who}"] - seen["actual_days"].cast(pl.Float64)).abs()
        out[f"mae_days_{who}"] = num(err.mean()) if seen.height else float("nan")
    cal = calibration(rows["p30_model"], rows["observed_30"])
    out["calibration"] = cal.to_dicts()
    out["max_calibration_gap_pts"] = num((cal["predicted_pct"] - cal["observed_pct"]).abs().max())
    if forecast.height:
        f = forecast.filter(pl.col("actual_amount") > 0)
        err = (f["expected_collections_amount"] - f["actual_amount"]).abs()
        # weighted APE over all 13 weeks (late weeks collect little: a plain mean of
        # their percentage errors would be dominated by tiny denominators) ...
        out["forecast_wape_pct"] = num(err.sum()) / num(f["actual_amount"].sum()) * 100
        # ... and the plain MAPE of the first four weeks, where most cash arrives
        first = f.filter(pl.col("week_number") <= 4)
        ape = (first["expected_collections_amount"] - first["actual_amount"]).abs()
        out["forecast_mape_4w_pct"] = num((ape / first["actual_amount"]).mean()) * 100
        inside = (f["actual_amount"] >= f["collections_p10_amount"]) & (
            f["actual_amount"] <= f["collections_p90_amount"]
        )
        out["forecast_coverage_pct"] = num(inside.mean()) * 100
        early = f["week_number"] <= 4
        out["forecast_coverage_4w_pct"] = num(inside.filter(early).mean()) * 100
        out["forecast_coverage_5_13w_pct"] = num(inside.filter(~early).mean()) * 100
        # how wide the band is: Σ (p90 − p10) ÷ Σ expected, in % of the forecast
        width = f["collections_p90_amount"] - f["collections_p10_amount"]
        out["forecast_band_width_pct"] = (
            num(width.sum()) / num(f["expected_collections_amount"].sum()) * 100
        )
        out["forecast_weeks"] = f.height
    return out
