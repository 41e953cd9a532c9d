"""The fast paths of ``arinsight recommend`` compute the same numbers as the slow ones.

* ``ladder.bootstrap``: all bootstrap draws in matrix products = one draw at a time
  (``fit.draw_theta`` / ``fit.agency_rho`` / ``fit.draw_churn``), and by hand;
* ``replay.book_weights``: customer weights folded into the cell sums (by hand), and a
  customer of weight 2 in ``evaluate`` = the same customer's invoices booked twice;
* ``inputs.read_inputs``: the integer codes computed in SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.test_recommend_model import _synthetic_inputs

from arinsight.config import load_settings
from arinsight.ladder import bootstrap, fit
from arinsight.ladder.fit import N_CHURN_KINDS, N_CHURN_PARAMS, ChurnModel, PayModel
from arinsight.ladder.inputs import NEVER, Inputs
from arinsight.ladder.options import RecommenderOptions
from arinsight.ladder.replay import (
    Params,
    PlannedStage,
    book_weights,
    evaluate,
    make_book,
)

OPTS = RecommenderOptions()
NV = load_settings().net_value


def test_draw_thetas_by_hand() -> None:
    # theta (1, 2); customer scores (1, 0), (0, 2), (1, 1); I^-1 = identity.
    # weights (2, 0, 1): w - 1 = (1, -1, 0), S^T (w - 1) = (1*1 + 0*(-1) + 1*0,
    # 0*1 + 2*(-1) + 1*0) = (1, -2), so theta_b = (1 + 1, 2 - 2) = (2, 0).
    # weights (1, 1, 1): w - 1 = 0, theta_b = theta.
    theta = np.array([1.0, 2.0])
    scores = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    w = np.array([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    got = bootstrap.draw_thetas(theta, scores, np.eye(2), w)
    assert got.tolist() == [[2.0, 0.0], [1.0, 2.0]]


def test_poisson_weights_are_seeded() -> None:
    a = bootstrap.poisson_weights(30, 500, seed=3)
    b = bootstrap.poisson_weights(30, 500, seed=3)
    c = bootstrap.poisson_weights(30, 500, seed=4)
    assert a.shape == (30, 500)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # Poisson(1): mean 1 over 15,000 draws within 5 standard errors (1 / sqrt(15000))
    assert abs(float(a.mean()) - 1.0) < 5 / np.sqrt(15_000)


def _with_handovers(inp: Inputs) -> Inputs:
    """Hand every invoice still open on day 30 to the agency, which recovers 40 % of it."""
    ho = np.where(inp.settled_rel > 30, 30, NEVER).astype(np.int64)
    ratio = np.where(ho < NEVER, 0.4, np.nan)
    # issue days spread over -30..-14 so several (issue day, handover day) pairs exist
    issue = (-14 - (np.arange(inp.n_invoices) % 17)).astype(np.int64)
    return dataclasses.replace(inp, handover_rel=ho, after_handover_ratio=ratio, issue_rel=issue)


def test_batched_group_draws_equal_one_draw_at_a_time() -> None:
    rng = np.random.default_rng(11)
    inp = _with_handovers(_synthetic_inputs(4_000, rng))
    mask = np.ones(inp.n_invoices, bool)
    fg = fit.fit_group(inp, mask, OPTS)
    assert fg.ratio_n.sum() > 100  # the agency share is exercised
    w = bootstrap.poisson_weights(25, inp.n_invoices, seed=5)
    got = bootstrap.group_params(fg, inp, mask, w)
    models = []
    for b in range(w.shape[0]):
        th = fit.draw_theta(fg, w[b])
        m = PayModel.from_theta(th, window=fg.model.window)
        m.rho = fit.agency_rho(fg, inp, mask, th, w[b])
        models.append(m)
    want = Params.stack(models)
    for name in ("pi", "mu", "sigma", "half_life", "responsiveness", "lam", "rho"):
        assert np.allclose(getattr(got, name), getattr(want, name), rtol=1e-9, atol=1e-12), name
    assert got.window == want.window
    assert float(np.ptp(got.rho)) > 0  # the draws move the agency share


def test_batched_churn_draws_equal_one_draw_at_a_time() -> None:
    rng = np.random.default_rng(12)
    n_c, k = 300, 1 + N_CHURN_PARAMS
    active = np.zeros(N_CHURN_KINDS, bool)
    active[[0, 2, 3]] = True
    cm = ChurnModel(
        theta=rng.normal(-5.0, 1.0, k),
        active=active,
        scores=rng.normal(0.0, 0.1, (n_c, k)),
        info_inv=np.diag(rng.uniform(0.5, 2.0, k)),
        n_customers=n_c,
        n_churned=10,
    )
    w = bootstrap.poisson_weights(40, n_c, seed=2)
    want = np.stack([cm.bumps(fit.draw_churn(cm, w[b])) for b in range(40)])
    got = bootstrap.churn_bumps(cm, w)
    assert np.allclose(got, want, rtol=1e-10, atol=1e-15)
    assert np.all(got[:, ~active] == 0.0)


# --------------------------------------------------------------------------- replay weights


def _book_inputs(rows: list[tuple[int, int, float]], n_customers: int) -> Inputs:
    """Undisputed invoices (customer row, issue day rel. to due, amount), due on day 14."""
    n = len(rows)
    cust = np.array([r[0] for r in rows], np.int64)
    sent = np.full((n, 6), NEVER, np.int64)
    return Inputs(
        segments=["s"],
        customer_types={"s": "b2b"},
        start=dt.date(2024, 1, 1),
        as_of=dt.date(2025, 1, 1),
        seg=np.zeros(n, np.int64),
        cust=cust,
        amount=np.array([r[2] for r in rows]),
        issue_rel=np.array([r[1] for r in rows], np.int64),
        due_day=np.full(n, 14, np.int64),
        sent=sent,
        handover_rel=np.full(n, NEVER, np.int64),
        settled_rel=np.full(n, NEVER, np.int64),
        settled_by=np.zeros(n, np.int64),
        asof_rel=np.full(n, 200, np.int64),
        disputed=np.zeros(n, bool),
        after_handover_ratio=np.full(n, np.nan),
        variant=np.zeros(n, np.int64),
        variants=[],
        c_seg=np.zeros(n_customers, np.int64),
        c_behaviour=["unscored"] * n_customers,
        c_exposure_days=np.full(n_customers, 365.0),
        c_to_day=np.full(n_customers, 365, np.int64),
        c_churned=np.zeros(n_customers, bool),
        c_counts=np.zeros((n_customers, 6)),
        c_invoiced=np.zeros(n_customers),
    )


def _book(inp: Inputs) -> Any:
    gid = np.zeros(inp.n_invoices, np.int64)
    no_disputes = (np.zeros(3 * fit.T_MAX + 1), 0.0)
    return make_book(inp, 0, gid, NV, np.zeros(8), no_disputes, -1)


def test_book_weights_fold_by_hand() -> None:
    # customer 0: 100 EUR issued 14 days before due, 50 EUR issued 30 days before;
    # customer 1: 20 EUR issued 14 days before due. Cells in (group, issue day) order:
    # (0, -30), (0, -14). Weights (1, 3): amounts per cell 50 and 100 + 3 * 20 = 160,
    # total 210; invoices per cell 1 and 1 + 3 = 4.
    book = _book(_book_inputs([(0, -14, 100.0), (0, -30, 50.0), (1, -14, 20.0)], 2))
    assert book.cells == [(0, -30), (0, -14)]
    bw = book_weights(book, np.array([[1.0, 3.0]]))
    assert bw.amt.tolist() == [[50.0, 160.0]]
    assert bw.amt_total.tolist() == [210.0]
    assert bw.count.tolist() == [[1.0, 4.0]]
    # unweighted: plain column sums
    plain = book_weights(book, None)
    assert plain.amt.tolist() == [[50.0, 120.0]]


def _model(pi: float, mu: float) -> PayModel:
    return PayModel(
        pi=pi,
        mu=mu,
        sigma=6.0,
        half_life=3.0,
        responsiveness=45.0,
        lam=np.array([0.1, 0.3, 0.2, 0.2, 0.1, 0.0]),
        rho=0.4,
        window=20,
    )


def test_a_customer_weighted_twice_counts_like_its_invoices_twice() -> None:
    # customer 0 has two invoices; with weight 2 in the bootstrap it must weigh exactly
    # like a ledger where a copy of customer 0 (customer 2, same invoices) exists
    rows = [(0, -14, 100.0), (0, -30, 50.0), (1, -14, 20.0)]
    once = _book(_book_inputs(rows, 2))
    twice = _book(_book_inputs([*rows, (2, -14, 100.0), (2, -30, 50.0)], 3))
    ladder = (
        PlannedStage(0, -3, "email", 0.0),
        PlannedStage(1, 7, "email", 0.0),
        PlannedStage(2, 21, "letter", 5.0),
        PlannedStage(4, 60, "collection_agency", 0.0),
    )
    draws = [_model(0.1, 5.0), _model(0.2, 9.0)]
    bumps = {-1: np.array([np.linspace(0.001, 0.02, N_CHURN_KINDS)] * 2)}

    def run(book: Any, w: Any) -> Any:
        return evaluate(book, {0: Params.stack(draws)}, bumps, ladder, NV, OPTS, w)

    got = run(once, np.array([[2.0, 1.0], [2.0, 1.0]]))
    want = run(twice, None)
    for name in ("net_value", "days_open", "recovery_pct", "churn", "events", "stage_events"):
        assert np.allclose(getattr(got, name), getattr(want, name), rtol=1e-10), name
    assert float(want.churn[0]) > 0  # the churn term (not linear in the cells) is exercised
    # and weight 0 drops a customer: only customer 1's 20 EUR invoice is left
    alone = run(once, np.array([[0.0, 1.0], [0.0, 1.0]]))
    only = run(_book(_book_inputs([(1, -14, 20.0)], 2)), None)
    assert np.allclose(alone.net_value, only.net_value, rtol=1e-10)


# --------------------------------------------------------------------------- input codes


def test_input_codes_come_from_sql(ledger_warehouse: Callable[..., Any]) -> None:
    from arinsight.ladder.inputs import read_inputs

    customers = [
        {"customer_id": "C2", "segment": "smb", "customer_type": "b2b"},
        {"customer_id": "C1", "segment": "consumer", "customer_type": "b2c"},
        {"customer_id": "C3", "segment": "smb", "customer_type": "b2b"},
    ]
    inv = [("I1", "C2"), ("I2", "C1"), ("I3", "C3"), ("I4", "C3")]
    invoices = [
        {
            "invoice_id": i,
            "customer_id": c,
            "issue_date": "2024-01-01",
            "due_date": "2024-01-15",
            "amount": 100,
        }
        for i, c in inv
    ]
    payments = [{"payment_id": "P1", "invoice_id": "I1", "paid_at": "2024-01-20", "amount": 100}]
    # arm "b" holds two invoices, arm "a" one: "b" is the control (code 0), "a" code 1;
    # I4 has no event (code 0)
    events = [
        {"event_id": f"E{k}", "invoice_id": i, "stage": 1, "sent_at": "2024-01-18",
         "channel": "email", "variant": v}
        for k, (i, v) in enumerate([("I1", "b"), ("I2", "b"), ("I3", "a")])
    ]  # fmt: skip
    wh = ledger_warehouse(
        customers=customers, invoices=invoices, payments=payments, dunning_events=events
    )
    got = read_inputs(wh)
    assert got.segments == ["consumer", "smb"]
    # customers in id order: C1 (consumer), C2 (smb), C3 (smb)
    assert got.c_seg.tolist() == [0, 1, 1]
    # invoices in id order I1..I4: customers C2, C1, C3, C3
    assert got.cust.tolist() == [1, 0, 2, 2]
    assert got.seg.tolist() == [1, 0, 1, 1]
    assert got.settled_by.tolist() == [1, 0, 0, 0]
    assert got.variants == ["b", "a"]
    assert got.variant.tolist() == [0, 0, 1, 0]
    assert got.customer_types == {"consumer": "b2c", "smb": "b2b"}
    # stage 1 sent 3 days after due; I1 paid 5 days after due
    assert got.sent[:3, 1].tolist() == [3, 3, 3]
    assert got.settled_rel[0] == 5
    assert got.sent[3, 1] == NEVER


# --------------------------------------------------------------------------- replay sample


def test_stratified_sample_by_hand() -> None:
    from arinsight.ladder.inputs import stratified_sample

    # 10 customers: 7 in stratum 0, 3 in stratum 1; cap 4 keeps round(4 * 7 / 10) =
    # round(2.8) = 3 of stratum 0 (weight 7 / 3 each) and round(1.2) = 1 of stratum 1
    # (weight 3); the weights sum to 7 and 3, the strata's sizes
    strata = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 0])
    rows, w = stratified_sample(strata, 4, seed=1)
    assert rows.tolist() == sorted(rows.tolist())
    assert np.sum(strata[rows] == 0) == 3 and np.sum(strata[rows] == 1) == 1
    assert np.allclose(w[strata[rows] == 0], 7 / 3) and np.allclose(w[strata[rows] == 1], 3.0)
    assert float(w[strata[rows] == 0].sum()) == pytest.approx(7.0)
    # amounts constant within a stratum (100 and 10 EUR): the weighted total is exact,
    # 7 * 100 + 3 * 10 = 730
    amount = np.where(strata == 0, 100.0, 10.0)
    assert float(w @ amount[rows]) == pytest.approx(730.0)
    # deterministic for a seed; another seed draws other customers
    again, w_again = stratified_sample(strata, 4, seed=1)
    assert again.tolist() == rows.tolist() and w_again.tolist() == w.tolist()
    other = {tuple(stratified_sample(strata, 4, seed=s)[0].tolist()) for s in range(2, 8)}
    assert len(other | {tuple(rows.tolist())}) > 1


def test_stratified_sample_keeps_shares_and_small_books() -> None:
    from arinsight.ladder.inputs import stratified_sample

    # 6,000 / 3,000 / 1,000 customers, cap 1,000: 600 / 300 / 100, weight 10 each
    strata = np.repeat([2, 0, 1], [6_000, 3_000, 1_000])
    rows, w = stratified_sample(strata, 1_000, seed=0)
    assert np.bincount(strata[rows]).tolist() == [300, 100, 600]
    assert np.allclose(w, 10.0)
    assert np.unique(rows).size == rows.size  # without replacement
    # a book no larger than the cap is kept whole, weight 1
    all_rows, ones = stratified_sample(strata[:800], 1_000, seed=0)
    assert all_rows.tolist() == list(range(800)) and ones.tolist() == [1.0] * 800
    # cap 0 = never sample
    assert stratified_sample(strata, 0, seed=0)[0].size == strata.size


def test_a_sampled_book_scales_back_to_the_full_book() -> None:
    # four customers with the same two invoices; replaying customers 1 and 3 with weight
    # 2 each must give the full book's totals exactly (churn term included)
    rows = [(c, a, amt) for c in range(4) for a, amt in ((-14, 100.0), (-30, 40.0))]
    inp = _book_inputs(rows, 4)
    gid = np.zeros(inp.n_invoices, np.int64)
    no_disputes = (np.zeros(3 * fit.T_MAX + 1), 0.0)
    full = make_book(inp, 0, gid, NV, np.zeros(8), no_disputes, -1)
    sampled = make_book(
        inp,
        0,
        gid,
        NV,
        np.zeros(8),
        no_disputes,
        -1,
        sample=(np.array([1, 3]), np.array([2.0, 2.0])),
    )
    assert sampled.cust_rows.tolist() == [1, 3]
    ladder = (PlannedStage(1, 7, "email", 0.0), PlannedStage(2, 21, "letter", 5.0))
    params = {0: Params.stack([_model(0.1, 5.0), _model(0.2, 9.0)])}
    bumps = {-1: np.array([np.linspace(0.001, 0.02, N_CHURN_KINDS)] * 2)}
    a = evaluate(full, params, bumps, ladder, NV, OPTS)
    b = evaluate(sampled, params, bumps, ladder, NV, OPTS)
    for name in ("net_value", "days_open", "recovery_pct", "churn", "events", "stage_events"):
        assert np.allclose(getattr(a, name), getattr(b, name), rtol=1e-10), name
    # bootstrap weights multiply the sampling weights: Poisson weight 0 on customer 1
    # leaves customer 3 standing for 2 customers, i.e. half the full book
    w = np.array([[0.0, 1.0], [0.0, 1.0]])
    half = evaluate(sampled, params, bumps, ladder, NV, OPTS, w)
    assert np.allclose(half.net_value, a.net_value / 2, rtol=1e-10)


def test_churn_by_customer_type_equals_churn_by_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    from arinsight.ladder import replay

    # 40 customers of 3 kinds (1 invoice 14 days before due / 2 such invoices / one of
    # each issue day), amounts differing per customer: 3 types, so the churn term is
    # computed per type; forcing the per-customer path must give the same totals
    rows: list[tuple[int, int, float]] = []
    for c in range(40):
        amt = 10.0 + 7.0 * c
        if c % 3 == 0:
            rows.append((c, -14, amt))
        elif c % 3 == 1:
            rows += [(c, -14, amt), (c, -14, 2 * amt)]
        else:
            rows += [(c, -14, amt), (c, -30, amt / 2)]
    inp = _book_inputs(rows, 40)
    ladder = (PlannedStage(1, 7, "email", 0.0), PlannedStage(2, 21, "letter", 5.0))
    params = {0: Params.stack([_model(0.1, 5.0), _model(0.2, 9.0)])}
    bumps = {-1: np.array([np.linspace(0.001, 0.02, N_CHURN_KINDS)] * 2)}
    sample = (np.arange(0, 40, 2), np.full(20, 2.0))
    w = bootstrap.poisson_weights(2, 20, seed=9)
    grouped = _book(inp)
    types = replay.customer_types(grouped)
    assert types is not None and types.count.shape[0] == 3
    fast = [
        evaluate(grouped, params, bumps, ladder, NV, OPTS),
        evaluate(grouped, params, bumps, ladder, NV, OPTS, bootstrap.poisson_weights(2, 40, 1)),
    ]
    gid = np.zeros(inp.n_invoices, np.int64)
    no_disputes = (np.zeros(3 * fit.T_MAX + 1), 0.0)
    sampled = make_book(inp, 0, gid, NV, np.zeros(8), no_disputes, -1, sample=sample)
    fast.append(evaluate(sampled, params, bumps, ladder, NV, OPTS, w))
    monkeypatch.setattr(replay, "TYPE_GAIN", 10**9)  # never group
    slow = [
        evaluate(_book(inp), params, bumps, ladder, NV, OPTS),
        evaluate(_book(inp), params, bumps, ladder, NV, OPTS, bootstrap.poisson_weights(2, 40, 1)),
        evaluate(
            make_book(inp, 0, gid, NV, np.zeros(8), no_disputes, -1, sample=sample),
            params,
            bumps,
            ladder,
            NV,
            OPTS,
            w,
        ),
    ]
    for a, b in zip(fast, slow, strict=True):
        assert replay.customer_types(_book(inp)) is None
        for name in ("net_value", "churn", "days_open", "stage_events"):
            assert np.allclose(getattr(a, name), getattr(b, name), rtol=1e-10), name
        assert float(a.churn[0]) > 0
