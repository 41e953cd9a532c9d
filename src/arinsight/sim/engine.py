"""The vectorised simulation engine: one numpy step per calendar day.

Everything random about a customer or an invoice that does not depend on the
ladder (archetype, amounts, natural payment day, dispute, agency luck, posting
delay, churn threshold) is drawn up front, over *potential* invoices, from
streams that do not see the ladder. Re-simulating the same world and seed under
another ladder therefore reuses the same random numbers wherever it can (common
random numbers), which keeps ladder comparisons sharp.

The day loop keeps a compact table of the invoices that are still "live" (open,
in dispute, with the agency, or settled but not yet posted) and updates all of
them with array operations; there is no Python loop per invoice or customer.

Order of work within day ``d``:

1. issue the day's invoices of customers that have not churned;
2. disputes are raised / resolved (credit notes);
3. payments: natural payment day reached, or the reminder-lift hazard fires
   (possibly a partial payment);
4. agency recoveries and write-offs;
5. the dunning run: every stage due today goes out unless the system already
   knows the invoice is settled (a payment is known ``posting delay`` days after
   its value date); a handover moves the invoice to the agency;
6. churn: each customer's involuntary-churn hazard accrues and decays.

Units: days are integers counted from the world's ``start_date`` (day 0);
amounts are integer cents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from arinsight.config import Ladder
from arinsight.contract import CHANNELS
from arinsight.sim.world import World

IntArr = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]
Progress = Callable[[int, int], Any]

#: "Never" as a day number (leaves head-room so that small additions cannot overflow).
BIG = 1 << 30

# Invoice states in the live table.
OPEN, DISPUTE, AGENCY, CLOSED = 0, 1, 2, 3
# Churn reasons.
NO_CHURN, VOLUNTARY, NON_PAYMENT = 0, 1, 2
# Adjustment kinds.
CREDIT_NOTE, WRITE_OFF = 0, 1

CHANNEL_CODE: dict[str, int] = {c: i for i, c in enumerate(CHANNELS)}
AGENCY_CHANNEL = CHANNEL_CODE["collection_agency"]
LN2 = math.log(2.0)


@dataclass
class LadderTable:
    """All ladders in play, padded into arrays; row ``lid = segment * 2 + variant``.

    Attributes:
        offsets: days after the due date at which each stage goes out (anchors resolved).
        gaps: minimum days after the previous stage (offset difference).
        channel: channel code (index into ``contract.CHANNELS``).
        fee_cents: fee charged with the stage, cents.
        stage: the stage number written to ``dunning_events.stage``.
        n_stages: number of stages per row.
        names: stage names per row.
        ladder_names: the ladder's ``name`` per row.
    """

    offsets: IntArr
    gaps: IntArr
    channel: IntArr
    fee_cents: IntArr
    stage: IntArr
    n_stages: IntArr
    names: list[list[str]]
    ladder_names: list[str]
    #: Ladder ``route`` rules, per row and stage position (None: the ladders have none):
    #: ``route_pos`` is the column of the gentler step sent instead (-1: no route),
    #: ``route_min`` / ``route_within`` the rule's threshold and horizon in days,
    #: ``route_wait`` the days until the fallback sends the stage after all (-1: never).
    route_pos: IntArr | None = None
    route_min: F64 | None = None
    route_within: IntArr | None = None
    route_wait: IntArr | None = None


class Router:
    """Decides, on the day a routed stage is due, which invoices take the gentler step.

    :func:`run` calls :meth:`start` once with the run's state (arrays it keeps
    updating) and :meth:`choose` in the dunning run of each day on which a stage
    with a ``route`` rule is due; :mod:`arinsight.sim.routing` implements it with
    the payment model. ``choose`` returns a bool mask over ``idx`` (live-table rows).
    """

    def start(self, state: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def choose(
        self, day: int, idx: IntArr, live: dict[str, Any], lid: IntArr, k: IntArr
    ) -> BoolArr:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class SimResult:
    """Everything the engine produced, as arrays (output and truth read this).

    Customer arrays are indexed by customer number (0-based, in ``customer_id``
    order); invoice arrays by issued-invoice number (``invoice_id`` order); event
    arrays are in key order. ``horizon_days`` is the number of days written to
    files; ``total_days`` adds the objective's run-out period.
    """

    world: World
    seed: int
    scale: float
    months: int
    horizon_days: int
    total_days: int
    segment_names: list[str]
    archetype_names: list[str]
    method_names: list[str]
    country_names: list[str]
    ladders: LadderTable
    variants: tuple[str, str] | None
    # customers
    c_segment: I8
    c_archetype: I8
    c_created: I32
    c_churn_day: I32
    c_churn_reason: I8
    c_variant: I8
    c_country: I8
    c_method: I8
    c_first_name: npt.NDArray[np.int16]
    c_last_name: npt.NDArray[np.int16]
    c_suffix: npt.NDArray[np.int16]
    # invoices (issued only)
    i_customer: I32
    i_issue: I32
    i_due: I32
    i_amount: IntArr
    i_dispute_day: I32
    i_paid_off_day: I32
    # payments
    p_invoice: I32
    p_day: I32
    p_amount: IntArr
    p_method: I8
    # adjustments
    a_invoice: I32
    a_day: I32
    a_amount: IntArr
    a_kind: I8
    # dunning events
    e_invoice: I32
    e_day: I32
    e_pos: I8
    e_ladder: I8
    # optional parts (sim.autopay): automatic charges and message events
    attempts: dict[str, Any] | None = None
    messages: dict[str, Any] | None = None


# --------------------------------------------------------------------------- parameters


@dataclass
class _ArchTables:
    """World parameters per archetype (row = archetype number)."""

    never: F64
    nat_mean: F64
    nat_sd: F64
    lift: F64  # [arch, channel] per day
    decay: F64
    fatigue: F64
    resp_days: F64
    fee_lift: F64
    p_share: F64
    p_min: F64
    p_max: F64
    p_maxcount: IntArr
    gap_mean: F64
    gap_sd: F64
    d_share: F64
    d_raise_mean: F64
    d_raise_sd: F64
    d_res_mean: F64
    d_res_sd: F64
    cn_share: F64
    full_share: F64
    pc_min: F64
    pc_max: F64
    pay_after_mean: F64
    pay_after_sd: F64
    ag_share: F64
    ag_halving: F64
    ag_fmin: F64
    ag_fmax: F64
    ag_delay_mean: F64
    ag_delay_sd: F64
    churn_bump: F64  # [arch, channel] cumulative hazard per event
    churn_fee: F64
    churn_decay: F64
    churn_rate: F64  # ln2 / half-life: daily hazard per unit of cumulative bump


def _arch_tables(world: World) -> _ArchTables:
    archs = list(world.archetypes.values())

    def col(get: Callable[[Any], float]) -> F64:
        return np.array([get(a) for a in archs], dtype=np.float64)

    def chan(get: Callable[[Any], dict[str, float]]) -> F64:
        out = np.zeros((len(archs), len(CHANNELS)), dtype=np.float64)
        for i, a in enumerate(archs):
            for ch, v in get(a).items():
                out[i, CHANNEL_CODE[ch]] = v
        return out

    return _ArchTables(
        never=col(lambda a: a.natural_pay.never_share),
        nat_mean=col(lambda a: a.natural_pay.days_after_due.mean),
        nat_sd=col(lambda a: a.natural_pay.days_after_due.sd),
        lift=chan(lambda a: a.reminder_response.lift),
        decay=col(lambda a: 0.5 ** (1.0 / a.reminder_response.half_life_days)),
        fatigue=col(lambda a: a.reminder_response.fatigue),
        resp_days=col(lambda a: a.reminder_response.responsiveness_days),
        fee_lift=col(lambda a: a.reminder_response.fee_lift_per_eur),
        p_share=col(lambda a: a.partial_payments.share),
        p_min=col(lambda a: a.partial_payments.fraction.min),
        p_max=col(lambda a: a.partial_payments.fraction.max),
        p_maxcount=np.array([a.partial_payments.max_count for a in archs], dtype=np.int64),
        gap_mean=col(lambda a: a.partial_payments.gap_days.mean),
        gap_sd=col(lambda a: a.partial_payments.gap_days.sd),
        d_share=col(lambda a: a.disputes.share),
        d_raise_mean=col(lambda a: a.disputes.raised_after_days.mean),
        d_raise_sd=col(lambda a: a.disputes.raised_after_days.sd),
        d_res_mean=col(lambda a: a.disputes.resolution_days.mean),
        d_res_sd=col(lambda a: a.disputes.resolution_days.sd),
        cn_share=col(lambda a: a.disputes.credit_note_share),
        full_share=col(lambda a: a.disputes.full_credit_share),
        pc_min=col(lambda a: a.disputes.partial_credit.min),
        pc_max=col(lambda a: a.disputes.partial_credit.max),
        pay_after_mean=col(lambda a: a.disputes.pay_after_resolution_days.mean),
        pay_after_sd=col(lambda a: a.disputes.pay_after_resolution_days.sd),
        ag_share=col(lambda a: a.agency.recovery_share),
        ag_halving=col(lambda a: a.agency.age_halving_days),
        ag_fmin=col(lambda a: a.agency.recovered_fraction.min),
        ag_fmax=col(lambda a: a.agency.recovered_fraction.max),
        ag_delay_mean=col(lambda a: a.agency.delay_days.mean),
        ag_delay_sd=col(lambda a: a.agency.delay_days.sd),
        churn_bump=chan(lambda a: a.churn.bump),
        churn_fee=col(lambda a: a.churn.fee_bump_per_eur),
        churn_decay=col(lambda a: 0.5 ** (1.0 / a.churn.half_life_days)),
        churn_rate=col(lambda a: LN2 / a.churn.half_life_days),
    )


def ladder_table(world: World, ladder: Ladder) -> LadderTable:
    """Pad the ladder (and the experiment's ladder) per segment into arrays."""
    segs = list(world.segments)
    exp_ladder = world.experiment.ladder if world.experiment else ladder
    rows: list[tuple[Ladder, str]] = []
    for seg in segs:
        rows.append((ladder, seg))
        rows.append((exp_ladder, seg))
    kmax = max(1, max(len(lad.for_segment(seg)) for lad, seg in rows))
    n = len(rows)
    off = np.zeros((n, kmax), dtype=np.int64)
    gap = np.zeros((n, kmax), dtype=np.int64)
    ch = np.zeros((n, kmax), dtype=np.int64)
    fee = np.zeros((n, kmax), dtype=np.int64)
    stg = np.zeros((n, kmax), dtype=np.int64)
    nst = np.zeros(n, dtype=np.int64)
    names: list[list[str]] = []
    for r, (lad, seg) in enumerate(rows):
        stages = lad.for_segment(seg)
        offs = lad.due_offsets(seg)
        nst[r] = len(stages)
        names.append([s.name for s in stages])
        for k, s in enumerate(stages):
            off[r, k] = offs[k]
            gap[r, k] = offs[k] - offs[k - 1] if k else 0
            ch[r, k] = CHANNEL_CODE[s.channel]
            fee[r, k] = round(s.fee * 100)
            stg[r, k] = s.stage
    table = LadderTable(off, gap, ch, fee, stg, nst, names, [lad.name for lad, _ in rows])
    if any(lad.route for lad, _ in rows):
        _add_routes(table, rows)
    return table


def _add_routes(lt: LadderTable, rows: list[tuple[Ladder, str]]) -> None:
    """Append each route's gentler step as an extra stage column (after every real stage).

    The extra column carries the replaced stage's number and offset, the step's
    channel, fee and name, so events, output files and truth read it like any stage.
    """
    n, kmax = lt.offsets.shape
    extra: list[tuple[int, int, Any]] = []  # (row, position replaced, route)
    for r, (lad, seg) in enumerate(rows):
        for k, st in enumerate(lad.for_segment(seg)):
            rule = lad.route_for(seg, st.stage)
            if rule is not None:
                extra.append((r, k, rule))
    width = kmax + max(1, max(sum(1 for e in extra if e[0] == r) for r in range(n)))

    def grow(a: IntArr) -> IntArr:
        out = np.zeros((n, width), dtype=a.dtype)
        out[:, :kmax] = a
        return out

    lt.offsets, lt.gaps, lt.channel = grow(lt.offsets), grow(lt.gaps), grow(lt.channel)
    lt.fee_cents, lt.stage = grow(lt.fee_cents), grow(lt.stage)
    lt.route_pos = np.full((n, kmax), -1, dtype=np.int64)
    lt.route_min = np.ones((n, kmax), dtype=np.float64)
    lt.route_within = np.zeros((n, kmax), dtype=np.int64)
    lt.route_wait = np.full((n, kmax), -1, dtype=np.int64)
    for r in range(n):
        lt.names[r] = lt.names[r] + [""] * (kmax - len(lt.names[r]))
    for r, k, rule in extra:
        col = len(lt.names[r])
        lt.names[r].append(rule.instead.name)
        lt.offsets[r, col] = lt.offsets[r, k]
        lt.channel[r, col] = CHANNEL_CODE[rule.instead.channel]
        lt.fee_cents[r, col] = round(rule.instead.fee * 100)
        lt.stage[r, col] = lt.stage[r, k]
        lt.route_pos[r, k] = col
        lt.route_min[r, k] = rule.min_paid_ratio
        lt.route_within[r, k] = rule.within_days
        wait = rule.fallback_after_days
        lt.route_wait[r, k] = -1 if wait is None else wait


# --------------------------------------------------------------------------- set-up


def _month_starts(world: World, months: int) -> IntArr:
    """Day numbers of the first of each month, plus the day after the horizon."""
    start = np.datetime64(world.start_date, "D")
    first = np.datetime64(world.start_date, "M")
    ms = (first + np.arange(months + 1)).astype("datetime64[D]")
    out = (ms - start).astype(np.int64)
    out[0] = 0
    return out


def _normal_days(rng: np.random.Generator, mean: F64, sd: F64) -> IntArr:
    return np.rint(mean + sd * rng.standard_normal(mean.shape[0])).astype(np.int64)


def _lognormal(rng: np.random.Generator, median: F64, sigma: F64) -> F64:
    out: F64 = median * np.exp(sigma * rng.standard_normal(median.shape[0]))
    return out


def _choice(rng: np.random.Generator, probs: list[float], n: int) -> IntArr:
    cdf = np.cumsum(np.asarray(probs, dtype=np.float64))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(probs) - 1)


@dataclass
class _Customers:
    seg: IntArr
    arch: IntArr
    created: IntArr
    vol_churn: IntArr
    variant: IntArr
    country: IntArr
    method: IntArr
    first: IntArr
    last: IntArr
    suffix: IntArr
    has_sub: BoolArr
    sub_amount: F64
    bill_dom: IntArr
    churn_e: F64


def _make_customers(
    world: World,
    scale: float,
    horizon: int,
    total: int,
    rng: np.random.Generator,
    method_names: list[str],
    country_names: list[str],
) -> _Customers:
    arch_names = list(world.archetypes)
    parts: list[dict[str, Any]] = []
    for s, seg in enumerate(world.segments.values()):
        n = int(round(seg.customers * scale))
        is_new = rng.random(n) < seg.new_customer_share
        created = np.where(
            is_new,
            rng.integers(0, max(horizon, 1), n),
            -rng.integers(1, 5 * 365 + 1, n),
        )
        mix = [seg.archetypes.get(a, 0.0) for a in arch_names]
        arch = _choice(rng, mix, n)
        mcodes = [method_names.index(m) for m in seg.payment_methods]
        method = np.asarray(mcodes, dtype=np.int64)[
            _choice(rng, list(seg.payment_methods.values()), n)
        ]
        country = _choice(rng, list(world.countries.values()), n)
        rate = -math.log1p(-min(seg.voluntary_churn_per_year, 0.999999)) / 365.0
        wait = rng.exponential(1.0, n) / rate if rate > 0 else np.full(n, np.inf)
        vol = np.maximum(created, 0) + np.floor(wait)
        vol = np.where(vol < total, vol, BIG).astype(np.int64)
        has_sub = rng.random(n) < seg.subscription.share
        sub_amount = _lognormal(
            rng,
            np.full(n, seg.subscription.amount.median),
            np.full(n, seg.subscription.amount.sigma),
        )
        bill_dom = rng.integers(1, 29, n)
        variant_u = rng.random(n)
        share = world.experiment.share if world.experiment else 0.0
        parts.append(
            {
                "seg": np.full(n, s, dtype=np.int64),
                "arch": arch,
                "created": created.astype(np.int64),
                "vol_churn": vol,
                "variant": (variant_u < share).astype(np.int64),
                "country": country,
                "method": method,
                "first": rng.integers(0, 1 << 15, n),
                "last": rng.integers(0, 1 << 15, n),
                "suffix": rng.integers(0, 1 << 15, n),
                "has_sub": has_sub,
                "sub_amount": sub_amount,
                "bill_dom": bill_dom,
                "churn_e": rng.exponential(1.0, n),
                "local": np.arange(n),
            }
        )
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["local"], cat["seg"], cat["created"]))
    return _Customers(**{k: v[order] for k, v in cat.items() if k != "local"})


@dataclass
class _Invoices:
    """Potential invoices, sorted by issue day (row = global invoice number)."""

    cust: I32
    issue: I32
    due: I32
    amount: IntArr
    day_ptr: IntArr  # invoices of day d are rows day_ptr[d]:day_ptr[d+1]


def _make_invoices(
    world: World, cu: _Customers, months: int, horizon: int, rng: np.random.Generator
) -> _Invoices:
    segs = list(world.segments.values())
    mstart = _month_starts(world, months)
    terms = np.array([s.payment_terms_days for s in segs], dtype=np.int64)
    start_ok = np.maximum(cu.created, 0)
    # monthly subscriptions: one per month on the customer's billing day
    sub_idx = np.flatnonzero(cu.has_sub).astype(np.int32)
    c_rep = np.repeat(sub_idx, months)
    m_rep = np.tile(np.arange(months, dtype=np.int32), sub_idx.size)
    day = (mstart[m_rep] + cu.bill_dom[c_rep] - 1).astype(np.int32)
    keep = (day >= start_ok[c_rep]) & (day < mstart[m_rep + 1])
    del m_rep
    s_cust, s_day = c_rep[keep], day[keep]
    del c_rep, day, keep
    var = np.array([s.subscription.variation for s in segs])[cu.seg[s_cust]]
    factor = np.maximum(0.1, 1.0 + var * rng.standard_normal(s_cust.size))
    s_amt = cu.sub_amount[s_cust] * factor
    # one-off invoices: Poisson count over the active span, days uniform in it
    span = np.maximum(horizon - start_ok, 0)
    per_month = np.array([s.one_off.per_month for s in segs])[cu.seg]
    counts = rng.poisson(per_month * span / (365.25 / 12))
    o_cust = np.repeat(np.arange(cu.seg.size, dtype=np.int32), counts)
    o_day = (start_ok[o_cust] + np.floor(rng.random(o_cust.size) * span[o_cust])).astype(np.int32)
    med = np.array([s.one_off.amount.median for s in segs])[cu.seg[o_cust]]
    sig = np.array([s.one_off.amount.sigma for s in segs])[cu.seg[o_cust]]
    o_amt = _lognormal(rng, med, sig)

    cust = np.concatenate([s_cust, o_cust])
    issue = np.concatenate([s_day, o_day])
    kind = np.concatenate([np.zeros(s_cust.size, np.int8), np.ones(o_cust.size, np.int8)])
    amount = np.maximum(np.rint(np.concatenate([s_amt, o_amt]) * 100), 100).astype(np.int64)
    del s_cust, o_cust, s_day, o_day, s_amt, o_amt
    order = np.lexsort((kind, cust, issue))
    cust, issue, amount = cust[order], issue[order], amount[order]
    due = (issue + terms[cu.seg[cust]]).astype(np.int32)
    ptr = np.searchsorted(issue, np.arange(horizon + 1), side="left").astype(np.int64)
    return _Invoices(cust, issue, due, amount, ptr)


@dataclass
class _Draws:
    """Per potential invoice random numbers that do not depend on the ladder."""

    tnat: I32
    e: F32
    dstart: I32
    dend: I32
    block: BoolArr
    credit: F32
    pay_after: I32
    pdelay: npt.NDArray[np.int16]
    upart: F32
    pfrac: F32
    uag: F32
    agdelay: I32
    agfrac: F32


#: Potential invoices drawn per block (bounds the temporaries of ``_make_draws``).
DRAW_BLOCK = 1 << 21


def _make_draws(
    world: World, arch: I8, inv: _Invoices, rng: np.random.Generator, at: _ArchTables
) -> _Draws:
    n = inv.cust.size
    out = _Draws(
        tnat=np.empty(n, np.int32),
        e=np.empty(n, np.float32),
        dstart=np.empty(n, np.int32),
        dend=np.empty(n, np.int32),
        block=np.empty(n, np.bool_),
        credit=np.empty(n, np.float32),
        pay_after=np.empty(n, np.int32),
        pdelay=np.empty(n, np.int16),
        upart=np.empty(n, np.float32),
        pfrac=np.empty(n, np.float32),
        uag=np.empty(n, np.float32),
        agdelay=np.empty(n, np.int32),
        agfrac=np.empty(n, np.float32),
    )
    pdl = world.dunning.posting_delay
    for lo in range(0, n, DRAW_BLOCK):
        sl = slice(lo, min(n, lo + DRAW_BLOCK))
        a = arch[sl]
        m = a.size
        issue, due = inv.issue[sl], inv.due[sl]
        never = rng.random(m) < at.never[a]
        tnat = due + _normal_days(rng, at.nat_mean[a], at.nat_sd[a])
        out.tnat[sl] = np.where(never, BIG, np.maximum(tnat, issue))
        out.e[sl] = rng.exponential(1.0, m)
        disputed = rng.random(m) < at.d_share[a]
        raise_after = np.maximum(_normal_days(rng, at.d_raise_mean[a], at.d_raise_sd[a]), 0)
        dstart = np.where(disputed, issue + raise_after, BIG)
        dlen = np.maximum(_normal_days(rng, at.d_res_mean[a], at.d_res_sd[a]), 1)
        out.dstart[sl] = dstart
        out.dend[sl] = np.where(disputed, dstart + dlen, BIG)
        out.block[sl] = rng.random(m) < world.dunning.block_on_dispute_share
        u_cn, u_full, u_pc = rng.random(m), rng.random(m), rng.random(m)
        partial_credit = at.pc_min[a] + u_pc * (at.pc_max[a] - at.pc_min[a])
        out.credit[sl] = np.where(
            u_cn < at.cn_share[a], np.where(u_full < at.full_share[a], 1.0, partial_credit), 0.0
        )
        out.pay_after[sl] = np.maximum(
            _normal_days(rng, at.pay_after_mean[a], at.pay_after_sd[a]), 0
        )
        out.pdelay[sl] = rng.integers(pdl.min_days, pdl.max_days + 1, m)
        out.upart[sl] = rng.random(m)
        out.pfrac[sl] = at.p_min[a] + rng.random(m) * (at.p_max[a] - at.p_min[a])
        out.uag[sl] = rng.random(m)
        out.agdelay[sl] = np.maximum(_normal_days(rng, at.ag_delay_mean[a], at.ag_delay_sd[a]), 1)
        out.agfrac[sl] = at.ag_fmin[a] + rng.random(m) * (at.ag_fmax[a] - at.ag_fmin[a])
    return out


# --------------------------------------------------------------------------- live table


class _Live:
    """Columns of the live-invoice table with amortised appends and compaction."""

    SPEC: dict[str, Any] = {
        "g": np.int32,  # potential-invoice number
        "cust": np.int32,
        "arch": np.int8,
        "lid": np.int8,
        "due": np.int32,
        "open": np.int64,  # cents
        "tnat": np.int32,  # natural payment day (BIG = never)
        "e": np.float32,  # exponential threshold for the reminder hazard
        "h": np.float32,  # accumulated reminder hazard
        "lift": np.float32,  # current reminder lift (hazard per day)
        "decay": np.float32,  # daily decay factor of the lift
        "k": np.int8,  # position of the next stage
        "nxt": np.int32,  # day the next stage goes out (BIG = none)
        "nev": np.int16,  # events sent so far
        "state": np.int8,
        "dstart": np.int32,
        "dend": np.int32,
        "wod": np.int32,  # write-off day when still open without handover
        "known": np.int32,  # day the dunning system learns the invoice is settled
        "npart": np.int8,
        "upart": np.float32,
        "agday": np.int32,
        "woday": np.int32,
    }

    def __init__(self, capacity: int) -> None:
        self.cap = max(capacity, 1024)
        self.n = 0
        self.cols: dict[str, Any] = {k: np.empty(self.cap, dtype=t) for k, t in self.SPEC.items()}

    def append(self, new: dict[str, Any]) -> None:
        m = len(new["g"])
        if self.n + m > self.cap:
            self.cap = max(2 * self.cap, self.n + m)
            for k, arr in self.cols.items():
                grown = np.empty(self.cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.cols[k] = grown
        for k, arr in self.cols.items():
            arr[self.n : self.n + m] = new[k]
        self.n += m

    def keep(self, mask: BoolArr) -> None:
        n = int(mask.sum())
        for arr in self.cols.values():
            arr[:n] = arr[: self.n][mask]
        self.n = n

    def view(self) -> dict[str, Any]:
        return {k: arr[: self.n] for k, arr in self.cols.items()}


class _Log:
    """Append-only columnar log of one output table (per-day chunks, compact dtypes)."""

    def __init__(self, **dtypes: Any) -> None:
        self.dtypes = dtypes
        self.parts: dict[str, list[Any]] = {n: [] for n in dtypes}

    def add(self, **cols: Any) -> None:
        for k, v in cols.items():
            self.parts[k].append(np.asarray(v, dtype=self.dtypes[k]))

    def get(self, name: str) -> Any:
        p = self.parts.pop(name)
        dtype = self.dtypes[name]
        return np.concatenate(p) if p else np.zeros(0, dtype=dtype)


# --------------------------------------------------------------------------- the run


def run(
    world: World,
    ladder: Ladder,
    months: int | None = None,
    seed: int = 0,
    scale: float = 1.0,
    progress: Progress | None = None,
    router: Router | None = None,
) -> SimResult:
    """Simulate ``world`` under ``ladder``.

    Args:
        world: the world.
        ladder: the dunning ladder in force (the experiment's ladder, if the world
            declares one, applies to the treatment arm).
        months: issuing horizon in months (default: ``world.months``).
        seed: seed of the ``numpy`` PCG64 streams.
        scale: multiplies every segment's customer count.
        progress: called as ``progress(done_days, total_days)`` after each day.
        router: decides the ladder's ``route`` rules (:class:`Router`); None: the
            routed stages go out as written (a ladder's routes need a router).

    Returns:
        The arrays of the run (see :class:`SimResult`).

    Raises:
        ValueError: ``scale`` or ``months`` are not positive.
    """
    months = world.months if months is None else months
    if months <= 0:
        raise ValueError(f"months must be positive, got {months}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    horizon = int(_month_starts(world, months)[-1])
    total = horizon + world.objective.runout_days

    ss = np.random.SeedSequence(seed)
    s_cust, s_inv, s_draw, s_dyn = ss.spawn(4)
    rng_c = np.random.Generator(np.random.PCG64(s_cust))
    rng_i = np.random.Generator(np.random.PCG64(s_inv))
    rng_d = np.random.Generator(np.random.PCG64(s_draw))
    rng_dyn = np.random.Generator(np.random.PCG64(s_dyn))

    seg_names = list(world.segments)
    arch_names = list(world.archetypes)
    method_names = sorted({m for s in world.segments.values() for m in s.payment_methods})
    method_names.append("agency")
    agency_method = len(method_names) - 1
    country_names = list(world.countries)

    at = _arch_tables(world)
    lt = ladder_table(world, ladder)
    cu = _make_customers(world, scale, horizon, total, rng_c, method_names, country_names)
    inv = _make_invoices(world, cu, months, horizon, rng_i)
    inv_arch = cu.arch.astype(np.int8)[inv.cust]
    dr = _make_draws(world, inv_arch, inv, rng_d, at)
    autopay, engage = _optional_parts(world, ladder, ss, method_names, cu, inv, dr, total)

    dun = world.dunning
    seg_sens = np.array([s.churn_sensitivity for s in world.segments.values()])
    n_cust = cu.seg.size
    n_pot = inv.cust.size

    # customer state
    churn_day = cu.vol_churn.copy()
    churn_reason = np.where(churn_day < BIG, VOLUNTARY, NO_CHURN).astype(np.int8)
    c_cum = np.zeros(n_cust, dtype=np.float64)  # accumulated involuntary-churn hazard
    c_haz = np.zeros(n_cust, dtype=np.float64)  # current daily involuntary-churn hazard
    c_decay = at.churn_decay[cu.arch]
    c_e = cu.churn_e
    c_lid = (cu.seg * 2 + cu.variant).astype(np.int8)
    c_method = cu.method

    # per potential invoice bookkeeping
    issued = np.zeros(n_pot, dtype=np.bool_)
    dispute_day = np.full(n_pot, BIG, dtype=np.int32)
    paid_off_day = np.full(n_pot, -1, dtype=np.int32)

    pays = _Log(g=np.int32, d=np.int32, amt=np.int64, meth=np.int8)
    adjs = _Log(g=np.int32, d=np.int32, amt=np.int64, kind=np.int8)
    evs = _Log(g=np.int32, d=np.int32, k=np.int8, lid=np.int8)

    live = _Live(capacity=max(1024, n_pot // max(months, 1) * 3))
    # real stages only: a route's gentler step sits in a column beyond them
    kmax = lt.offsets.shape[1] if lt.route_pos is None else lt.route_pos.shape[1]
    partial_remaining = at.p_maxcount
    routing = router is not None and lt.route_pos is not None
    if routing:
        assert router is not None
        router.start(
            {
                "ladders": lt,
                "events": evs,
                "paid_off_day": paid_off_day,
                "issued": issued,
                "inv_cust": inv.cust,
                "inv_due": inv.due,
                "inv_amount": inv.amount,
                "cust_segment": cu.seg,
                "segment_names": seg_names,
                "n_customers": n_cust,
            }
        )

    for d in range(total):
        # ---- 1. issue today's invoices to customers that have not churned
        if d < horizon:
            lo, hi = int(inv.day_ptr[d]), int(inv.day_ptr[d + 1])
            if hi > lo:
                g = np.arange(lo, hi)
                g = g[churn_day[inv.cust[g]] >= d]
                if g.size:
                    issued[g] = True
                    c = inv.cust[g]
                    lid = c_lid[c].astype(np.int64)
                    due = inv.due[g]
                    rel = inv.issue[g] - due
                    k0 = np.zeros(g.size, dtype=np.int64)
                    for j in range(kmax):
                        k0 += (lt.offsets[lid, j] < rel) & (j < lt.n_stages[lid])
                    has = k0 < lt.n_stages[lid]
                    nxt = np.where(has, due + lt.offsets[lid, np.minimum(k0, kmax - 1)], BIG)
                    a = cu.arch[c]
                    live.append(
                        {
                            "g": g,
                            "cust": c,
                            "arch": a,
                            "lid": lid,
                            "due": due,
                            "open": inv.amount[g],
                            "tnat": dr.tnat[g]
                            if autopay is None
                            else autopay.initial_tnat(g, dr.tnat[g]),
                            "e": dr.e[g],
                            "h": 0.0,
                            "lift": 0.0,
                            "decay": at.decay[a],
                            "k": k0,
                            "nxt": nxt,
                            "nev": 0,
                            "state": OPEN,
                            "dstart": dr.dstart[g],
                            "dend": dr.dend[g],
                            "wod": due + dun.write_off_after_overdue_days,
                            "known": BIG,
                            "npart": 0,
                            "upart": dr.upart[g],
                            "agday": BIG,
                            "woday": BIG,
                        }
                    )
        v = live.view()
        st, gl = v["state"], v["g"]
        opn = v["open"]

        # ---- 2. disputes
        idx = np.flatnonzero((v["dstart"] == d) & (st == OPEN))
        if idx.size:
            st[idx] = DISPUTE
            dispute_day[gl[idx]] = d
        idx = np.flatnonzero((v["dend"] == d) & (st == DISPUTE))
        if idx.size:
            g = gl[idx]
            credit = np.minimum(np.rint(opn[idx] * dr.credit[g].astype(np.float64)), opn[idx])
            credit = credit.astype(np.int64)
            cm = credit > 0
            if cm.any():
                adjs.add(
                    g=g[cm],
                    d=np.full(int(cm.sum()), d),
                    amt=credit[cm],
                    kind=np.full(int(cm.sum()), CREDIT_NOTE),
                )
            opn[idx] -= credit
            gone = opn[idx] == 0
            st[idx] = np.where(gone, CLOSED, OPEN)
            v["known"][idx[gone]] = d
            rest = idx[~gone]
            v["tnat"][rest] = d + dr.pay_after[gl[rest]]
            blocked = rest[dr.block[gl[rest]]]
            v["nxt"][blocked] = np.maximum(
                v["nxt"][blocked], d + dun.resume_after_dispute_days
            ).clip(max=BIG)

        # ---- 2b. automatic charges (worlds with auto_pay only)
        if autopay is not None:
            autopay.step(d, v, OPEN, CLOSED, pays, paid_off_day, dr.pdelay, c_method)

        # ---- 3. payments of open invoices
        lift = v["lift"]
        lift *= v["decay"]
        v["h"] += lift
        idx = np.flatnonzero((st == OPEN) & ((v["tnat"] <= d) | (v["h"] >= v["e"])))
        if idx.size:
            g = gl[idx]
            a = v["arch"][idx].astype(np.int64)
            o = opn[idx]
            part = (
                (v["upart"][idx] < at.p_share[a])
                & (v["npart"][idx] < partial_remaining[a])
                & (o >= 2)
            )
            amt = np.where(
                part,
                np.clip(np.rint(o * dr.pfrac[g].astype(np.float64)), 1, o - 1).astype(np.int64),
                o,
            )
            pays.add(g=g, d=np.full(g.size, d), amt=amt, meth=c_method[v["cust"][idx]])
            opn[idx] = o - amt
            done = ~part
            di = idx[done]
            st[di] = CLOSED
            v["known"][di] = d + dr.pdelay[gl[di]]
            paid_off_day[gl[di]] = d
            pi = idx[part]
            if pi.size:
                ap = a[part]
                v["npart"][pi] += 1
                gap = np.maximum(_normal_days(rng_dyn, at.gap_mean[ap], at.gap_sd[ap]), 1)
                v["tnat"][pi] = np.where(v["tnat"][pi] >= BIG, BIG, d + gap)
                v["e"][pi] = rng_dyn.exponential(1.0, pi.size)
                v["h"][pi] = 0.0
                v["upart"][pi] = rng_dyn.random(pi.size)

        # ---- 4. agency: customer pays the agency, agency recovers, or write-off
        ag = st == AGENCY
        if ag.any():
            idx = np.flatnonzero(ag & ((v["tnat"] <= d) | (v["agday"] == d)))
            if idx.size:
                g = gl[idx]
                o = opn[idx]
                full = v["tnat"][idx] <= d
                amt = np.where(
                    full,
                    o,
                    np.clip(np.rint(o * dr.agfrac[g].astype(np.float64)), 1, o).astype(np.int64),
                )
                pays.add(g=g, d=np.full(g.size, d), amt=amt, meth=np.full(g.size, agency_method))
                opn[idx] = o - amt
                v["agday"][idx] = BIG
                v["tnat"][idx] = BIG
                gone = opn[idx] == 0
                di = idx[gone]
                st[di] = CLOSED
                v["known"][di] = d + dr.pdelay[gl[di]]
                paid_off_day[gl[di]] = d
            idx = np.flatnonzero((st == AGENCY) & (v["woday"] == d))
            if idx.size:
                adjs.add(
                    g=gl[idx],
                    d=np.full(idx.size, d),
                    amt=opn[idx].copy(),
                    kind=np.full(idx.size, WRITE_OFF),
                )
                opn[idx] = 0
                st[idx] = CLOSED
                v["known"][idx] = d

        # ---- 4b. write-off of long-overdue invoices never handed over
        idx = np.flatnonzero((v["wod"] == d) & (st <= DISPUTE))
        if idx.size:
            adjs.add(
                g=gl[idx],
                d=np.full(idx.size, d),
                amt=opn[idx].copy(),
                kind=np.full(idx.size, WRITE_OFF),
            )
            opn[idx] = 0
            st[idx] = CLOSED
            v["known"][idx] = d

        # ---- 5. dunning run
        cand = np.flatnonzero(v["nxt"] <= d)
        if cand.size:
            sc = st[cand]
            blocked = (sc == DISPUTE) & dr.block[gl[cand]]
            v["nxt"][cand[blocked]] = d + 1
            known_done = (sc == CLOSED) & (v["known"][cand] <= d)
            v["nxt"][cand[known_done]] = BIG
            idx = cand[~blocked & ~known_done & (sc != AGENCY)]
            # a pre-due reminder held back (dispute block) past the due date is skipped
            lid_c = v["lid"][idx].astype(np.int64)
            k_c = v["k"][idx].astype(np.int64)
            stale = (lt.offsets[lid_c, k_c] < 0) & (v["due"][idx] <= d)
            if stale.any():
                si = idx[stale]
                k1 = k_c[stale] + 1
                more = k1 < lt.n_stages[lid_c[stale]]
                k1c = np.minimum(k1, kmax - 1)
                nxt = np.maximum(v["due"][si] + lt.offsets[lid_c[stale], k1c], d + 1)
                v["nxt"][si] = np.where(more, nxt, BIG)
                v["k"][si] = k1c
                idx = idx[~stale]
            if idx.size:
                g = gl[idx]
                lid = v["lid"][idx].astype(np.int64)
                k = v["k"][idx].astype(np.int64)
                a = v["arch"][idx].astype(np.int64)
                k_sent, gentle = k, None
                if routing:
                    assert router is not None and lt.route_pos is not None
                    ask = np.flatnonzero(lt.route_pos[lid, k] >= 0)
                    if ask.size:
                        gentle = np.zeros(idx.size, dtype=np.bool_)
                        gentle[ask] = router.choose(d, idx[ask], v, lid[ask], k[ask])
                        k_sent = np.where(gentle, lt.route_pos[lid, k], k)
                chn = lt.channel[lid, k_sent]
                fee_eur = lt.fee_cents[lid, k_sent] / 100.0
                evs.add(g=g, d=np.full(g.size, d), k=k_sent, lid=lid)
                overdue = np.maximum(d - v["due"][idx], 0)
                boost = (
                    at.lift[a, chn]
                    * at.fatigue[a] ** v["nev"][idx]
                    * (1.0 + at.fee_lift[a] * fee_eur)
                    * np.exp(-overdue / at.resp_days[a])
                )
                if engage is not None:
                    boost = boost * engage.on_send(d, g, a, chn)
                lift[idx] += boost.astype(np.float32)
                v["nev"][idx] += 1
                s_now = st[idx]
                c = v["cust"][idx]
                bump = (
                    at.churn_bump[a, chn]
                    * (1.0 + at.churn_fee[a] * fee_eur)
                    * seg_sens[cu.seg[c]]
                    * np.where(s_now == CLOSED, dun.paid_reminder_churn_multiplier, 1.0)
                    * np.where(s_now == DISPUTE, dun.disputed_reminder_churn_multiplier, 1.0)
                )
                np.add.at(c_haz, c, bump * at.churn_rate[a])
                # handover to the collection agency
                hand = (chn == AGENCY_CHANNEL) & (s_now <= DISPUTE)
                hi_ = idx[hand]
                if hi_.size:
                    gh = gl[hi_]
                    ah = a[hand]
                    age = np.maximum(d - v["due"][hi_], 0)
                    p_rec = at.ag_share[ah] * 0.5 ** (age / at.ag_halving[ah])
                    rec = dr.uag[gh] < p_rec
                    st[hi_] = AGENCY
                    v["agday"][hi_] = np.where(rec, d + dr.agdelay[gh], BIG)
                    v["woday"][hi_] = d + dun.write_off_after_handover_days
                k1 = k + 1
                more = (k1 < lt.n_stages[lid]) & (chn != AGENCY_CHANNEL)
                k1c = np.minimum(k1, kmax - 1)
                nxt = np.maximum(v["due"][idx] + lt.offsets[lid, k1c], d + lt.gaps[lid, k1c])
                v["nxt"][idx] = np.where(more, nxt, BIG)
                v["k"][idx] = k1c
                if gentle is not None and gentle.any():
                    # the gentler step went out: the replaced stage waits for the fallback
                    assert lt.route_wait is not None
                    wait = lt.route_wait[lid[gentle], k[gentle]]
                    v["nxt"][idx[gentle]] = np.where(wait >= 0, d + wait, BIG)
                    v["k"][idx[gentle]] = k[gentle]

        # ---- 6. churn
        c_cum += c_haz
        c_haz *= c_decay
        newly = np.flatnonzero((c_cum >= c_e) & (churn_day > d))
        if newly.size:
            churn_day[newly] = d
            churn_reason[newly] = NON_PAYMENT

        # ---- compaction: drop invoices that can no longer change or be dunned
        dead = (st == CLOSED) & (v["nxt"] >= v["known"])
        n_dead = int(dead.sum())
        if n_dead and n_dead * 5 > live.n:
            live.keep(~dead)
        if progress is not None:
            progress(d + 1, total)

    # ---- assemble (issued invoices renumbered in issue order)
    g_issued = np.flatnonzero(issued)
    remap = np.full(n_pot, -1, dtype=np.int64)
    remap[g_issued] = np.arange(g_issued.size)

    def ordered(log: _Log, *extra: str) -> tuple[Any, ...]:
        g = remap[log.get("g")].astype(np.int32)
        d = log.get("d")
        order = np.lexsort((g, d))
        return (g[order], d[order], *[log.get(x)[order] for x in extra])

    p_g, p_d, p_amt, p_meth = ordered(pays, "amt", "meth")
    a_g, a_d, a_amt, a_kind = ordered(adjs, "amt", "kind")
    e_g, e_d, e_k, e_lid = ordered(evs, "k", "lid")
    exp = world.experiment
    return SimResult(
        world=world,
        seed=seed,
        scale=scale,
        months=months,
        horizon_days=horizon,
        total_days=total,
        segment_names=seg_names,
        archetype_names=arch_names,
        method_names=method_names,
        country_names=country_names,
        ladders=lt,
        variants=(exp.control, exp.treatment) if exp else None,
        c_segment=cu.seg.astype(np.int8),
        c_archetype=cu.arch.astype(np.int8),
        c_created=cu.created.astype(np.int32),
        c_churn_day=churn_day.astype(np.int32),
        c_churn_reason=churn_reason,
        c_variant=cu.variant.astype(np.int8),
        c_country=cu.country.astype(np.int8),
        c_method=cu.method.astype(np.int8),
        c_first_name=cu.first.astype(np.int16),
        c_last_name=cu.last.astype(np.int16),
        c_suffix=cu.suffix.astype(np.int16),
        i_customer=inv.cust[g_issued].astype(np.int32),
        i_issue=inv.issue[g_issued].astype(np.int32),
        i_due=inv.due[g_issued].astype(np.int32),
        i_amount=inv.amount[g_issued],
        i_dispute_day=dispute_day[g_issued],
        i_paid_off_day=paid_off_day[g_issued],
        p_invoice=p_g,
        p_day=p_d,
        p_amount=p_amt.astype(np.int64),
        p_method=p_meth.astype(np.int8),
        a_invoice=a_g,
        a_day=a_d,
        a_amount=a_amt.astype(np.int64),
        a_kind=a_kind.astype(np.int8),
        e_invoice=e_g,
        e_day=e_d,
        e_pos=e_k.astype(np.int8),
        e_ladder=e_lid.astype(np.int8),
        attempts=autopay.arrays(remap) if autopay is not None else None,
        messages=engage.arrays(remap) if engage is not None else None,
    )


def _optional_parts(
    world: World,
    ladder: Ladder,
    ss: np.random.SeedSequence,
    method_names: list[str],
    cu: _Customers,
    inv: _Invoices,
    dr: _Draws,
    total: int,
) -> tuple[Any, Any]:
    """The auto-pay and engagement state of worlds that declare them (else None, None).

    Their random streams are spawned after the engine's four, so worlds without
    them draw exactly the numbers they always drew.
    """
    if world.auto_pay is None and world.engagement is None:
        return None, None
    from arinsight.sim.autopay import AutoPayState, EngagementState

    s_ap, s_eng = ss.spawn(2)
    ap = eng = None
    if world.auto_pay is not None:
        exp_ladder = world.experiment.ladder if world.experiment else ladder
        ap = AutoPayState(
            world,
            (ladder, exp_ladder),
            method_names,
            cu.method,
            cu.arch,
            inv.cust,
            inv.due,
            dr.tnat,
            total,
            np.random.Generator(np.random.PCG64(s_ap)),
        )
    if world.engagement is not None:
        eng = EngagementState(world, np.random.Generator(np.random.PCG64(s_eng)))
    return ap, eng
