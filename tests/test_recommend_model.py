"""The recommender's response model and replay, against hand-worked numbers and an
independent simulation of the model itself."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from arinsight.config import load_settings
from arinsight.contract import CHANNELS
from arinsight.ladder import fit
from arinsight.ladder.fit import P_LAMBDA, P_LOG_HL, P_LOG_R, P_LOG_SIGMA, P_LOGIT_PI, P_MU
from arinsight.ladder.inputs import NEVER, Inputs
from arinsight.ladder.options import RecommenderOptions
from arinsight.ladder.replay import Params, PlannedStage, cell_outcome

NV = load_settings().net_value
OPTS = RecommenderOptions()


def theta(pi: float, mu: float, sigma: float, hl: float, r: float, lam: list[float]) -> np.ndarray:
    th = np.zeros(fit.N_PAY_PARAMS)
    th[P_LOGIT_PI] = math.log(pi / (1 - pi))
    th[P_MU] = mu
    th[P_LOG_SIGMA] = math.log(sigma)
    th[P_LOG_HL] = math.log(hl)
    th[P_LOG_R] = math.log(r)
    th[P_LAMBDA:] = np.log(np.asarray(lam))
    return th


def test_hazard_of_one_reminder_by_hand() -> None:
    # lambda 0.5 sent on the due date (no overdue discount), half-life 1 day (d = 0.5):
    # H(1) = 0.5 * 0.5 = 0.25, H(2) = 0.5 * (0.5 + 0.25) = 0.375, nothing before the send
    th = theta(0.5, 0.0, 1.0, 1.0, 45.0, [0.5, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9])
    sent = np.array([[0, NEVER, NEVER, NEVER, NEVER, NEVER]] * 3)
    h = fit.hazard(th, sent, np.array([0, 1, 2]))
    assert h == pytest.approx([0.0, 0.25, 0.375])


def test_overdue_sends_lose_lift() -> None:
    # the same send 45 days overdue with R = 45 days keeps exp(-1) of its lift
    th = theta(0.5, 0.0, 1.0, 1.0, 45.0, [0.5, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9])
    sent = np.array([[45, NEVER, NEVER, NEVER, NEVER, NEVER]])
    assert fit.hazard(th, sent, np.array([46]))[0] == pytest.approx(0.25 * math.exp(-1))


def test_natural_survival_rounds_to_whole_days() -> None:
    # mu = 10, tiny sigma: the natural day is 10, so open after day 9, paid by day 10;
    # pi = 0.2 never pay; before the issue day (a = -14) nothing can be paid
    th = theta(0.2, 10.0, 0.01, 2.0, 45.0, [0.05] * 6)
    s = fit.snat(th, np.array([-14, -14, -14]), np.array([-15, 9, 10]))
    assert s == pytest.approx([1.0, 1.0, 0.2])


def _params(pi: float, mu: float, sigma: float, hl: float, lam1: float) -> Params:
    m = fit.PayModel(
        pi=pi,
        mu=mu,
        sigma=sigma,
        half_life=hl,
        responsiveness=1e9,
        lam=np.array([1e-12, lam1, 1e-12, 1e-12, 1e-12, 1e-12]),
        rho=0.0,
        window=30,
    )
    return Params.stack([m])


def test_cell_outcome_without_reminders_by_hand() -> None:
    # everyone pays naturally on day 10 after due; issued 14 days before due:
    # open at the end of days -14..9 = 24 days; cash PV = 1.08 ** (-10 / 365)
    out = cell_outcome(_params(1e-9, 10.0, 0.01, 2.0, 1e-12), -14, (), NV, OPTS, np.zeros(1))
    assert out.days_open[0] == pytest.approx(24.0, abs=1e-6)
    assert out.cash[0] == pytest.approx(1.08 ** (-10 / 365), rel=1e-6)
    assert out.open_at_due[0] == pytest.approx(1.0)
    assert out.recovered_90[0] == pytest.approx(1.0)  # paid on day 10, inside 90 days
    assert out.cost[0] == 0.0


def test_cell_outcome_strong_reminder_pays_next_day() -> None:
    # a huge lift on day 0 makes everyone pay on day 1: 15 days open (-14..0), one
    # email sent (EUR 0.02 on day 0, no discounting) and cash on day 1
    ladder = (PlannedStage(1, 0, "email", 0.0),)
    out = cell_outcome(_params(1e-9, 60.0, 0.01, 2.0, 50.0), -14, ladder, NV, OPTS, np.zeros(1))
    assert out.days_open[0] == pytest.approx(15.0, abs=1e-6)
    assert out.events[0, 1] == pytest.approx(1.0)
    assert out.cost[0] == pytest.approx(0.02)
    assert out.cash[0] == pytest.approx(1.08 ** (-1 / 365), rel=1e-6)


def test_posting_delay_events_add_cost() -> None:
    # paid naturally on day 7 and a stage on day 7: with P(still sent | paid 0 days
    # before) = 1 the email goes out anyway (one extra EUR 0.02 event)
    ladder = (PlannedStage(1, 7, "email", 0.0),)
    p = _params(1e-9, 7.0, 0.01, 2.0, 1e-12)
    none = cell_outcome(p, -14, ladder, NV, OPTS, np.zeros(1))
    some = cell_outcome(p, -14, ladder, NV, OPTS, np.array([1.0]))
    assert none.cost[0] == pytest.approx(0.0, abs=1e-9)
    assert some.cost[0] == pytest.approx(0.02 * 1.08 ** (-7 / 365), rel=1e-6)
    # that e-mail (one send: the invoice is paid on day 7) is a churn event of the
    # e-mail's after-payment kind, not of the e-mail's sends on open invoices
    paid_email = fit.KIND_PAID + CHANNELS.index("email")
    assert none.churn_events[0, paid_email] == pytest.approx(0.0, abs=1e-9)
    assert some.churn_events[0, paid_email] == pytest.approx(1.0, rel=1e-6)
    assert some.churn_events[0, CHANNELS.index("email")] == pytest.approx(0.0, abs=1e-6)
    assert some.churn_events[0, fit.KIND_PAID : fit.KIND_DISPUTED].sum() == pytest.approx(
        some.churn_events[0, paid_email]
    )


def _synthetic_inputs(n: int, rng: np.random.Generator) -> Inputs:
    """Invoices drawn from the model itself, by a day-by-day loop (independent of fit.py)."""
    pi, mu, sigma, hl, lam = 0.25, 6.0, 4.0, 2.0, 0.5
    a, s1 = -14, 7
    d = 0.5 ** (1 / hl)
    tnat = np.where(
        rng.random(n) < pi, NEVER, np.maximum(np.rint(mu + sigma * rng.standard_normal(n)), a)
    )
    e = rng.exponential(1.0, n)
    settled = np.full(n, NEVER)
    sent1 = np.full(n, NEVER)
    h = np.zeros(n)
    lift = np.zeros(n)
    for t in range(a, 120):
        lift *= d
        h += lift
        open_ = settled == NEVER
        pay = open_ & ((tnat <= t) | (h >= e))
        settled[pay] = t
        if t == s1:
            fire = settled == NEVER
            sent1[fire] = s1
            lift[fire] += lam * math.exp(-s1 / 45.0)
    sent = np.full((n, 6), NEVER)
    sent[:, 1] = sent1
    paid = settled < NEVER
    return Inputs(
        segments=["s"],
        customer_types={"s": "b2b"},
        start=dt.date(2024, 1, 1),
        as_of=dt.date(2025, 1, 1),
        seg=np.zeros(n, np.int64),
        cust=np.arange(n, dtype=np.int64),
        amount=np.full(n, 100.0),
        issue_rel=np.full(n, a, np.int64),
        due_day=np.full(n, 14, np.int64),
        sent=sent.astype(np.int64),
        handover_rel=np.full(n, NEVER, np.int64),
        settled_rel=settled.astype(np.int64),
        settled_by=np.where(paid, 1, 0).astype(np.int64),
        asof_rel=np.full(n, 119, np.int64),
        disputed=np.zeros(n, bool),
        after_handover_ratio=np.full(n, np.nan),
        variant=np.zeros(n, np.int64),
        variants=[],
        c_seg=np.zeros(n, np.int64),
        c_behaviour=["unscored"] * n,
        c_exposure_days=np.full(n, 365.0),
        c_to_day=np.full(n, 365, np.int64),
        c_churned=np.zeros(n, bool),
        c_counts=np.zeros((n, 6)),
        c_invoiced=np.full(n, 100.0),
    )


def test_fit_recovers_the_parameters_it_was_drawn_with() -> None:
    rng = np.random.default_rng(7)
    inp = _synthetic_inputs(20_000, rng)
    fg = fit.fit_group(inp, np.ones(inp.n_invoices, bool), OPTS)
    m = fg.model
    # drawn with pi 0.25, mu 6, sigma 4, lambda_1 0.5, half-life 2 (R = 45 = the prior)
    assert m.pi == pytest.approx(0.25, abs=0.03)
    assert m.mu == pytest.approx(6.0, abs=0.5)
    assert m.sigma == pytest.approx(4.0, rel=0.15)
    assert m.lam[1] == pytest.approx(0.5, rel=0.3)
    assert m.half_life == pytest.approx(2.0, rel=0.4)


def test_bootstrap_draws_scatter_around_the_estimate() -> None:
    rng = np.random.default_rng(8)
    inp = _synthetic_inputs(5_000, rng)
    fg = fit.fit_group(inp, np.ones(inp.n_invoices, bool), OPTS)
    ths = np.stack([fit.draw_theta(fg, rng.poisson(1.0, 5_000).astype(float)) for _ in range(200)])
    mu_sd = float(ths[:, P_MU].std())
    # the mean of ~3,000 natural payments with sd 4 is known to about 4 / sqrt(3000) = 0.07
    # days; the one-step bootstrap must be of that order, neither 0 nor wildly wider
    assert 0.02 < mu_sd < 0.3
    assert abs(float(ths[:, P_MU].mean()) - fg.theta[P_MU]) < 0.05


def test_analytic_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(9)
    inp = _synthetic_inputs(3_000, rng)
    rows = fit.fit_rows(inp, np.ones(inp.n_invoices, bool))
    th = theta(0.3, 5.0, 5.0, 2.5, 40.0, [0.2, 0.4, 0.1, 0.1, 0.1, 0.1])
    _ll, grad = fit.row_loglik_grad(th, rows)
    num = fit._numeric_row_grad(th, rows)
    assert np.allclose(grad, num, rtol=1e-4, atol=1e-6)


def test_experiment_arms_compared_directly() -> None:
    # 40 customers per arm, one invoice of 100 EUR each, due on day 0 of the data, one
    # email each (EUR 0.02 in both arms). Control pays on the due date, treatment 365
    # days late: per customer (cash PV - billed PV) differs by 100 * (1 / 1.08 - 1)
    # = -7.4074 EUR, with no spread (every customer the same)
    from arinsight.ladder.experiment import compare_arms

    n = 80
    inp = _synthetic_inputs(n, np.random.default_rng(1))
    arm = np.repeat([0, 1], n // 2)
    inp.variant = arm.astype(np.int64)
    inp.variants = ["control", "later"]
    inp.due_day = np.zeros(n, np.int64)
    inp.settled_by = np.ones(n, np.int64)
    inp.settled_rel = np.where(arm == 1, 365, 0).astype(np.int64)
    inp.sent = np.full((n, 6), NEVER, np.int64)
    inp.sent[:, 1] = -3
    res = compare_arms(inp, 0, NV, {1: "email"}, seed=0, draws=50)
    assert res is not None
    assert res.customers_control == 40 and res.customers_treatment == 40
    assert res.delta_per_customer == pytest.approx(100 * (1 / 1.08 - 1), rel=1e-9)
    assert res.low80 == pytest.approx(res.high80)
    assert not res.favours_treatment()
    assert res.treatment_days == {1: -3}


def _inv_softplus(v: float) -> float:
    """x with softplus(x) = v (the increments below are chosen, x derived from them)."""
    return math.log(math.expm1(v))


_NO = [False] * 5
_ZERO = [0.0] * 5


# parameters: increments for email, letter, sms, phone, collection_agency; the after-
# payment multiplier; the fee's churn per EUR (relative); the dispute increment. Kinds:
# the five channels' sends, the same after payment, both again weighted by the fee in
# EUR, a reminder on a dispute.
@pytest.mark.parametrize(
    ("increments", "multiplier", "phi", "dispute", "active", "expected"),
    [
        # email 0.001; letter sits 0.003 above it; agency 0.1 above the letter; a
        # reminder after payment churns twice its channel's send; each EUR of a
        # letter's fee adds 1 % of the letter's bump
        (
            [0.001, 0.003, 0.5, 0.5, 0.1],
            2.0,
            0.01,
            0.004,
            [True, True, False, False, True]
            + [True, True, False, False, False]
            + [False, True, False, False, False]
            + [False, True, False, False, False]
            + [True],
            [0.001, 0.004, 0.0, 0.0, 0.104]
            + [0.002, 0.008, 0.0, 0.0, 0.0]
            + [0.0, 0.00004, 0.0, 0.0, 0.0]
            + [0.0, 0.00008, 0.0, 0.0, 0.0]
            + [0.004],
        ),
        # no letter in the ladder: the agency sits on the e-mail; multiplier 1
        (
            [0.002, 0.5, 0.5, 0.5, 0.05],
            1.0,
            0.5,
            0.001,
            [True, False, False, False, True]
            + [True, False, False, False, True]
            + _NO * 2
            + [False],
            [0.002, 0.0, 0.0, 0.0, 0.052] + [0.002, 0.0, 0.0, 0.0, 0.052] + _ZERO * 2 + [0.0],
        ),
        # SMS harsher than e-mail: letter and phone sit on the SMS; agency on the
        # harsher of letter (0.003 + 0.004) and phone (0.003 + 0.001); fees on
        # letter and phone add 10 % of their bumps per EUR
        (
            [0.001, 0.004, 0.003, 0.001, 0.02],
            0.5,
            0.1,
            0.5,
            [True] * 5 + _NO + [False, True, False, True, False] + _NO + [False],
            [0.001, 0.007, 0.003, 0.004, 0.027]
            + _ZERO
            + [0.0, 0.0007, 0.0, 0.0004, 0.0]
            + _ZERO
            + [0.0],
        ),
        # the e-mail seen only after payment (its pre-due sends are no churn event):
        # it still has a bump, the letter sits on it, the after-payment e-mail is 3x
        (
            [0.002, 0.003, 0.5, 0.5, 0.5],
            3.0,
            0.5,
            0.5,
            [False, True, False, False, False]
            + [True, False, False, False, False]
            + _NO * 2
            + [False],
            [0.0, 0.005, 0.0, 0.0, 0.0] + [0.006, 0.0, 0.0, 0.0, 0.0] + _ZERO * 2 + [0.0],
        ),
    ],
)
def test_churn_bumps_keep_the_escalation_order(
    increments: list[float],
    multiplier: float,
    phi: float,
    dispute: float,
    active: list[bool],
    expected: list[float],
) -> None:
    x = np.array(
        [_inv_softplus(v) for v in increments]
        + [math.log(multiplier), _inv_softplus(phi), _inv_softplus(dispute)]
    )
    got = fit.ordered_bumps(x, np.array(active))
    assert got == pytest.approx(expected, abs=1e-12)


def test_reminder_after_payment_is_its_channels_after_payment_kind() -> None:
    # one customer, seen to day 100, three invoices due on day 0; e-mail stage 1 at
    # day 7, letter stage 2 at day 21. Invoice 0 paid on day 7 (the e-mail reaches it
    # after payment), invoice 1 paid on day 30 (both reach it open), invoice 2 paid on
    # day 21 (the letter reaches it after payment)
    inp = Inputs.__new__(Inputs)
    inp.seg = np.zeros(3, np.int64)
    inp.cust = np.zeros(3, np.int64)
    inp.due_day = np.zeros(3, np.int64)
    inp.settled_by = np.ones(3, np.int64)
    inp.settled_rel = np.array([7, 30, 21], np.int64)
    inp.disputed = np.zeros(3, bool)
    inp.sent = np.full((3, 6), NEVER, np.int64)
    inp.sent[:, 1] = 7
    inp.sent[[1, 2], 2] = 21
    inp.c_seg = np.zeros(1, np.int64)
    inp.c_to_day = np.array([100], np.int64)
    email, letter = CHANNELS.index("email"), CHANNELS.index("letter")
    stage_channel = np.full((1, 6), email, np.int64)
    stage_channel[0, 2] = letter
    stage_fee = np.zeros((1, 6))
    stage_fee[0, 2] = 5.0  # the letter costs EUR 5
    half = 45.0
    xh, _xl = fit.churn_features(inp, half, stage_channel, stage_fee=stage_fee)
    r, q = math.log(2) / half, 0.5 ** (1 / half)
    want = np.zeros(fit.N_CHURN_KINDS)
    want[email] = 2 * r * q**93  # invoices 1 and 2: e-mail on day 7, 93 days before 100
    want[letter] = r * q**79  # invoice 1's letter on day 21
    want[fit.KIND_PAID + email] = r * q**93  # invoice 0's e-mail after payment
    want[fit.KIND_PAID + letter] = r * q**79  # invoice 2's letter after payment
    want[fit.KIND_FEE + letter] = 5 * r * q**79  # the fee-weighted kinds: EUR x kernel
    want[fit.KIND_PAID_FEE + letter] = 5 * r * q**79
    assert xh[0] == pytest.approx(want, rel=1e-12)


def test_pre_due_reminder_is_no_churn_event_by_default() -> None:
    # everyone pays naturally on day 10 after due, nothing responds to reminders:
    # a pre-due e-mail on day -3 reaches every invoice (1.0 sends), a letter on day
    # 5 too (all still open); only the letter counts as a churn event by default,
    # both with pre_due_reminder_churn
    ladder = (
        PlannedStage(0, -3, "email", 0.0),
        PlannedStage(2, 5, "letter", 5.0),
    )
    m = _params(1e-9, 10.0, 0.01, 2.0, 1e-12)
    email, letter = CHANNELS.index("email"), CHANNELS.index("letter")
    out = cell_outcome(m, -14, ladder, NV, OPTS, np.zeros(1))
    assert out.events[0, 0] == pytest.approx(1.0)  # still sent (and paid for)
    assert out.churn_events[0, email] == pytest.approx(0.0)
    assert out.churn_events[0, letter] == pytest.approx(1.0)
    # its fee-weighted kind: one send x EUR 5
    assert out.churn_events[0, fit.KIND_FEE + letter] == pytest.approx(5.0)
    assert out.churn_events[0, fit.KIND_FEE + email] == pytest.approx(0.0)
    on = OPTS.model_copy(update={"pre_due_reminder_churn": True})
    out = cell_outcome(m, -14, ladder, NV, on, np.zeros(1))
    assert out.churn_events[0, email] == pytest.approx(1.0)
    assert out.churn_events[0, letter] == pytest.approx(1.0)
