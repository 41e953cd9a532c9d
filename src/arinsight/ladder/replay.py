"""Replay the observed invoices under a candidate ladder, on the fitted model.

Every undisputed invoice of the history is followed again, in expectation,
under the candidate ladder: under the response model of ``fit.py`` whether
stage ``k`` goes out (the invoice is still open on ``s_k``), when it is paid and
what the agency recovers depend only on the invoice's group and issue day, so
invoices are pooled into *cells* (group x days from issue to due) and each cell
gets exact expected curves — no simulation noise, and the same invoices,
amounts and customers for every ladder (paired by construction).

The objective is the net value of ``settings.yaml`` (``arinsight.config.NetValue``),
the same terms as ``truth.json`` computes in ``arinsight.sim.truth``: cash
collected discounted at the cost of capital, plus the collected share of fees,
minus channel costs, minus agency commission, minus churned customers x
lifetime value. A churn also loses the customer's later invoices
(``lost_invoicing_share`` of its cash). Disputed invoices are left out: the
ladder does not change them in this model, so they add nothing to a difference.

Reported alongside: expected days outstanding (amount-weighted, from issue —
what DSO averages to), recovery within 90 days of due of the amount open at
due (``fct_recovery``'s definition), and expected involuntary churns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from arinsight.config import NetValue, Stage
from arinsight.contract import CHANNELS
from arinsight.ladder.fit import (
    KIND_DISPUTED,
    KIND_FEE,
    KIND_PAID,
    KIND_PAID_FEE,
    N_CHURN_KINDS,
    T_MAX,
    PayModel,
    unique_rows,
)
from arinsight.ladder.inputs import STAGES
from arinsight.ladder.options import RecommenderOptions

F64 = npt.NDArray[np.float64]
CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}

#: Days after handover / after due at which the unrecovered rest is written off.
WRITE_OFF_AFTER_HANDOVER = 180
WRITE_OFF_AFTER_DUE = 365
RECOVERY_HORIZON = 90


@dataclass(frozen=True)
class PlannedStage:
    """A stage as the replay needs it: number, day after due, channel, fee."""

    stage: int
    day: int
    channel: str
    fee: float
    #: the stage's fitted lift times this (a channel change: the lift of a delivered
    #: send, ``1 / (1 - bounce share)`` of the observed channel's average)
    lift_scale: float = 1.0
    #: the channel the data show this stage on, when the candidate changes it
    from_channel: str | None = None

    @property
    def observed_channel(self) -> str:
        """The channel the ladder in force sends this stage by (trust region)."""
        return self.from_channel or self.channel

    @property
    def is_handover(self) -> bool:
        return self.channel == "collection_agency"


def plan(stages: tuple[Stage, ...]) -> tuple[PlannedStage, ...]:
    """Stages with their days after due (anchors resolved)."""
    from arinsight.config import resolve_offsets

    days = resolve_offsets(stages)
    return tuple(
        PlannedStage(s.stage, d, s.channel, s.fee) for s, d in zip(stages, days, strict=True)
    )


@dataclass
class Params:
    """Payment-model parameters of one group for ``B`` draws (arrays of length B)."""

    pi: F64
    mu: F64
    sigma: F64
    half_life: F64
    responsiveness: F64
    lam: F64  # [B, stages]
    rho: F64
    window: int
    #: [B] days of case age over which the agency's own recovery halves (None: no decay)
    ag_halving: F64 | None = None
    #: case age at handover at which ``rho`` was measured
    handover_ref: float = 0.0
    #: True: a handed-over case is paid only through the agency's recovery (``rho``);
    #: False: a case whose natural payment day falls in the agency's window pays in full
    agency_only: bool = False
    cache: dict[tuple[int, int, int], F64] = field(default_factory=dict)
    outcomes: dict[tuple[int, tuple[PlannedStage, ...], bytes], CellOutcome] = field(
        default_factory=dict
    )

    def natural_survival(self, a: int, lo: int, hi: int) -> F64:
        """P(natural payment day > t) for t = lo..hi, invoices issued on day ``a`` [B, days]."""
        key = (a, lo, hi)
        got = self.cache.get(key)
        if got is None:
            from scipy.special import ndtr

            x = np.arange(lo, hi + 1, dtype=np.float64)[None, :]
            pi, mu, sig = self.pi[:, None], self.mu[:, None], self.sigma[:, None]
            got = np.where(x < a, 1.0, pi + (1 - pi) * ndtr(-(x + 0.5 - mu) / sig))
            self.cache[key] = got
        return got

    @classmethod
    def stack(cls, models: list[PayModel]) -> Params:
        return cls(
            pi=np.array([m.pi for m in models]),
            mu=np.array([m.mu for m in models]),
            sigma=np.array([m.sigma for m in models]),
            half_life=np.array([m.half_life for m in models]),
            responsiveness=np.array([m.responsiveness for m in models]),
            lam=np.stack([m.lam for m in models]),
            rho=np.array([m.rho for m in models]),
            window=models[0].window,
            ag_halving=np.array([m.agency_halving for m in models]),
            handover_ref=models[0].handover_ref,
        )

    def rho_at(self, age: int) -> F64:
        """[B] the agency's own recovery share for cases handed over at ``age`` days."""
        if self.ag_halving is None:
            return self.rho
        out: F64 = np.clip(self.rho * 0.5 ** ((age - self.handover_ref) / self.ag_halving), 0, 1)
        return out


@dataclass
class CellOutcome:
    """Expected outcome of one invoice of a cell, per draw (arrays of length B).

    ``cash``/``commission``/``days_open``/``recovered_90`` per unit amount,
    ``cost``/``fee`` per invoice (PV relative to the due date), ``events``
    [B, stages] expected sends, ``open_at_due`` probability.
    """

    cash: F64
    commission: F64
    cost: F64
    fee: F64
    events: F64
    churn_events: F64  # [B, churn kinds]
    days_open: F64
    open_at_due: F64
    recovered_90: F64


def cell_outcome(
    m: Params,
    a: int,
    ladder: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
    delay: F64,
) -> CellOutcome:
    """Exact expected outcome of an invoice issued ``a`` days after due (a <= 0), per draw."""
    rate = nv.cost_of_capital_pct / 100.0
    hand = next((p for p in ladder if p.is_handover), None)
    end = hand.day if hand else WRITE_OFF_AFTER_DUE
    b = m.pi.size
    t = np.arange(a, end + 1, dtype=np.float64)

    d = (0.5 ** (1.0 / m.half_life))[:, None]
    h = np.zeros((b, t.size))
    sent: list[PlannedStage] = []
    for p in ladder:
        if p.is_handover or p.day < a or p.day > end:
            continue
        amp = (m.lam[:, p.stage] * p.lift_scale * np.exp(-max(p.day, 0) / m.responsiveness))[
            :, None
        ]
        n = np.maximum(t - p.day, 0.0)[None, :]
        h += amp * d * (1 - d**n) / (1 - d)
        sent.append(p)
    snat_t = m.natural_survival(a, a, end)
    surv = snat_t * np.exp(-h)
    prev = np.concatenate([np.ones((b, 1)), surv[:, :-1]], axis=1)
    pay = prev - surv
    disc = (1.0 + rate) ** (-t / 365.0)
    cash = pay @ disc
    days_open = surv.sum(axis=1)  # days open at day end, from the issue day on
    od_idx = int(0 - a)
    open_at_due = surv[:, od_idx] if 0 <= od_idx < t.size else np.ones(b)
    rec_hi = min(RECOVERY_HORIZON, end)
    recovered = pay[:, (t >= 1) & (t <= rec_hi)].sum(axis=1)
    commission = np.zeros(b)
    events = np.zeros((b, len(STAGES)))
    for p in sent:
        events[:, p.stage] = surv[:, int(p.day - a)]
    unpaid_final = surv[:, -1].copy()
    if hand is not None:
        at_hand = surv[:, -1]
        events[:, hand.stage] = at_hand
        w = m.window
        ta = np.arange(end + 1, end + w + 1, dtype=np.float64)
        nat_hand = snat_t[:, -1]
        scale = np.where(nat_hand > 1e-12, at_hand / np.maximum(nat_hand, 1e-12), 0.0)
        if m.agency_only:  # no payment of the customer's own after the handover
            sa = np.repeat(at_hand[:, None], w, axis=1)
        else:
            sa = m.natural_survival(a, end + 1, end + w) * scale[:, None]
        pa = np.concatenate([at_hand[:, None], sa[:, :-1]], axis=1) - sa
        da = (1.0 + rate) ** (-ta / 365.0)
        rem = sa[:, -1]
        rho = m.rho_at(end)
        ag_rec = rem * rho
        ag_pv = pa @ da + ag_rec * float((1.0 + rate) ** (-(end + w) / 365.0))
        cash = cash + ag_pv
        commission = ag_pv * nv.agency_commission_pct / 100.0
        days_open = (
            days_open + sa.sum(axis=1) + rem * (1 - rho) * max(WRITE_OFF_AFTER_HANDOVER - w, 0)
        )
        recovered = recovered + pa[:, ta <= RECOVERY_HORIZON].sum(axis=1)
        if end + w <= RECOVERY_HORIZON:
            recovered = recovered + ag_rec
        unpaid_final = rem * (1 - rho)
    # reminders that still go out to invoices paid in the last few days (posting delay)
    paid_events = np.zeros((b, len(STAGES)))
    lags = np.arange(delay.size)
    for p in ladder:
        if p.day < a or p.day > end:
            continue
        days = p.day - lags
        ok = (days >= a) & (delay > 0)
        if ok.any():
            paid_events[:, p.stage] = pay[:, (days[ok] - a).astype(np.int64)] @ delay[ok]
    cost = np.zeros(b)
    fee = np.zeros(b)
    for p in ladder:
        e = events[:, p.stage]
        dp = (1.0 + rate) ** (-max(p.day, a) / 365.0)
        cc = nv.channel_cost.get(p.channel, 0.0)  # type: ignore[call-overload]
        cost = cost + cc * (e + paid_events[:, p.stage]) * dp
        fee = fee + p.fee * opts.fee_collection_share * np.maximum(e - unpaid_final, 0.0) * dp
    churn_events = np.zeros((b, N_CHURN_KINDS))
    for p in ladder:
        ch = CHANNEL_INDEX[p.channel]
        # a reminder after payment: a send of its channel (fit.ordered_bumps)
        churn_events[:, KIND_PAID + ch] += paid_events[:, p.stage]
        churn_events[:, KIND_PAID_FEE + ch] += paid_events[:, p.stage] * p.fee
        if p.day < 0 and not opts.pre_due_reminder_churn:
            continue  # a courtesy reminder before the due date: no churn (see options)
        churn_events[:, ch] += events[:, p.stage]
        churn_events[:, KIND_FEE + ch] += events[:, p.stage] * p.fee
    return CellOutcome(
        cash=cash,
        commission=commission,
        cost=cost,
        fee=fee,
        events=events + paid_events,
        churn_events=churn_events,
        days_open=days_open,
        open_at_due=open_at_due,
        recovered_90=recovered,
    )


def cached_outcome(
    m: Params,
    a: int,
    ladder: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
    delay: F64,
) -> CellOutcome:
    """:func:`cell_outcome`, remembered per parameter set (searches revisit ladders)."""
    key = (a, ladder, delay.tobytes())
    got = m.outcomes.get(key)
    if got is None:
        got = cell_outcome(m, a, ladder, nv, opts, delay)
        m.outcomes[key] = got
    return got


@dataclass
class SegmentBook:
    """A segment's invoices pooled into cells, per customer (sparse customer x cell sums)."""

    segment: str
    clv: float
    cells: list[tuple[int, int]]  # (group id, issue day a)
    amt_disc: Any  # customers x cells: sum of amount * discount(due)
    disc: Any  # customers x cells: sum of discount(due)
    count: Any  # customers x cells: invoices
    amt: Any  # customers x cells: sum of amount
    cust_rows: npt.NDArray[np.int64]  # customer rows (into the global customer arrays)
    churn_disc: float
    delay: F64  # posting-delay curve of the segment
    disp_count: F64  # per customer: disputed invoices
    disp_disc: F64  # per customer: sum of discount(due) of disputed invoices
    disp_unsettled: F64  # share of disputed invoices unsettled after day (index day + T_MAX)
    disp_dunned: float  # share of disputed invoices dunned while unsettled
    disp_key: int  # churn-model key of the segment
    #: per customer row: sampling weight (``make_book(sample=...)``); None = all 1
    weight: F64 | None = None
    #: customer weights folded into the cells, per weights array (``book_weights``)
    weights_cache: dict[int, BookWeights] = field(default_factory=dict)
    #: customers grouped by invoice counts (``customer_types``); empty = not grouped
    types_cache: CustomerTypes | None = None


@dataclass
class SegmentValue:
    """Totals of one segment under one ladder, per draw (arrays of length B)."""

    net_value: F64
    days_open: F64  # amount-weighted expected days outstanding
    recovery_pct: F64
    churn: F64  # expected churns the dunning causes
    events: F64
    open_at_due_pct: F64  # amount-weighted share still open at the end of the due date
    stage_events: F64  # [B, stages] expected sends per stage number


@dataclass
class BookWeights:
    """Customer weights of a book folded into its per-cell sums ([W, cells] each).

    Every total of :func:`evaluate` but the churn term is linear in the cells'
    outcomes, so ``sum_c w[b, c] * (M @ x)[c, b] = sum_k (w @ M)[b, k] * x[k, b]``:
    the products ``w @ M`` are computed once per set of weights and reused for
    every ladder, instead of forming customers x draws matrices per replay.
    ``W`` is the number of weight rows (1 when all customers weigh 1). The weights
    used are ``w`` times the book's sampling weights (``SegmentBook.weight``).
    """

    w: F64 | None  # [W, customers] or None (all 1)
    eff: F64 | None  # [W, customers]: w x the sampling weights; None = all 1
    amt_disc: F64
    disc: F64
    amt: F64
    count: F64
    amt_total: F64  # [W]
    disp_disc: F64  # [W]
    #: the churn term by customer type (``customer_types``), or None (per customer)
    type_weight: F64 | None = None  # [W, types]: summed weights of a type's customers
    type_amt_disc: F64 | None = None  # [types, cells, W]: weighted amount x discount


@dataclass
class CustomerTypes:
    """Customers of a book grouped by what their churn hazard depends on.

    A customer's churn probability under a ladder depends only on its invoices per
    cell and its disputed invoices, so customers with the same counts share it: the
    churn term is computed per *type* (a few hundred) instead of per customer.
    """

    of_customer: npt.NDArray[np.int64]  # type of each book customer
    count: F64  # [types, cells] invoices per cell
    disp_count: F64  # [types] disputed invoices


#: Grouping customers into types pays when there are this many times fewer types.
TYPE_GAIN = 4
#: Largest customers x cells matrix formed to find the types.
TYPE_MAX_ELEMENTS = 20_000_000


def customer_types(book: SegmentBook) -> CustomerTypes | None:
    """The book's customer types (remembered), or None when grouping would not pay."""
    if book.types_cache is not None:
        return book.types_cache if book.types_cache.count.size else None
    n_c, n_k = book.count.shape
    none = CustomerTypes(np.zeros(0, np.int64), np.zeros((0, 0)), np.zeros(0))
    if n_c == 0 or n_c * (n_k + 1) > TYPE_MAX_ELEMENTS:
        book.types_cache = none
        return None
    key = np.column_stack([book.count.toarray(), book.disp_count])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    if uniq.shape[0] * TYPE_GAIN > n_c:
        book.types_cache = none
        return None
    book.types_cache = CustomerTypes(
        of_customer=np.asarray(inverse, dtype=np.int64).reshape(-1),
        count=uniq[:, :n_k],
        disp_count=uniq[:, n_k],
    )
    return book.types_cache


def book_weights(book: SegmentBook, w: F64 | None) -> BookWeights:
    """Fold ``w`` ([B, customers] aligned with ``book.cust_rows``; None = all 1) into the book.

    Remembered on the book per array object (a few at a time).
    """
    cache = book.weights_cache
    cached = cache.get(id(w))
    if cached is not None and cached.w is w:
        return cached
    eff = w if book.weight is None else (book.weight[None, :] if w is None else w * book.weight)
    ww = np.ones((1, book.cust_rows.size)) if eff is None else eff

    def fold(m: Any) -> F64:
        out: F64 = np.asarray((m.T @ ww.T).T)
        return out

    amt = fold(book.amt)
    types = customer_types(book)
    type_weight = type_amt_disc = None
    if types is not None:
        from scipy import sparse

        n_t = types.count.shape[0]
        n_k = book.count.shape[1]
        ind = sparse.csr_matrix(
            (
                np.ones(types.of_customer.size),
                (types.of_customer, np.arange(types.of_customer.size)),
            ),
            shape=(n_t, types.of_customer.size),
        )
        type_weight = np.asarray((ind @ ww.T).T)
        coo = book.amt_disc.tocoo()
        spread = sparse.csr_matrix(
            (coo.data, (types.of_customer[coo.row] * n_k + coo.col, coo.row)),
            shape=(n_t * n_k, types.of_customer.size),
        )
        type_amt_disc = np.asarray(spread @ ww.T).reshape(n_t, n_k, ww.shape[0])
    bw = BookWeights(
        w=w,
        eff=eff,
        amt_disc=fold(book.amt_disc),
        disc=fold(book.disc),
        amt=amt,
        count=fold(book.count),
        amt_total=amt.sum(axis=1),
        disp_disc=ww @ book.disp_disc,
        type_weight=type_weight,
        type_amt_disc=type_amt_disc,
    )
    if len(cache) >= 4:
        cache.clear()
    cache[id(w)] = bw
    return bw


def evaluate(
    book: SegmentBook,
    params: dict[int, Params],
    bumps: dict[int, F64],
    ladder: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
    w: F64 | None = None,
) -> SegmentValue:
    """Expected totals of the segment's book under ``ladder``, per draw.

    Args:
        book: the segment's cells.
        params: payment-model parameters per group id, B draws each.
        bumps: per churn-model key (group id, or the segment's key): [B, kinds] excess
            churn hazard per event.
        ladder: the segment's planned stages.
        nv: net-value parameters.
        opts: recommender options.
        w: [B, customers] customer weights (bootstrap), aligned with ``book.cust_rows``;
            None = all 1. Pass the same array object across calls to reuse its sums.
    """
    outs = [cached_outcome(params[g], a, ladder, nv, opts, book.delay) for g, a in book.cells]
    cash = np.stack([o.cash - o.commission for o in outs])  # cells x B
    cash_only = np.stack([o.cash for o in outs])
    per_inv = np.stack([o.fee - o.cost for o in outs])
    ev = np.stack([o.events for o in outs])  # cells x B x stages
    cev = np.stack([o.churn_events for o in outs])  # cells x B x kinds
    days = np.stack([o.days_open for o in outs])
    od = np.stack([o.open_at_due for o in outs])
    rec = np.stack([o.recovered_90 for o in outs])
    n_b = cash.shape[1]
    bw = book_weights(book, w)

    def lin(m: F64, x: F64) -> F64:
        """sum over customers of weight x (M @ x): [B] (m is [W, cells], W in {1, B})."""
        out: F64 = (m.T * x).sum(axis=0)
        return out

    seg_bumps = bumps[book.disp_key]  # B x kinds
    ev_b = np.einsum("kbs,bs->kb", cev, seg_bumps)  # cells x B: hazard per invoice
    # disputed invoices: reminders while unsettled and not blocked cost and annoy
    rate = nv.cost_of_capital_pct / 100.0
    d_events = 0.0
    d_cost = 0.0
    for p in ladder:
        e = float(book.disp_unsettled[min(max(p.day + T_MAX, 0), book.disp_unsettled.size - 1)])
        e *= book.disp_dunned
        d_events += e
        cc = nv.channel_cost.get(p.channel, 0.0)  # type: ignore[call-overload]
        d_cost += cc * e * (1.0 + rate) ** (-max(p.day, 0) / 365.0)
    # the churn term is not linear in the cells: customers (or customer types) x draws
    loss_const = book.clv * book.churn_disc
    types = customer_types(book)
    if types is not None and bw.type_weight is not None and bw.type_amt_disc is not None:
        hazard_t = types.count @ ev_b
        hazard_t += np.outer(types.disp_count * d_events, seg_bumps[:, KIND_DISPUTED])
        p_t = -np.expm1(-hazard_t)  # types x B
        tw = bw.type_weight.T  # types x W
        churn = (tw * p_t).sum(axis=0)
        cash_t = (
            np.einsum("tkw,kb->tb", bw.type_amt_disc, cash_only)
            if tw.shape[1] == 1
            else (np.einsum("tkb,kb->tb", bw.type_amt_disc, cash_only))
        )
        loss = (p_t * (loss_const * tw + opts.lost_invoicing_share * cash_t)).sum(axis=0)
    else:
        hazard_c = book.count @ ev_b
        hazard_c += np.outer(book.disp_count * d_events, seg_bumps[:, KIND_DISPUTED])
        p_churn = -np.expm1(-hazard_c)
        loss_c = book.amt_disc @ cash_only
        loss_c *= opts.lost_invoicing_share
        loss_c += loss_const
        loss_c *= p_churn
        if bw.eff is None:
            churn = p_churn.sum(axis=0)
            loss = loss_c.sum(axis=0)
        elif bw.eff.shape[0] == 1:
            churn = bw.eff[0] @ p_churn
            loss = bw.eff[0] @ loss_c
        else:
            churn = np.einsum("bc,cb->b", bw.eff, p_churn)
            loss = np.einsum("bc,cb->b", bw.eff, loss_c)
    net = lin(bw.amt_disc, cash) + lin(bw.disc, per_inv) - loss - bw.disp_disc * d_cost
    amt_tot = np.maximum(bw.amt_total, 1e-9)
    od_tot = lin(bw.amt, od)
    return SegmentValue(
        net_value=net,
        days_open=lin(bw.amt, days) / amt_tot,
        recovery_pct=100.0 * lin(bw.amt, rec) / np.maximum(od_tot, 1e-9),
        churn=churn,
        events=lin(bw.count, ev.sum(axis=2)),
        open_at_due_pct=100.0 * od_tot / amt_tot,
        stage_events=np.einsum("bk,kbs->bs", bw.count, ev)
        if bw.count.shape[0] == n_b
        else np.einsum("k,kbs->bs", bw.count[0], ev),
    )


def make_book(
    inp: Any,
    seg: int,
    group_of_invoice: npt.NDArray[np.int64],
    nv: NetValue,
    delay: F64,
    disputes: tuple[F64, float],
    disp_key: int,
    sample: tuple[npt.NDArray[np.int64], F64] | None = None,
) -> SegmentBook:
    """Pool the segment's undisputed invoices into cells (group x issue day).

    Args:
        sample: ``(customer rows, weights)`` to replay only these customers of the
            segment, each standing for ``weight`` customers (``inputs.stratified_sample``);
            None = every customer, weight 1.
    """
    from scipy import sparse

    rate = nv.cost_of_capital_pct / 100.0
    if sample is None:
        cust_rows = np.flatnonzero(inp.c_seg == seg)
        in_book = np.ones(inp.n_invoices, dtype=np.bool_)
    else:
        cust_rows = np.asarray(sample[0], dtype=np.int64)
        chosen = np.zeros(inp.c_seg.size, dtype=np.bool_)
        chosen[cust_rows] = True
        in_book = (inp.cust >= 0) & chosen[np.maximum(inp.cust, 0)]
    mask = (inp.seg == seg) & ~inp.disputed & in_book
    idx = np.flatnonzero(mask)
    keys = np.column_stack([group_of_invoice[idx], np.maximum(inp.issue_rel[idx], -T_MAX)])
    cells, inv_cell, _n = unique_rows(keys.astype(np.int64))
    local = np.full(inp.c_seg.size, -1, dtype=np.int64)
    local[cust_rows] = np.arange(cust_rows.size)
    rows = local[inp.cust[idx]]
    shape = (cust_rows.size, cells.shape[0])
    disc = (1.0 + rate) ** (-inp.due_day[idx] / 365.0)

    def mat(v: F64) -> Any:
        return sparse.csr_matrix((v, (rows, inv_cell)), shape=shape)

    span = max(int(inp.due_day.max()) if inp.due_day.size else 0, 1)
    dm = (inp.seg == seg) & inp.disputed & in_book
    d_rows = local[inp.cust[dm]]
    d_disc = (1.0 + rate) ** (-inp.due_day[dm] / 365.0)
    return SegmentBook(
        segment=inp.segments[seg],
        clv=nv.lifetime_value(inp.segments[seg]),
        cells=[(int(g), int(a)) for g, a in cells],
        amt_disc=mat(inp.amount[idx] * disc),
        disc=mat(disc),
        count=mat(np.ones(idx.size)),
        amt=mat(inp.amount[idx]),
        cust_rows=cust_rows,
        churn_disc=float((1.0 + rate) ** (-(span / 2) / 365.0)),
        delay=delay,
        disp_count=np.bincount(d_rows, minlength=cust_rows.size).astype(np.float64),
        disp_disc=np.bincount(d_rows, weights=d_disc, minlength=cust_rows.size).astype(np.float64),
        disp_unsettled=disputes[0],
        disp_dunned=disputes[1],
        disp_key=disp_key,
        weight=None if sample is None else np.asarray(sample[1], dtype=np.float64),
    )
