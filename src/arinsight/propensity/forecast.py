"""Cash forecast: expected collections per week for the next 13 weeks.

From the invoices open at the as-of date and their predicted time to pay
(:func:`arinsight.propensity.model.survival_matrix`): the expected amount of
week *w* is ``Σ open_amount × (S(7(w−1)) − S(7w))``. The 80 % interval comes
from simulating each invoice's payment day from its own curve (inverse
transform of uniform draws, independent across invoices — customers who pay
late together, e.g. in a downturn, make the true spread wider; see
docs/propensity.md) and, when known, the model's own error per horizon week
measured from a past origin (:func:`week_error_sd`). Invoices not issued yet
are not in the forecast; the invoicing run-rate of the last 13 weeks is
reported beside it, separately.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import polars as pl

WEEKS = 13
DRAWS = 400


def weekly(
    surv: np.ndarray,
    amounts: np.ndarray,
    as_of: dt.date,
    *,
    seed: int = 0,
    shock_sd: float = 0.0,
    week_error_sd: Sequence[float] = (),
) -> pl.DataFrame:
    """Expected and simulated weekly collections.

    Args:
        surv: P(unpaid after t days), shape (invoices, days + 1), t = 0..days.
        amounts: open amount per invoice (reporting currency).
        as_of: the forecast's day 0; week w covers days 7(w-1)+1 .. 7w after it.
        seed: seed of the simulation draws.
        shock_sd: sd of a shock common to all invoices in a draw, on the log-hazard
            scale (each draw raises every curve to the power exp(z), z ~ N(0, sd²)):
            customers do not pay independently of each other, so without it the
            band is too narrow (``FittedModel.shock_sd``).
        week_error_sd: per week 1..13, the sd of the forecast's total error on the
            log scale, measured at past origins (:func:`week_error_sd`). Where it
            exceeds the draws' own log-scale spread (their p10..p90 read as
            ±1.2816 sd), each draw's week-w total is multiplied by exp(e × z),
            e² = sd_w² − own², z from a stratified standard normal grid (so the
            band's quantiles are stable across seeds). Empty: no such term.

    Returns:
        One row per week: ``week_number``, ``week_start_date``, ``week_end_date``,
        ``expected_collections_amount``, ``collections_p10_amount``,
        ``collections_p90_amount``.
    """
    import numpy as np
    import polars as pl

    days = 7 * WEEKS
    s = surv[:, : days + 1]
    edges = s[:, 0 : days + 1 : 7]  # S at 0, 7, 14, ...
    expected = ((edges[:, :-1] - edges[:, 1:]) * amounts[:, None]).sum(axis=0)
    rng = np.random.default_rng(seed)
    sims = np.zeros((DRAWS, WEEKS))
    if len(amounts):
        u = rng.random((DRAWS, len(amounts)))
        power = np.exp(shock_sd * rng.standard_normal(DRAWS))[:, None] if shock_sd > 0 else 1.0
        # paid by day 7w  <=>  S(7w)^power <= u  (inverse transform of the curve)
        paid_before = np.zeros(u.shape, dtype=bool)
        for w in range(1, WEEKS + 1):
            paid_by = u >= edges[None, :, w] ** power
            sims[:, w - 1] = (paid_by & ~paid_before).astype(float) @ amounts
            paid_before = paid_by
    if len(week_error_sd):
        from scipy.stats import norm

        z90 = float(norm.ppf(0.9))
        grid = norm.ppf((np.arange(DRAWS) + 0.5) / DRAWS)
        for w in range(WEEKS):
            # the draws' own spread on the log scale (from their 10th and 90th
            # percentiles; a p10 of 0 is already wider than any log-normal error)
            lo, hi = np.quantile(sims[:, w], [0.1, 0.9])
            own = ((math.log(hi) - math.log(lo)) / (2 * z90)) ** 2 if lo > 0 else math.inf
            extra = float(week_error_sd[w]) ** 2 - own
            if extra > 0:
                sims[:, w] *= np.exp(math.sqrt(extra) * rng.permutation(grid))
    starts = [as_of + dt.timedelta(days=7 * (w - 1) + 1) for w in range(1, WEEKS + 1)]
    return pl.DataFrame(
        {
            "week_number": list(range(1, WEEKS + 1)),
            "week_start_date": starts,
            "week_end_date": [d + dt.timedelta(days=6) for d in starts],
            "expected_collections_amount": expected,
            "collections_p10_amount": np.quantile(sims, 0.1, axis=0),
            "collections_p90_amount": np.quantile(sims, 0.9, axis=0),
        }
    )


def week_error_sd(
    expected: Sequence[Any], actual: Sequence[Any], *, window: int = 1
) -> tuple[float, ...]:
    """The forecast's total error per horizon week, from past origins' forecasts.

    Arguments are per week (one past origin) or per origin × week. Per origin
    and week: log(actual / expected)² (binomial noise, the model's timing error
    and any shared shock together); a week with nothing expected or nothing
    collected has no log ratio and is left out. A few origins give a few ratios
    per week, so the variance of week w is the mean over all origins and weeks
    w − window .. w + window (those that exist and have one); its square root
    is the sd. A week whose window has no ratio takes the mean over all that
    have one. ``()`` when none has one.
    """
    import numpy as np

    exp_, act = (np.atleast_2d(np.asarray(x, float)) for x in (expected, actual))
    ok = (exp_ > 0) & (act > 0)
    if not ok.any():
        return ()
    squared = np.full(exp_.shape, np.nan)
    squared[ok] = np.log(act[ok] / exp_[ok]) ** 2
    overall = float(np.nanmean(squared))
    out = []
    for w in range(exp_.shape[1]):
        near = squared[:, max(w - window, 0) : w + window + 1]
        near = near[~np.isnan(near)]
        out.append(float(np.sqrt(near.mean() if near.size else overall)))
    return tuple(out)
