"""Response-analysis marts on a hand-built ledger (docs/ladder.md).

Segment "s", ten invoices I1..I10, all issued 2025-01-01 and due 2025-01-15.
Stage 1 (email) goes out on A = 2025-01-25 (due + 10) to every invoice still
open; the ladder is inferred from the log (median offset +10) unless stored.

  I1   paid A-3 (Jan 22): not sent; in the cohort (open on A-7), settles day -3
  I2   sent A, paid A+1          I3  sent A, paid A+1
  I4   sent A, paid A+2          I5  sent A, paid A+5
  I6   sent A, stage 2 on A+14 (Feb 8), paid A+14 (a payment on the day of the
       next stage counts as settled)
  I7   sent A, stage 2 on A+14, never paid
  I8   sent A, fully credited A+20 (closed, not a payment)
  I9, I10  sent A, never paid
  Z    issued Jun 30 (another customer) sets the as-of date: 2025-06-30 = A+156.

Stage-1 cohort at risk per day (days from A), settled by payment:
  -7..-4: 10, 0   -3: 10, 1 (I1)   -2, -1: 9, 0   0: 9, 0   1: 9, 2   2: 7, 1
  3, 4: 6, 0      5: 6, 1          6..14: 5 (day 14: 1, I6; I6 and I7 leave
  after day 14: the next stage's lift starts the day after its send)
  15..20: 3 (I8 leaves after its credit note on day 20)   21..30: 2
Baseline (days -7..-1): 10 x 5 + 9 x 2 = 68 case-days, 1 settled.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest

from arinsight.warehouse import Warehouse

Z = 1.959964
DUE = dt.date(2025, 1, 15)
A = dt.date(2025, 1, 25)
AMOUNT = "100.00"
SEG = "s"


def day(n: int) -> str:
    return (A + dt.timedelta(days=n)).isoformat()


PAID = {"I1": -3, "I2": 1, "I3": 1, "I4": 2, "I5": 5, "I6": 14}
SENT1 = [f"I{i}" for i in range(2, 11)]
SENT2 = ["I6", "I7"]
CREDITED = {"I8": 20}
AS_OF_DAY = (dt.date(2025, 6, 30) - A).days  # 156

# (days_from_send, at risk, settled) for stage 1, from the table above.
EXPECTED_DAILY = (
    [(d, 10, 0) for d in (-7, -6, -5, -4)]
    + [(-3, 10, 1), (-2, 9, 0), (-1, 9, 0), (0, 9, 0), (1, 9, 2), (2, 7, 1)]
    + [(3, 6, 0), (4, 6, 0), (5, 6, 1)]
    + [(d, 5, 1 if d == 14 else 0) for d in range(6, 15)]
    + [(d, 3, 0) for d in range(15, 21)]
    + [(d, 2, 0) for d in range(21, 31)]
)
BASE_N, BASE_X = 68, 1


def tables() -> dict[str, list[dict[str, Any]]]:
    invoices = [
        {
            "invoice_id": f"I{i}",
            "customer_id": f"C{i}",
            "issue_date": "2025-01-01",
            "due_date": DUE.isoformat(),
            "amount": AMOUNT,
        }
        for i in range(1, 11)
    ]
    invoices.append(
        {
            "invoice_id": "Z",
            "customer_id": "CZ",
            "issue_date": "2025-06-30",
            "due_date": "2025-07-14",
            "amount": AMOUNT,
        }
    )
    customers = [
        {"customer_id": f"C{i}", "segment": SEG, "customer_type": "b2c"} for i in range(1, 11)
    ] + [{"customer_id": "CZ", "segment": SEG, "customer_type": "b2c"}]
    payments = [
        {"payment_id": f"P{k}", "invoice_id": k, "paid_at": day(d), "amount": AMOUNT}
        for k, d in PAID.items()
    ]
    adjustments = [
        {
            "adjustment_id": f"A{k}",
            "invoice_id": k,
            "adjusted_at": day(d),
            "amount": AMOUNT,
            "kind": "credit_note",
        }
        for k, d in CREDITED.items()
    ]
    events = [
        {"event_id": f"E1{k}", "invoice_id": k, "stage": 1, "sent_at": day(0), "channel": "email"}
        for k in SENT1
    ] + [
        {"event_id": f"E2{k}", "invoice_id": k, "stage": 2, "sent_at": day(14), "channel": "letter"}
        for k in SENT2
    ]
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "adjustments": adjustments,
        "dunning_events": events,
    }


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from conftest import write_ledger

    tmp = tmp_path_factory.mktemp("response")
    src = write_ledger(tmp / "ledger", tables())
    w = Warehouse.open(tmp / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [src])
    build(w.con, load_settings())
    yield w
    w.close()


def q(wh: Warehouse, sql: str, *params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = wh.sql(sql, list(params)).to_dicts()
    return rows


def test_daily_at_risk_and_settled(wh: Warehouse) -> None:
    rows = q(
        wh,
        "select days_from_send, count_at_risk, count_settled from marts.fct_stage_response_daily "
        "where segment_type = 'segment' and segment = ? and stage_number = 1 "
        "order by days_from_send",
        SEG,
    )
    assert [(r["days_from_send"], r["count_at_risk"], r["count_settled"]) for r in rows] == (
        EXPECTED_DAILY
    )


def test_daily_hazard_lift_and_intervals(wh: Warehouse) -> None:
    (r,) = q(
        wh,
        "select * from marts.fct_stage_response_daily where segment_type = 'segment' "
        "and stage_number = 1 and days_from_send = 1",
    )
    base = BASE_X / BASE_N  # 1/68
    h1 = 2 / 9
    assert r["baseline_case_days"] == BASE_N and r["baseline_settled"] == BASE_X
    assert r["hazard_ratio"] == pytest.approx(h1)
    assert r["lift_ratio"] == pytest.approx(h1 / base)  # 136/9 = 15.11
    se = math.sqrt(1 / 2 - 1 / 9 + 1 / 1 - 1 / 68)
    assert r["lift_ci_low_ratio"] == pytest.approx(h1 / base * math.exp(-Z * se))
    assert r["lift_ci_high_ratio"] == pytest.approx(h1 / base * math.exp(Z * se))
    # Wilson interval for 2 of 9.
    n, p = 9, h1
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    assert r["hazard_ci_low_ratio"] == pytest.approx(centre - half)
    assert r["hazard_ci_high_ratio"] == pytest.approx(centre + half)
    # The excess daily rate on the -ln(1 - h) scale: ln(1 - 1/68) - ln(1 - 2/9).
    assert r["excess_rate"] == pytest.approx(math.log(67 / 68) - math.log(7 / 9))


def test_stage_summary(wh: Warehouse) -> None:
    (r,) = q(
        wh,
        "select * from marts.fct_stage_response where segment_type = 'segment' "
        "and segment = ? and stage_number = 1",
        SEG,
    )
    assert (r["count_cases"], r["count_sent"], r["count_at_risk_at_send"]) == (10, 9, 9)
    # Days 1-3: 9 + 7 + 6 = 22 case-days, 2 + 1 + 0 = 3 settled.
    assert (r["response_case_days"], r["response_settled"]) == (22, 3)
    lift = (3 / 22) / (1 / 68)  # 9.27
    assert r["response_lift_ratio"] == pytest.approx(lift)
    se = math.sqrt(1 / 3 - 1 / 22 + 1 / 1 - 1 / 68)
    assert r["response_lift_ci_low_ratio"] == pytest.approx(lift * math.exp(-Z * se))
    # Day 1's lift interval is above 1 (1.52); day 2's (1 of 7: lift 9.71,
    # se = sqrt(1 - 1/7 + 1 - 1/68) = 1.357, low = 0.68) reaches 1.
    assert r["first_day_at_baseline"] == 2
    # Only I6 and I7 got stage 2, both 14 days after stage 1.
    assert r["median_next_stage_days"] == 14
    # Decay: the fit stops the day before the lift is back at baseline
    # (day 2), which leaves day 1 only — fewer than 3 days, so no estimate
    # rather than one from noise (tests/test_ladder_response_sim.py checks
    # the fit itself).
    assert r["count_fit_days"] == 1
    assert r["decay_half_life_days"] is None and r["died_out_day"] is None
    assert r["is_died_out_before_next_stage"] is None


def _aalen_johansen(
    rows: list[tuple[int, int, int, int, int]],
) -> tuple[list[float], list[float], list[float]]:
    """Independent AJ estimate and Collett's variance for cause 'settled'.

    rows: (day, at risk, settled, other causes, censored), in day order.
    """
    surv, cif, out_f, out_var = 1.0, 0.0, [], []
    terms: list[tuple[float, float, float, float]] = []  # (a, F_j, b, c)
    for _, n, d1, d_other, _ in rows:
        d = d1 + d_other
        lag = surv
        cif += lag * d1 / n
        surv *= 1 - d / n
        a = d / (n * (n - d)) if n > d else 0.0
        terms.append((a, cif, lag * lag * d1 * (n - d1) / n**3, lag * d1 / n**2))
        var = sum(ai * (cif - fj) ** 2 + bi - 2 * (cif - fj) * ci for ai, fj, bi, ci in terms)
        out_f.append(cif)
        out_var.append(var)
    return out_f, out_var, [surv]


def test_competing_incidence(wh: Warehouse) -> None:
    rows = q(
        wh,
        "select * from marts.fct_stage_competing where segment_type = 'segment' "
        "and segment = ? and stage_number = 1 order by days_since_send",
        SEG,
    )
    got = [
        (
            r["days_since_send"],
            r["count_at_risk"],
            r["count_settled"],
            r["count_next_stage"],
            r["count_closed_other"],
            r["count_censored"],
        )
        for r in rows
    ]
    # Sent cases I2..I10 (I1 was never sent). I6's payment on the day of
    # stage 2 counts as settled, I7 ends with stage 2, I8 with its credit note.
    assert got == [
        (1, 9, 2, 0, 0, 0),
        (2, 7, 1, 0, 0, 0),
        (5, 6, 1, 0, 0, 0),
        (14, 5, 1, 1, 0, 0),
        (20, 3, 0, 0, 1, 0),
        (AS_OF_DAY, 2, 0, 0, 0, 2),
    ]
    # Hand-worked: CIF(settled) 2/9, 3/9, 4/9, 5/9, ...; next stage 1/9 from
    # day 14 (5/9 open x 1/5); closed 1/9 from day 20 (3/9 x 1/3); open 2/9.
    assert [r["settled_cif_ratio"] for r in rows] == pytest.approx(
        [2 / 9, 3 / 9, 4 / 9, 5 / 9, 5 / 9, 5 / 9]
    )
    assert [r["next_stage_cif_ratio"] for r in rows] == pytest.approx(
        [0, 0, 0, 1 / 9, 1 / 9, 1 / 9]
    )
    assert [r["closed_other_cif_ratio"] for r in rows] == pytest.approx([0, 0, 0, 0, 1 / 9, 1 / 9])
    assert rows[-1]["still_open_ratio"] == pytest.approx(2 / 9)
    f, var, _ = _aalen_johansen([(g[0], g[1], g[2], g[3] + g[4], g[5]) for g in got])
    for r, fi, vi in zip(rows, f, var, strict=True):
        se = math.sqrt(vi) / (fi * abs(math.log(fi)))
        low = math.exp(-math.exp(math.log(-math.log(fi)) + Z * se))
        high = math.exp(-math.exp(math.log(-math.log(fi)) - Z * se))
        assert r["settled_cif_ci_low_ratio"] == pytest.approx(low)
        assert r["settled_cif_ci_high_ratio"] == pytest.approx(high)
        assert low < r["settled_cif_ratio"] < high


def test_cases_planned_vs_sent(wh: Warehouse) -> None:
    rows = {
        r["invoice_id"]: r
        for r in q(wh, "select * from marts.fct_stage_response_cases where stage_number = 1")
    }
    # Z is left out: its window starts after the as-of date.
    assert sorted(rows) == sorted(f"I{i}" for i in range(1, 11))
    assert rows["I1"]["is_sent"] is False and rows["I1"]["anchor_date"] == A
    assert rows["I2"]["planned_due_offset_days"] == 10  # inferred: median of +10
    assert rows["I2"]["ladder_version"] is None
    assert rows["I2"]["send_delay_days"] == 0


def test_stored_ladder_in_force_is_the_plan(
    ledger_warehouse: Callable[..., Warehouse],
) -> None:
    # A stored ladder plans stage 1 at +8 (Jan 23): I1, paid Jan 22, now settles
    # on day -1 of its planned send, and the sent cases went out 2 days late.
    from arinsight.config import load_settings
    from arinsight.ladder.store import apply_ladder
    from arinsight.models import build

    w = ledger_warehouse(**tables())
    apply_ladder(
        w,
        "name: l\ndefault:\n"
        "  - {stage: 1, name: r, offset_days: 8, channel: email}\n"
        "  - {stage: 2, name: m, offset_days: 24, channel: letter}\n",
        dt.date(2025, 1, 1),
    )
    build(w.con, load_settings())
    cases = {
        r["invoice_id"]: r
        for r in q(w, "select * from marts.fct_stage_response_cases where stage_number = 1")
    }
    assert cases["I1"]["anchor_date"] == dt.date(2025, 1, 23)
    assert (cases["I1"]["start_day"], cases["I1"]["end_day"]) == (-7, -1)
    assert (cases["I2"]["ladder_version"], cases["I2"]["send_delay_days"]) == (1, 2)
    # Stage 2 planned at +24 = Feb 8 for every invoice open on Feb 1: I9 and
    # I10 were open and never got it, but no later stage either: not skipped.
    s2 = {
        r["invoice_id"]: r
        for r in q(w, "select * from marts.fct_stage_response_cases where stage_number = 2")
    }
    assert sorted(s2) == ["I10", "I6", "I7", "I8", "I9"]
    assert [s2[k]["is_sent"] for k in ("I6", "I7", "I9")] == [True, True, False]
    assert not any(r["is_skipped"] for r in s2.values())


def test_version_in_force_at_the_event_date(
    ledger_warehouse: Callable[..., Warehouse],
) -> None:
    # v1 (from Jan 1) plans stage 1 at +8; v2 (from Jan 24, after the due date
    # Jan 15 and before the send on Jan 25) plans it at +10. A sent case is
    # judged by the version in force on its send date (v2: on time), an unsent
    # one by the version in force on its due date (v1: I1's planned send Jan 23).
    from arinsight.config import load_settings
    from arinsight.ladder.store import apply_ladder
    from arinsight.models import build

    w = ledger_warehouse(**tables())
    text = "name: l\ndefault:\n  - {{stage: 1, name: r, offset_days: {}, channel: email}}\n"
    apply_ladder(w, text.format(8), dt.date(2025, 1, 1))
    apply_ladder(w, text.format(10), dt.date(2025, 1, 24))
    build(w.con, load_settings())
    cases = {
        r["invoice_id"]: r
        for r in q(w, "select * from marts.fct_stage_response_cases where stage_number = 1")
    }
    i1, i2 = cases["I1"], cases["I2"]
    assert (i1["ladder_version"], i1["planned_due_offset_days"]) == (1, 8)
    assert i1["anchor_date"] == dt.date(2025, 1, 23)
    assert (i2["ladder_version"], i2["planned_due_offset_days"], i2["send_delay_days"]) == (
        2,
        10,
        0,
    )
    # Stage 2 is in neither version: I6's letter is an unplanned send.
    (i6,) = q(
        w,
        "select * from marts.fct_stage_response_cases where stage_number = 2 and invoice_id = 'I6'",
    )
    assert (i6["ladder_version"], i6["planned_due_offset_days"], i6["is_sent"]) == (2, None, True)
