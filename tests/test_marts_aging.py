"""Aging snapshots and roll rates on a hand-built ledger (Jan-Mar 2024, leap year).

Days past due are worked in the comments; buckets: not_due (<= 0), 1-30,
31-60, 61-90, 91-120, 121+. Expected values derive from the named amounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

JAN31, FEB29, MAR31 = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)
SMB, ENT = "smb", "enterprise"

# invoice: (customer, issue, due, amount)
A1 = ("C1", "2024-01-31", "2024-01-31", D("100.00"))  # issued and due on a month end
A2 = ("C1", "2023-12-01", "2023-12-31", D("200.00"))  # paid Feb 15 -> cured
A3 = ("C1", "2023-10-01", "2023-10-31", D("300.00"))  # written off Feb 20
A4 = ("C1", "2024-01-02", "2024-01-30", D("400.00"))  # stays in 1-30 over February
A5 = ("C1", "2023-06-01", "2023-07-01", D("500.00"))  # 121+, 100 paid Mar 10
A5_PARTIAL = D("100.00")
A6 = ("C1", "2024-02-10", "2024-03-11", D("600.00"))  # not due in Feb, 1-30 in Mar
A7 = ("C1", "2024-02-01", "2024-03-02", D("700.00"))  # paid ON its due date Mar 2
A8 = ("C2", "2024-01-15", "2024-02-14", D("800.00"))  # enterprise, paid Apr 2
A9 = ("C1", "2024-02-05", "2024-02-20", D("90.00"))  # overpaid (100) on its due date
INVOICES = {
    "A1": A1,
    "A2": A2,
    "A3": A3,
    "A4": A4,
    "A5": A5,
    "A6": A6,
    "A7": A7,
    "A8": A8,
    "A9": A9,
}


def _days(due: str, at: dt.date) -> int:
    return (at - dt.date.fromisoformat(due)).days


# Worked days past due (the leap day matters for A4 and A1):
assert _days(A1[2], JAN31) == 0 and _days(A1[2], FEB29) == 29 and _days(A1[2], MAR31) == 60
assert _days(A2[2], JAN31) == 31
assert _days(A3[2], JAN31) == 92
assert _days(A4[2], JAN31) == 1 and _days(A4[2], FEB29) == 30 and _days(A4[2], MAR31) == 61
assert _days(A5[2], JAN31) == 214
assert _days(A6[2], MAR31) == 20
assert _days(A8[2], FEB29) == 15 and _days(A8[2], MAR31) == 46

# Expected snapshots (segment smb): bucket -> (count, amount)
AGING_SMB = {
    JAN31: {
        "not_due": (1, A1[3]),
        "1-30": (1, A4[3]),
        "31-60": (1, A2[3]),
        "61-90": (0, D(0)),
        "91-120": (1, A3[3]),
        "121+": (1, A5[3]),
    },
    FEB29: {
        "not_due": (2, A6[3] + A7[3]),
        "1-30": (2, A1[3] + A4[3]),
        "31-60": (0, D(0)),
        "61-90": (0, D(0)),
        "91-120": (0, D(0)),
        "121+": (1, A5[3]),
    },
    MAR31: {
        "not_due": (0, D(0)),
        "1-30": (1, A6[3]),
        "31-60": (1, A1[3]),
        "61-90": (1, A4[3]),
        "91-120": (0, D(0)),
        "121+": (1, A5[3] - A5_PARTIAL),
    },
}
AGING_ENT = {JAN31: ("not_due", A8[3]), FEB29: ("1-30", A8[3]), MAR31: ("31-60", A8[3])}

CUSTOMERS = [{"customer_id": "C1", "segment": SMB}, {"customer_id": "C2", "segment": ENT}]


def _ledger() -> dict[str, Any]:
    invoices = [
        {"invoice_id": k, "customer_id": c, "issue_date": i, "due_date": d, "amount": str(a)}
        for k, (c, i, d, a) in INVOICES.items()
    ]

    def pay(pid: str, iid: str, day: str, amount: D) -> dict[str, str]:
        return {"payment_id": pid, "invoice_id": iid, "paid_at": day, "amount": str(amount)}

    payments = [
        pay("P2", "A2", "2024-02-15", A2[3]),
        pay("P5", "A5", "2024-03-10", A5_PARTIAL),
        pay("P7", "A7", "2024-03-02", A7[3]),
        pay("P8", "A8", "2024-04-02", A8[3]),
        pay("P9", "A9", "2024-02-20", D("100.00")),
    ]
    adjustments = [
        {
            "adjustment_id": "W3",
            "invoice_id": "A3",
            "adjusted_at": "2024-02-20",
            "amount": str(A3[3]),
            "kind": "write_off",
        }
    ]
    return {
        "customers": CUSTOMERS,
        "invoices": invoices,
        "payments": payments,
        "adjustments": adjustments,
    }


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    d = tmp_path_factory.mktemp("aging")
    write_ledger(d / "ledger", _ledger())
    w = Warehouse.open(d / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [d / "ledger"])
    build(w.con, load_settings())
    yield w
    w.close()


def _snapshot(wh: Warehouse, month_end: dt.date, segment: str) -> dict[str, tuple[int, D]]:
    rows = wh.sql(
        "select aging_bucket, count_open_invoices, open_amount "
        "from marts.fct_aging_snapshots where month_end_date = ? and segment = ? "
        "order by bucket_order",
        [month_end, segment],
    ).rows()
    return {b: (n, a) for b, n, a in rows}


@pytest.mark.parametrize("month_end", [JAN31, FEB29, MAR31])
def test_aging_buckets_per_segment(wh: Warehouse, month_end: dt.date) -> None:
    assert _snapshot(wh, month_end, SMB) == AGING_SMB[month_end]
    bucket, amount = AGING_ENT[month_end]
    ent = _snapshot(wh, month_end, ENT)
    assert ent[bucket] == (1, amount)
    assert sum(n for n, _ in ent.values()) == 1


@pytest.mark.parametrize("month_end", [JAN31, FEB29, MAR31])
def test_buckets_sum_to_ar_exactly(wh: Warehouse, month_end: dt.date) -> None:
    ar = wh.sql(
        "select segment, ar_amount from marts.fct_dso_monthly where month_end_date = ?", [month_end]
    ).rows()
    for segment, ar_amount in ar:
        snap = _snapshot(wh, month_end, segment)
        assert sum(a for _, a in snap.values()) == ar_amount
    smb_ar = sum(a for _, a in AGING_SMB[month_end].values())
    assert dict(ar)["all"] == smb_ar + AGING_ENT[month_end][1]


def test_share_of_ar(wh: Warehouse) -> None:
    # Feb 29, smb: not_due 1,300 of AR 2,300 (not_due 1,300 + 1-30 500 + 121+ 500).
    total = sum(a for _, a in AGING_SMB[FEB29].values())
    got = wh.sql(
        "select share_of_ar_pct from marts.fct_aging_snapshots where month_end_date = ?"
        " and segment = ? and aging_bucket = 'not_due'",
        [FEB29, SMB],
    ).item()
    assert got == pytest.approx(100 * float((A6[3] + A7[3]) / total))


def _rates(wh: Warehouse, month_end: dt.date, segment: str) -> dict[str, dict[str, Any]]:
    rows = wh.sql(
        "select * from marts.fct_aging_roll_rates where month_end_date = ? and segment = ?",
        [month_end, segment],
    ).to_dicts()
    return {r["from_aging_bucket"]: r for r in rows}


def test_roll_rates_january_to_february(wh: Warehouse) -> None:
    r = _rates(wh, FEB29, SMB)
    # A1 not_due -> 1-30: rolled. A4 1-30 -> 1-30 (Feb has 29 days): stayed.
    # A2 31-60 paid Feb 15: cured. A3 91-120 written off Feb 20. A5 121+: stayed.
    assert (r["not_due"]["count_rolled"], r["not_due"]["roll_rate_pct"]) == (1, 100.0)
    assert (r["1-30"]["count_stayed"], r["1-30"]["stay_rate_pct"]) == (1, 100.0)
    assert (r["31-60"]["count_cured"], r["31-60"]["cure_rate_pct"]) == (1, 100.0)
    assert (r["91-120"]["count_written_off"], r["91-120"]["write_off_rate_pct"]) == (1, 100.0)
    assert (r["121+"]["count_stayed"], r["121+"]["stay_rate_pct"]) == (1, 100.0)
    assert r["61-90"]["count_open_invoices"] == 0 and r["61-90"]["roll_rate_pct"] is None
    assert r["91-120"]["written_off_amount"] == A3[3]
    assert r["not_due"]["previous_month_end_date"] == JAN31
    # all segments: A1 (smb) and A8 (enterprise) both roll out of not_due.
    a = _rates(wh, FEB29, "all")["not_due"]
    assert (a["count_rolled"], a["rolled_amount"]) == (2, A1[3] + A8[3])


def test_roll_rates_february_to_march(wh: Warehouse) -> None:
    r = _rates(wh, MAR31, SMB)
    # not_due at Feb 29: A6 rolls to 1-30, A7 is paid on its due date (cured).
    not_due = A6[3] + A7[3]
    assert r["not_due"]["open_amount"] == not_due
    assert r["not_due"]["roll_rate_pct"] == pytest.approx(100 * float(A6[3] / not_due))
    assert r["not_due"]["cure_rate_pct"] == pytest.approx(100 * float(A7[3] / not_due))
    # 1-30 at Feb 29: A1 -> 31-60 and A4 -> 61-90 (skips a bucket): both rolled.
    assert (r["1-30"]["count_rolled"], r["1-30"]["rolled_amount"]) == (2, A1[3] + A4[3])
    # 121+ with a partial payment: still open, stays; weighted by the opening 500.
    assert (r["121+"]["count_stayed"], r["121+"]["stayed_amount"]) == (1, A5[3])


def test_roll_rates_reconcile_to_100(wh: Warehouse) -> None:
    bad = wh.sql("""
        select * from marts.fct_aging_roll_rates
        where open_amount > 0
          and abs(roll_rate_pct + stay_rate_pct + cure_rate_pct + write_off_rate_pct - 100)
              > 1e-9
    """)
    assert bad.height == 0
    # the first month end (Jun 2023) has no earlier snapshot
    first = wh.sql("select min(month_end_date) from marts.fct_aging_roll_rates").item()
    assert first == dt.date(2023, 7, 31)
