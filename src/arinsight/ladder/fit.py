"""The response model the recommender fits to the ledger and the dunning log.

Per *group* (a master-data segment, or a behaviour segment inside it when it
has enough invoices) an invoice that is still open on day ``t`` (days after its
due date) is paid on that day for one of two reasons, whichever comes first:

* **natural payment**: a day drawn once per invoice, ``round(N(mu, sigma))``
  days after due (never, with probability ``pi``), not before the issue date;
* **reminder response**: every stage ``k`` sent on day ``s_k`` adds a payment
  hazard ``lambda_k * exp(-max(s_k, 0) / R)`` that halves every ``hl`` days, so
  that ``H(t) = sum_k A_k * d (1 - d^(t - s_k)) / (1 - d)``, ``d = 0.5^(1/hl)``.

So ``P(open after day t) = S(t) = Snat(t) * exp(-H(t))`` and the likelihood of
an invoice settled on day ``T`` is ``S(T-1) - S(T)``; invoices still open, handed
to the collection agency, written off or credited are censored at that day.
Parameters are maximum-a-posteriori estimates (weak priors keep unidentified
ones finite; ``R`` has the informative prior of ``recommender.yaml``), found
with scipy's L-BFGS-B on the distinct rows of the data (identical invoices
counted once, with a weight).

After the handover the agency phase: an invoice whose natural payment day falls
within the agency's working window ``W`` pays in full (through the agency);
otherwise the agency recovers the share ``rho`` of it at ``W``. ``W`` is the
median observed days from handover to recovery; ``rho`` solves
``mean observed recovered share = P(natural in window) + (1 - P) * rho``.
``rho`` is the share at the group's mean case age at handover ``h0``; at another
age ``h`` it is ``rho * 0.5 ** ((h - h0) / G)``: the agency's recovery halves
every ``G`` days of case age (:func:`fit_agency_halving`). ``G`` is fitted from
the recovered shares of invoices handed over at different ages (a randomised
experiment, stages pushed back by disputes or minimum gaps) with a log-normal
prior (``agency_age_halving_days_prior``); a ladder that hands every case over
at one age leaves it at the prior, and its posterior spread then enters the
bootstrap as a parametric draw, so moving the handover far is only proposed when
the gain survives that uncertainty.

**Churn a stage causes** (per segment, customer level): a customer's churn
hazard on day ``t`` is ``base + sum over its events e of b_k * r * q^(t - e)`` —
each stage-k event adds a bump ``b_k`` spread over the following days
(half-life ``churn_half_life_days``). ``base`` is the background (voluntary)
churn every customer runs whether dunned or not, so ``b_k`` is the *excess*
churn hazard after a stage-k event over comparable customers not dunned at that
time, identified by churn bunching after events — not the involuntary-churn
label (which counts voluntary churners who happened to be dunned). Fitted by
maximum likelihood over customers (churn day or end of data). The channels'
bumps keep the escalation order (email and SMS <= letter and phone <=
collection agency, :func:`ordered_bumps`): every customer gets the soft
reminders, so their churn is nearly collinear with background churn, and the
fit would otherwise hand the letters' churn to the pre-due e-mail.
A reminder that arrives after payment is a send of its channel with the
channel's bump times one multiplier (prior centred on 1), and a stage's fee adds
a share of its channel's bump per EUR (:func:`ordered_bumps`).

**Uncertainty**: a bootstrap over customers. Each draw reweights customers with
Poisson(1) weights and re-estimates every parameter by one Newton step from
the full-data estimate (``theta_b = theta + I^-1 * sum_c (w_c - 1) score_c``,
``I`` the outer product of customer scores plus the prior's curvature): the
linearised bootstrap, which needs no refit per draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from arinsight.contract import CHANNELS
from arinsight.ladder.inputs import NEVER, STAGES, Inputs
from arinsight.ladder.options import RecommenderOptions

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Parameter vector layout of the payment model.
P_LOGIT_PI, P_MU, P_LOG_SIGMA, P_LOG_HL, P_LOG_R = range(5)
P_LAMBDA = 5
N_PAY_PARAMS = P_LAMBDA + len(STAGES)
#: Last day after due the payment model follows an invoice.
T_MAX = 420
#: Weak priors (mean, sd) on the log scale for lift amplitude and half-life.
LAMBDA_PRIOR = (math.log(0.05), 2.5)
HALF_LIFE_PRIOR = (math.log(3.0), 1.5)


@dataclass
class PayModel:
    """Fitted payment-model parameters of one group (point estimate)."""

    pi: float
    mu: float
    sigma: float
    half_life: float
    responsiveness: float
    lam: F64  # per stage number, at 0 days overdue
    rho: float = 0.5
    window: int = 30
    #: mean case age (days after due) at handover of the group's handed-over invoices
    handover_ref: float = 0.0
    #: days of case age over which the agency's own recovery share halves
    agency_halving: float = 365.0
    n_invoices: int = 0
    n_events: F64 = field(default_factory=lambda: np.zeros(len(STAGES)))

    @classmethod
    def from_theta(cls, th: F64, **kw: Any) -> PayModel:
        return cls(
            pi=float(1.0 / (1.0 + math.exp(-th[P_LOGIT_PI]))),
            mu=float(th[P_MU]),
            sigma=float(math.exp(th[P_LOG_SIGMA])),
            half_life=float(math.exp(th[P_LOG_HL])),
            responsiveness=float(math.exp(th[P_LOG_R])),
            lam=np.exp(th[P_LAMBDA:]).astype(np.float64),
            **kw,
        )


def _norm_sf(x: F64) -> F64:
    from scipy.special import ndtr

    out: F64 = ndtr(-x)
    return out


def snat(th: F64, a: I64 | F64, t: I64 | F64) -> F64:
    """P(natural payment day > t) for invoices issued on day ``a`` (days after due)."""
    pi = 1.0 / (1.0 + np.exp(-th[P_LOGIT_PI]))
    sig = np.exp(th[P_LOG_SIGMA])
    sf = _norm_sf((np.asarray(t, np.float64) + 0.5 - th[P_MU]) / sig)
    out: F64 = np.where(np.asarray(t) < np.asarray(a), 1.0, pi + (1.0 - pi) * sf)
    return out


def hazard(th: F64, sent: I64, t: I64 | F64) -> F64:
    """Cumulative reminder hazard ``H(t)`` of rows with stage send days ``sent`` [m, 6]."""
    d = 0.5 ** (1.0 / math.exp(th[P_LOG_HL]))
    r = math.exp(th[P_LOG_R])
    lam = np.exp(th[P_LAMBDA:])
    s = sent.astype(np.float64)
    amp = lam[None, :] * np.exp(-np.maximum(s, 0.0) / r)
    n = np.asarray(t, np.float64)[:, None] - s
    pos = n > 0
    c = np.where(pos, d * (1.0 - d ** np.where(pos, n, 0.0)) / (1.0 - d), 0.0)
    out: F64 = (amp * c).sum(axis=1)
    return out


def unique_rows(key: I64) -> tuple[I64, I64, I64]:
    """Distinct rows of an integer matrix: (rows, index of each input row, counts)."""
    if key.shape[0] == 0:
        return key, np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort(key.T[::-1])
    srt = key[order]
    new = np.ones(srt.shape[0], dtype=np.bool_)
    new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(key.shape[0], dtype=np.int64)
    inverse[order] = group
    counts = np.bincount(group).astype(np.int64)
    return srt[new], inverse, counts


@dataclass
class _Rows:
    """Distinct fitting rows of one group: issue day, sends, outcome, count."""

    a: I64
    sent: I64
    event: npt.NDArray[np.bool_]
    t: I64
    count: F64
    cust_of_row: Any  # scipy.sparse (customers x rows) counts


def fit_rows(inp: Inputs, mask: npt.NDArray[np.bool_]) -> _Rows:
    """Outcome rows of the (undisputed) invoices in ``mask`` for the payment likelihood."""
    from scipy import sparse

    idx = np.flatnonzero(mask)
    a = inp.issue_rel[idx]
    sent = inp.sent[idx]
    ho = inp.handover_rel[idx]
    st = inp.settled_rel[idx]
    by = inp.settled_by[idx]
    paid = (by == 1) & ((ho >= NEVER) | (st <= ho)) & (st <= T_MAX)
    other_end = np.where((by == 2) | (by == 3), st, NEVER)
    cens = np.minimum.reduce([ho, inp.asof_rel[idx], other_end, np.full(idx.size, T_MAX)])
    t = np.where(paid, st, cens)
    t = np.maximum(t, a)
    sent = np.where(sent > t[:, None], NEVER, sent)  # sends after the outcome never matter
    key = np.column_stack([a, sent, paid.astype(np.int64), t])
    uniq, inverse, counts = unique_rows(key)
    n_c = int(inp.c_seg.size)
    cm = sparse.csr_matrix(
        (np.ones(idx.size), (inp.cust[idx], inverse)), shape=(n_c, uniq.shape[0])
    )
    return _Rows(
        a=uniq[:, 0],
        sent=uniq[:, 1 : 1 + len(STAGES)],
        event=uniq[:, 1 + len(STAGES)] == 1,
        t=uniq[:, 2 + len(STAGES)],
        count=counts.astype(np.float64),
        cust_of_row=cm,
    )


def row_loglik(th: F64, rows: _Rows) -> F64:
    """Log-likelihood of each distinct row (not multiplied by its count)."""
    t = rows.t
    s_t = snat(th, rows.a, t) * np.exp(-hazard(th, rows.sent, t))
    s_prev = snat(th, rows.a, t - 1) * np.exp(-hazard(th, rows.sent, t - 1))
    lik = np.where(rows.event, s_prev - s_t, s_t)
    out: F64 = np.log(np.maximum(lik, 1e-300))
    return out


def _surv_and_grad(th: F64, a: I64, sent: I64, t: I64) -> tuple[F64, F64]:
    """``S(t) = Snat(t) * exp(-H(t))`` per row and its gradient [rows, params]."""
    from scipy.special import ndtr

    pi = 1.0 / (1.0 + math.exp(-th[P_LOGIT_PI]))
    sig = math.exp(th[P_LOG_SIGMA])
    hl = math.exp(th[P_LOG_HL])
    r = math.exp(th[P_LOG_R])
    lam = np.exp(th[P_LAMBDA:])
    tf = t.astype(np.float64)
    z = (tf + 0.5 - th[P_MU]) / sig
    q = ndtr(-z)
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    before = t < a
    sn = np.where(before, 1.0, pi + (1 - pi) * q)
    d_sn = np.zeros((t.size, th.size))
    d_sn[:, P_LOGIT_PI] = np.where(before, 0.0, (1 - q) * pi * (1 - pi))
    d_sn[:, P_MU] = np.where(before, 0.0, (1 - pi) * phi / sig)
    d_sn[:, P_LOG_SIGMA] = np.where(before, 0.0, (1 - pi) * phi * z)
    d = 0.5 ** (1.0 / hl)
    dd = d * math.log(2.0) / hl  # d(d)/d(log hl)
    s = sent.astype(np.float64)
    over = np.maximum(s, 0.0)
    amp = lam[None, :] * np.exp(-over / r)
    n = tf[:, None] - s
    pos = n > 0
    nn = np.where(pos, n, 0.0)
    dn = d**nn
    c = np.where(pos, (d - d * dn) / (1.0 - d), 0.0)
    dc = np.where(pos, ((1.0 - (nn + 1.0) * dn) * (1.0 - d) + (d - d * dn)) / (1.0 - d) ** 2, 0.0)
    h = (amp * c).sum(axis=1)
    d_h = np.zeros((t.size, th.size))
    d_h[:, P_LAMBDA:] = amp * c
    d_h[:, P_LOG_R] = (amp * c * over / r).sum(axis=1)
    d_h[:, P_LOG_HL] = (amp * dc).sum(axis=1) * dd
    eh = np.exp(-h)
    surv = sn * eh
    grad = eh[:, None] * d_sn - surv[:, None] * d_h
    return surv, grad


def row_loglik_grad(th: F64, rows: _Rows) -> tuple[F64, F64]:
    """Log-likelihood of each distinct row and its gradient [rows, params]."""
    s_t, g_t = _surv_and_grad(th, rows.a, rows.sent, rows.t)
    s_p, g_p = _surv_and_grad(th, rows.a, rows.sent, rows.t - 1)
    ev = rows.event
    lik = np.where(ev, s_p - s_t, s_t)
    glik = np.where(ev[:, None], g_p - g_t, g_t)
    safe = np.maximum(lik, 1e-300)
    ll: F64 = np.log(safe)
    grad: F64 = np.where((lik > 1e-300)[:, None], glik / safe[:, None], 0.0)
    return ll, grad


def _log_prior_grad(th: F64, opts: RecommenderOptions) -> F64:
    g = np.zeros_like(th)
    g[P_LOG_HL] = -(th[P_LOG_HL] - HALF_LIFE_PRIOR[0]) / HALF_LIFE_PRIOR[1] ** 2
    r0 = math.log(opts.responsiveness_days_prior)
    g[P_LOG_R] = -(th[P_LOG_R] - r0) / opts.responsiveness_log_sd**2
    g[P_LAMBDA:] = -(th[P_LAMBDA:] - LAMBDA_PRIOR[0]) / LAMBDA_PRIOR[1] ** 2
    g[P_LOG_SIGMA] = -th[P_LOG_SIGMA] / 16.0
    g[P_MU] = -th[P_MU] / 200.0**2
    g[P_LOGIT_PI] = -th[P_LOGIT_PI] / 16.0
    return g


def _log_prior(th: F64, opts: RecommenderOptions) -> float:
    lp = -0.5 * ((th[P_LOG_HL] - HALF_LIFE_PRIOR[0]) / HALF_LIFE_PRIOR[1]) ** 2
    r0 = math.log(opts.responsiveness_days_prior)
    lp += -0.5 * ((th[P_LOG_R] - r0) / opts.responsiveness_log_sd) ** 2
    lp += float(np.sum(-0.5 * ((th[P_LAMBDA:] - LAMBDA_PRIOR[0]) / LAMBDA_PRIOR[1]) ** 2))
    lp += -0.5 * (th[P_LOG_SIGMA] / 4.0) ** 2 - 0.5 * (th[P_MU] / 200.0) ** 2
    lp += -0.5 * (th[P_LOGIT_PI] / 4.0) ** 2
    return float(lp)


def _prior_precision(opts: RecommenderOptions) -> F64:
    prec = np.zeros(N_PAY_PARAMS)
    prec[P_LOGIT_PI] = 1 / 16.0
    prec[P_MU] = 1 / 200.0**2
    prec[P_LOG_SIGMA] = 1 / 16.0
    prec[P_LOG_HL] = 1 / HALF_LIFE_PRIOR[1] ** 2
    prec[P_LOG_R] = 1 / opts.responsiveness_log_sd**2
    prec[P_LAMBDA:] = 1 / LAMBDA_PRIOR[1] ** 2
    return np.diag(prec)


def _initial(rows: _Rows, opts: RecommenderOptions) -> F64:
    th = np.zeros(N_PAY_PARAMS)
    paid_t = np.repeat(rows.t[rows.event], rows.count[rows.event].astype(np.int64))
    share_paid = float(rows.count[rows.event].sum() / max(rows.count.sum(), 1.0))
    th[P_LOGIT_PI] = math.log(max(1.0 - share_paid, 0.02) / max(share_paid, 0.02))
    th[P_MU] = float(np.median(paid_t)) if paid_t.size else 0.0
    th[P_LOG_SIGMA] = math.log(max(float(np.std(paid_t)) if paid_t.size else 10.0, 2.0))
    th[P_LOG_HL] = HALF_LIFE_PRIOR[0]
    th[P_LOG_R] = math.log(opts.responsiveness_days_prior)
    th[P_LAMBDA:] = math.log(0.1)
    return th


def _numeric_row_grad(th: F64, rows: _Rows, eps: float = 1e-5) -> F64:
    g = np.empty((rows.t.size, th.size))
    for j in range(th.size):
        up, dn = th.copy(), th.copy()
        up[j] += eps
        dn[j] -= eps
        g[:, j] = (row_loglik(up, rows) - row_loglik(dn, rows)) / (2 * eps)
    return g


@dataclass
class FittedGroup:
    """A group's fit: point estimate, customer scores and the information matrix."""

    theta: F64
    model: PayModel
    scores: Any  # customers x params (dense), for the one-step bootstrap
    info_inv: F64
    ratio_sum: F64  # per customer: sum of recovered shares after handover
    ratio_n: F64  # per customer: handovers
    #: grid of log agency halving days and its posterior weights (fit_agency_halving)
    halving_grid: F64 = field(default_factory=lambda: np.zeros(0))
    halving_post: F64 = field(default_factory=lambda: np.zeros(0))
    #: did handovers at different case ages inform the half-life (else: the prior)?
    halving_from_data: bool = False


def fit_group(inp: Inputs, mask: npt.NDArray[np.bool_], opts: RecommenderOptions) -> FittedGroup:
    """Fit the payment model to the undisputed invoices in ``mask``."""
    from scipy.optimize import minimize

    rows = fit_rows(inp, mask)
    prior_free = [k for k in STAGES if not np.any(rows.sent[:, k] < NEVER)]

    def objective(th: F64) -> tuple[float, F64]:
        ll, g = row_loglik_grad(th, rows)
        val = -float(ll @ rows.count) - _log_prior(th, opts)
        grad = -(g.T @ rows.count) - _log_prior_grad(th, opts)
        return val, grad

    th0 = _initial(rows, opts)
    res = minimize(objective, th0, jac=True, method="BFGS", options={"maxiter": 400, "gtol": 0.05})
    th = np.asarray(res.x, dtype=np.float64)
    for k in prior_free:  # no data: keep the prior's centre
        th[P_LAMBDA + k] = LAMBDA_PRIOR[0]
    g_rows = row_loglik_grad(th, rows)[1]
    scores = np.asarray(rows.cust_of_row @ g_rows)
    info = scores.T @ scores + _prior_precision(opts)
    info_inv = np.linalg.pinv(info)
    # agency phase
    idx = np.flatnonzero(mask & (inp.handover_rel < NEVER))
    ratio = np.nan_to_num(inp.after_handover_ratio[idx], nan=0.0).clip(0.0, 1.0)
    n_c = int(inp.c_seg.size)
    ratio_sum = np.bincount(inp.cust[idx], weights=ratio, minlength=n_c).astype(np.float64)
    ratio_n = np.bincount(inp.cust[idx], minlength=n_c).astype(np.float64)
    rec = idx[(inp.settled_by[idx] == 1) & (inp.settled_rel[idx] > inp.handover_rel[idx])]
    window = int(np.median(inp.settled_rel[rec] - inp.handover_rel[rec])) if rec.size >= 5 else 30
    model = PayModel.from_theta(
        th,
        window=max(window, 1),
        n_invoices=int(mask.sum()),
        n_events=(rows.sent < NEVER).astype(np.float64).T @ rows.count,
    )
    fg = FittedGroup(th, model, scores, info_inv, ratio_sum, ratio_n)
    model.rho = agency_rho(fg, inp, mask, th, np.ones(n_c), opts.agency_only)
    if idx.size == 0:  # no case went to the agency: nothing to scale (rho is a placeholder)
        model.agency_halving = math.inf
        return fg
    model.handover_ref = float(np.mean(inp.handover_rel[idx]))
    grid, post, informed = fit_agency_halving(fg, inp, mask, opts)
    fg.halving_grid, fg.halving_post, fg.halving_from_data = grid, post, informed
    model.agency_halving = float(math.exp(grid[int(np.argmax(post))]))
    return fg


#: Grid of the agency half-life's posterior: log days from 20 to 20,000.
HALVING_GRID = np.linspace(math.log(20.0), math.log(20_000.0), 241)


def fit_agency_halving(
    fg: FittedGroup, inp: Inputs, mask: npt.NDArray[np.bool_], opts: RecommenderOptions
) -> tuple[F64, F64, bool]:
    """Posterior of ``log G`` (agency recovery halves every ``G`` days of case age) on a grid.

    Each handed-over invoice's recovered share ``r_i`` (``paid_after_handover_ratio``)
    is compared with what the model expects at its case age ``h_i``:
    ``p_i + (1 - p_i) * rho * 0.5 ** ((h_i - h0) / G)`` (``p_i``: natural payment
    inside the agency's window), Gaussian errors with the shares' own variance,
    times the log-normal prior of ``recommender.yaml``. When every case was handed
    over at the same age the data term is flat and the posterior is the prior.

    Returns:
        ``(grid of log G, normalised posterior weights, whether the data entered)``.
    """
    grid = HALVING_GRID
    mu0 = math.log(opts.agency_age_halving_days_prior)
    logp = -0.5 * ((grid - mu0) / opts.agency_age_halving_log_sd) ** 2
    idx = np.flatnonzero(mask & (inp.handover_rel < NEVER))
    informed = False
    if idx.size >= 20:
        ho = inp.handover_rel[idx].astype(np.float64)
        r = np.nan_to_num(inp.after_handover_ratio[idx], nan=0.0).clip(0.0, 1.0)
        a = inp.issue_rel[idx]
        s0 = snat(fg.theta, a, ho)
        s1 = snat(fg.theta, a, ho + fg.model.window)
        p = np.where(s0 > 1e-12, (s0 - s1) / np.maximum(s0, 1e-12), 0.0)
        if opts.agency_only:
            p = np.zeros_like(p)
        var = max(float(np.var(r)), 1e-4)
        age = ho - float(np.mean(ho))
        if float(np.ptp(age)) > 0:
            g = np.exp(grid)[:, None]
            pred = p[None, :] + (1.0 - p[None, :]) * np.clip(
                fg.model.rho * 0.5 ** (age[None, :] / g), 0.0, 1.0
            )
            logp = logp - 0.5 * ((r[None, :] - pred) ** 2).sum(axis=1) / var
            informed = True
    post = np.exp(logp - logp.max())
    out: F64 = post / post.sum()
    return grid, out, informed


def agency_rho(
    fg: FittedGroup,
    inp: Inputs,
    mask: npt.NDArray[np.bool_],
    th: F64,
    w: F64,
    agency_only: bool = False,
) -> float:
    """The agency's own recovery share, net of natural payments inside its window
    (``agency_only``: the mean recovered share itself; no payment of the customer's
    own after the handover)."""
    idx = np.flatnonzero(mask & (inp.handover_rel < NEVER))
    if idx.size == 0:
        return 0.5
    mean_ratio = float(fg.ratio_sum @ w / max(float(fg.ratio_n @ w), 1e-9))
    if agency_only:
        return float(np.clip(mean_ratio, 0.0, 1.0))
    ho = inp.handover_rel[idx]
    a = inp.issue_rel[idx]
    s0 = snat(th, a, ho)
    s1 = snat(th, a, ho + fg.model.window)
    p_nat = float(np.mean(np.where(s0 > 1e-12, (s0 - s1) / np.maximum(s0, 1e-12), 0.0)))
    if p_nat >= 0.999:
        return 0.0
    return float(np.clip((mean_ratio - p_nat) / (1.0 - p_nat), 0.0, 1.0))


def draw_theta(fg: FittedGroup, w: F64) -> F64:
    """One-step (linearised) bootstrap estimate for customer weights ``w``."""
    step = fg.info_inv @ (fg.scores.T @ (w - 1.0))
    out: F64 = fg.theta + step
    return out


# --------------------------------------------------------------------------- churn


@dataclass
class ChurnModel:
    """Churn model of a segment: background hazard per day and excess per event.

    Event kinds (columns of ``bumps``): a send on an open undisputed invoice by channel,
    then any reminder sent on or after the day the invoice was paid (the posting
    delay), then any reminder on a disputed invoice.
    """

    theta: F64  # [log base, x per channel, log after-payment multiplier, x dispute]
    active: npt.NDArray[np.bool_]  # event kinds present in the data
    scores: Any
    info_inv: F64
    n_customers: int
    n_churned: int

    def bumps(self, th: F64 | None = None) -> F64:
        x = self.theta if th is None else th
        return ordered_bumps(x[1:], self.active)

    def base(self, th: F64 | None = None) -> float:
        x = self.theta if th is None else th
        return float(math.exp(x[0]))


#: Churn event kinds: a send on an open invoice by channel (contract.CHANNELS order),
#: a reminder after payment by channel (``KIND_PAID + channel``), a reminder on a dispute.
#: ``KIND_FEE + channel`` / ``KIND_PAID_FEE + channel``: the same events weighted by the
#: stage's fee in EUR (a fee adds ``phi`` per EUR to the event's churn, relative).
KIND_PAID = len(CHANNELS)
KIND_FEE = 2 * len(CHANNELS)
KIND_PAID_FEE = 3 * len(CHANNELS)
KIND_DISPUTED = 4 * len(CHANNELS)
N_CHURN_KINDS = 4 * len(CHANNELS) + 1
#: Free churn parameters (after ``log base``): one per channel, the log multiplier of a
#: reminder after payment over its channel's send, the fee's relative churn per EUR
#: (softplus), one for a reminder on a dispute.
P_PAID_MULT = len(CHANNELS)
P_FEE = len(CHANNELS) + 1
N_CHURN_PARAMS = len(CHANNELS) + 3


def churn_kind_names() -> list[str]:
    """Names of the churn event kinds, in column order (``--json`` ``fit.churn``)."""
    ch = list(CHANNELS)
    return (
        ch
        + [f"{c} after payment" for c in ch]
        + [f"{c} per EUR fee" for c in ch]
        + [f"{c} after payment per EUR fee" for c in ch]
        + ["on a disputed invoice"]
    )


def churn_features(
    inp: Inputs,
    half_life: float,
    stage_channel: I64,
    pre_due: bool = False,
    stage_fee: F64 | None = None,
) -> tuple[F64, F64]:
    """Per customer and event kind: the event hazard on the last observed day, and its sum.

    An event on day ``e`` adds ``b * r * q^j`` to the churn hazard ``j`` days later
    (``r = ln 2 / half_life``, ``q = 0.5^(1/half_life)``), so a customer's hazard on
    its last observed day ``T`` is ``base + sum_k b_k * Xh[c, k]`` and the hazard
    accumulated by then is ``base * exposure + sum_k b_k * XL[c, k]``.

    Args:
        inp: the inputs.
        half_life: churn half-life in days.
        stage_channel: [segments, stages] channel index of each stage in the ladder in force.
        pre_due: count reminders sent before the due date on open undisputed invoices
            as churn events (``pre_due_reminder_churn``); False: they are not events
            (after payment or on a dispute they still are).
        stage_fee: [segments, stages] fee in EUR of each stage in the ladder in force
            (None: no fees); fills the fee-weighted kinds.

    Returns:
        ``(Xh, XL)``, each [customers, event kinds].
    """
    q = 0.5 ** (1.0 / half_life)
    r = math.log(2.0) / half_life
    n_c = int(inp.c_seg.size)
    xh = np.zeros((n_c, N_CHURN_KINDS))
    xl = np.zeros((n_c, N_CHURN_KINDS))
    for k in STAGES:
        m = inp.sent[:, k] < NEVER
        paid = (inp.settled_by == 1) & (inp.sent[:, k] >= inp.settled_rel)
        chan = stage_channel[np.maximum(inp.seg, 0), k]
        kind = np.where(inp.disputed, KIND_DISPUTED, np.where(paid, KIND_PAID + chan, chan))[m]
        c = inp.cust[m]
        e = inp.due_day[m] + inp.sent[m, k]
        dt = inp.c_to_day[c] - e
        ok = dt >= 0
        if not pre_due:
            ok &= (inp.sent[m, k] >= 0) | (kind >= KIND_PAID)
        c, dt, kind = c[ok], dt[ok].astype(np.float64), kind[ok]
        size = n_c * N_CHURN_KINDS
        wh_, wl_ = r * q**dt, r * (1.0 - q ** (dt + 1.0)) / (1.0 - q)
        key = c * N_CHURN_KINDS + kind
        xh += np.bincount(key, weights=wh_, minlength=size).reshape(n_c, -1)
        xl += np.bincount(key, weights=wl_, minlength=size).reshape(n_c, -1)
        if stage_fee is not None:
            fee = stage_fee[np.maximum(inp.seg, 0), k][m][ok]
            fk = kind < KIND_DISPUTED  # a send (open or after payment): its fee-weighted kind
            fkey = (c * N_CHURN_KINDS + kind + KIND_FEE)[fk]
            xh += np.bincount(fkey, weights=(wh_ * fee)[fk], minlength=size).reshape(n_c, -1)
            xl += np.bincount(fkey, weights=(wl_ * fee)[fk], minlength=size).reshape(n_c, -1)
    return xh, xl


#: Escalation order of the channels' churn (contract.CHANNELS indices): a send on a
#: channel drives at least as many customers away as one on each of its softer
#: channels — email and SMS <= letter and phone <= collection agency.
_I_EMAIL, _I_LETTER, _I_SMS, _I_PHONE, _I_AGENCY = (
    CHANNELS.index(c) for c in ("email", "letter", "sms", "phone", "collection_agency")
)


def ordered_bumps(x: F64, active: npt.NDArray[np.bool_]) -> F64:
    """Excess churn per event kind from the free parameters ``x`` (``N_CHURN_PARAMS``).

    A channel's bump is ``softplus(x_k)`` on top of the largest bump of its softer
    channels in use (``_I_*`` order above), so harsher channels never come out below
    softer ones. Why: every customer gets the soft reminders, so their churn and
    background churn are nearly collinear, and letters reach mostly the late payers who
    shrug them off; the order keeps the fit from handing letter churn to the pre-due
    e-mail (see docs/recommender.md). A reminder that arrives after payment is a send
    of its channel, its bump the channel's times ``exp(x[P_PAID_MULT])`` (prior centred
    on 1, ``paid_reminder_churn_log_sd``): free, it took the churn of the late payers
    who receive it. A stage's fee adds ``softplus(x[P_FEE])`` per EUR to the event's churn
    (relative). A reminder on a disputed invoice is free. Kinds not in the data are 0.
    """
    n = len(CHANNELS)
    act_ch = active[:n] | active[KIND_PAID : KIND_PAID + n]
    sp = np.where(act_ch, np.logaddexp(0.0, x[:n]), 0.0)
    b = sp.copy()
    soft = max(b[_I_EMAIL], b[_I_SMS])
    b[_I_LETTER] = np.where(act_ch[_I_LETTER], sp[_I_LETTER] + soft, 0.0)
    b[_I_PHONE] = np.where(act_ch[_I_PHONE], sp[_I_PHONE] + soft, 0.0)
    b[_I_AGENCY] = np.where(
        act_ch[_I_AGENCY], sp[_I_AGENCY] + max(b[_I_LETTER], b[_I_PHONE], soft), 0.0
    )
    out = np.zeros(N_CHURN_KINDS)
    paid = b * math.exp(float(x[P_PAID_MULT]))
    phi = math.log1p(math.exp(float(x[P_FEE])))
    out[:n] = np.where(active[:n], b, 0.0)
    out[KIND_PAID : KIND_PAID + n] = np.where(active[KIND_PAID : KIND_PAID + n], paid, 0.0)
    out[KIND_FEE : KIND_FEE + n] = np.where(active[KIND_FEE : KIND_FEE + n], b * phi, 0.0)
    out[KIND_PAID_FEE : KIND_PAID_FEE + n] = np.where(
        active[KIND_PAID_FEE : KIND_PAID_FEE + n], paid * phi, 0.0
    )
    out[KIND_DISPUTED] = math.log1p(math.exp(float(x[-1]))) if active[KIND_DISPUTED] else 0.0
    return out


def _churn_rowll(x: F64, expo: F64, xh: F64, xl: F64, y: npt.NDArray[np.bool_], act: Any) -> F64:
    b = ordered_bumps(x[1:], act)
    base = math.exp(x[0])
    h_t = np.maximum(base + xh @ b, 1e-15)
    lam = base * expo + xl @ b
    out: F64 = np.where(y, np.log(h_t), 0.0) - lam
    return out


def fit_churn(
    inp: Inputs,
    customers: npt.NDArray[np.bool_],
    features: tuple[F64, F64],
    paid_log_sd: float = 0.5,
) -> ChurnModel:
    """Fit the churn model over the ``customers`` mask (see the module notes).

    ``paid_log_sd``: prior sd of the log multiplier of a reminder after payment over
    its channel's send (centred on 0: the same churn as the channel's send).
    """
    from scipy.optimize import minimize

    cm = np.flatnonzero(customers)
    xh, xl = features[0][cm], features[1][cm]
    expo = inp.c_exposure_days[cm]
    y = inp.c_churned[cm]
    act = xl.sum(axis=0) > 0
    prior_sd = 3.0
    x0 = np.full(1 + N_CHURN_PARAMS, -6.0)
    x0[0] = math.log(max(y.mean(), 1e-4) / max(expo.mean(), 1.0))
    x0[1 + P_PAID_MULT] = 0.0
    centre = np.full(N_CHURN_PARAMS, -6.0)
    centre[P_PAID_MULT] = 0.0
    sd = np.full(N_CHURN_PARAMS, prior_sd)
    sd[P_PAID_MULT] = paid_log_sd

    def obj(x: F64) -> float:
        pen = 0.5 * float(np.sum(((x[1:] - centre) / sd) ** 2))
        return -float(_churn_rowll(x, expo, xh, xl, y, act).sum()) + pen

    res = minimize(obj, x0, method="BFGS", options={"maxiter": 300, "gtol": 0.01})
    x = np.asarray(res.x, dtype=np.float64)
    eps = 1e-5
    g = np.empty((cm.size, x.size))
    for j in range(x.size):
        up, dn = x.copy(), x.copy()
        up[j] += eps
        dn[j] -= eps
        g[:, j] = (
            _churn_rowll(up, expo, xh, xl, y, act) - _churn_rowll(dn, expo, xh, xl, y, act)
        ) / (2 * eps)
    scores = np.zeros((inp.c_seg.size, x.size))
    scores[cm] = g
    prec = np.diag(np.r_[1e-6, 1 / sd**2])
    info_inv = np.linalg.pinv(scores.T @ scores + prec)
    return ChurnModel(x, act, scores, info_inv, int(cm.size), int(y.sum()))


def draw_churn(cm: ChurnModel, w: F64) -> F64:
    """One-step bootstrap churn parameters for customer weights ``w``."""
    out: F64 = cm.theta + cm.info_inv @ (cm.scores.T @ (w - 1.0))
    return out


# --------------------------------------------------------------------------- delays, disputes

#: Days before a send a payment may fall and still not be known to the dunning run.
MAX_POSTING_DELAY = 7


def posting_delay_curve(
    inp: Inputs, mask: npt.NDArray[np.bool_], planned: list[tuple[int, int]]
) -> F64:
    """P(a stage still goes out | the invoice was paid j days before its day), j = 0..7.

    Estimated from the control arm: for each invoice paid on day ``T`` and each
    stage ``(number, day)`` of the ladder in force with ``day - T = j`` whose
    previous stage went out before ``T``, whether the stage was sent.
    """
    m = mask & (inp.settled_by == 1) & ~inp.disputed & (inp.variant == 0)
    t = inp.settled_rel[m]
    sent = inp.sent[m]
    hits = np.zeros(MAX_POSTING_DELAY + 1)
    tries = np.zeros(MAX_POSTING_DELAY + 1)
    for i, (k, day) in enumerate(planned):
        j = day - t
        ok = (j >= 0) & (j <= MAX_POSTING_DELAY)
        if i > 0:
            ok &= planned[i - 1][1] < t
        np.add.at(tries, j[ok], 1.0)
        np.add.at(hits, j[ok], (sent[ok, k] < NEVER).astype(np.float64))
    out: F64 = np.where(tries >= 20, hits / np.maximum(tries, 1.0), 0.0)
    return out


def dispute_curve(
    inp: Inputs, mask: npt.NDArray[np.bool_], planned: list[tuple[int, int]]
) -> tuple[F64, float]:
    """Disputed invoices: share still unsettled after each day (index ``day + T_MAX``), and
    the share of those that are dunned at all (not blocked), from the ladder in force.
    """
    m = mask & inp.disputed
    days = np.arange(-T_MAX, 2 * T_MAX + 1)
    if not m.any():
        return np.zeros(days.size), 0.0
    st = np.where(inp.settled_by[m] > 0, inp.settled_rel[m], NEVER)
    srt = np.sort(st)
    unsettled = 1.0 - np.searchsorted(srt, days, side="right") / srt.size
    exp_sent = 0.0
    got = 0.0
    for k, day in planned:
        exp_sent += float(np.interp(day, days, unsettled)) * int(m.sum())
        got += float((inp.sent[m, k] < NEVER).sum())
    u = float(np.clip(got / exp_sent, 0.0, 1.0)) if exp_sent > 0 else 0.0
    return unsettled.astype(np.float64), u
