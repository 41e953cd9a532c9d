"""Randomised ladder experiments (``dunning_events.variant``): the arms compared directly.

When part of the customers was randomly dunned on another ladder, the difference
between the arms is causal and needs no response model: per customer, the
realised value of the history — cash paid (discounted from its settlement date
at the cost of capital) less the amount invoiced (discounted from the due date),
minus the channel cost of every reminder it received, minus its lifetime value
if it churned — compared between arms, with a
bootstrap over customers. Background churn is the same in both arms (that is
what randomisation buys), so the difference of churn is the churn the ladder
causes.

The recommender prefers this evidence: when the other arm is better with an
80 % interval above 0, its ladder is where the search starts, and its reach is
inside the trust region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from arinsight.config import NetValue
from arinsight.ladder.inputs import NEVER, STAGES, Inputs
from arinsight.ladder.replay import PlannedStage

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ArmComparison:
    """Treatment arm minus control arm, per customer (EUR), with intervals."""

    control: str
    treatment: str
    customers_control: int
    customers_treatment: int
    delta_per_customer: float
    low80: float
    high80: float
    low95: float
    high95: float
    treatment_days: dict[int, int]  # median send day per stage number in the treatment arm

    def favours_treatment(self) -> bool:
        return self.low80 > 0.0


def compare_arms(
    inp: Inputs, seg: int, nv: NetValue, channel_of_stage: dict[int, str], seed: int, draws: int
) -> ArmComparison | None:
    """Compare the experiment's arms in segment ``seg`` (None without two arms there)."""
    if len(inp.variants) < 2:
        return None
    rate = nv.cost_of_capital_pct / 100.0
    m = inp.seg == seg
    c_arm = np.full(inp.c_seg.size, -1, dtype=np.int64)
    dunned = m & (inp.sent.min(axis=1) < NEVER)
    c_arm[inp.cust[dunned]] = inp.variant[dunned]
    custs = np.flatnonzero((inp.c_seg == seg) & (c_arm >= 0))
    arms = c_arm[custs]
    if (arms == 0).sum() < 30 or (arms == 1).sum() < 30:
        return None
    paid = m & (inp.settled_by == 1)
    cash = np.zeros(inp.c_seg.size)
    np.add.at(
        cash,
        inp.cust[paid],
        inp.amount[paid] * (1 + rate) ** (-(inp.due_day[paid] + inp.settled_rel[paid]) / 365.0),
    )
    cost = np.zeros(inp.c_seg.size)
    for k in STAGES:
        ch = channel_of_stage.get(k)
        if ch is None:
            continue
        sent = m & (inp.sent[:, k] < NEVER)
        np.add.at(cost, inp.cust[sent], nv.channel_cost.get(ch, 0.0))  # type: ignore[call-overload]
    # cash is compared with what was invoiced (discounted from the due date): the
    # invoice amounts do not depend on the arm, and leaving them in would bury the
    # ladder's effect under the spread of customer sizes (a control variate)
    billed = np.zeros(inp.c_seg.size)
    np.add.at(billed, inp.cust[m], inp.amount[m] * (1 + rate) ** (-inp.due_day[m] / 365.0))
    clv = nv.lifetime_value(inp.segments[seg])
    value = (cash - billed) - cost - clv * inp.c_churned.astype(np.float64)
    v = value[custs]
    rng = np.random.default_rng(seed)
    deltas = np.empty(draws)
    idx0 = np.flatnonzero(arms == 0)
    idx1 = np.flatnonzero(arms == 1)
    for b in range(draws):
        s0 = v[idx0[rng.integers(0, idx0.size, idx0.size)]].mean()
        s1 = v[idx1[rng.integers(0, idx1.size, idx1.size)]].mean()
        deltas[b] = s1 - s0
    lo80, hi80, lo95, hi95 = np.percentile(deltas, [10, 90, 2.5, 97.5])
    treat = m & (inp.variant == 1)
    days: dict[int, int] = {}
    for k in STAGES:
        sk = inp.sent[treat, k]
        sk = sk[sk < NEVER]
        if sk.size >= 20:
            days[k] = int(np.median(sk))
    return ArmComparison(
        control=inp.variants[0],
        treatment=inp.variants[1],
        customers_control=int(idx0.size),
        customers_treatment=int(idx1.size),
        delta_per_customer=float(v[idx1].mean() - v[idx0].mean()),
        low80=float(lo80),
        high80=float(hi80),
        low95=float(lo95),
        high95=float(hi95),
        treatment_days=days,
    )


def treatment_plan(
    current: tuple[PlannedStage, ...], comparison: ArmComparison
) -> tuple[PlannedStage, ...] | None:
    """The current stages at the treatment arm's days (None when the arms differ in stages)."""
    out: list[PlannedStage] = []
    for p in current:
        if p.is_handover:
            out.append(p)
            continue
        day = comparison.treatment_days.get(p.stage)
        if day is None:
            return None
        out.append(PlannedStage(p.stage, day, p.channel, p.fee))
    days = [p.day for p in out]
    if days != sorted(days) or len(set(days)) != len(days):
        return None
    return tuple(out)
