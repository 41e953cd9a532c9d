"""Cash forecast: expected collections per week for the next 13 weeks.

From the invoices open at the as-of date and their predicted time to pay
(:func:`arinsight.propensity.model.survival_matrix`): the expected amount of
week *w* is ``Σ open_amount × (S(7(w−1)) − S(7w))``. The 80 % interval comes
from simulating each invoice's payment day from its own curve (inverse
transform of uniform draws, independent across invoices — customers who pay
late together, e.g. in a downturn, make the true spread wider; see
docs/propensity.md). Invoices not issued yet are not in the forecast; the
invoicing run-rate of the last 13 weeks is reported beside it, separately.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
