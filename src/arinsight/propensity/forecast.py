"""Cash forecast: expected collections per week for the next 13 weeks.

From the invoices open at the as-of date and their predicted time to pay
(:func:`arinsight.propensity.model.survival_matrix`): the expected amount of
week *w* is ``Σ open_amount × (S(7(w−1)) − S(7w))``. The 80 % interval comes
from simulating each invoice's payment day from its own curve (inverse
transform of uniform draws, independent across invoices — customers who pay
late together, e.g. in a downturn, make the true spread wider; see
docs/propensity.md) — or, when past origins are known, from the forecast's own
errors there: the empirical quantiles of actual ÷ expected per horizon week
(:func:`week_ratio_band`), with no normal assumption. Invoices not issued yet
are not in the forecast; the invoicing run-rate of the last 13 weeks is
reported beside it, separately.
"""

from __future__ import annotations

import datetime as dt
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
    week_ratio_band: Sequence[tuple[float, float]] = (),
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
        week_ratio_band: per week 1..13, the (low, high) ratio of actual to expected
            collections that past origins' forecasts reached 80 % of the time
            (:func:`week_ratio_band`); the band is then expected × low .. expected ×
            high and no draws are made. Empty: the band comes from the draws.

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
    if len(week_ratio_band):
        ratios = np.asarray(week_ratio_band, float).reshape(WEEKS, 2)
        p10, p90 = expected * ratios[:, 0], expected * ratios[:, 1]
    else:
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
        p10, p90 = np.quantile(sims, 0.1, axis=0), np.quantile(sims, 0.9, axis=0)
    starts = [as_of + dt.timedelta(days=7 * (w - 1) + 1) for w in range(1, WEEKS + 1)]
    return pl.DataFrame(
        {
            "week_number": list(range(1, WEEKS + 1)),
            "week_start_date": starts,
            "week_end_date": [d + dt.timedelta(days=6) for d in starts],
            "expected_collections_amount": expected,
            "collections_p10_amount": p10,
            "collections_p90_amount": p90,
        }
    )


def week_ratio_band(
    expected: Sequence[Any],
    actual: Sequence[Any],
    *,
    window: int = 1,
    level: float = 0.8,
    min_ratios: int = 5,
) -> tuple[tuple[float, float], ...]:
    """Per horizon week, the (low, high) ratio of actual to expected collections
    that covers ``level`` of past origins' weeks.

    Arguments are per week (one past origin) or per origin × week. Per origin
    and week the ratio actual ÷ expected (a week with nothing expected has none;
    one with nothing collected has ratio 0 and counts — such misses are real).
    Week w pools the ratios of all origins and weeks w − window .. w + window (a
    few origins give a few ratios per week; the error varies smoothly with the
    horizon). Its band is the split-conformal pair of order statistics: with n
    ratios, the (n + 1)·(1 − level) / 2-th and (n + 1)·(1 + level) / 2-th smallest
    (interpolated; numpy's ``weibull`` quantile), so a new week exchangeable with
    the past ones falls inside with probability ``level`` — no normal or
    log-normal shape is assumed, heavy tails stay heavy. With 4 origins × 3 weeks
    (12 ratios) the band runs from between the 1st and 2nd smallest to between
    the 11th and 12th. ``()`` when a week's window has fewer than ``min_ratios``.
    """
    import numpy as np

    exp_, act = (np.atleast_2d(np.asarray(x, float)) for x in (expected, actual))
    ratio = np.full(exp_.shape, np.nan)
    ok = exp_ > 0
    ratio[ok] = np.maximum(act[ok], 0.0) / exp_[ok]
    tail = (1 - level) / 2
    out = []
    for w in range(exp_.shape[1]):
        near = ratio[:, max(w - window, 0) : w + window + 1]
        near = near[~np.isnan(near)]
        if near.size < min_ratios:
            return ()
        lo, hi = np.quantile(near, [tail, 1 - tail], method="weibull")
        out.append((float(lo), float(hi)))
    return tuple(out)
