"""fct_churn and fct_churn_by_stage on a hand-built customer base (smb).

K1 churned 2024-03-10 (voluntary) 50 days after a stage-1 reminder (Jan 20)
   -> involuntary by the 90-day rule; a stage-3 letter sent after the churn
   (Mar 25) is ignored
K2 churned 2024-03-15 with churn_reason non_payment, never dunned -> involuntary
K3 churned 2024-03-20 (voluntary); last stage >= 1 event Nov 1 2023 (140
   days before) and a pre-due reminder Feb 28 (stage 0 does not count) -> voluntary
K4 active, never dunned; K5 active, reached stage 2 in February
K6 created 2024-03-05 -> new in March, not in March's base
K7 churned 2024-02-10 -> in February's base, not in March's
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

SEG = "smb"
FEB29, MAR31 = dt.date(2024, 2, 29), dt.date(2024, 3, 31)
CUSTOMERS = [  # id, created, churned, reason
    ("K1", "2023-01-01", "2024-03-10", "voluntary"),
    ("K2", "2023-01-01", "2024-03-15", "non_payment"),
    ("K3", "2023-01-01", "2024-03-20", "voluntary"),
    ("K4", "2023-01-01", None, None),
    ("K5", "2023-01-01", None, None),
    ("K6", "2024-03-05", None, None),
    ("K7", "2023-01-01", "2024-02-10", "voluntary"),
]
INVOICES = [  # id, customer, issue, due
    ("I1", "K1", "2023-10-15", "2023-11-14"),
    ("I2", "K2", "2023-10-15", "2023-11-14"),
    ("I3", "K3", "2023-10-01", "2023-10-31"),
    ("I3b", "K3", "2024-02-01", "2024-03-02"),
    ("I4", "K4", "2023-10-15", "2023-11-14"),
    ("I5", "K5", "2024-01-01", "2024-01-31"),
    ("I6", "K6", "2024-03-10", "2024-04-09"),
    ("I7", "K7", "2023-10-15", "2023-11-14"),
]
PAYMENTS = [
    ("I2", "2023-11-10"),
    ("I3", "2023-11-20"),
    ("I3b", "2024-03-02"),
    ("I4", "2024-04-02"),
    ("I5", "2024-02-25"),
    ("I7", "2023-11-01"),
]
EVENTS = [
    ("I1", 1, "2024-01-20"),
    ("I1", 3, "2024-03-25"),
    ("I3", 2, "2023-11-01"),
    ("I3b", 0, "2024-02-28"),
    ("I5", 2, "2024-02-21"),
]

WINDOW_DAYS = 90  # settings involuntary_churn_window_days (DESIGN.md)
K1_GAP = (dt.date(2024, 3, 10) - dt.date(2024, 1, 20)).days  # 11 + 29 + 10 = 50
K3_GAP = (dt.date(2024, 3, 20) - dt.date(2023, 11, 1)).days  # 140
assert K1_GAP <= WINDOW_DAYS < K3_GAP

MARCH_BASE = ["K1", "K2", "K3", "K4", "K5"]
MARCH_CHURNED = ["K1", "K2", "K3"]
MARCH_INVOLUNTARY = ["K1", "K2"]
FEB_BASE = ["K1", "K2", "K3", "K4", "K5", "K7"]
# Highest stage >= 1 reached by Mar 31 (events after a churn ignored):
MARCH_STAGE = {"K1": 1, "K2": 0, "K3": 2, "K4": 0, "K5": 2}


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    ledger = {
        "customers": [
            {
                "customer_id": c,
                "segment": SEG,
                "created_at": cr,
                "churned_at": ch,
                "churn_reason": r,
            }
            for c, cr, ch, r in CUSTOMERS
        ],
        "invoices": [
            {"invoice_id": i, "customer_id": c, "issue_date": a, "due_date": b, "amount": "100.00"}
            for i, c, a, b in INVOICES
        ],
        "payments": [
            {"payment_id": f"P{i}", "invoice_id": i, "paid_at": t, "amount": "100.00"}
            for i, t in PAYMENTS
        ],
        "dunning_events": [
            {
                "event_id": f"E{n}",
                "invoice_id": i,
                "stage": s,
                "sent_at": t,
                "channel": "email",
                "fee": "0",
            }
            for n, (i, s, t) in enumerate(EVENTS)
        ],
    }
    base = tmp_path_factory.mktemp("churn")
    write_ledger(base / "ledger", ledger)
    w = Warehouse.open(base / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [base / "ledger"])
    build(w.con, load_settings())
    yield w
    w.close()


def _churn(wh: Warehouse, month_end: dt.date, segment: str = SEG) -> dict[str, Any]:
    rows = wh.sql(
        "select * from marts.fct_churn where month_end_date = ? and segment = ?",
        [month_end, segment],
    ).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_march_churn_rate(wh: Warehouse) -> None:
    r = _churn(wh, MAR31)
    assert r["count_active_customers"] == len(MARCH_BASE)
    assert r["count_churned"] == len(MARCH_CHURNED)
    assert r["churn_rate_pct"] == pytest.approx(100 * 3 / 5)
    assert r["count_new_customers"] == 1  # K6


def test_march_involuntary_churn(wh: Warehouse) -> None:
    r = _churn(wh, MAR31)
    assert r["count_involuntary_churned"] == len(MARCH_INVOLUNTARY)
    assert r["count_voluntary_churned"] == 1  # K3
    assert r["involuntary_churn_rate_pct"] == pytest.approx(100 * 2 / 5)
    assert r["involuntary_share_pct"] == pytest.approx(100 * 2 / 3)


def test_february(wh: Warehouse) -> None:
    r = _churn(wh, FEB29)
    assert (r["count_active_customers"], r["count_churned"]) == (len(FEB_BASE), 1)
    assert r["count_involuntary_churned"] == 0
    assert _churn(wh, FEB29, "all")["churn_rate_pct"] == pytest.approx(100 / 6)


def test_churn_by_highest_stage_and_relative_risk(wh: Warehouse) -> None:
    rows = {
        r["highest_stage_number"]: r
        for r in wh.sql(
            "select * from marts.fct_churn_by_stage where month_end_date = ? and segment = ?",
            [MAR31, SEG],
        ).to_dicts()
    }
    groups: dict[int, list[str]] = {}
    for cust, stage in MARCH_STAGE.items():
        groups.setdefault(stage, []).append(cust)
    rate = {s: 100 * sum(c in MARCH_CHURNED for c in cs) / len(cs) for s, cs in groups.items()}
    assert rate == {0: 50.0, 1: 100.0, 2: 50.0}
    for stage, custs in groups.items():
        assert rows[stage]["count_customers"] == len(custs)
        assert rows[stage]["churn_rate_pct"] == pytest.approx(rate[stage])
        assert rows[stage]["relative_risk_ratio"] == pytest.approx(rate[stage] / rate[0])
    assert rows[0]["is_never_dunned"] is True
    assert rows[1]["count_involuntary_churned"] == 1  # K1


def test_involuntary_flag_in_dim_customers(wh: Warehouse) -> None:
    got = dict(
        wh.sql(
            "select customer_id, is_involuntary_churn from marts.dim_customers "
            "where is_churned_in_month"
        ).rows()
    )
    assert got == {"K1": True, "K2": True, "K3": False, "K7": False}


def test_window_is_a_setting(tmp_path_factory: pytest.TempPathFactory, wh: Warehouse) -> None:
    # With a 30-day window K1 (50 days) becomes voluntary; K2 stays (non_payment).
    from arinsight.config import load_settings
    from arinsight.models import build

    build(wh.con, load_settings().model_copy(update={"involuntary_churn_window_days": 30}))
    try:
        assert _churn(wh, MAR31)["count_involuntary_churned"] == 1
    finally:
        build(wh.con, load_settings())
    assert _churn(wh, MAR31)["count_involuntary_churned"] == 2
