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
from typing import TYPE_CHECKING

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
        week_error_sd: per week 1..13, the sd of the model's own error on the log
            scale (:func:`week_error_sd`); each draw's week-w total is multiplied
            by exp(sd_w × z), z from a stratified standard normal grid (so the
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

        grid = norm.ppf((np.arange(DRAWS) + 0.5) / DRAWS)
        for w in range(WEEKS):
            sd = float(week_error_sd[w])
            if sd > 0:
                sims[:, w] *= np.exp(sd * rng.permutation(grid))
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
    expected: Sequence[float],
    actual: Sequence[float],
    noise: Sequence[float],
    *,
    window: int = 1,
) -> tuple[float, ...]:
    """The model's error per horizon week, from one past origin's forecast.

    Per week w: e_w = log(actual_w / expected_w)² − noise_w, where noise_w is the
    relative variance binomial noise alone gives (Σ a² q (1 − q) / expected²);
    a week with nothing expected or nothing collected has no log ratio and is
    left out. One origin gives one ratio per week, so the variance of week w is
    the mean of e over weeks w − window .. w + window (those that exist and have
    one), clipped at 0; its square root is the sd. A week whose window has no
    ratio takes the mean over all weeks that have one. ``()`` when no week has one.
    """
    import numpy as np

    exp_, act, noi = (np.asarray(x, float) for x in (expected, actual, noise))
    ok = (exp_ > 0) & (act > 0)
    if not ok.any():
        return ()
    excess = np.full(exp_.size, np.nan)
    excess[ok] = np.log(act[ok] / exp_[ok]) ** 2 - noi[ok]
    overall = float(np.nanmean(excess))
    out = []
    for w in range(exp_.size):
        near = excess[max(w - window, 0) : w + window + 1]
        near = near[~np.isnan(near)]
        var = float(near.mean()) if near.size else overall
        out.append(float(np.sqrt(max(var, 0.0))))
    return tuple(out)
