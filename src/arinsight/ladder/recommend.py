"""``arinsight recommend``: fit a response model, search ladders on it, keep what evidence carries.

Steps (method and assumptions: ``docs/recommender.md``):

1. read ``marts.fct_ladder_invoices`` / ``fct_ladder_customers`` and the ladder in force;
2. fit the payment model per group and the churn model per segment (``fit.py``);
3. per segment, a coordinate search over stage days (one-day grid, stages may be
   dropped, the collection handover too when the evidence carries it) on the replayed history
   (``replay.py``), accepting only ladders the legality predicate allows;
4. a bootstrap over customers gives every change an 80 % interval; a stage whose
   interval of Δ net value includes 0, or that rests on too few sends, goes back
   to its current timing, and so does a whole segment whose total interval
   includes 0 (``decide.py``);
5. write the proposed ladder YAML and ``marts.ladder_recommendations``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from arinsight.config import Ladder, NetValue, Stage
from arinsight.contract import CHANNELS
from arinsight.ladder import decide
from arinsight.ladder.experiment import compare_arms, treatment_plan
from arinsight.ladder.fit import (
    ChurnModel,
    FittedGroup,
    churn_features,
    churn_kind_names,
    dispute_curve,
    fit_churn,
    fit_group,
    posting_delay_curve,
)
from arinsight.ladder.inputs import Inputs, NotEnoughData, read_inputs
from arinsight.ladder.options import RecommenderOptions
from arinsight.ladder.replay import (
    Params,
    PlannedStage,
    SegmentBook,
    SegmentValue,
    evaluate,
    make_book,
    plan,
)

F64 = npt.NDArray[np.float64]
Legality = Callable[[Ladder], bool]
#: Index of the collection agency in ``contract.CHANNELS``.
_AGENCY = CHANNELS.index("collection_agency")
#: Hazard per day below which a reminder's response counts as died out.
FADE_FLOOR = 0.01

#: Columns of marts.ladder_recommendations, in order.
COLUMNS = (
    "segment",
    "stage_number",
    "stage_name",
    "current_offset_days",
    "proposed_offset_days",
    "current_channel",
    "proposed_channel",
    "current_fee_amount",
    "proposed_fee_amount",
    "rationale",
    "evidence_count_events",
    "evidence_count_invoices",
    "delta_dso_days",
    "delta_dso_days_low",
    "delta_dso_days_high",
    "delta_recovery_pct",
    "delta_recovery_pct_low",
    "delta_recovery_pct_high",
    "delta_involuntary_churn",
    "delta_involuntary_churn_low",
    "delta_involuntary_churn_high",
    "delta_net_value_amount",
    "delta_net_value_amount_low",
    "delta_net_value_amount_high",
    "confidence",
    "ladder_source",
    "recommended_at",
)


@dataclass
class Recommendation:
    """What ``recommend`` produced."""

    ladder: Ladder
    current: Ladder
    rows: list[dict[str, Any]]
    source: str
    fit_summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.ladder.model_dump(exclude={"name"}) != self.current.model_dump(exclude={"name"})


# --------------------------------------------------------------------------- fitting


@dataclass
class _Fitted:
    groups: dict[int, FittedGroup]
    group_masks: dict[int, npt.NDArray[np.bool_]]
    group_names: dict[int, str]
    group_of_invoice: npt.NDArray[np.int64]
    churn: dict[int, ChurnModel]
    books: dict[int, SegmentBook]


def _fit_all(
    inp: Inputs,
    opts: RecommenderOptions,
    nv: NetValue,
    segs: list[int],
    ladders: dict[int, tuple[Stage, ...]],
    seed: int = 0,
) -> _Fitted:
    beh = np.array(inp.c_behaviour, dtype=object)
    inv_beh = beh[inp.cust]
    groups: dict[int, FittedGroup] = {}
    masks: dict[int, npt.NDArray[np.bool_]] = {}
    names: dict[int, str] = {}
    gid = np.full(inp.n_invoices, -1, dtype=np.int64)
    churn: dict[int, ChurnModel] = {}
    books: dict[int, SegmentBook] = {}
    nxt = 0
    for s in segs:
        base = (inp.seg == s) & ~inp.disputed
        labels, counts = np.unique(inv_beh[base].astype(str), return_counts=True)
        big = [
            str(lab) for lab, c in zip(labels, counts, strict=True) if c >= opts.min_group_invoices
        ]
        if len(big) < 2:
            big = []  # a single big class is the segment itself
        rest = base.copy()
        for lab in big:
            m = base & (inv_beh == lab)
            rest &= ~m
            masks[nxt], names[nxt] = m, f"{inp.segments[s]}/{lab}"
            gid[m] = nxt
            nxt += 1
        if rest.any():
            # small behaviour classes share the pooled segment model
            masks[nxt], names[nxt] = base, f"{inp.segments[s]}/all"
            gid[rest] = nxt
            nxt += 1
    from arinsight.contract import CHANNELS

    stage_channel = np.full((len(inp.segments), 6), CHANNELS.index("letter"), dtype=np.int64)
    stage_fee = np.zeros((len(inp.segments), 6))
    for s, stages in ladders.items():
        for st in stages:
            if st.stage < 6:
                stage_channel[s, st.stage] = CHANNELS.index(st.channel)
                stage_fee[s, st.stage] = float(st.fee)
    feats = churn_features(
        inp, opts.churn_half_life_days, stage_channel, opts.pre_due_reminder_churn, stage_fee
    )
    for g, m in masks.items():
        groups[g] = fit_group(inp, m, opts)
    for s in segs:
        churn[-1 - s] = fit_churn(inp, inp.c_seg == s, feats, opts.paid_reminder_churn_log_sd)
        planned = [(p.stage, p.day) for p in plan(ladders[s])]
        smask = inp.seg == s
        books[s] = make_book(
            inp,
            s,
            gid,
            nv,
            posting_delay_curve(inp, smask, planned),
            dispute_curve(inp, smask, planned),
            -1 - s,
            sample=_replay_sample(inp, s, opts.replay_max_customers, seed),
        )
    return _Fitted(groups, masks, names, gid, churn, books)


def _replay_sample(
    inp: Inputs, s: int, cap: int, seed: int
) -> tuple[npt.NDArray[np.int64], F64] | None:
    """The customers segment ``s`` is replayed on: None (all) up to ``cap`` customers,
    else a seeded sample stratified by behaviour segment (``inputs.stratified_sample``)."""
    from arinsight.ladder.inputs import stratified_sample

    rows = np.flatnonzero(inp.c_seg == s)
    if cap <= 0 or rows.size <= cap:
        return None
    labels = np.array(inp.c_behaviour, dtype=object)[rows].astype(str)
    _names, strata = np.unique(labels, return_inverse=True)
    picked, weights = stratified_sample(strata.astype(np.int64), cap, (seed, s))
    return rows[picked], weights


# --------------------------------------------------------------------------- search


def _stages_of(plan_: list[PlannedStage | None], template: tuple[Stage, ...]) -> tuple[Stage, ...]:
    out: list[Stage] = []
    for p, s in zip(plan_, template, strict=True):
        if p is None:
            continue
        out.append(
            s.model_copy(update={"offset_days": p.day, "anchor": "due_date", "channel": p.channel})
        )
    return tuple(out)


def _with_segment(ladder: Ladder, segment: str, stages: tuple[Stage, ...]) -> Ladder:
    segs = dict(ladder.segments)
    segs[segment] = stages
    return ladder.model_copy(update={"segments": segs})


def _kept(plan_: list[PlannedStage | None]) -> tuple[PlannedStage, ...]:
    return tuple(p for p in plan_ if p is not None)


def _candidates(
    plan_: list[PlannedStage | None],
    current: tuple[PlannedStage, ...],
    i: int,
    first_day: int,
    opts: RecommenderOptions,
) -> list[PlannedStage | None]:
    """Days stage ``i`` may move to (coarse 3-day grid plus ±1, ±2 around where it is now)."""
    cur = current[i]
    if cur.is_handover and not opts.search_handover:
        return [plan_[i]]
    prev = next((p for p in reversed(plan_[:i]) if p is not None), None)
    nxt = next((p for p in plan_[i + 1 :] if p is not None), None)
    lo = prev.day + opts.min_gap_days if prev else first_day
    hi = nxt.day - opts.min_gap_days if nxt else cur.day + opts.search_radius_days
    lo = max(lo, cur.day - opts.search_radius_days)
    hi = min(hi, cur.day + opts.search_radius_days)
    if cur.day < 0:  # a pre-due reminder stays before the due date
        hi = min(hi, -1)
    else:  # a dunning stage stays after it
        lo = max(lo, 1)
    here_stage = plan_[i]
    here = here_stage.day if here_stage is not None else cur.day
    days = {d for d in range(cur.day - 30, cur.day + 31, 3)} | {here + k for k in (-2, -1, 1, 2)}
    out: list[PlannedStage | None] = [
        PlannedStage(cur.stage, d, cur.channel, cur.fee) for d in sorted(days) if lo <= d <= hi
    ]
    others = sum(1 for j, p in enumerate(plan_) if p is not None and j != i)
    if others >= 1 and (not cur.is_handover or opts.drop_handover):
        # the handover may be dropped too: the case then stays open (late payments
        # continue, the rest is written off), no commission, no agency churn
        out.append(None)
    if plan_[i] is not None and plan_[i] not in out:
        out.append(plan_[i])
    return out


def search_segment(
    value: Callable[[tuple[PlannedStage, ...]], float],
    current: tuple[PlannedStage, ...],
    first_day: int,
    opts: RecommenderOptions,
    legal: Callable[[tuple[PlannedStage, ...]], bool],
    start: tuple[PlannedStage, ...] | None = None,
    frozen: frozenset[int] = frozenset(),
) -> list[PlannedStage | None]:
    """Coordinate search: each stage in turn to its best day (or dropped), for a few rounds.

    Args:
        value: the objective of a planned ladder (higher is better).
        current: the ladder in force (the start).
        first_day: earliest day a stage may go out (after the issue date).
        opts: search radius, minimum gap, rounds.
        legal: predicate a candidate must pass.
        frozen: positions of stages the search leaves where they are (sent too few
            times to judge a new timing, ``min_stage_events``; the other stages move
            around them, so none can be dropped by a neighbour moving past it).
        start: a second starting point (a better experiment arm's ladder), taken when
            the objective prefers it to ``current``.

    Returns:
        The best plan found, one entry per current stage (None = dropped).
    """
    plan_: list[PlannedStage | None] = list(current)
    best = value(current)
    if start is not None and len(start) == len(current) and legal(start):
        v_start = value(start)
        if v_start > best:
            plan_, best = list(start), v_start
    for _ in range(opts.search_rounds):
        moved = False
        for i in range(len(current)):
            if i in frozen:
                continue
            scored: list[tuple[float, int, PlannedStage | None]] = []
            for j, cand in enumerate(_candidates(plan_, current, i, first_day, opts)):
                trial = plan_.copy()
                trial[i] = cand
                scored.append((value(_kept(trial)), -j, cand))
            scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
            for v, _, cand in scored:
                if v <= best + 1e-9:
                    break
                trial = plan_.copy()
                trial[i] = cand
                if legal(_kept(trial)):
                    plan_, best, moved = trial, v, True
                    break
        if not moved:
            break
    return plan_


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class ChannelOption:
    """A stage that could go out by another channel, and the engagement evidence."""

    stage: int
    channel: str  # in force
    to: str
    sends: int
    bounced: int

    @property
    def bounce_share(self) -> float:
        return self.bounced / max(self.sends, 1)

    @property
    def lift_scale(self) -> float:
        """Lift of the new channel relative to the stage's fitted (bounce-averaged) lift."""
        return 1.0 / max(1.0 - self.bounce_share, 0.05)


def bounce_stats(wh: Any) -> dict[tuple[str, int, str], tuple[int, int]]:
    """``(segment, stage, channel) -> (sent, bounced)`` from ``marts.fct_message_engagement``
    (empty when the ledger has no message events)."""
    from arinsight.metrics import has_relation

    if not has_relation(wh, "marts", "fct_message_engagement"):
        return {}
    rows = wh.con.execute(
        "select segment, stage_number, channel, sum(count_sent), sum(count_bounced) "
        "from marts.fct_message_engagement where segment <> 'all' "
        "group by segment, stage_number, channel"
    ).fetchall()
    return {
        (str(seg), int(k), str(ch)): (int(n or 0), int(b or 0))
        for seg, k, ch, n, b in rows
        if k is not None
    }


def channel_options(
    cur: tuple[PlannedStage, ...],
    segment: str,
    bounces: Mapping[tuple[str, int, str], tuple[int, int]],
    opts: RecommenderOptions,
) -> dict[int, ChannelOption]:
    """Per stage position: the channel change the engagement data allow trying.

    A stage qualifies when its channel in force is tracked in the segment's message
    events with at least ``channel_min_sends`` sends, some of them bounced, and is
    neither the fallback channel nor the collection handover.
    """
    out: dict[int, ChannelOption] = {}
    for i, p in enumerate(cur):
        if p.is_handover or p.channel == opts.channel_fallback:
            continue
        got = bounces.get((segment, p.stage, p.channel))
        if got is None or got[0] < opts.channel_min_sends or got[1] <= 0:
            continue
        out[i] = ChannelOption(p.stage, p.channel, opts.channel_fallback, got[0], got[1])
    return out


def _switched(p: PlannedStage, o: ChannelOption) -> PlannedStage:
    return PlannedStage(p.stage, p.day, o.to, p.fee, o.lift_scale, p.channel)


def switch_channels(
    value: Callable[[tuple[PlannedStage, ...]], float],
    best: list[PlannedStage | None],
    options: Mapping[int, ChannelOption],
    legal: Callable[[tuple[PlannedStage, ...]], bool],
) -> list[PlannedStage | None]:
    """Greedily switch the channel of each qualifying stage when the objective gains."""
    out = best.copy()
    v = value(_kept(out))
    for i, o in sorted(options.items()):
        p = out[i]
        if p is None:
            continue
        trial = out.copy()
        trial[i] = _switched(p, o)
        vt = value(_kept(trial))
        if vt > v + 1e-9 and legal(_kept(trial)):
            out, v = trial, vt
    return out


def _channel_notes(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    cur: tuple[PlannedStage, ...],
    best: list[PlannedStage | None],
    options: Mapping[int, ChannelOption],
    rows: list[dict[str, Any]],
    nv: NetValue,
    opts: RecommenderOptions,
) -> None:
    """Say in each qualifying stage's row what the channel change does, or why not."""
    if not options:
        return
    vb = _values(fit, s, boot, _kept(best), nv, opts)
    for i, o in options.items():
        row = next(r for r in rows if r["stage_number"] == cur[i].stage)
        p = best[i]
        evidence = (
            f"{o.channel} bounced {o.bounced:,} of {o.sends:,} sends here "
            f"({100 * o.bounce_share:.1f} %), which reach nobody"
        )
        if p is None:
            row["rationale"] += f"; {evidence} (stage dropped, no channel change)"
            continue
        other = best.copy()
        other[i] = (
            PlannedStage(p.stage, p.day, o.channel, p.fee)
            if p.channel != o.channel
            else _switched(p, o)
        )
        d = _deltas(vb, _values(fit, s, boot, _kept(other), nv, opts))["net_value"]
        lo, hi = decide.interval(d, opts.interval_low_pct, opts.interval_high_pct)
        if p.channel != o.channel:
            row["rationale"] = decide.channel_rationale(
                stage_name=str(row["stage_name"]),
                channel=o.channel,
                to=o.to,
                evidence=evidence,
                cost_from=float(nv.channel_cost.get(o.channel, 0.0)),  # type: ignore[call-overload]
                cost_to=float(nv.channel_cost.get(o.to, 0.0)),  # type: ignore[call-overload]
                delta_low=lo,
                delta_high=hi,
                timing=row["rationale"] if p.day != cur[i].day else None,
            )
        else:
            # lo/hi: keeping the channel against switching it; the switch gains -hi..-lo
            row["rationale"] += "; " + decide.no_channel_change(
                channel=o.channel, to=o.to, evidence=evidence, gain_low=-hi, gain_high=-lo
            )


# --------------------------------------------------------------------------- bootstrap


@dataclass
class _Boot:
    """Bootstrap draws: parameters per group and segment, customer weights [B, customers]."""

    params: dict[int, Params]
    bumps: dict[int, F64]
    w: F64
    #: per segment: the weights of its book's customers (sliced once, so that replays
    #: can reuse their weighted sums)
    seg_w: dict[int, F64] = field(default_factory=dict)


def _draws(fit: _Fitted, inp: Inputs, opts: RecommenderOptions, seed: int) -> _Boot:
    """All bootstrap draws at once (``bootstrap.py``; same numbers as one draw at a time)."""
    from arinsight.ladder import bootstrap

    w = bootstrap.poisson_weights(opts.bootstrap_draws, int(inp.c_seg.size), seed)
    params = {
        g: bootstrap.group_params(fg, inp, fit.group_masks[g], w, (seed, g), opts.agency_only)
        for g, fg in fit.groups.items()
    }
    bumps = {k: bootstrap.churn_bumps(cm, w) for k, cm in fit.churn.items()}
    seg_w = {s: np.ascontiguousarray(w[:, book.cust_rows]) for s, book in fit.books.items()}
    return _Boot(params, bumps, w, seg_w)


def _point(fit: _Fitted, agency_only: bool) -> tuple[dict[int, Params], dict[int, F64]]:
    params = {g: Params.stack([fg.model]) for g, fg in fit.groups.items()}
    for p in params.values():
        p.agency_only = agency_only
    bumps = {k: cm.bumps()[None, :] for k, cm in fit.churn.items()}
    return params, bumps


def _values(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    ladder: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
) -> SegmentValue:
    book = fit.books[s]
    w = boot.seg_w.get(s)
    if w is None:
        w = boot.seg_w[s] = np.ascontiguousarray(boot.w[:, book.cust_rows])
    return evaluate(book, boot.params, boot.bumps, ladder, nv, opts, w)


def _deltas(a: SegmentValue, b: SegmentValue) -> dict[str, list[float]]:
    return {
        "net_value": list(a.net_value - b.net_value),
        "dso": list(a.days_open - b.days_open),
        "recovery": list(a.recovery_pct - b.recovery_pct),
        "churn": list(a.churn - b.churn),
    }


# --------------------------------------------------------------------------- main


def default_legality(
    current: Ladder, customer_types: Mapping[str, str]
) -> Callable[[Ladder], bool]:
    """A ladder is acceptable when it adds no legal finding the ladder in force lacks.

    Uses ``arinsight.ladder.rules.check_ladder`` (German/EU rules); a finding is
    identified by (rule, segment, stage).
    """
    try:
        from arinsight.ladder.rules import check_ladder
    except ImportError:  # the legal check is not available in this build
        return lambda _ladder: True

    def key(f: Any) -> tuple[str, str, str]:
        return (str(f.rule), str(f.segment), str(f.stage))

    def findings(ladder: Ladder) -> set[tuple[str, str, str]]:
        # the default stages count only while a segment of the data still uses them
        # (unused, the check reads them under both customer types)
        uses_default = any(seg not in ladder.segments for seg in customer_types)
        return {
            key(f)
            for f in check_ladder(ladder, customer_types)
            if f.segment in customer_types or (f.segment == "default" and uses_default)
        }

    base = findings(current)

    def legal(ladder: Ladder) -> bool:
        return findings(ladder) <= base

    return legal


def recommend(
    db: str | Path | None,
    *,
    ladder_path: str | Path | None = None,
    seed: int = 0,
    options: RecommenderOptions | None = None,
    legality: Callable[[Ladder], bool] | None = None,
    progress: Callable[[str], Any] | None = None,
) -> Recommendation:
    """Recommend a ladder from the warehouse at ``db``.

    Args:
        db: warehouse path (None: ``ARINSIGHT_DB`` or the default).
        ladder_path: the ladder in force as a file (None: ``meta.ladders``).
        seed: seed of the bootstrap.
        options: recommender options (None: ``defaults/recommender.yaml``).
        legality: predicate every proposed ladder must pass (None: no new legal findings).
        progress: called with a short message per step.

    Raises:
        WarehouseMissing: no warehouse at ``db``.
        NotEnoughData: the input marts are missing, empty, or too small everywhere.
        ConfigError: no ladder in force, or an invalid ladder file.
    """
    import time

    from arinsight import connect
    from arinsight.config import load_settings
    from arinsight.ladder.inputs import ladder_in_force
    from arinsight.ladder.options import load_options

    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    opts = options or load_options()
    nv = load_settings().net_value
    with connect(str(db) if db is not None else None) as wh:
        inp = read_inputs(wh)
        current, source = ladder_in_force(wh, ladder_path, inp.as_of)
        bounces = bounce_stats(wh)
    n_und = np.bincount(inp.seg[~inp.disputed & (inp.seg >= 0)], minlength=len(inp.segments))
    segs = [s for s in range(len(inp.segments)) if n_und[s] >= opts.min_segment_invoices]
    if not segs:
        raise NotEnoughData(
            f"too little history to recommend: no segment has {opts.min_segment_invoices} "
            f"undisputed invoices (largest: {int(n_und.max()) if n_und.size else 0}); "
            "load more months of ledger and run `arinsight build`"
        )
    say(f"fitting the response model on {inp.n_invoices:,} invoices")
    fit = _fit_all(
        inp, opts, nv, segs, {s: current.for_segment(inp.segments[s]) for s in segs}, seed
    )
    legal_full = legality or default_legality(current, inp.customer_types)
    say(f"bootstrap: {opts.bootstrap_draws} draws over customers")
    boot = _draws(fit, inp, opts, seed)
    point, point_bumps = _point(fit, opts.agency_only)
    proposal = current
    rows: list[dict[str, Any]] = []
    experiments: dict[str, Any] = {}
    seg_plans: dict[str, _SegmentPlans] = {}
    now = dt.datetime.now().replace(microsecond=0)
    for s in segs:
        seg = inp.segments[s]
        say(f"searching ladders for segment {seg}")
        template = current.for_segment(seg)
        cur_plan = plan(template)
        book = fit.books[s]
        bumps = point_bumps
        first_day = int(inp.issue_rel[inp.seg == s].max()) + 1

        sends_now = _channel_sends(
            cur_plan, evaluate(book, point, bumps, cur_plan, nv, opts).stage_events[0]
        )
        arms = compare_arms(
            inp, s, nv, {st.stage: st.channel for st in template}, seed, opts.bootstrap_draws
        )
        start = treatment_plan(cur_plan, arms) if arms and arms.favours_treatment() else None
        first_now = _channel_first_day(cur_plan)
        if start is not None:  # the better arm's reach has been observed too
            sends_now = np.maximum(
                sends_now,
                _channel_sends(
                    start, evaluate(book, point, bumps, start, nv, opts).stage_events[0]
                ),
            )
            first_now = np.minimum(first_now, _channel_first_day(start))
        if arms is not None:
            experiments[seg] = {
                "control": arms.control,
                "treatment": arms.treatment,
                "customers": [arms.customers_control, arms.customers_treatment],
                "delta_net_value_per_customer": round(arms.delta_per_customer, 2),
                "interval_80": [round(arms.low80, 2), round(arms.high80, 2)],
                "interval_95": [round(arms.low95, 2), round(arms.high95, 2)],
                "method": "bootstrap over customers, realised value per customer",
                "treatment_days": arms.treatment_days,
                "search_started_from_treatment": start is not None,
            }

        def value(
            p: tuple[PlannedStage, ...],
            _b: SegmentBook = book,
            _u: dict[int, F64] = bumps,
            _now: F64 = sends_now,
            _first: F64 = first_now,
        ) -> float:
            if not decide.handover_within_trust_region(
                [q.day for q in p if q.is_handover], _first[_AGENCY]
            ):
                return -math.inf
            v = evaluate(_b, point, _u, p, nv, opts)
            if not decide.within_trust_region(
                _channel_sends(p, v.stage_events[0]),
                _now,
                opts.max_send_ratio,
                opts.min_stage_events,
                _channel_first_day(p),
                _first,
            ):
                return -math.inf
            return float(v.net_value[0])

        def legal(
            p: tuple[PlannedStage, ...],
            _seg: str = seg,
            _tpl: tuple[Stage, ...] = template,
            _base: Ladder = proposal,
        ) -> bool:
            # a stage a `route` rule names stays: the route is the user's policy for it
            # (and a ladder whose route names a missing stage is invalid)
            routed = {r.stage for r in current.route if r.applies_to(_seg)}
            if not routed <= {q.stage for q in p}:
                return False
            stages = _stages_of(list(p), tuple(_stage_for(_tpl, q) for q in p))
            return legal_full(_with_segment(_base, _seg, stages))

        sends = _stage_events(inp, s)
        frozen = frozenset(
            i for i, c in enumerate(cur_plan) if sends[c.stage] < opts.min_stage_events
        )
        best = search_segment(value, cur_plan, first_day, opts, legal, start, frozen)
        if not _drop_carried(fit, s, boot, cur_plan, best, nv, opts, inp):
            # the evidence does not carry dropping the handover: the best ladder with it
            # (its day searched as before)
            keep_opts = opts.model_copy(update={"drop_handover": False})
            best = search_segment(value, cur_plan, first_day, keep_opts, legal, start, frozen)
        switches = channel_options(cur_plan, seg, bounces, opts)
        best = switch_channels(value, best, switches, legal)
        best = _prune(fit, s, boot, cur_plan, best, nv, opts, inp)
        seg_rows, final = _rows_for_segment(
            fit, s, boot, template, cur_plan, best, nv, opts, inp, source, now
        )
        _channel_notes(fit, s, boot, cur_plan, best, switches, seg_rows, nv, opts)
        if seg in experiments:
            e = experiments[seg]
            seg_rows[-1]["rationale"] += (
                f"; randomised experiment {e['treatment']} vs {e['control']}: "
                f"{e['delta_net_value_per_customer']:+,.2f} EUR per customer "
                f"(80 %: {e['interval_80'][0]:+,.2f} to {e['interval_80'][1]:+,.2f}, "
                f"n = {e['customers'][1]} / {e['customers'][0]})"
            )
        if book.weight is not None:
            seg_rows[-1]["rationale"] += (
                f"; replayed on a stratified sample of {book.cust_rows.size:,} of "
                f"{int((inp.c_seg == s).sum()):,} customers, scaled back to all of them"
            )
        rows.extend(seg_rows)
        hand = _handover_index(cur_plan)
        seg_plans[seg] = _SegmentPlans(
            s,
            cur_plan,
            final,
            int(sends[cur_plan[hand].stage]) if hand >= 0 else 0,
            int(sends.sum()),
        )
        if final != list(cur_plan):
            proposal = _with_segment(proposal, seg, _stages_of(final, template))
    proposal = _tidy(proposal, current)
    # retry schedules per failure reason and channel advice (issue 16; ladder/retries.py)
    from arinsight.ladder.retries import extend as extend_with_retries

    proposal, retry_summary = extend_with_retries(db, proposal, current, rows)
    # a gentler path for likely payers where the evidence carries it (issue 17)
    from arinsight.ladder.route_threshold import extend as extend_with_routes

    say("route rules: break-even threshold per handover")
    proposal, route_summary = extend_with_routes(
        db, proposal, current, rows, judge=_call_judge(fit, boot, seg_plans, nv, opts)
    )
    for seg, sp in seg_plans.items():
        hand = _handover_index(sp.current)
        if hand >= 0 and sp.final[hand] is None:  # no route on a handover the proposal drops
            route_summary["routes"].append(
                {
                    "segment": seg,
                    "stage_number": sp.current[hand].stage,
                    "count_handed_over": sp.n_handovers,
                    "proposed": False,
                    "rationale": "the proposal drops the handover (nothing in its place): "
                    "no route on it",
                }
            )
    summary = {
        "groups": {
            fit.group_names[g]: {
                "invoices": fg.model.n_invoices,
                "never_pay_share": round(fg.model.pi, 4),
                "natural_days_after_due_mean": round(fg.model.mu, 2),
                "natural_days_sd": round(fg.model.sigma, 2),
                "lift_half_life_days": round(fg.model.half_life, 2),
                "responsiveness_days": round(fg.model.responsiveness, 1),
                "lift_per_stage": [round(float(x), 4) for x in fg.model.lam],
                "agency_own_recovery_share": round(fg.model.rho, 3),
                "handover_age_days_mean": round(fg.model.handover_ref, 1),
                "agency_recovery_halving_days": round(fg.model.agency_halving, 1)
                if math.isfinite(fg.model.agency_halving)
                else None,
                "agency_halving_source": "fitted"
                if fg.halving_from_data
                else ("prior" if fg.halving_post.size else "no handovers"),
            }
            for g, fg in fit.groups.items()
        },
        "churn": {
            inp.segments[-1 - k]: {
                "customers": cm.n_customers,
                "churned": cm.n_churned,
                "background_per_year": round(cm.base() * 365, 4),
                # kinds: fit.churn_kind_names() (channel sends, after payment, per EUR fee)
                "excess_per_event": dict(
                    zip(churn_kind_names(), (round(float(x), 5) for x in cm.bumps()), strict=True)
                ),
            }
            for k, cm in fit.churn.items()
        },
        "skipped_segments": [inp.segments[s] for s in range(len(inp.segments)) if s not in segs],
        "replay_sample": {
            inp.segments[s]: {
                "customers": int((inp.c_seg == s).sum()),
                "sampled": int(fit.books[s].cust_rows.size),
                "method": "stratified by behaviour segment, seeded; weight N_h / n_h",
            }
            for s in segs
            if fit.books[s].weight is not None
        },
        "experiments": experiments,
        **retry_summary,
        **route_summary,
        "check": {
            inp.segments[s]: fit_check(
                fit, inp, s, plan(current.for_segment(inp.segments[s])), nv, opts
            )
            for s in segs
        },
    }
    return Recommendation(
        ladder=proposal,
        current=current,
        rows=rows,
        source=source,
        fit_summary=summary,
        seconds=round(time.perf_counter() - t0, 2),
    )


def fit_check(
    fit: _Fitted,
    inp: Inputs,
    s: int,
    ladder: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
) -> dict[str, float]:
    """The fitted model's prediction under the ladder in force next to what the ledger shows.

    Observed, over the segment's undisputed invoices: the amount-weighted share still
    open at the end of the due date, and of that amount the share settled by payment
    within 90 days of due (cohorts whose 90 days are observed; an invoice counts with
    its full amount when it settles). Predicted: the same from the replay.
    """
    params, bumps = _point(fit, opts.agency_only)
    v = evaluate(fit.books[s], params, bumps, ladder, nv, opts)
    m = (inp.seg == s) & ~inp.disputed
    amt = inp.amount[m]
    st = inp.settled_rel[m]
    paid = inp.settled_by[m] == 1
    open_due = ~(paid & (st <= 0)) & ~((inp.settled_by[m] > 1) & (st <= 0))
    cohort = open_due & (inp.asof_rel[m] >= 90)
    rec = cohort & paid & (st > 0) & (st <= 90)
    return {
        "open_at_due_pct_predicted": round(float(v.open_at_due_pct[0]), 2),
        "open_at_due_pct_observed": round(
            100.0 * float(amt[open_due].sum() / max(amt.sum(), 1e-9)), 2
        ),
        "recovery_90_pct_predicted": round(float(v.recovery_pct[0]), 2),
        "recovery_90_pct_observed": round(
            100.0 * float(amt[rec].sum() / max(amt[cohort].sum(), 1e-9)), 2
        ),
    }


def _channel_sends(ladder: tuple[PlannedStage, ...], stage_sends: F64) -> F64:
    """A channel's reach: the sends of its most-sent stage (the earliest one), per channel."""
    from arinsight.contract import CHANNELS

    out = np.zeros(len(CHANNELS))
    for p in ladder:
        i = CHANNELS.index(p.observed_channel)
        out[i] = max(out[i], float(stage_sends[p.stage]))
    return out


def _channel_first_day(ladder: tuple[PlannedStage, ...]) -> F64:
    """Per channel (``contract.CHANNELS`` order): the day of its first send (inf: unused)."""
    from arinsight.contract import CHANNELS

    out = np.full(len(CHANNELS), np.inf)
    for p in ladder:
        i = CHANNELS.index(p.observed_channel)
        out[i] = min(out[i], float(p.day))
    return out


def _stage_for(template: tuple[Stage, ...], p: PlannedStage) -> Stage:
    return next(s for s in template if s.stage == p.stage)


def _restore(
    best: list[PlannedStage | None], cur: tuple[PlannedStage, ...], i: int
) -> list[PlannedStage | None] | None:
    trial = best.copy()
    trial[i] = cur[i]
    days = [p.day for p in trial if p is not None]
    if days != sorted(days) or len(set(days)) != len(days):
        return None
    return trial


def _prune(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    cur: tuple[PlannedStage, ...],
    best: list[PlannedStage | None],
    nv: NetValue,
    opts: RecommenderOptions,
    inp: Inputs,
) -> list[PlannedStage | None]:
    """Undo the changes the evidence does not carry.

    A stage goes back to its current timing when it rests on too few sends or when
    undoing it alone gains in at least half of the bootstrap draws (weakest first);
    then the whole segment goes back when the 80 % interval of its Δ net value
    includes 0 (``decide.stage_keep`` / ``decide.segment_keep``).
    """
    n_events = _stage_events(inp, s)
    while True:
        changed = [i for i in range(len(cur)) if best[i] != cur[i]]
        if not changed:
            return best
        vb = _values(fit, s, boot, _kept(best), nv, opts)
        worst: tuple[float, int] | None = None
        for i in changed:
            trial = _restore(best, cur, i)
            if trial is None:
                continue
            dv = _deltas(vb, _values(fit, s, boot, _kept(trial), nv, opts))["net_value"]
            share = float(np.mean(np.asarray(dv) > 0.0))
            keep = decide.stage_keep(int(n_events[cur[i].stage]), opts.min_stage_events, share)
            if not keep and (worst is None or share < worst[0]):
                worst = (share, i)
        if worst is None:
            break
        restored = _restore(best, cur, worst[1])
        assert restored is not None
        best = restored
    if not _drop_carried(fit, s, boot, cur, best, nv, opts, inp):
        restored = _handover_back(best, cur, _handover_index(cur), opts)
        best = restored if restored is not None else list(cur)
    if not decide.segment_keep(_net_value_low(fit, s, boot, _kept(best), cur, nv, opts)):
        return list(cur)
    return best


def _net_value_low(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    a: tuple[PlannedStage, ...],
    b: tuple[PlannedStage, ...],
    nv: NetValue,
    opts: RecommenderOptions,
) -> float:
    """Low end of the 80 % bootstrap interval of Δ net value, ladder ``a`` minus ``b``."""
    dv = _deltas(_values(fit, s, boot, a, nv, opts), _values(fit, s, boot, b, nv, opts))
    lo, _hi = decide.interval(dv["net_value"], opts.interval_low_pct, opts.interval_high_pct)
    return lo


def _handover_index(cur: tuple[PlannedStage, ...]) -> int:
    """Position of the collection handover in the ladder in force (-1: none)."""
    return next((i for i, c in enumerate(cur) if c.is_handover), -1)


def _handover_back(
    best: list[PlannedStage | None],
    cur: tuple[PlannedStage, ...],
    i: int,
    opts: RecommenderOptions,
) -> list[PlannedStage | None] | None:
    """``best`` with the handover (position ``i``) back at its current day; when a stage
    has moved past that day, just after the last stage kept (never earlier than
    today). None when that is impossible (the handover is not the last stage)."""
    trial = _restore(best, cur, i)
    if trial is not None:
        return trial
    kept_days = [p.day for j, p in enumerate(best) if p is not None and j != i]
    if i != len(cur) - 1 or not kept_days:
        return None
    trial = best.copy()
    trial[i] = replace(cur[i], day=max(cur[i].day, max(kept_days) + opts.min_gap_days))
    return trial


def min_handovers(opts: RecommenderOptions) -> int:
    """Handovers a segment needs before a proposal may drop its handover: the stage
    evidence rule (``min_stage_events``) and never fewer than a route needs
    (``route_threshold.MIN_HANDED_OVER``)."""
    from arinsight.ladder.route_threshold import MIN_HANDED_OVER

    return max(opts.min_stage_events, MIN_HANDED_OVER)


def _drop_carried(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    cur: tuple[PlannedStage, ...],
    best: list[PlannedStage | None],
    nv: NetValue,
    opts: RecommenderOptions,
    inp: Inputs,
) -> bool:
    """False when ``best`` drops the handover and the evidence does not carry it
    (``decide.handover_drop_keep``: enough handovers, the drop's own 80 % interval of
    Δ net value against the handover at its current day above 0); True otherwise."""
    i = _handover_index(cur)
    if i < 0 or best[i] is not None:
        return True
    trial = _handover_back(best, cur, i, opts)
    if trial is None:
        return False
    lo = _net_value_low(fit, s, boot, _kept(best), _kept(trial), nv, opts)
    n = int(_stage_events(inp, s)[cur[i].stage])
    return decide.handover_drop_keep(n, min_handovers(opts), lo)


def _stage_events(inp: Inputs, s: int) -> F64:
    from arinsight.ladder.inputs import NEVER

    m = inp.seg == s
    out: F64 = (inp.sent[m] < NEVER).sum(axis=0).astype(np.float64)
    return out


def _rows_for_segment(
    fit: _Fitted,
    s: int,
    boot: _Boot,
    template: tuple[Stage, ...],
    cur: tuple[PlannedStage, ...],
    best: list[PlannedStage | None],
    nv: NetValue,
    opts: RecommenderOptions,
    inp: Inputs,
    source: str,
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], list[PlannedStage | None]]:
    seg = inp.segments[s]
    n_events = _stage_events(inp, s)
    n_inv = int(((inp.seg == s) & ~inp.disputed).sum())
    vb = _values(fit, s, boot, _kept(best), nv, opts)
    point = {g: fg.model for g, fg in fit.groups.items()}
    lo_p, hi_p = opts.interval_low_pct, opts.interval_high_pct
    models = [point[g] for g, _a in fit.books[s].cells]
    rows: list[dict[str, Any]] = []

    def stats(d: dict[str, list[float]]) -> dict[str, float]:
        return _stats(d, lo_p, hi_p)

    for i, (c, st) in enumerate(zip(cur, template, strict=True)):
        p = best[i]
        if p == c:
            d = {k: [0.0] * opts.bootstrap_draws for k in ("net_value", "dso", "recovery", "churn")}
            verdict: decide.Verdict = (
                "no_change_small_n"
                if n_events[c.stage] < opts.min_stage_events
                else "no_change_evidence"
            )
        else:
            trial = _restore(best, cur, i)
            ref = (
                _values(fit, s, boot, _kept(trial), nv, opts)
                if trial
                else _values(fit, s, boot, cur, nv, opts)
            )
            d = _deltas(vb, ref)
            verdict = "change"
        st_ = stats(d)
        amp = max(
            (float(m.lam[c.stage]) * math.exp(-max(c.day, 0) / m.responsiveness) for m in models),
            default=0.0,
        )
        hl = float(np.median([m.half_life for m in models])) if models else 0.0
        prev_amp = 0.0
        if i > 0:
            prev_amp = max(
                (
                    float(m.lam[cur[i - 1].stage])
                    * math.exp(-max(cur[i - 1].day, 0) / m.responsiveness)
                    for m in models
                ),
                default=0.0,
            )
        fade = decide.response_fade_days(prev_amp if i > 0 else amp, hl, FADE_FLOOR)
        text = decide.rationale(
            stage_name=st.name,
            current_day=c.day,
            proposed_day=p.day if p is not None else None,
            verdict=verdict,
            n_events=int(n_events[c.stage]),
            min_events=opts.min_stage_events,
            delta_low=st_["delta_net_value_amount_low"],
            delta_high=st_["delta_net_value_amount_high"],
            fade_days=fade,
            next_gap_days=(c.day - cur[i - 1].day) if i > 0 else None,
        )
        if verdict == "change" and c.is_handover and p is None:
            from arinsight.ladder.replay import WRITE_OFF_AFTER_DUE

            facts = _agency_facts(fit, s, nv)
            text = decide.handover_drop_rationale(
                stage_name=st.name,
                current_day=c.day,
                recovery_share=_agency_rho(fit, s),
                churn_per_case=facts["churn_per_case"],
                cost_per_case=facts["cost_per_case"],
                commission_pct=facts["commission_pct"],
                lifetime_value=float(nv.lifetime_value(seg)),
                write_off_day=WRITE_OFF_AFTER_DUE,
                delta_low=st_["delta_net_value_amount_low"],
                delta_high=st_["delta_net_value_amount_high"],
            )
        if verdict == "change" and c.is_handover and p is not None and p.day != c.day:
            text = decide.handover_rationale(
                stage_name=st.name,
                current_day=c.day,
                proposed_day=p.day,
                **_agency_facts(fit, s, nv),
                delta_low=st_["delta_net_value_amount_low"],
                delta_high=st_["delta_net_value_amount_high"],
            )
        rows.append(
            {
                "segment": seg,
                "stage_number": c.stage,
                "stage_name": st.name,
                "current_offset_days": c.day,
                "proposed_offset_days": p.day if p is not None else None,
                "current_channel": c.channel,
                "proposed_channel": p.channel if p is not None else None,
                "current_fee_amount": c.fee,
                "proposed_fee_amount": p.fee if p is not None else None,
                "rationale": text,
                "evidence_count_events": int(n_events[c.stage]),
                "evidence_count_invoices": n_inv,
                **st_,
                "confidence": decide.confidence_flag(
                    st_["delta_net_value_amount_low"],
                    st_["delta_net_value_amount_high"],
                    int(n_events[c.stage]),
                    opts.min_stage_events,
                )
                if verdict == "change"
                else ("none" if verdict == "no_change_small_n" else "low"),
                "ladder_source": source,
                "recommended_at": now,
            }
        )
    # the whole segment ladder
    d = _deltas(vb, _values(fit, s, boot, cur, nv, opts))
    st_ = stats(d)
    changed = best != list(cur)
    rows.append(
        {
            "segment": seg,
            "stage_number": -1,
            "stage_name": "whole ladder",
            "current_offset_days": None,
            "proposed_offset_days": None,
            "current_channel": None,
            "proposed_channel": None,
            "current_fee_amount": None,
            "proposed_fee_amount": None,
            "rationale": (
                "all changes of this segment together"
                if changed
                else "no change: no ladder the search found beats the one in force with an "
                "80 % interval of Δ net value above 0"
            ),
            "evidence_count_events": int(n_events.sum()),
            "evidence_count_invoices": n_inv,
            **st_,
            "confidence": decide.confidence_flag(
                st_["delta_net_value_amount_low"],
                st_["delta_net_value_amount_high"],
                int(n_events.sum()),
                opts.min_stage_events,
            )
            if changed
            else "low",
            "ladder_source": source,
            "recommended_at": now,
        }
    )
    return rows, best


def _stats(d: dict[str, list[float]], lo_p: float, hi_p: float) -> dict[str, float]:
    """The row columns of bootstrap deltas: median and 80 % interval of each."""
    out: dict[str, float] = {}
    for k, col in (
        ("net_value", "delta_net_value_amount"),
        ("dso", "delta_dso_days"),
        ("recovery", "delta_recovery_pct"),
        ("churn", "delta_involuntary_churn"),
    ):
        lo, hi = decide.interval(d[k], lo_p, hi_p)
        out[col] = float(np.median(d[k]))
        out[f"{col}_low"] = lo
        out[f"{col}_high"] = hi
    return out


@dataclass
class _SegmentPlans:
    """What a later step needs to replay a segment's proposal again."""

    s: int
    current: tuple[PlannedStage, ...]
    final: list[PlannedStage | None]
    n_handovers: int
    n_events: int


def _call_judge(
    fit: _Fitted,
    boot: _Boot,
    plans: Mapping[str, _SegmentPlans],
    nv: NetValue,
    opts: RecommenderOptions,
) -> Callable[[str, int], tuple[bool, dict[str, Any], dict[str, Any], str]]:
    """``judge(segment, stage)`` for ``route_threshold.extend``: may the phone call
    replace the segment's handover, on the fitted model with the bootstrap's caution?

    The call goes out on the handover's proposed day, costs its channel cost and the
    fitted churn of a phone send; its lift is not counted (the ledger has no phone
    stage). Returns ``(ok, row, whole, why)``: ``ok`` when the replacement's own 80 %
    interval of Δ net value against the handover at its proposed day lies above 0 and
    the segment has ``min_handovers`` handovers; ``row`` the handover row's columns
    for the whole option (call at the proposed day against the handover at its
    current day); ``whole`` the segment's whole-ladder columns with the call.
    """
    lo_p, hi_p = opts.interval_low_pct, opts.interval_high_pct

    def judge(seg: str, stage: int) -> tuple[bool, dict[str, Any], dict[str, Any], str]:
        sp = plans[seg]
        i = _handover_index(sp.current)
        p = sp.final[i] if i >= 0 else None
        if p is None:
            return False, {}, {}, "no handover in the proposal"
        call = PlannedStage(stage, p.day, "phone", 0.0, 0.0)
        with_call = sp.final.copy()
        with_call[i] = call
        back = _restore(sp.final, sp.current, i) or list(sp.current)
        v_call = _values(fit, sp.s, boot, _kept(with_call), nv, opts)
        own = _stats(
            _deltas(v_call, _values(fit, sp.s, boot, _kept(sp.final), nv, opts)), lo_p, hi_p
        )
        row: dict[str, Any] = _stats(
            _deltas(v_call, _values(fit, sp.s, boot, _kept(back), nv, opts)), lo_p, hi_p
        )
        whole: dict[str, Any] = _stats(
            _deltas(v_call, _values(fit, sp.s, boot, sp.current, nv, opts)), lo_p, hi_p
        )
        for cols, n in ((row, sp.n_handovers), (whole, sp.n_events)):
            cols["confidence"] = decide.confidence_flag(
                cols["delta_net_value_amount_low"],
                cols["delta_net_value_amount_high"],
                n,
                opts.min_stage_events,
            )
        lo, hi = own["delta_net_value_amount_low"], own["delta_net_value_amount_high"]
        need = min_handovers(opts)
        if sp.n_handovers < need:
            return (
                False,
                row,
                whole,
                (
                    f"only {sp.n_handovers} handovers here (need {need}) to weigh the agency "
                    "on the fitted model"
                ),
            )
        ok = lo > 0.0
        why = (
            f"on the fitted model the call instead of the agency (its lift not counted: the "
            f"ledger has no phone stage) changes net value by {lo:,.0f} to {hi:,.0f} EUR "
            "(80 %)"
        )
        return ok, row, whole, why if ok else f"{why}: an interval that is not above 0"

    return judge


def _agency_facts(fit: _Fitted, s: int, nv: NetValue) -> dict[str, Any]:
    """What a handover rationale says about the segment's agency (largest group's fit)."""
    from arinsight.contract import CHANNELS

    gs = sorted({g for g, _a in fit.books[s].cells}, key=lambda g: -fit.groups[g].model.n_invoices)
    fg = fit.groups[gs[0]]
    cm = fit.churn[fit.books[s].disp_key]
    return {
        "halving_days": fg.model.agency_halving,
        "halving_from_data": fg.halving_from_data,
        "churn_per_case": float(cm.bumps()[CHANNELS.index("collection_agency")]),
        "cost_per_case": float(nv.channel_cost.get("collection_agency", 0.0)),
        "commission_pct": float(nv.agency_commission_pct),
    }


def _agency_rho(fit: _Fitted, s: int) -> float:
    """The agency's fitted own recovery share in segment ``s`` (groups weighted by
    their invoices)."""
    gs = sorted({g for g, _a in fit.books[s].cells})
    n = np.array([fit.groups[g].model.n_invoices for g in gs], dtype=np.float64)
    rho = np.array([fit.groups[g].model.rho for g in gs], dtype=np.float64)
    return float((n * rho).sum() / n.sum()) if n.sum() > 0 else float(rho.mean())


def _tidy(proposal: Ladder, current: Ladder) -> Ladder:
    """Name the proposal; drop per-segment entries identical to the default."""
    segs = {
        k: v for k, v in proposal.segments.items() if v != proposal.default or k in current.segments
    }
    return proposal.model_copy(update={"segments": segs, "name": f"{current.name}-recommended"})


def write_mart(
    db: str | Path | None,
    rows: list[dict[str, Any]],
    retry_rows: list[dict[str, Any]] | None = None,
) -> None:
    """Replace ``marts.ladder_recommendations`` with ``rows`` and, when
    ``retry_rows`` is given, ``marts.retry_recommendations`` with those
    (``arinsight.ladder.retries.advice_rows``; no rows: an empty table, so no
    advice of an earlier run lingers) -- one transaction."""
    import polars as pl

    from arinsight.warehouse import Warehouse, transaction

    schema = {
        c: (
            pl.Utf8
            if c
            in (
                "segment",
                "stage_name",
                "current_channel",
                "proposed_channel",
                "rationale",
                "confidence",
                "ladder_source",
            )
            else pl.Int64
            if c
            in (
                "stage_number",
                "current_offset_days",
                "proposed_offset_days",
                "evidence_count_events",
                "evidence_count_invoices",
            )
            else pl.Datetime("us")
            if c == "recommended_at"
            else pl.Float64
        )
        for c in COLUMNS
    }
    frame = pl.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], schema=schema)
    with Warehouse.open(db, read_only=False) as wh, transaction(wh.con):
        wh.con.register("recs", frame)
        wh.con.execute("create or replace table marts.ladder_recommendations as select * from recs")
        wh.con.unregister("recs")
        if retry_rows is not None:
            from arinsight.ladder.retries import advice_frame

            wh.con.register("retry_recs", advice_frame(retry_rows))
            wh.con.execute(
                "create or replace table marts.retry_recommendations as select * from retry_recs"
            )
            wh.con.unregister("retry_recs")


__all__ = [
    "ChannelOption",
    "Recommendation",
    "bounce_stats",
    "channel_options",
    "default_legality",
    "recommend",
    "search_segment",
    "switch_channels",
    "write_mart",
]
_ = (dt, NotEnoughData)
