"""Payment timing per open invoice: a stratified Cox model fitted from the warehouse.

Training rows: every invoice open at each month end of the year before the
cut-off date, with the features known on that day
(:mod:`arinsight.propensity.features`). Outcome: days from that month end
until the invoice was paid; invoices paid later than the cut-off, or still
open at it, are censored at the cut-off (nothing after it is read); invoices
settled by a credit note or a write-off are censored on that day. The model is
lifelines' :class:`~lifelines.CoxPHFitter`, one baseline hazard per dunning
stage reached (an invoice before its first reminder and one after its third
letter do not share a time profile), covariates as in :data:`COVARIATES`.

Scores per open invoice at the cut-off: probability of being paid within 7, 14
and 30 days; probability of being paid before the collection-agency handover
that the ladder in force schedules; the expected payment date — the median of
the predicted time to pay *given that it is paid* within a year — with an 80 %
interval (its 10th and 90th percentiles); the probability of payment itself is
what the ``paid_within_*`` columns say.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError
from arinsight.propensity.features import MAX_STAGE_STRATUM, month_ends, point_in_time

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from arinsight.config import Ladder
    from arinsight.warehouse import Warehouse

#: Covariates of the Cox model (built by :func:`design_matrix`). ``is_disputed`` is
#: not one: the ledger's flag is today's state, with no date, so at a past origin it
#: would reveal disputes raised later. The worklist shows it instead.
COVARIATES = (
    "log_amount",
    "dpd_months",
    "dpd_overdue_months",
    "log_days_since_stage",
    "has_history",
    "log_count_paid_before",
    "late_ratio",
    "log_weighted_days_late",
    "log_median_days_late",
    "max_stage_before",
    "count_customer_overdue",
)
#: One baseline hazard per stage reached x due status (far from due, due within 14
#: days, up to 30 days overdue, more): time-to-pay curves differ in shape there,
#: not just in level, which a proportional-hazards covariate cannot express.
STRATA = ("stage_stratum", "due_stratum")
HORIZONS = (7, 14, 30)
#: Training window before the cut-off (months of origins).
TRAINING_MONTHS = 12
#: Cap on training rows (a uniform sample beyond it keeps fitting fast at 1M invoices).
MAX_TRAINING_ROWS = 120_000
#: Longest time to pay the survival curves are evaluated on (days).
MAX_DAYS = 365
#: Below this probability of payment within MAX_DAYS no expected date is given.
MIN_PAY_PROBABILITY = 0.05
#: Fewer training rows than this (or fewer payments) → no model, a clear message.
MIN_TRAINING_ROWS = 200
#: Training rows (a uniform sample) the recalibration and the shock estimate rest on.
CALIBRATION_ROWS = 20_000
#: Fewer usable rows than this for a horizon → that horizon is not recalibrated.
MIN_CALIBRATION_ROWS = 500
#: Held-out month ends (at least 31 days before the cut-off) the isotonic maps are
#: pooled over (:func:`held_out_maps`); each costs one more fit.
HELD_OUT_MONTHS = 2
#: Past origins (month ends at least 13 weeks back) the forecast's band rests on
#: (:func:`forecast_week_errors`); each costs one more fit. Four origins × three
#: neighbouring weeks give 12 ratios per horizon week.
ERROR_ORIGINS = 4


@dataclass(frozen=True)
class FittedModel:
    """A fitted payment-timing model and what it rests on."""

    fitter: Any  # lifelines.CoxPHFitter
    segments: tuple[str, ...]
    columns: tuple[str, ...]  # covariates kept (constant ones are dropped before fitting)
    strata: frozenset[tuple[int, int]]  # (stage, due) strata seen in training
    cutoff: dt.date
    count_training_rows: int
    count_training_events: int
    concordance: float
    #: Isotonic recalibration of P(paid within h days), per horizon h: (raw, calibrated)
    #: knots, learned on training months whose h-day outcome is observed (see
    #: :func:`recalibration`); empty: the raw Cox probabilities are used.
    calibration: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    #: Standard deviation of a month-level shock common to all invoices (log hazard
    #: scale), from how the monthly cohorts' 30-day payments varied around the model;
    #: the cash forecast draws it so that its band reflects shared shocks.
    shock_sd: float = 0.0


def design_matrix(features: pl.DataFrame, segments: tuple[str, ...]) -> pl.DataFrame:
    """Model inputs from :func:`~arinsight.propensity.features.point_in_time` rows.

    A customer with no payment history gets ``has_history = 0`` and neutral
    history values (late ratio 0.5, zero days late): the model learns what no
    history means from ``has_history`` itself.
    """
    import polars as pl

    c = pl.col
    frame = features.with_columns(
        log_amount=(c("invoice_amount").clip(lower_bound=0) + 1).log(),
        dpd_months=c("days_past_due").clip(-60, 180) / 30,
        dpd_overdue_months=c("days_past_due").clip(0, 180) / 30,
        log_days_since_stage=(c("days_since_stage").fill_null(0).clip(lower_bound=0) + 1).log(),
        has_history=(c("count_paid_before") > 0).cast(pl.Float64),
        log_count_paid_before=(c("count_paid_before") + 1).log(),
        late_ratio=c("late_ratio").fill_null(0.5),
        log_weighted_days_late=(c("weighted_days_late").fill_null(0).clip(lower_bound=0) + 1).log(),
        log_median_days_late=(c("median_days_late").fill_null(0).clip(lower_bound=0) + 1).log(),
        max_stage_before=(c("max_stage_before").fill_null(-1) + 1).cast(pl.Float64),
        count_customer_overdue=c("count_customer_overdue").clip(0, 10).cast(pl.Float64),
        stage_stratum=c("stage_at_origin").fill_null(-1).clip(-1, MAX_STAGE_STRATUM),
        due_stratum=pl.when(c("days_past_due") < -14)
        .then(0)
        .when(c("days_past_due") <= 0)
        .then(1)
        .when(c("days_past_due") <= 30)
        .then(2)
        .otherwise(3),
    )
    dummies = [(c("segment") == s).cast(pl.Float64).alias(f"segment_{s}") for s in segments[1:]]
    return frame.select(*COVARIATES, *dummies, *STRATA)


def outcomes(
    features: pl.DataFrame, cutoff: dt.date, *, without_agency: bool = False
) -> pl.DataFrame:
    """``duration_days`` and ``is_paid`` per row, censored at ``cutoff``.

    Paid on or before the cut-off → event at the payment; settled otherwise on
    or before it → censored then; anything later → censored at the cut-off.
    ``without_agency``: a handover to the agency before the payment censors the
    row on the handover day (the model then answers "paid without the agency",
    which the ladder's ``route`` rules ask; arinsight.sim.routing).
    """
    import polars as pl

    c = pl.col
    settled_in_time = c("settled_date").is_not_null() & (c("settled_date") <= cutoff)
    paid = settled_in_time & (c("settled_by") == "payment")
    end = pl.when(settled_in_time).then(c("settled_date")).otherwise(pl.lit(cutoff))
    if without_agency:
        handed = (
            c("agency_handover_date").is_not_null()
            & (c("agency_handover_date") <= cutoff)
            & (c("settled_date").is_null() | (c("agency_handover_date") < c("settled_date")))
        )
        paid = paid & ~handed
        end = pl.when(handed).then(c("agency_handover_date")).otherwise(end)
    return features.select(
        duration_days=(end - c("origin_date")).dt.total_days().clip(lower_bound=1),
        is_paid=paid.cast(pl.Int8),
    )


def training_frame(
    wh: Warehouse, cutoff: dt.date, *, without_agency: bool = False
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Training rows (design matrix + outcome) from the year before ``cutoff``."""
    import polars as pl

    first = _months_before(cutoff, TRAINING_MONTHS)
    origins = [m for m in month_ends(first, cutoff - dt.timedelta(days=1))]
    if not origins:
        raise ArinsightError(f"no month end before {cutoff} to learn from")
    feats = point_in_time(wh, origins)
    if feats.height > MAX_TRAINING_ROWS:
        feats = feats.sample(MAX_TRAINING_ROWS, seed=0)
    segments = tuple(sorted(feats["segment"].unique().to_list()))
    outcome = outcomes(feats, cutoff, without_agency=without_agency)
    extra = feats.select(
        _origin_date=pl.col("origin_date"), _amount=pl.col("invoice_amount").cast(pl.Float64)
    )
    frame = pl.concat([design_matrix(feats, segments), outcome, extra], how="horizontal")
    return frame, segments


#: Fits without held-out calibration by (warehouse, cut-off, without_agency), kept
#: only inside :func:`reuse_fits`.
_FITS: ContextVar[dict[tuple[str, dt.date, bool], FittedModel] | None] = ContextVar(
    "arinsight_propensity_fits", default=None
)


@contextmanager
def reuse_fits() -> Iterator[None]:
    """Inside the block, a fit at a cut-off already fitted on the same warehouse (the
    held-out and past-origin fits, :func:`held_out_maps` and
    :func:`forecast_week_errors`) is reused instead of refitted. For the rolling
    backtest, whose consecutive origins share most of those fits; the warehouse
    must not change inside the block."""
    token = _FITS.set({})
    try:
        yield
    finally:
        _FITS.reset(token)


def fit(
    wh: Warehouse,
    cutoff: dt.date,
    *,
    without_agency: bool = False,
    held_out_calibration: bool = True,
) -> FittedModel:
    """Fit the payment-timing model on data known at ``cutoff``.

    ``without_agency``: payments after a handover do not count (see :func:`outcomes`).
    ``held_out_calibration``: learn the isotonic maps on a held-out month when there
    is one (:func:`held_out_maps`), else on the training months.

    Raises:
        ArinsightError: too little history to fit (the message says how much there is).
    """
    cache = _FITS.get()
    key = (str(wh.path), cutoff, without_agency)
    if cache is not None and not held_out_calibration and key in cache:
        return cache[key]
    model = _fit(
        wh, cutoff, without_agency=without_agency, held_out_calibration=held_out_calibration
    )
    if cache is not None and not held_out_calibration:
        cache[key] = model
    return model


def _fit(
    wh: Warehouse, cutoff: dt.date, *, without_agency: bool, held_out_calibration: bool
) -> FittedModel:
    import warnings

    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    warnings.filterwarnings("ignore", module="lifelines")

    frame, segments = training_frame(wh, cutoff, without_agency=without_agency)
    events = int(frame["is_paid"].sum())
    if frame.height < MIN_TRAINING_ROWS or events < MIN_TRAINING_ROWS // 4:
        raise ArinsightError(
            f"too little history before {cutoff} to fit a payment model: {frame.height} open "
            f"invoice-months and {events} payments (need {MIN_TRAINING_ROWS} and "
            f"{MIN_TRAINING_ROWS // 4}); load more months of ledger and rerun `arinsight build`"
        )
    # a covariate without variance (no dunning at all, one segment, ...) carries no
    # information and breaks the Newton steps: drop it
    covariates = [
        c
        for c in frame.columns
        if c not in ("duration_days", "is_paid", "_origin_date", "_amount", *STRATA)
        and _std(frame[c]) > 1e-9
    ]
    pdf = frame.select(*covariates, *STRATA, "duration_days", "is_paid").to_pandas()
    fitter = None
    for penalizer in (0.01, 0.1, 1.0):
        try:
            fitter = CoxPHFitter(penalizer=penalizer).fit(
                pdf, duration_col="duration_days", event_col="is_paid", strata=list(STRATA)
            )
            break
        except ConvergenceError:
            continue
    if fitter is None:
        raise ArinsightError(
            f"the payment model did not converge on the data before {cutoff} "
            f"({frame.height} rows); check for a segment or stage with very few invoices"
        )
    model = FittedModel(
        fitter=fitter,
        segments=segments,
        columns=tuple(covariates),
        strata=frozenset((int(a), int(b)) for a, b in frame.select(*STRATA).unique().iter_rows()),
        cutoff=cutoff,
        count_training_rows=frame.height,
        count_training_events=events,
        concordance=float(fitter.concordance_index_),
    )
    calibration, shock_sd = recalibration(model, frame)
    if held_out_calibration:
        maps, model_error_sd = held_out_maps(wh, cutoff, without_agency)
        calibration = {**calibration, **maps}
        # the model's own error on the held-out month, as a shock of the same kind
        shock_sd = math.sqrt(shock_sd**2 + model_error_sd**2)
    return replace(model, calibration=calibration, shock_sd=shock_sd)


def forecast_week_errors(
    wh: Warehouse,
    cutoff: dt.date,
    *,
    without_agency: bool = False,
    min_rows: int = MIN_CALIBRATION_ROWS,
    count_origins: int = ERROR_ORIGINS,
) -> tuple[tuple[float, float], ...]:
    """The cash forecast's band per horizon week, from its own errors out of sample.

    At each of the last ``count_origins`` month ends at least 13 weeks before
    ``cutoff``, the model fitted there (data up to that day only) forecasts the
    13 weeks after it for the invoices open then; all 13 weeks end on or before
    ``cutoff``, so their collections are known without looking past it. Actual ÷
    expected per week and origin gives the band's (low, high) ratio per week
    (:func:`arinsight.propensity.forecast.week_ratio_band`). An origin with too
    little history or fewer than ``min_rows`` open invoices is left out; ``()``
    when too few are left (the forecast then draws its band with ``shock_sd``).
    """
    from arinsight.propensity.forecast import WEEKS, week_ratio_band

    last = cutoff - dt.timedelta(days=7 * WEEKS)
    earlier = month_ends(_months_before(last, count_origins), last)[-count_origins:]
    expected: list[list[float]] = []
    actual: list[list[float]] = []
    for origin in earlier:
        try:
            before = fit(wh, origin, without_agency=without_agency, held_out_calibration=False)
        except ArinsightError:
            continue
        feats = point_in_time(wh, [origin])
        if feats.height < min_rows:
            continue
        surv = survival_matrix(before, feats)
        out = outcomes(feats, cutoff, without_agency=without_agency)
        dur, paid = out["duration_days"].to_numpy(), out["is_paid"].to_numpy()
        amount = feats["invoice_amount"].cast(float).to_numpy()
        week = (dur - 1) // 7 + 1
        exp_w, act_w = [], []
        for w in range(1, WEEKS + 1):
            q = surv[:, 7 * (w - 1)] - surv[:, 7 * w]
            e = float((amount * q).sum())
            exp_w.append(e)
            act_w.append(float(amount[(paid == 1) & (week == w)].sum()))
        expected.append(exp_w)
        actual.append(act_w)
    if not expected:
        return ()
    return week_ratio_band(expected, actual)


def held_out_maps(
    wh: Warehouse, cutoff: dt.date, without_agency: bool
) -> tuple[dict[int, tuple[Any, Any]], float]:
    """Isotonic maps learned out of sample, and the model's weekly error there.

    At each of the last :data:`HELD_OUT_MONTHS` month ends at least 31 days
    before ``cutoff``, the same model fitted there (data up to that day only)
    scores the invoices open then; what they did in the following h days (all
    before ``cutoff``) is the target of the maps, pooled over those months. The
    weeks after the latest of them observed by ``cutoff`` compare expected with
    actual collections: the mean squared log ratio beyond what binomial noise
    explains is the variance of the model's error (0 when within noise).
    ``({}, 0.0)`` when the latest month has too little history or too few open
    invoices; an earlier one that has is left out of the pool."""
    import numpy as np
    from scipy.optimize import isotonic_regression

    from arinsight.propensity.features import point_in_time

    last_day = cutoff - dt.timedelta(days=31)
    earlier = month_ends(_months_before(last_day, HELD_OUT_MONTHS), last_day)
    pooled = []
    for origin in earlier[-HELD_OUT_MONTHS:][::-1]:  # the latest first
        try:
            before = fit(wh, origin, without_agency=without_agency, held_out_calibration=False)
        except ArinsightError:
            break
        feats = point_in_time(wh, [origin])
        if feats.height < MIN_CALIBRATION_ROWS:
            break
        surv = survival_matrix(before, feats)
        out = outcomes(feats, cutoff, without_agency=without_agency)
        pooled.append(
            (origin, feats, surv, out["duration_days"].to_numpy(), out["is_paid"].to_numpy())
        )
    if not pooled:
        return {}, 0.0
    maps: dict[int, tuple[Any, Any]] = {}
    for h in HORIZONS:
        p = np.concatenate([1.0 - sv[:, h] for _, _, sv, _, _ in pooled])
        y = np.concatenate([((pd == 1) & (du <= h)).astype(float) for *_, du, pd in pooled])
        order = np.argsort(p, kind="stable")
        fitted = isotonic_regression(y[order]).x
        knots, idx = np.unique(p[order], return_index=True)
        last = np.r_[idx[1:] - 1, p.size - 1]
        maps[h] = (knots, fitted[last])
    origin, feats, surv, dur, paid = pooled[0]
    amount = feats["invoice_amount"].cast(float).to_numpy()
    week = (dur - 1) // 7 + 1
    ratios, noise = [], []
    for w in range(1, (cutoff - origin).days // 7 + 1):
        q = surv[:, 7 * (w - 1)] - surv[:, 7 * w]
        expected = float((amount * q).sum())
        actual = float(amount[(paid == 1) & (week == w)].sum())
        if expected <= 0 or actual <= 0:
            continue
        ratios.append(math.log(actual / expected) ** 2)
        noise.append(float((amount**2 * q * (1 - q)).sum()) / expected**2)
    error = float(np.mean(ratios)) - float(np.mean(noise)) if ratios else 0.0
    return maps, math.sqrt(max(error, 0.0))


def recalibration(
    model: FittedModel, frame: pl.DataFrame
) -> tuple[dict[int, tuple[Any, Any]], float]:
    """Isotonic maps for P(paid within h days) and the month-level shock's sd.

    Rows: a sample of the training rows whose origin lies at least h days before
    the cut-off (so the h-day outcome is observed; settled otherwise or censored
    inside h days counts as not paid within h). For each horizon, scipy's
    ``isotonic_regression`` of the outcome on the Cox probability gives a
    monotone map (the Cox model's proportional hazards do not hold exactly, so
    its probabilities run high in some ranges and low in others). The shock:
    per origin month, log(observed / predicted 30-day paid amount); its variance
    beyond what binomial noise explains is the variance of a shock common to
    every invoice that month.
    """
    import numpy as np
    import polars as pl
    from scipy.optimize import isotonic_regression

    rows = frame.filter(pl.col("_origin_date") <= model.cutoff - dt.timedelta(days=min(HORIZONS)))
    if rows.height > CALIBRATION_ROWS:
        rows = rows.sample(CALIBRATION_ROWS, seed=1)
    if rows.height < MIN_CALIBRATION_ROWS:
        return {}, 0.0
    x = _nearest_seen_strata(rows.select(*model.columns, *STRATA), model.strata).to_pandas()
    surv = model.fitter.predict_survival_function(x, times=list(HORIZONS))
    raw = surv.loc[:, x.index].to_numpy().T  # rows x horizons, P(unpaid after h)
    origin = rows["_origin_date"].to_numpy()
    age = (np.datetime64(model.cutoff) - origin.astype("datetime64[D]")).astype(int)
    dur, paid = rows["duration_days"].to_numpy(), rows["is_paid"].to_numpy()
    maps: dict[int, tuple[Any, Any]] = {}
    p30 = y30 = None
    for j, h in enumerate(HORIZONS):
        use = age >= h
        if use.sum() < MIN_CALIBRATION_ROWS:
            continue
        p = 1.0 - raw[use, j]
        y = ((paid[use] == 1) & (dur[use] <= h)).astype(float)
        order = np.argsort(p, kind="stable")
        fitted = isotonic_regression(y[order]).x
        knots, idx = np.unique(p[order], return_index=True)
        # the fitted value of the last row of each run of equal probabilities
        last = np.r_[idx[1:] - 1, p.size - 1]
        maps[h] = (knots, fitted[last])
        if h == 30:
            p30, y30 = p, y
            month = rows["_origin_date"].to_numpy()[use]
            amount = rows["_amount"].to_numpy()[use]
    shock = 0.0
    if p30 is not None and y30 is not None:
        cal = np.interp(p30, *maps[30])
        logs: list[float] = []
        noise: list[float] = []
        for m in np.unique(month):
            sel = month == m
            pred = float((amount[sel] * cal[sel]).sum())
            obs = float((amount[sel] * y30[sel]).sum())
            if pred <= 0 or obs <= 0 or sel.sum() < 50:
                continue
            logs.append(math.log(obs / pred))
            noise.append(float((amount[sel] ** 2 * cal[sel] * (1 - cal[sel])).sum()) / pred**2)
        if len(logs) >= 3:
            excess = float(np.var(logs, ddof=1)) - float(np.mean(noise))
            shock = math.sqrt(max(excess, 0.0))
    return maps, shock


def calibrated(model: FittedModel, h: int, p: Any) -> Any:
    """``p`` = raw P(paid within h days) through the model's isotonic map (if any)."""
    import numpy as np

    if h not in model.calibration:
        return p
    knots, values = model.calibration[h]
    return np.interp(p, knots, values)


def _std(series: pl.Series) -> float:
    value: Any = series.std()
    return 0.0 if value is None else float(value)


def survival_matrix(model: FittedModel, features: pl.DataFrame) -> np.ndarray:
    """P(still unpaid after t days) for t = 0..MAX_DAYS: shape (rows, MAX_DAYS + 1)."""
    import numpy as np

    design = design_matrix(features, model.segments).select(*model.columns, *STRATA)
    design = _nearest_seen_strata(design, model.strata)
    x = design.to_pandas()
    times = np.arange(0, MAX_DAYS + 1)
    out = np.ones((len(x), times.size))
    if len(x) == 0:
        return out
    surv = model.fitter.predict_survival_function(x, times=times)
    # stratified models return their columns grouped by stratum: realign on the index
    out[:, :] = surv.loc[:, x.index].to_numpy().T
    # lifelines reads the step function at t = 0 as the first event time's value;
    # nothing is paid on the scoring day itself (durations are >= 1 day)
    out[:, 0] = 1.0
    return np.clip(out, 0.0, 1.0)


def _nearest_seen_strata(design: pl.DataFrame, seen: frozenset[tuple[int, int]]) -> pl.DataFrame:
    """Map a (stage, due) stratum absent from training to the nearest one seen.

    Nearest = same stage if possible, then the closest due status (a rare
    combination — say a pre-due reminder sent weeks before due — borrows the
    curve of its neighbour instead of failing).
    """
    import polars as pl

    present = {(int(a), int(b)) for a, b in design.select(*STRATA).unique().iter_rows()}
    mapping = {}
    for st in present - seen:
        mapping[st] = min(seen, key=lambda o: (abs(o[0] - st[0]) * 10 + abs(o[1] - st[1]), o))
    if not mapping:
        return design
    keys = pl.DataFrame(
        {
            "stage_stratum": [k[0] for k in mapping],
            "due_stratum": [k[1] for k in mapping],
            "_stage": [v[0] for v in mapping.values()],
            "_due": [v[1] for v in mapping.values()],
        },
        schema_overrides={
            "stage_stratum": design.schema["stage_stratum"],
            "due_stratum": design.schema["due_stratum"],
        },
    )
    joined = design.join(keys, on=list(STRATA), how="left", maintain_order="left")
    return joined.with_columns(
        stage_stratum=pl.coalesce("_stage", "stage_stratum").cast(design.schema["stage_stratum"]),
        due_stratum=pl.coalesce("_due", "due_stratum").cast(design.schema["due_stratum"]),
    ).drop("_stage", "_due")


def conditional_quantile_days(surv: np.ndarray, q: float) -> np.ndarray:
    """Per row, the q-quantile of the payment day *given payment within MAX_DAYS*.

    With F(t) = 1 - S(t): the first t with F(t) >= q * F(MAX_DAYS). NaN when the
    model gives less than :data:`MIN_PAY_PROBABILITY` of payment at all (then a
    date would mislead; ``paid_within_*`` says how unlikely payment is).
    """
    import numpy as np

    paid = 1.0 - surv
    total = paid[:, -1]
    reached = paid >= (q * total)[:, None]
    first: np.ndarray = reached.argmax(axis=1).astype(float)
    first[total < MIN_PAY_PROBABILITY] = np.nan
    return first


def agency_day(ladder: Ladder, segment: str) -> int | None:
    """Days after due at which the ladder hands a case to the agency (None: never)."""
    stages = ladder.for_segment(segment)
    offsets = ladder.due_offsets(segment)
    for s, off in zip(stages, offsets, strict=True):
        if s.channel == "collection_agency":
            return off
    return None


def predict(
    model: FittedModel, features: pl.DataFrame, ladder: Ladder | None = None
) -> pl.DataFrame:
    """Scores for ``features`` rows (one origin date, typically the cut-off).

    Returns:
        The identifying feature columns plus ``paid_within_<h>d_ratio`` (0-1),
        ``paid_before_agency_ratio`` (0-1, null without an agency stage),
        ``expected_paid_date`` and ``paid_date_p10`` / ``paid_date_p90`` (given
        payment; null when payment within :data:`MAX_DAYS` is very unlikely).
    """
    import numpy as np
    import polars as pl

    surv = survival_matrix(model, features)
    cols: dict[str, Any] = {}
    floor = np.zeros(features.height)
    for h in HORIZONS:  # recalibrated, and kept non-decreasing in h
        floor = np.maximum(floor, calibrated(model, h, 1.0 - surv[:, h]))
        cols[f"paid_within_{h}d_ratio"] = floor
    before_agency = np.full(features.height, np.nan)
    if ladder is not None:
        dpd = features["days_past_due"].to_numpy()
        segs = features["segment"].to_list()
        for i, seg in enumerate(segs):
            day = agency_day(ladder, seg)
            if day is not None:
                t = int(min(max(day - dpd[i], 0), MAX_DAYS))
                before_agency[i] = 1.0 - surv[i, t]
    cols["paid_before_agency_ratio"] = before_agency
    for name, q in (("expected", 0.5), ("p10", 0.1), ("p90", 0.9)):
        cols[f"_{name}_days"] = conditional_quantile_days(surv, q)
    scores = pl.DataFrame(cols).with_columns(pl.col("paid_before_agency_ratio").fill_nan(None))
    base = features.select(
        "origin_date",
        "invoice_id",
        "customer_id",
        "segment",
        "due_date",
        "invoice_amount",
        "days_past_due",
        "stage_at_origin",
        "days_since_stage",
        "is_disputed",
        "late_ratio",
        "median_days_late",
    )
    out = pl.concat([base, scores], how="horizontal")
    dates = {}
    for name, target in (
        ("expected", "expected_paid_date"),
        ("p10", "paid_date_p10"),
        ("p90", "paid_date_p90"),
    ):
        days = pl.col(f"_{name}_days").fill_nan(None).cast(pl.Int32)
        dates[target] = pl.col("origin_date") + pl.duration(days=days)
    return out.with_columns(**dates).drop([f"_{n}_days" for n in ("expected", "p10", "p90")])


def _months_before(day: dt.date, months: int) -> dt.date:
    y, m = day.year, day.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def brier(pred: Any, observed: Any) -> float:
    """Mean squared difference between probabilities and 0/1 outcomes."""
    import numpy as np

    p, o = np.asarray(pred, float), np.asarray(observed, float)
    return float(np.mean((p - o) ** 2)) if p.size else math.nan


def ladder_in_force(wh: Warehouse, on: dt.date) -> Ladder:
    """The ladder stored in ``meta.ladders`` in force on ``on``, else the shipped default."""
    from arinsight.config import load_ladder
    from arinsight.ladder.store import ladder_in_force as stored

    return stored(wh, on) or load_ladder()


def data_as_of(wh: Warehouse) -> dt.date:
    """The ledger's as-of date (``fct_invoice_lifecycle.as_of_date``).

    Raises:
        ArinsightError: no marts yet.
    """
    from arinsight.metrics import _require_marts

    _require_marts(wh)
    value = wh.sql("select max(as_of_date) as d from marts.fct_invoice_lifecycle")["d"][0]
    if value is None:
        raise ArinsightError(f"{wh.path} holds no invoices — run `arinsight load` first")
    return value if isinstance(value, dt.date) else value.date()
