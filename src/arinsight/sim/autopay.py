"""Automatic charges with failures and retries, and message engagement (issue 16).

Two optional parts of a world (``auto_pay:`` and ``engagement:``, see
``world.AutoPay`` / ``world.Engagement``). The engine calls them from its day
loop only when the world declares them, and they draw from random streams of
their own, so worlds without them simulate exactly as before.

Units as in the engine: days counted from the world's start (day 0), cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from arinsight.config import Ladder, RetrySchedule
from arinsight.contract import CHANNELS, FAILURE_REASONS, MESSAGE_KINDS
from arinsight.sim.world import AutoPay, Engagement, World

BIG = 1 << 30
#: outcome codes of an attempt
SUCCEEDED, FAILED = 0, 1
REASON_CODE = {r: i for i, r in enumerate(FAILURE_REASONS)}
KIND_CODE = {k: i for i, k in enumerate(MESSAGE_KINDS)}
IntArr = npt.NDArray[np.int64]


def _days_of_month(world: World, n_days: int) -> IntArr:
    start = np.datetime64(world.start_date, "D")
    days = start + np.arange(n_days)
    months = days.astype("datetime64[M]")
    out: IntArr = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return out


def _next_matching(dom: IntArr, wanted: tuple[int, ...]) -> IntArr:
    """For each day d: the first day > d whose day of month is in ``wanted`` (BIG if none)."""
    n = dom.size
    hit = np.isin(dom, np.asarray(wanted, dtype=np.int64))
    nxt = np.full(n + 1, BIG, dtype=np.int64)
    idx = np.flatnonzero(hit)
    # position of the first hit strictly after d
    pos = np.searchsorted(idx, np.arange(n), side="right")
    ok = pos < idx.size
    nxt[:n][ok] = idx[pos[ok]]
    return nxt[:n]


@dataclass
class _Rule:
    gaps: IntArr
    next_day: IntArr | None  # days_of_month rules: next matching day per day
    n_retries: int


class AutoPayState:
    """Per potential invoice charge state; ``step`` runs the day's charges."""

    def __init__(
        self,
        world: World,
        ladders: tuple[Ladder, Ladder],
        method_names: list[str],
        c_method: Any,
        c_arch: Any,
        inv_cust: Any,
        inv_due: Any,
        tnat: Any,
        total: int,
        rng: np.random.Generator,
    ) -> None:
        cfg = world.auto_pay
        assert cfg is not None
        self.cfg: AutoPay = cfg
        self.rng = rng
        n = inv_cust.size
        auto_methods = [i for i, m in enumerate(method_names) if m in cfg.methods]
        self.auto = np.isin(c_method[inv_cust], auto_methods)
        self.next = np.where(self.auto, inv_due, BIG).astype(np.int64)
        self.n_att = np.zeros(n, dtype=np.int16)
        # first charge: one reason per invoice (or none), drawn up front
        arch_names = list(world.archetypes)
        mult = np.array(
            [cfg.archetype_failure_multiplier.get(a, 1.0) for a in arch_names], dtype=np.float64
        )[c_arch[inv_cust]]
        failure = cast(dict[str, float], cfg.failure)
        p = np.array([failure.get(r, 0.0) for r in FAILURE_REASONS], dtype=np.float64)
        cdf = np.minimum(np.cumsum(p)[None, :] * mult[:, None], 1.0)
        u = rng.random(n)
        first = (u[:, None] >= cdf).sum(axis=1)  # == len(reasons): the charge succeeds
        self.reason = np.where(first < len(FAILURE_REASONS), first, -1).astype(np.int8)
        self.upd_delay = np.maximum(
            np.rint(cfg.update_days.mean + cfg.update_days.sd * rng.standard_normal(n)), 1
        ).astype(np.int64)
        self.upd_day = np.full(n, BIG, dtype=np.int64)
        self.nat_off = np.where(tnat >= BIG, BIG, np.maximum(tnat - inv_due, 1)).astype(np.int64)
        self.is_update = np.array([r in cfg.update_reasons for r in FAILURE_REASONS])
        success = cast(dict[str, float], cfg.retry_success)
        self.success = np.array([success.get(r, 0.0) for r in FAILURE_REASONS])
        dom = _days_of_month(world, total + 62)
        pay = np.isin(dom, np.asarray(cfg.pay_days.days_of_month))
        last_pay = np.maximum.accumulate(np.where(pay, np.arange(dom.size), -BIG))
        self.near_payday = (np.arange(dom.size) - last_pay) <= cfg.pay_days.window_days
        self.dom = dom
        # retry rules per ladder arm (0 = ladder in force, 1 = experiment) and reason
        self.rules: list[list[_Rule]] = []
        for lad in ladders:
            sched = lad.retries or RetrySchedule()
            row = []
            for r in FAILURE_REASONS:
                rule = sched.rule(r)
                row.append(
                    _Rule(
                        np.asarray(rule.gaps_days, dtype=np.int64),
                        _next_matching(dom, rule.days_of_month) if rule.days_of_month else None,
                        rule.n_retries,
                    )
                )
            self.rules.append(row)
        self.log_g: list[Any] = []
        self.log_d: list[Any] = []
        self.log_n: list[Any] = []
        self.log_out: list[Any] = []
        self.log_r: list[Any] = []
        self.log_amt: list[Any] = []

    def initial_tnat(self, g: Any, tnat: Any) -> Any:
        """Natural payment day of new invoices: none for charged ones until a charge fails."""
        return np.where(self.auto[g], BIG, tnat)

    def _schedule(self, idx: Any, g: Any, d: int, lid: Any) -> None:
        """Next retry day of the failed attempts ``g`` (live rows ``idx``) made on day ``d``."""
        done = self.n_att[g].astype(np.int64) - 1  # retries made so far
        reason = self.reason[g].astype(np.int64)
        arm = lid.astype(np.int64) % 2
        nxt = np.full(g.size, BIG, dtype=np.int64)
        for a in (0, 1):
            for r in np.unique(reason[arm == a]):
                m = (arm == a) & (reason == r)
                rule = self.rules[a][int(r)]
                more = m & (done < rule.n_retries)
                if not more.any():
                    continue
                if rule.next_day is not None:
                    nxt[more] = rule.next_day[d]
                else:
                    nxt[more] = d + rule.gaps[done[more]]
        self.next[g] = nxt

    def step(
        self,
        d: int,
        v: dict[str, Any],
        open_state: int,
        closed_state: int,
        pays: Any,
        paid_off_day: Any,
        pdelay: Any,
        c_method: Any,
    ) -> None:
        """Charge every open invoice whose attempt falls on day ``d``.

        A success pays the open amount (the customer's method) and closes the
        invoice; a failure leaves it open, starts the customer's own payment
        clock (first failure) and schedules the next retry by the ladder's
        ``retries``.
        """
        gl = v["g"]
        idx = np.flatnonzero(self.next[gl] == d)
        if not idx.size:
            return
        st = v["state"]
        stop = st[idx] != open_state
        self.next[gl[idx[stop]]] = BIG
        idx = idx[~stop]
        if not idx.size:
            return
        g = gl[idx]
        n = self.n_att[g].astype(np.int64)
        reason = self.reason[g].astype(np.int64)
        first = n == 0
        ok = np.empty(g.size, dtype=np.bool_)
        ok[first] = reason[first] < 0
        rt = ~first
        if rt.any():
            u = self.rng.random(int(rt.sum()))
            r = reason[rt]
            p = self.success[r]
            p = np.where(
                r == REASON_CODE["insufficient_funds"],
                np.where(self.near_payday[d], self.cfg.pay_days.retry_success, p),
                p,
            )
            p = np.where(self.is_update[r] & (d < self.upd_day[g[rt]]), 0.0, p)
            ok[rt] = u < p
        opn = v["open"]
        self.log_g.append(g.astype(np.int32))
        self.log_d.append(np.full(g.size, d, dtype=np.int32))
        self.log_n.append(n.astype(np.int16))
        self.log_out.append(np.where(ok, SUCCEEDED, FAILED).astype(np.int8))
        self.log_r.append(np.where(ok, -1, reason).astype(np.int8))
        self.log_amt.append(opn[idx].copy())
        self.n_att[g] += 1
        # successes: paid in full by the charge
        si = idx[ok]
        if si.size:
            gs = gl[si]
            pays.add(g=gs, d=np.full(gs.size, d), amt=opn[si].copy(), meth=c_method[v["cust"][si]])
            opn[si] = 0
            st[si] = closed_state
            v["known"][si] = d + pdelay[gs]
            paid_off_day[gs] = d
            self.next[gs] = BIG
        # failures
        fi = idx[~ok]
        if fi.size:
            gf = gl[fi]
            ff = first[~ok]
            g1 = gf[ff]
            if g1.size:
                self.upd_day[g1] = d + self.upd_delay[g1]
                off = self.nat_off[g1]
                v["tnat"][fi[ff]] = np.where(off >= BIG, BIG, d + off)
            self._schedule(fi, gf, d, v["lid"][fi])

    def arrays(self, remap: Any) -> dict[str, Any]:
        """The attempt log in (day, invoice, attempt number) order, invoices renumbered."""

        def cat(parts: list[Any], dtype: Any) -> Any:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        g = remap[cat(self.log_g, np.int32)].astype(np.int32)
        d = cat(self.log_d, np.int32)
        n = cat(self.log_n, np.int16)
        order = np.lexsort((n, g, d))
        return {
            "invoice": g[order],
            "day": d[order],
            "retry": n[order],
            "outcome": cat(self.log_out, np.int8)[order],
            "reason": cat(self.log_r, np.int8)[order],
            "amount": cat(self.log_amt, np.int64)[order],
        }


class EngagementState:
    """Message events of the reminders sent, and their effect on the payment lift."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        cfg = world.engagement
        assert cfg is not None
        self.cfg: Engagement = cfg
        self.rng = rng
        nch = len(CHANNELS)
        self.tracked = np.zeros(nch, dtype=np.bool_)
        self.p = np.zeros((4, nch), dtype=np.float64)  # bounce, open, click, reply
        for ch, e in cfg.channels.items():
            c = CHANNELS.index(ch)
            self.tracked[c] = True
            self.p[:, c] = (e.bounce, e.open, e.click, e.reply)
        self.arch_mult = np.array(
            [cfg.archetype_multiplier.get(a, 1.0) for a in world.archetypes], dtype=np.float64
        )
        lm = cfg.lift_multiplier
        self.lift = np.array(
            [lm.get(k, 1.0) for k in ("bounced", "delivered", "opened", "clicked")],
            dtype=np.float64,
        )
        self.log: dict[str, list[Any]] = {"g": [], "sent": [], "d": [], "kind": []}

    def on_send(self, d: int, g: Any, arch: Any, chn: Any) -> Any:
        """Draw the message events of sends ``g`` on day ``d``; returns the lift multipliers."""
        mult = np.ones(g.size, dtype=np.float64)
        tr = self.tracked[chn]
        if not tr.any():
            return mult
        gi, a, c = g[tr], arch[tr], chn[tr]
        u = self.rng.random((4, gi.size))
        am = self.arch_mult[a]
        bounced = u[0] < self.p[0, c]
        delivered = ~bounced
        has_open = self.p[1, c] > 0
        opened = delivered & has_open & (u[1] < np.minimum(self.p[1, c] * am, 1.0))
        clicked = np.where(has_open, opened, delivered) & (u[2] < self.p[2, c])
        replied = delivered & (u[3] < np.minimum(self.p[3, c] * am, 1.0))
        level = np.where(clicked, 3, np.where(opened, 2, np.where(delivered, 1, 0)))
        mult[tr] = self.lift[level]
        for kind, mask, delay in (
            ("delivered", delivered, 0),
            ("bounced", bounced, 0),
            ("opened", opened, 0),
            ("clicked", clicked, 0),
            ("replied", replied, 1),
        ):
            k = int(mask.sum())
            if k:
                self.log["g"].append(gi[mask].astype(np.int32))
                self.log["sent"].append(np.full(k, d, dtype=np.int32))
                self.log["d"].append(np.full(k, d + delay, dtype=np.int32))
                self.log["kind"].append(np.full(k, KIND_CODE[kind], dtype=np.int8))
        return mult

    def arrays(self, remap: Any) -> dict[str, Any]:
        """Message events in (day, invoice, send day, kind) order, invoices renumbered."""

        def cat(name: str, dtype: Any) -> Any:
            p = self.log[name]
            return np.concatenate(p) if p else np.zeros(0, dtype=dtype)

        g = remap[cat("g", np.int32)].astype(np.int32)
        sent, d, kind = cat("sent", np.int32), cat("d", np.int32), cat("kind", np.int8)
        order = np.lexsort((kind, sent, g, d))
        return {"invoice": g[order], "sent_day": sent[order], "day": d[order], "kind": kind[order]}
