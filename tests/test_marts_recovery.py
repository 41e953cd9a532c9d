"""fct_recovery on a hand-built cohort: invoices due in January 2024.

As-of date 2024-05-15, so the 30/60/90-day horizons of the January cohort are
fully observed (Jan 31 + 90 = Apr 30) and the 180-day one is not (Jul 29).
Per case (due date, amount) and what counts as recovered within h days of due:
  R1 due Jan 10, 1,000: paid on the due date -> not an overdue case
  R2 due Jan 15, 1,000: 400 on Feb 1 (day 17), 600 on Mar 20 (day 65)
  R3 due Jan 20, 2,000: 2,100 on Feb 10 (day 21) - overpaid; 2,000 counts
  R8 due Jan 22, 1,000: credit note 400 on Jan 27, 650 paid Feb 5 - only the
     600 still owed counts (the credit note reduced the claim)
  R4 due Jan 25,   500: fees 5 + 10, agency Mar 1, written off Apr 30
  R5 due Jan 31,   800: 300 on Feb 15 (day 15), agency Mar 5 (500 handed
     over), 500 on Apr 10 (day 70); fee 5
  R6 due Jan 5,    600: 100 on Feb 20 (day 46); still open
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

JAN31 = dt.date(2024, 1, 31)
SEG = "smb"

CASES = {  # invoice: (due date, amount)
    "R1": ("2024-01-10", D("1000")),
    "R2": ("2024-01-15", D("1000")),
    "R3": ("2024-01-20", D("2000")),
    "R8": ("2024-01-22", D("1000")),
    "R4": ("2024-01-25", D("500")),
    "R5": ("2024-01-31", D("800")),
    "R6": ("2024-01-05", D("600")),
    "R7": ("2024-05-15", D("100")),
}
PAYMENTS = [
    ("R1", "2024-01-10", "1000"),
    ("R2", "2024-02-01", "400"),
    ("R2", "2024-03-20", "600"),
    ("R3", "2024-02-10", "2100"),
    ("R8", "2024-02-05", "650"),
    ("R5", "2024-02-15", "300"),
    ("R5", "2024-04-10", "500"),
    ("R6", "2024-02-20", "100"),
    ("R7", "2024-05-15", "100"),
]  # R7 (due in May) sets the as-of date
ADJUSTMENTS = [("R8", "2024-01-27", "400", "credit_note"), ("R4", "2024-04-30", "500", "write_off")]
EVENTS = [
    ("R4", 2, "2024-02-10", "letter", "5.00"),
    ("R4", 3, "2024-02-20", "letter", "10.00"),
    ("R4", 4, "2024-03-01", "collection_agency", "0"),
    ("R5", 2, "2024-02-14", "letter", "5.00"),
    ("R5", 4, "2024-03-05", "collection_agency", "0"),
]

OVERDUE = ["R2", "R3", "R8", "R4", "R5", "R6"]
OVERDUE_AMOUNT = sum(CASES[k][1] for k in OVERDUE)  # 5,900
# recovered within h days of due, per case (capped at what was still owed):
#            R2     R3      R8     R4   R5     R6
REC_30 = D(400) + D(2000) + D(600) + 0 + D(300) + 0  # 3,300
REC_60 = D(400) + D(2000) + D(600) + 0 + D(300) + D(100)  # 3,400 (R2's Mar 20 > Mar 15)
REC_90 = D(1000) + D(2000) + D(600) + 0 + D(800) + D(100)  # 4,500
CLOSED = ["R2", "R3", "R8", "R4", "R5"]  # R6 is still open
CLOSED_RECOVERED = D(1000) + D(2000) + D(600) + 0 + D(800)  # 4,400
CLOSED_WRITTEN_OFF = D(500)  # R4
HANDED_OVER = D(500) + (D(800) - D(300))  # R4 500, R5 500 after its Feb 15 payment
AGENCY_RECOVERED = D(500)  # R5's Apr 10 payment
FEES = D("5") + D("10") + D("5")  # R4 15, R5 5
FEES_ON_PAID = D("5")  # R5 was settled by payment; R4 by write-off


@pytest.fixture(scope="module")
def row(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    def issue(due: str) -> str:
        return (dt.date.fromisoformat(due) - dt.timedelta(days=30)).isoformat()

    ledger = {
        "customers": [{"customer_id": "C1", "segment": SEG}],
        "invoices": [
            {
                "invoice_id": k,
                "customer_id": "C1",
                "issue_date": issue(due),
                "due_date": due,
                "amount": str(a),
            }
            for k, (due, a) in CASES.items()
        ],
        "payments": [
            {"payment_id": f"P{n}", "invoice_id": k, "paid_at": t, "amount": a}
            for n, (k, t, a) in enumerate(PAYMENTS)
        ],
        "adjustments": [
            {"adjustment_id": f"A{n}", "invoice_id": k, "adjusted_at": t, "amount": a, "kind": kind}
            for n, (k, t, a, kind) in enumerate(ADJUSTMENTS)
        ],
        "dunning_events": [
            {"event_id": f"E{n}", "invoice_id": k, "stage": s, "sent_at": t, "channel": c, "fee": f}
            for n, (k, s, t, c, f) in enumerate(EVENTS)
        ],
    }
    base = tmp_path_factory.mktemp("recovery")
    write_ledger(base / "ledger", ledger)
    with Warehouse.open(base / "w.duckdb", read_only=False, create=True) as w:
        load_sources(w.con, [base / "ledger"])
        build(w.con, load_settings())
        rows = w.sql(
            "select * from marts.fct_recovery where month_end_date = ? and segment = 'all'", [JAN31]
        ).to_dicts()
    assert len(rows) == 1
    yield rows[0]


def test_overdue_cases(row: dict[str, Any]) -> None:
    assert row["count_overdue_cases"] == len(OVERDUE)
    assert row["overdue_amount"] == OVERDUE_AMOUNT


def test_recovered_within_horizons(row: dict[str, Any]) -> None:
    assert (
        row["recovered_30d_amount"],
        row["recovered_60d_amount"],
        row["recovered_90d_amount"],
    ) == (REC_30, REC_60, REC_90)
    assert row["recovery_30d_pct"] == pytest.approx(100 * float(REC_30 / OVERDUE_AMOUNT))
    assert row["recovery_90d_pct"] == pytest.approx(100 * float(REC_90 / OVERDUE_AMOUNT))


def test_unobserved_horizon_is_null(row: dict[str, Any]) -> None:
    # Jan 31 + 180 days = Jul 29 > as-of May 15: not every case had 180 days.
    assert row["recovered_180d_amount"] is None and row["recovery_180d_pct"] is None


def test_closed_case_recovery(row: dict[str, Any]) -> None:
    assert row["count_closed_cases"] == len(CLOSED)
    assert row["closed_recovered_amount"] == CLOSED_RECOVERED
    assert row["closed_written_off_amount"] == CLOSED_WRITTEN_OFF
    expected = 100 * float(CLOSED_RECOVERED / (CLOSED_RECOVERED + CLOSED_WRITTEN_OFF))
    assert row["closed_case_recovery_pct"] == pytest.approx(expected)  # 89.8 %


def test_agency_recovery(row: dict[str, Any]) -> None:
    assert (row["count_handed_over"], row["handed_over_amount"]) == (2, HANDED_OVER)
    assert row["agency_recovered_amount"] == AGENCY_RECOVERED
    assert row["agency_recovery_pct"] == pytest.approx(100 * float(AGENCY_RECOVERED / HANDED_OVER))


def test_fee_yield(row: dict[str, Any]) -> None:
    assert (row["fee_charged_amount"], row["fee_on_paid_cases_amount"]) == (FEES, FEES_ON_PAID)
    assert row["fee_yield_pct"] == pytest.approx(100 * float(FEES_ON_PAID / FEES))  # 25 %
