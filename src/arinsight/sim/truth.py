"""Ground truth of a run, computed from the engine's own arrays (never from SQL).

``truth.json`` has two kinds of numbers (keys documented in docs/simulator.md):

* **KPIs** over the horizon, i.e. exactly what the written files contain: DSO per
  month end, recovery, churn, fee income, dunning cost, ledger totals.
* **The ladder objective** (net value, as declared in settings ``net_value``)
  over the horizon *plus* the world's run-out period, so that every invoice
  issued in the horizon is followed to (near) resolution; overall, per segment
  and per experiment arm.

Amounts in EUR rounded to cents, DSO in days, ratios 0-1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from arinsight.config import Ladder, Settings
from arinsight.contract import CHANNELS
from arinsight.sim.engine import NON_PAYMENT, VOLUNTARY, SimResult, _month_starts

#: Bumped when a key changes meaning or disappears.
TRUTH_SCHEMA_VERSION = 1
RECOVERY_HORIZONS = (30, 60, 90, 180)


def _eur(cents: float) -> float:
    return round(float(cents) / 100.0, 2)


def _ratio(num: float, den: float, nd: int = 6) -> float | None:
    return round(float(num) / float(den), nd) if den > 0 else None


def _by_day(day: Any, weight: Any, group: Any, n_groups: int, n_days: int) -> Any:
    """Sum of ``weight`` per (group, day) as an ``[n_groups, n_days]`` float64 array."""
    day = np.asarray(day, dtype=np.int64)
    keep = (day >= 0) & (day < n_days)
    key = np.asarray(group, dtype=np.int64)[keep] * n_days + day[keep]
    w = np.asarray(weight, dtype=np.float64)[keep]
    return np.bincount(key, weights=w, minlength=n_groups * n_days).reshape(n_groups, n_days)


def _dso(r: SimResult, window: int) -> dict[str, Any]:
    """DSO at each month end: AR(t) / S(t - window, t] * window, overall and per segment.

    AR(t) = amount issued <= t - payments <= t - adjustments <= t (the engine never
    lets an invoice's open amount go below 0, so no floor is needed);
    S(a, b] = amount issued in (a, b] - credit notes dated in (a, b].
    """
    h = r.horizon_days
    nseg = len(r.segment_names)
    i_seg = r.c_segment[r.i_customer]
    issued = _by_day(r.i_issue, r.i_amount, i_seg, nseg, h)
    ph = r.p_day < h
    paid = _by_day(r.p_day[ph], r.p_amount[ph], i_seg[r.p_invoice[ph]], nseg, h)
    ah = r.a_day < h
    adj = _by_day(r.a_day[ah], r.a_amount[ah], i_seg[r.a_invoice[ah]], nseg, h)
    cn = ah & (r.a_kind == 0)
    credit = _by_day(r.a_day[cn], r.a_amount[cn], i_seg[r.a_invoice[cn]], nseg, h)
    ar = np.cumsum(issued - paid - adj, axis=1)
    sales_cum = np.cumsum(issued - credit, axis=1)
    month_ends = _month_starts(r.world, r.months)[1:] - 1
    start = r.world.start_date

    def series(ar_row: Any, s_row: Any) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for t in month_ends:
            lo = t - window
            s = s_row[t] - (s_row[lo] if lo >= 0 else 0.0)
            key = (start + dt.timedelta(days=int(t))).isoformat()
            out[key] = round(float(ar_row[t]) / float(s) * window, 4) if s > 0 else None
        return out

    complete = [t for t in month_ends if t - window >= -1]
    return {
        "window_days": window,
        "first_complete_month_end": (
            (start + dt.timedelta(days=int(complete[0]))).isoformat() if complete else None
        ),
        "overall": series(ar.sum(axis=0), sales_cum.sum(axis=0)),
        "by_segment": {name: series(ar[i], sales_cum[i]) for i, name in enumerate(r.segment_names)},
        "ar_at_end": _eur(ar.sum(axis=0)[-1]) if h else 0.0,
    }


def _recovery(r: SimResult) -> dict[str, Any]:
    """Share of the amount overdue at due date that is paid within h days after due.

    Overdue cases: invoices still open at the end of their due date. Only cohorts
    whose ``due + h`` lies inside the horizon count for horizon h.
    """
    h = r.horizon_days
    n_inv = r.i_issue.size
    due = r.i_due.astype(np.int64)
    ph = r.p_day < h
    p_inv = r.p_invoice[ph].astype(np.int64)
    p_rel = r.p_day[ph].astype(np.int64) - due[p_inv]
    p_amt = r.p_amount[ph].astype(np.float64)
    ah = r.a_day < h
    a_inv = r.a_invoice[ah].astype(np.int64)
    a_rel = r.a_day[ah].astype(np.int64) - due[a_inv]
    paid_by_due = np.bincount(p_inv[p_rel <= 0], weights=p_amt[p_rel <= 0], minlength=n_inv)
    adj_by_due = np.bincount(
        a_inv[a_rel <= 0], weights=r.a_amount[ah][a_rel <= 0].astype(np.float64), minlength=n_inv
    )
    open_due = r.i_amount - paid_by_due - adj_by_due
    overdue = open_due > 0.5
    seg = r.c_segment[r.i_customer].astype(np.int64)
    nseg = len(r.segment_names)

    def block(mask_inv: Any) -> dict[str, Any]:
        res: dict[str, Any] = {}
        for hz in RECOVERY_HORIZONS:
            cohort = mask_inv & overdue & (due + hz < h)
            late = (p_rel > 0) & (p_rel <= hz) & cohort[p_inv]
            rec = float(p_amt[late].sum())
            od = float(open_due[cohort].sum())
            res[str(hz)] = {
                "overdue_invoices": int(cohort.sum()),
                "overdue_amount": _eur(od),
                "recovered_amount": _eur(rec),
                "ratio": _ratio(rec, od),
            }
        return res

    return {
        "horizons_days": list(RECOVERY_HORIZONS),
        "overall": block(np.ones(n_inv, dtype=bool)),
        "by_segment": {r.segment_names[s]: block(seg == s) for s in range(nseg)},
    }


def _churn(r: SimResult) -> dict[str, Any]:
    h = r.horizon_days
    in_h = r.c_churn_day < h

    def block(mask: Any) -> dict[str, Any]:
        n = int(mask.sum())
        inv = int((mask & in_h & (r.c_churn_reason == NON_PAYMENT)).sum())
        vol = int((mask & in_h & (r.c_churn_reason == VOLUNTARY)).sum())
        return {
            "customers": n,
            "churned_non_payment": inv,
            "churned_voluntary": vol,
            "involuntary_rate": _ratio(inv, n),
            "voluntary_rate": _ratio(vol, n),
        }

    return {
        "overall": block(np.ones(r.c_segment.size, dtype=bool)),
        "by_segment": {name: block(r.c_segment == s) for s, name in enumerate(r.segment_names)},
    }


def _event_arrays(r: SimResult) -> tuple[Any, Any]:
    lt = r.ladders
    lid = r.e_ladder.astype(np.int64)
    k = r.e_pos.astype(np.int64)
    return lt.channel[lid, k], lt.fee_cents[lid, k]


def _fees_and_cost(r: SimResult, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    h = r.horizon_days
    ch, fee = _event_arrays(r)
    eh = r.e_day < h
    paid_off = r.i_paid_off_day[r.e_invoice]
    collected = eh & (paid_off >= 0) & (paid_off < h)
    share = r.world.dunning.fee_collection_share
    fees = {
        "charged": _eur(fee[eh].sum()),
        "collected": _eur(fee[collected].sum() * share),
        "collection_share": share,
    }
    costs = settings.net_value.channel_cost
    by_channel: dict[str, Any] = {}
    total = 0.0
    for code, name in enumerate(CHANNELS):
        n = int((eh & (ch == code)).sum())
        c = n * costs.get(name, 0.0)  # type: ignore[call-overload]
        total += c
        by_channel[name] = {"events": n, "cost": round(c, 2)}
    return fees, {"total": round(total, 2), "by_channel": by_channel}


def _objective(r: SimResult, settings: Settings) -> dict[str, Any]:
    """Net value over horizon + run-out, overall, per segment and per experiment arm."""
    nv = settings.net_value
    rate = nv.cost_of_capital_pct / 100.0

    def disc(day: Any) -> Any:
        return (1.0 + rate) ** (-np.asarray(day, dtype=np.float64) / 365.0)

    i_cust = r.i_customer.astype(np.int64)
    seg_c = r.c_segment.astype(np.int64)
    var_c = r.c_variant.astype(np.int64)
    agency_code = r.method_names.index("agency")
    # payments
    p_c = i_cust[r.p_invoice]
    p_val = r.p_amount / 100.0
    p_pv = p_val * disc(r.p_day)
    is_ag = r.p_method == agency_code
    # events
    ch, fee = _event_arrays(r)
    e_c = i_cust[r.e_invoice]
    cost_by_code = np.array([nv.channel_cost.get(c, 0.0) for c in CHANNELS])  # type: ignore[call-overload]
    e_cost_pv = cost_by_code[ch] * disc(r.e_day)
    paid_off = r.i_paid_off_day[r.e_invoice]
    fee_ok = paid_off >= 0
    e_fee_pv = np.where(
        fee_ok,
        fee / 100.0 * r.world.dunning.fee_collection_share * disc(np.maximum(paid_off, 0)),
        0.0,
    )
    # churn
    lost = (r.c_churn_reason == NON_PAYMENT) & (r.c_churn_day < r.total_days)
    clv = np.array([nv.lifetime_value(s) for s in r.segment_names])[seg_c]
    churn_pv = np.where(lost, clv * disc(np.where(lost, r.c_churn_day, 0)), 0.0)
    comm = nv.agency_commission_pct / 100.0

    def block(cmask: Any) -> dict[str, Any]:
        pm = cmask[p_c]
        em = cmask[e_c]
        cash_pv = float(p_pv[pm].sum())
        fees_pv = float(e_fee_pv[em].sum())
        cost_pv = float(e_cost_pv[em].sum())
        comm_pv = float(p_pv[pm & is_ag].sum()) * comm
        churn_cost = float(churn_pv[cmask].sum())
        n_cust = int(cmask.sum())
        net = cash_pv + fees_pv - cost_pv - comm_pv - churn_cost
        return {
            "customers": n_cust,
            "net_value": round(net, 2),
            "net_value_per_customer": round(net / n_cust, 4) if n_cust else None,
            "cash_collected": round(float(p_val[pm].sum()), 2),
            "cash_collected_pv": round(cash_pv, 2),
            "fees_collected_pv": round(fees_pv, 2),
            "channel_cost_pv": round(cost_pv, 2),
            "agency_commission_pv": round(comm_pv, 2),
            "churn_cost_pv": round(churn_cost, 2),
            "churned_non_payment": int((lost & cmask).sum()),
            "events": int(em.sum()),
        }

    everyone = np.ones(seg_c.size, dtype=bool)
    out: dict[str, Any] = {
        "definition": "cash_collected_pv + fees_collected_pv - channel_cost_pv"
        " - agency_commission_pv - churn_cost_pv",
        "cost_of_capital_pct": nv.cost_of_capital_pct,
        "discounted_to": r.world.start_date.isoformat(),
        "through": (r.world.start_date + dt.timedelta(days=r.total_days - 1)).isoformat(),
        "runout_days": r.total_days - r.horizon_days,
        **block(everyone),
        "by_segment": {name: block(seg_c == s) for s, name in enumerate(r.segment_names)},
    }
    if r.variants:
        out["by_variant"] = {
            arm: {
                **block(var_c == v),
                "by_segment": {
                    name: block((var_c == v) & (seg_c == s))
                    for s, name in enumerate(r.segment_names)
                },
            }
            for v, arm in enumerate(r.variants)
        }
    return out


def _ledger(r: SimResult) -> dict[str, Any]:
    h = r.horizon_days
    ph, ah = r.p_day < h, r.a_day < h
    agency_code = r.method_names.index("agency")
    return {
        "invoiced": _eur(r.i_amount.sum()),
        "paid": _eur(r.p_amount[ph].sum()),
        "paid_via_agency": _eur(r.p_amount[ph & (r.p_method == agency_code)].sum()),
        "credit_notes": _eur(r.a_amount[ah & (r.a_kind == 0)].sum()),
        "write_offs": _eur(r.a_amount[ah & (r.a_kind == 1)].sum()),
    }


def ladder_summary(ladder: Ladder, segments: list[str]) -> dict[str, Any]:
    """Stage offsets (days after due, anchors resolved) per segment."""
    return {
        "name": ladder.name,
        "due_offsets": {s: ladder.due_offsets(s) for s in segments},
    }


def compute(r: SimResult, settings: Settings, ladder: Ladder) -> dict[str, Any]:
    """Build the ``truth.json`` dictionary of a run (keys: docs/simulator.md)."""
    h = r.horizon_days
    start = r.world.start_date
    fees, cost = _fees_and_cost(r, settings)
    n_ev = int((r.e_day < h).sum())
    n_inv = int(r.i_issue.size)
    arch_counts = {
        name: int((r.c_archetype == a).sum()) for a, name in enumerate(r.archetype_names)
    }
    truth: dict[str, Any] = {
        "schema_version": TRUTH_SCHEMA_VERSION,
        "world": r.world.name,
        "ladder": ladder_summary(ladder, r.segment_names),
        "seed": r.seed,
        "scale": r.scale,
        "months": r.months,
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=h - 1)).isoformat(),
        "currency": r.world.currency,
        "rows": {
            "customers": int(r.c_segment.size),
            "invoices": n_inv,
            "payments": int((r.p_day < h).sum()),
            "adjustments": int((r.a_day < h).sum()),
            "dunning_events": n_ev,
        },
        "customers_by_archetype": arch_counts,
        "ledger": _ledger(r),
        "dso": _dso(r, settings.dso_window_days),
        "recovery": _recovery(r),
        "churn": _churn(r),
        "fees": fees,
        "dunning_cost": cost,
        "dunning_events_per_invoice": round(n_ev / n_inv, 4) if n_inv else None,
        "objective": _objective(r, settings),
        "experiment": None,
    }
    extra = _optional_truth(r)
    truth["rows"].update(extra.pop("rows", {}))
    truth.update(extra)
    exp = r.world.experiment
    if exp is not None and r.variants:
        truth["experiment"] = {
            "share": exp.share,
            "ladder": ladder_summary(exp.ladder, r.segment_names),
            "customers": {arm: int((r.c_variant == v).sum()) for v, arm in enumerate(r.variants)},
        }
    return truth


def _optional_truth(r: SimResult) -> dict[str, Any]:
    """Keys of the optional parts (auto_pay, engagement); none for worlds without them.

    ``payment_retries.by_reason[r]``: over attempts dated in the horizon,
    ``failed_invoices`` (first failure with reason r), ``retry_attempts``
    (attempts after a failure), ``retries_succeeded`` and ``retry_recovery``
    (their ratio), ``recovered_by_retry`` (failed invoices a retry paid) and
    ``first_charges`` / ``first_charge_failure``. ``message_engagement.by_channel``:
    message events dated in the horizon per channel and kind, and the sends
    they belong to. The world's parameters are repeated under ``params``.
    """
    from arinsight.contract import FAILURE_REASONS, MESSAGE_KINDS

    h = r.horizon_days
    out: dict[str, Any] = {}
    at = r.attempts
    if at is not None and r.world.auto_pay is not None:
        keep = at["day"] < h
        g, n = at["invoice"][keep], at["retry"][keep].astype(np.int64)
        ok, reason = at["outcome"][keep] == 0, at["reason"][keep].astype(np.int64)
        inv_reason = np.full(r.i_issue.size, -1, dtype=np.int64)
        first_fail = ~ok & (n == 0)
        inv_reason[g[first_fail]] = reason[first_fail]
        by_reason: dict[str, Any] = {}
        for code, name in enumerate(FAILURE_REASONS):
            is_r = inv_reason[g] == code
            retry = is_r & (n >= 1)
            won = int((retry & ok).sum())
            by_reason[name] = {
                "failed_invoices": int(first_fail[is_r].sum()),
                "retry_attempts": int(retry.sum()),
                "retries_succeeded": won,
                "retry_recovery": _ratio(won, int(retry.sum())),
                "recovered_by_retry": int(np.unique(g[retry & ok]).size),
            }
        n_first = int((n == 0).sum())
        out["payment_retries"] = {
            "params": r.world.auto_pay.model_dump(mode="json"),
            "first_charges": n_first,
            "first_charge_failure": _ratio(int(first_fail.sum()), n_first),
            "by_reason": by_reason,
        }
        out.setdefault("rows", {})["payment_attempts"] = int(keep.sum())
    ms = r.messages
    if ms is not None and r.world.engagement is not None:
        keep = ms["day"] < h
        inv, sent, kind = ms["invoice"][keep], ms["sent_day"][keep], ms["kind"][keep]
        n_inv = max(int(r.i_issue.size), 1)
        ev_key = r.e_day.astype(np.int64) * n_inv + r.e_invoice
        ev = np.searchsorted(ev_key, sent.astype(np.int64) * n_inv + inv)
        lt = r.ladders
        chn = lt.channel[r.e_ladder[ev].astype(np.int64), r.e_pos[ev].astype(np.int64)]
        by_channel: dict[str, Any] = {}
        for c, name in enumerate(CHANNELS):
            m = chn == c
            if not m.any():
                continue
            row = {"sends": int(np.unique(ev[m]).size)}
            for kc, kname in enumerate(MESSAGE_KINDS):
                row[kname] = int((m & (kind == kc)).sum())
            by_channel[name] = row
        out["message_engagement"] = {
            "params": r.world.engagement.model_dump(mode="json"),
            "by_channel": by_channel,
        }
        out.setdefault("rows", {})["message_events"] = int(keep.sum())
    return out
