"""The bootstrap over customers, all draws at once.

``fit.py`` describes the linearised bootstrap one draw at a time
(``draw_theta``, ``agency_rho``, ``draw_churn``); this module computes the same
numbers for ``B`` draws in a few matrix products, which is what makes 200 draws
affordable at a million invoices:

* ``theta_b = theta + I^-1 S^T (w_b - 1)`` for every draw is one product
  ``(W - 1) S I^-T`` ([B, customers] x [customers, params]);
* the agency's own recovery share needs, per draw, the mean over handed-over
  invoices of ``P(natural payment inside the agency's window)``; it depends on an
  invoice only through its (issue day, handover day) pair, so the few distinct
  pairs are evaluated once per draw, weighted by how many invoices share them.

Customer weights are Poisson(1) draws (``poisson_weights``), seeded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from arinsight.ladder.fit import (
    P_LAMBDA,
    P_LOG_HL,
    P_LOG_R,
    P_LOG_SIGMA,
    P_LOGIT_PI,
    P_MU,
    ChurnModel,
    FittedGroup,
    ordered_bumps,
    unique_rows,
)
from arinsight.ladder.inputs import NEVER, Inputs
from arinsight.ladder.replay import Params

F64 = npt.NDArray[np.float64]


def poisson_weights(draws: int, customers: int, seed: int) -> F64:
    """[draws, customers] Poisson(1) customer weights of the bootstrap (seeded)."""
    rng = np.random.default_rng(seed)
    out: F64 = rng.poisson(1.0, (draws, customers)).astype(np.float64)
    return out


def draw_thetas(theta: F64, scores: F64, info_inv: F64, w: F64) -> F64:
    """One-step bootstrap estimates for every row of ``w``: [B, params].

    Row ``b`` equals ``theta + info_inv @ (scores.T @ (w[b] - 1))``
    (``fit.draw_theta`` / ``fit.draw_churn`` for one draw).
    """
    step = (w @ scores - scores.sum(axis=0)[None, :]) @ info_inv.T
    out: F64 = theta[None, :] + step
    return out


def _snat_batch(th: F64, a: F64, t: F64) -> F64:
    """``fit.snat`` for B parameter rows and U (issue day, day) pairs: [B, U]."""
    from scipy.special import ndtr

    pi = 1.0 / (1.0 + np.exp(-th[:, P_LOGIT_PI]))[:, None]
    sig = np.exp(th[:, P_LOG_SIGMA])[:, None]
    sf = ndtr(-((t[None, :] + 0.5 - th[:, P_MU][:, None]) / sig))
    out: F64 = np.where(t[None, :] < a[None, :], 1.0, pi + (1.0 - pi) * sf)
    return out


def agency_rhos(
    fg: FittedGroup,
    inp: Inputs,
    mask: npt.NDArray[np.bool_],
    thetas: F64,
    w: F64,
    agency_only: bool = False,
) -> F64:
    """``fit.agency_rho`` for every draw: [B] agency own-recovery shares."""
    idx = np.flatnonzero(mask & (inp.handover_rel < NEVER))
    if idx.size == 0:
        return np.full(thetas.shape[0], 0.5)
    mean_ratio = (w @ fg.ratio_sum) / np.maximum(w @ fg.ratio_n, 1e-9)
    if agency_only:
        out0: F64 = np.clip(mean_ratio, 0.0, 1.0)
        return out0
    pairs, _inv, counts = unique_rows(
        np.column_stack([inp.issue_rel[idx], inp.handover_rel[idx]]).astype(np.int64)
    )
    a = pairs[:, 0].astype(np.float64)
    ho = pairs[:, 1].astype(np.float64)
    s0 = _snat_batch(thetas, a, ho)
    s1 = _snat_batch(thetas, a, ho + fg.model.window)
    share = np.where(s0 > 1e-12, (s0 - s1) / np.maximum(s0, 1e-12), 0.0)
    p_nat = share @ counts.astype(np.float64) / float(idx.size)
    rho = np.clip((mean_ratio - p_nat) / np.maximum(1.0 - p_nat, 1e-12), 0.0, 1.0)
    out: F64 = np.where(p_nat >= 0.999, 0.0, rho)
    return out


def halving_draws(fg: FittedGroup, draws: int, seed: int | tuple[int, ...]) -> F64:
    """[B] agency half-lives (days) drawn from the grid posterior of ``fit.fit_agency_halving``
    (seeded; the point estimate when the fit has no grid)."""
    if fg.halving_post.size == 0:
        return np.full(draws, fg.model.agency_halving)
    rng = np.random.default_rng(seed)
    pick = rng.choice(fg.halving_grid.size, size=draws, p=fg.halving_post)
    out: F64 = np.exp(fg.halving_grid[pick])
    return out


def group_params(
    fg: FittedGroup,
    inp: Inputs,
    mask: npt.NDArray[np.bool_],
    w: F64,
    seed: int | tuple[int, ...] = 0,
    agency_only: bool = False,
) -> Params:
    """A group's payment-model parameters for every draw of ``w`` (one Params of B rows).

    The agency half-life is drawn from its posterior (``halving_draws``, ``seed``):
    the customers' weights cannot move a parameter the data leave at its prior."""
    th = draw_thetas(fg.theta, np.asarray(fg.scores, np.float64), fg.info_inv, w)
    return Params(
        pi=1.0 / (1.0 + np.exp(-th[:, P_LOGIT_PI])),
        mu=th[:, P_MU].copy(),
        sigma=np.exp(th[:, P_LOG_SIGMA]),
        half_life=np.exp(th[:, P_LOG_HL]),
        responsiveness=np.exp(th[:, P_LOG_R]),
        lam=np.exp(th[:, P_LAMBDA:]),
        rho=agency_rhos(fg, inp, mask, th, w, agency_only),
        window=fg.model.window,
        ag_halving=halving_draws(fg, th.shape[0], seed),
        handover_ref=fg.model.handover_ref,
        agency_only=agency_only,
    )


def churn_bumps(cm: ChurnModel, w: F64) -> F64:
    """A churn model's excess hazard per event kind for every draw: [B, kinds]."""
    x = draw_thetas(cm.theta, np.asarray(cm.scores, np.float64), cm.info_inv, w)
    # the escalation order (fit.ordered_bumps) per draw; B is a few hundred rows
    out: F64 = np.stack([ordered_bumps(row, cm.active) for row in x[:, 1:]])
    return out
