"""Stage conversion and Kaplan-Meier survival on a hand-built ledger.

Stage-1 reminders go out in March 2024 to S1..S7 (all due 2024-03-01):
  S1 sent Mar 5, paid Mar 5 (same day: converted, 0 days)
  S2 sent Mar 5, paid Mar 15 (converted, 10 days)
  S3 sent Mar 10, stage 2 on Mar 24, paid Mar 30 (progressed: not converted at
     stage 1 - it settled after s2 - but converted at stage 2; 20 days after s1)
  S4 sent Mar 10, never paid (open: censored at the as-of date, 82 days)
  S5 sent Mar 20, paid May 10 (51 days: after H = 30, not converted)
  S6 paid Mar 1, reminded Mar 8 (after settlement: not an entry)
  S7 reminded Mar 25 and again Mar 28 (two reminders of one stage), 200 paid
     Mar 20 before the reminder, the rest Apr 1 (converted, 7 days)
S8 gets stage 1 on May 25 and is still open at the as-of date May 31
(censored after 6 days, pending). S9's pre-due reminder on May 31 sets the as-of date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

SEG = "smb"
MAR31, MAY31 = dt.date(2024, 3, 31), dt.date(2024, 5, 31)
AS_OF = MAY31
AMOUNT = {f"S{i}": D(f"{i}00.00") for i in range(1, 10)}
S7_PARTIAL = D("200.00")

INVOICE_DATES = {k: ("2024-02-01", "2024-03-01") for k in AMOUNT}
INVOICE_DATES["S8"] = ("2024-04-15", "2024-05-15")
INVOICE_DATES["S9"] = ("2024-05-01", "2024-06-03")
PAYMENTS = [
    ("S1", "2024-03-05", AMOUNT["S1"]),
    ("S2", "2024-03-15", AMOUNT["S2"]),
    ("S3", "2024-03-30", AMOUNT["S3"]),
    ("S5", "2024-05-10", AMOUNT["S5"]),
    ("S6", "2024-03-01", AMOUNT["S6"]),
    ("S7", "2024-03-20", S7_PARTIAL),
    ("S7", "2024-04-01", AMOUNT["S7"] - S7_PARTIAL),
]
EVENTS = [
    ("S1", 1, "2024-03-05"),
    ("S2", 1, "2024-03-05"),
    ("S3", 1, "2024-03-10"),
    ("S3", 2, "2024-03-24"),
    ("S4", 1, "2024-03-10"),
    ("S5", 1, "2024-03-20"),
    ("S6", 1, "2024-03-08"),
    ("S7", 1, "2024-03-25"),
    ("S7", 1, "2024-03-28"),
    ("S8", 1, "2024-05-25"),
    ("S9", 0, "2024-05-31"),
]


def _ledger() -> dict[str, Any]:
    return {
        "customers": [{"customer_id": "C1", "segment": SEG}],
        "invoices": [
            {
                "invoice_id": k,
                "customer_id": "C1",
                "issue_date": i,
                "due_date": d,
                "amount": str(AMOUNT[k]),
            }
            for k, (i, d) in INVOICE_DATES.items()
        ],
        "payments": [
            {"payment_id": f"P{n}", "invoice_id": k, "paid_at": t, "amount": str(a)}
            for n, (k, t, a) in enumerate(PAYMENTS)
        ],
        "dunning_events": [
            {
                "event_id": f"E{n}",
                "invoice_id": k,
                "stage": s,
                "sent_at": t,
                "channel": "email",
                "fee": "0",
            }
            for n, (k, s, t) in enumerate(EVENTS)
        ],
    }


def _days(a: str, b: str) -> int:
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


# Days from the stage-1 send to settlement (or to the as-of date when open).
DURATION = {
    "S1": _days("2024-03-05", "2024-03-05"),
    "S7": _days("2024-03-25", "2024-04-01"),
    "S2": _days("2024-03-05", "2024-03-15"),
    "S3": _days("2024-03-10", "2024-03-30"),
    "S5": _days("2024-03-20", "2024-05-10"),
    "S4": _days("2024-03-10", "2024-05-31"),
    "S8": _days("2024-05-25", "2024-05-31"),
}
assert DURATION == {"S1": 0, "S7": 7, "S2": 10, "S3": 20, "S5": 51, "S4": 82, "S8": 6}
CENSORED = {"S4", "S8"}

ENTERED_MARCH = ["S1", "S2", "S3", "S4", "S5", "S7"]  # S6 was settled before the send
CONVERTED_MARCH = ["S1", "S2", "S7"]
# open amount at the start of the send day: S7 had 200 paid before Mar 25
OPEN_AT_SEND = {k: AMOUNT[k] for k in ENTERED_MARCH} | {"S7": AMOUNT["S7"] - S7_PARTIAL}


def _build(directory: Path, **overrides: Any) -> Warehouse:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    write_ledger(directory / "ledger", _ledger())
    w = Warehouse.open(directory / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [directory / "ledger"])
    build(w.con, load_settings().model_copy(update=overrides))
    return w


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    w = _build(tmp_path_factory.mktemp("stages"))
    yield w
    w.close()


def _conv(wh: Warehouse, month_end: dt.date, stage: int, segment: str = SEG) -> dict[str, Any]:
    rows = wh.sql(
        "select * from marts.fct_stage_conversion where month_end_date = ? "
        "and segment = ? and stage_number = ?",
        [month_end, segment, stage],
    ).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_stage1_march_counts(wh: Warehouse) -> None:
    r = _conv(wh, MAR31, 1)
    assert r["count_entered"] == len(ENTERED_MARCH)  # 6
    assert r["count_converted"] == len(CONVERTED_MARCH)  # 3
    assert r["count_progressed"] == 1  # S3
    assert r["count_pending"] == 0
    assert r["conversion_pct"] == pytest.approx(100 * 3 / 6)
    assert r["progression_pct"] == pytest.approx(100 * 1 / 6)


def test_stage1_march_amounts(wh: Warehouse) -> None:
    r = _conv(wh, MAR31, 1)
    entered = sum(OPEN_AT_SEND.values())  # 100+200+300+400+500+500 = 2,000
    converted = sum(OPEN_AT_SEND[k] for k in CONVERTED_MARCH)  # 100+200+500 = 800
    assert (r["entered_amount"], r["converted_amount"]) == (entered, converted)
    assert r["conversion_amount_pct"] == pytest.approx(100 * float(converted / entered))


def test_stage1_march_median_and_p75(wh: Warehouse) -> None:
    # Kaplan-Meier over durations 0, 7, 10, 20, 51 (settled) and 82 (censored):
    # S(0) = 5/6, S(7) = 5/6*4/5 = 4/6, S(10) = 4/6*3/4 = 1/2 -> median 10;
    # S(20) = 1/2*2/3 = 1/3, S(51) = 1/3*1/2 = 1/6 <= 1/4 -> p75 51.
    r = _conv(wh, MAR31, 1)
    assert (r["median_days_to_settle"], r["p75_days_to_settle"]) == (DURATION["S2"], DURATION["S5"])


def test_stage2_entry_converts(wh: Warehouse) -> None:
    r = _conv(wh, MAR31, 2)
    assert (r["count_entered"], r["count_converted"]) == (1, 1)  # S3 paid 6 days after s2
    assert r["median_days_to_settle"] == _days("2024-03-24", "2024-03-30")
    assert r["entered_amount"] == AMOUNT["S3"]


def test_open_case_in_the_last_month_is_pending(wh: Warehouse) -> None:
    r = _conv(wh, MAY31, 1)
    assert (r["count_entered"], r["count_converted"], r["count_pending"]) == (1, 0, 1)
    assert r["median_days_to_settle"] is None  # the curve never reaches 50 %


def test_all_segment_row_equals_the_only_segment(wh: Warehouse) -> None:
    seg, total = _conv(wh, MAR31, 1), _conv(wh, MAR31, 1, "all")
    for col in (
        "count_entered",
        "count_converted",
        "converted_amount",
        "median_days_to_settle",
        "p75_days_to_settle",
    ):
        assert seg[col] == total[col]


def test_survival_curve_respects_censoring(wh: Warehouse) -> None:
    # Stage 1 over all months: 7 entries; S8 is censored at day 6, S4 at day 82.
    # day  at risk  settled  censored  still open
    #   0     7        1        0      6/7
    #   6     6        0        1      6/7
    #   7     5        1        0      6/7 * 4/5 = 24/35
    #  10     4        1        0      24/35 * 3/4 = 18/35
    #  20     3        1        0      18/35 * 2/3 = 12/35
    #  51     2        1        0      12/35 * 1/2 = 6/35
    #  82     1        0        1      6/35
    durations = sorted(DURATION.items(), key=lambda kv: kv[1])
    expected, at_risk, still_open = [], len(durations), F(1)
    for name, day in durations:
        settled = 0 if name in CENSORED else 1
        still_open *= 1 - F(settled, at_risk)
        expected.append((day, at_risk, settled, 1 - settled, still_open))
        at_risk -= 1
    assert [e[4] for e in expected] == [
        F(6, 7),
        F(6, 7),
        F(24, 35),
        F(18, 35),
        F(12, 35),
        F(6, 35),
        F(6, 35),
    ]
    rows = wh.sql(
        "select days_since_send, count_at_risk, count_settled, count_censored, "
        "still_open_ratio from marts.fct_stage_survival where segment = ? and "
        "stage_number = 1 order by days_since_send",
        [SEG],
    ).rows()
    assert [r[:4] for r in rows] == [e[:4] for e in expected]
    assert [r[4] for r in rows] == pytest.approx([float(e[4]) for e in expected])
    # Ignoring censoring would overstate what is still open at day 10 (4/7 = 0.571).
    assert float(F(18, 35)) < 4 / 7


def test_horizon_is_a_setting(tmp_path: Path) -> None:
    # With H = 60 days S5 (paid 51 days after the reminder) converts as well.
    w = _build(tmp_path, conversion_horizon_days=60)
    try:
        r = w.sql(
            "select count_converted from marts.fct_stage_conversion where "
            "month_end_date = ? and segment = ? and stage_number = 1",
            [MAR31, SEG],
        ).item()
    finally:
        w.close()
    assert r == len(CONVERTED_MARCH) + 1
