"""DSO family on hand-built ledgers, arithmetic worked in the comments.

Every expected value below is derived from the named constants, never pasted
from output. The ledger covers: an invoice issued on a month end (I2, Jan
31), one issued on the leap day (I3, 2024-02-29, also a month end), a
payment on the due date (I1), a partial payment (I2), a credit note (I3), an
overpayment (I5) and a late payment (I6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

# --- the ledger --------------------------------------------------------------
SMB, ENT = "smb", "enterprise"
JAN31, FEB29, MAR31 = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)

I1_AMOUNT = D("1000.00")  # issued Jan 1, due Jan 31, paid in full ON the due date
I2_AMOUNT = D("2000.00")  # issued Jan 31 (month end), due Mar 1
I2_PARTIAL = D("500.00")  # paid Feb 15
I6_AMOUNT = D("800.00")  # issued Jan 10, due Feb 9, paid Mar 5 (25 days late)
I3_AMOUNT = D("3000.00")  # issued Feb 29 (leap day), due Mar 30
I3_CREDIT = D("600.00")  # credit note Mar 10
I5_AMOUNT = D("400.00")  # issued Mar 1, due Mar 31
I5_PAID = D("450.00")  # paid Mar 20: 50.00 overpaid (unapplied, never negative AR)
I4_AMOUNT = D("1200.00")  # enterprise; issued Mar 15, due Apr 14, paid Apr 14

CUSTOMERS = [
    {"customer_id": "C1", "segment": SMB},
    {"customer_id": "C2", "segment": ENT},
]


def _inv(iid: str, cust: str, issue: str, due: str, amount: D) -> dict[str, Any]:
    return {
        "invoice_id": iid,
        "customer_id": cust,
        "issue_date": issue,
        "due_date": due,
        "amount": str(amount),
    }


INVOICES = [
    _inv("I1", "C1", "2024-01-01", "2024-01-31", I1_AMOUNT),
    _inv("I2", "C1", "2024-01-31", "2024-03-01", I2_AMOUNT),
    _inv("I6", "C1", "2024-01-10", "2024-02-09", I6_AMOUNT),
    _inv("I3", "C1", "2024-02-29", "2024-03-30", I3_AMOUNT),
    _inv("I5", "C1", "2024-03-01", "2024-03-31", I5_AMOUNT),
    _inv("I4", "C2", "2024-03-15", "2024-04-14", I4_AMOUNT),
]
PAYMENTS = [
    {"payment_id": "P1", "invoice_id": "I1", "paid_at": "2024-01-31", "amount": str(I1_AMOUNT)},
    {"payment_id": "P2", "invoice_id": "I2", "paid_at": "2024-02-15", "amount": str(I2_PARTIAL)},
    {"payment_id": "P6", "invoice_id": "I6", "paid_at": "2024-03-05", "amount": str(I6_AMOUNT)},
    {"payment_id": "P5", "invoice_id": "I5", "paid_at": "2024-03-20", "amount": str(I5_PAID)},
    # Apr 14 is after the last month end we check; it makes March complete.
    {"payment_id": "P4", "invoice_id": "I4", "paid_at": "2024-04-14", "amount": str(I4_AMOUNT)},
]
ADJUSTMENTS = [
    {
        "adjustment_id": "A3",
        "invoice_id": "I3",
        "adjusted_at": "2024-03-10",
        "amount": str(I3_CREDIT),
        "kind": "credit_note",
    },
]

# --- worked figures ------------------------------------------------------------
# AR at Jan 31: I1 paid on Jan 31 (end of day: 0). I2 issued Jan 31 counts.
AR_JAN = I2_AMOUNT + I6_AMOUNT  # 2,800.00, all current
# AR at Feb 29: I2 after the partial payment, I6 (overdue since Feb 9), I3 new.
AR_FEB = (I2_AMOUNT - I2_PARTIAL) + I6_AMOUNT + I3_AMOUNT  # 5,300.00
CURRENT_FEB = (I2_AMOUNT - I2_PARTIAL) + I3_AMOUNT  # 4,500.00 (due Mar 1, Mar 30)
# AR at Mar 31: I2 1,500 (overdue), I3 2,400 (overdue since Mar 30), I4 1,200
# (current); I6 paid, I5 overpaid -> 0, not -50.
AR_MAR_SMB = (I2_AMOUNT - I2_PARTIAL) + (I3_AMOUNT - I3_CREDIT)  # 3,900.00
AR_MAR = AR_MAR_SMB + I4_AMOUNT  # 5,100.00
CURRENT_MAR = I4_AMOUNT  # 1,200.00
# S(Jan 1, Mar 31] (90 days back from Mar 31 is Jan 1 in a leap year, so I1,
# issued Jan 1, falls outside): I6 + I2 + I3 + I5 + I4 - credit note.
SALES_90_MAR = I6_AMOUNT + I2_AMOUNT + I3_AMOUNT + I5_AMOUNT + I4_AMOUNT - I3_CREDIT  # 6,800
SALES_90_MAR_SMB = SALES_90_MAR - I4_AMOUNT  # 5,600
# S(Mar 1, Mar 31]: I5 was issued ON Mar 1 -> excluded; I4 and the credit note.
SALES_30_MAR = I4_AMOUNT - I3_CREDIT  # 600
SALES_365_MAR = SALES_90_MAR + I1_AMOUNT  # 7,800
# S(Nov 2, Jan 31] and S(Dec 1, Feb 29]
SALES_90_JAN = I1_AMOUNT + I6_AMOUNT + I2_AMOUNT  # 3,800
SALES_90_FEB = SALES_90_JAN + I3_AMOUNT  # 6,800

DSO_90_MAR = float(AR_MAR / SALES_90_MAR * 90)  # 5,100 / 6,800 * 90 = 67.5
BPDSO_MAR = float(CURRENT_MAR / SALES_90_MAR * 90)  # 1,200 / 6,800 * 90 = 15.88
ADD_MAR = DSO_90_MAR - BPDSO_MAR  # 51.62

# Monthly net sales for countback and CEI.
SALES_JAN = I1_AMOUNT + I6_AMOUNT + I2_AMOUNT  # 3,800
SALES_FEB = I3_AMOUNT  # 3,000
SALES_MAR = I5_AMOUNT + I4_AMOUNT - I3_CREDIT  # 1,000
# Countback at Mar 31 (all): March's 1,000 is covered (31 days, 4,100 left),
# February's 3,000 too (29 days - leap year, 1,100 left), January's 3,800 is
# not: 1,100 / 3,800 * 31 days.
COUNTBACK_MAR = 31 + 29 + float((AR_MAR - SALES_MAR - SALES_FEB) / SALES_JAN) * 31  # 68.97
# CEI = (AR begin + S(month) - AR end) / (AR begin + S(month) - current AR end) * 100
CEI_JAN = 100.0 * float((0 + SALES_JAN - AR_JAN) / (0 + SALES_JAN - AR_JAN))  # 100 (all current)
CEI_FEB = 100.0 * float((AR_JAN + SALES_FEB - AR_FEB) / (AR_JAN + SALES_FEB - CURRENT_FEB))
CEI_MAR = 100.0 * float((AR_FEB + SALES_MAR - AR_MAR) / (AR_FEB + SALES_MAR - CURRENT_MAR))
# Weighted DBT of March: settled in March are I6 (25 days late: Feb 9 -> Mar 5
# in a leap year) and I5 (on time); amount-weighted.
I6_DAYS_LATE = (dt.date(2024, 3, 5) - dt.date(2024, 2, 9)).days
assert I6_DAYS_LATE == 25
DBT_MAR = float(I6_AMOUNT * I6_DAYS_LATE / (I6_AMOUNT + I5_AMOUNT))  # 16.67


def _build(directory: Path, **tables: Any) -> Warehouse:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    write_ledger(directory / "ledger", tables)
    wh = Warehouse.open(directory / "w.duckdb", read_only=False, create=True)
    load_sources(wh.con, [directory / "ledger"])
    build(wh.con, load_settings())
    return wh


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    w = _build(
        tmp_path_factory.mktemp("dso"),
        customers=CUSTOMERS,
        invoices=INVOICES,
        payments=PAYMENTS,
        adjustments=ADJUSTMENTS,
    )
    yield w
    w.close()


def _row(wh: Warehouse, month_end: dt.date, segment: str = "all") -> dict[str, Any]:
    rows = wh.sql(
        "select * from marts.fct_dso_monthly where month_end_date = ? and segment = ?",
        [month_end, segment],
    ).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_month_ends_are_complete_months_only(wh: Warehouse) -> None:
    # First activity Jan 1; last activity Apr 14 -> April is not complete.
    got = wh.sql("select distinct month_end_date from marts.fct_dso_monthly order by 1")
    assert got["month_end_date"].to_list() == [JAN31, FEB29, MAR31]


def test_ar_and_current_ar_at_each_month_end(wh: Warehouse) -> None:
    jan, feb, mar = _row(wh, JAN31), _row(wh, FEB29), _row(wh, MAR31)
    assert (jan["ar_amount"], jan["current_ar_amount"]) == (AR_JAN, AR_JAN)
    assert (feb["ar_amount"], feb["current_ar_amount"]) == (AR_FEB, CURRENT_FEB)
    assert (mar["ar_amount"], mar["current_ar_amount"]) == (AR_MAR, CURRENT_MAR)
    assert mar["overdue_ar_amount"] == AR_MAR - CURRENT_MAR
    assert mar["count_open_invoices"] == 3  # I2, I3, I4; the overpaid I5 is not open


def test_sales_windows(wh: Warehouse) -> None:
    mar = _row(wh, MAR31)
    assert mar["sales_30d_amount"] == SALES_30_MAR
    assert mar["sales_90d_amount"] == SALES_90_MAR
    assert mar["sales_window_amount"] == SALES_90_MAR  # default window D = 90
    assert mar["sales_365d_amount"] == SALES_365_MAR
    assert _row(wh, JAN31)["sales_90d_amount"] == SALES_90_JAN
    assert _row(wh, FEB29)["sales_90d_amount"] == SALES_90_FEB


def test_dso_best_possible_dso_and_add(wh: Warehouse) -> None:
    mar = _row(wh, MAR31)
    assert DSO_90_MAR == 67.5
    assert mar["dso_90_days"] == pytest.approx(DSO_90_MAR)
    assert mar["dso_days"] == pytest.approx(DSO_90_MAR)
    assert mar["best_possible_dso_days"] == pytest.approx(BPDSO_MAR)
    assert mar["add_days"] == pytest.approx(ADD_MAR)
    assert mar["dso_30_days"] == pytest.approx(float(AR_MAR / SALES_30_MAR * 30))  # 255.0
    assert mar["dso_365_days"] == pytest.approx(float(AR_MAR / SALES_365_MAR * 365))
    feb = _row(wh, FEB29)
    assert feb["dso_days"] == pytest.approx(float(AR_FEB / SALES_90_FEB * 90))
    assert feb["best_possible_dso_days"] == pytest.approx(float(CURRENT_FEB / SALES_90_FEB * 90))


def test_per_segment_rows_and_all(wh: Warehouse) -> None:
    smb, ent = _row(wh, MAR31, SMB), _row(wh, MAR31, ENT)
    assert smb["ar_amount"] == AR_MAR_SMB
    assert smb["current_ar_amount"] == 0
    assert smb["dso_days"] == pytest.approx(float(AR_MAR_SMB / SALES_90_MAR_SMB * 90))  # 62.68
    assert ent["ar_amount"] == I4_AMOUNT
    assert ent["dso_days"] == pytest.approx(90.0)  # 1,200 / 1,200 * 90
    assert smb["ar_amount"] + ent["ar_amount"] == _row(wh, MAR31)["ar_amount"]


def test_window_completeness_flag(wh: Warehouse) -> None:
    # Jan 31 - 90 days reaches back before the first activity (Jan 1).
    assert _row(wh, JAN31)["is_window_complete"] is False
    assert _row(wh, MAR31)["is_window_complete"] is True  # Mar 31 - 90 = Jan 1


def test_countback_dso(wh: Warehouse) -> None:
    assert _row(wh, MAR31)["countback_dso_days"] == pytest.approx(COUNTBACK_MAR)


def test_cei(wh: Warehouse) -> None:
    assert _row(wh, JAN31)["cei_pct"] == pytest.approx(CEI_JAN)
    assert _row(wh, FEB29)["cei_pct"] == pytest.approx(CEI_FEB)  # 500 / 1,300 = 38.46 %
    assert _row(wh, MAR31)["cei_pct"] == pytest.approx(CEI_MAR)  # 1,200 / 5,100 = 23.53 %
    assert _row(wh, MAR31)["ar_begin_amount"] == AR_FEB
    assert _row(wh, MAR31)["sales_month_amount"] == SALES_MAR


def test_weighted_dbt(wh: Warehouse) -> None:
    mar = _row(wh, MAR31)
    assert mar["count_settled_invoices"] == 2
    assert mar["weighted_dbt_days"] == pytest.approx(DBT_MAR)
    assert _row(wh, JAN31)["weighted_dbt_days"] == 0  # I1 paid on its due date
    assert _row(wh, FEB29)["weighted_dbt_days"] is None  # nothing settled in February


# --- Oracle HFM's countback example, corrected -----------------------------------
# Monthly sales Apr 2,250 / May 2,000 / Jun 2,500 / Jul 2,250 / Aug 1,750 /
# Sep 2,500 (30/31/30/31/31/30 days). Walking back from Sep 30 with AR 13,000:
# Sep (30 d, 10,500 left), Aug (31 d, 8,750), Jul (31 d, 6,500), Jun (30 d,
# 4,000), May (31 d, 2,000): 153 days; April's 2,250 is not covered:
# + 2,000 / 2,250 * 30 = 179.7 days. With AR 12,000: 153 + 1,000 / 2,250 * 30 = 166.3.
HFM_SALES = {4: D("2250"), 5: D("2000"), 6: D("2500"), 7: D("2250"), 8: D("1750"), 9: D("2500")}
HFM_DAYS = {4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30}
HFM_AR = {"hfm_a": D("13000"), "hfm_b": D("12000")}
HFM_FULL_DAYS = sum(HFM_DAYS[m] for m in (9, 8, 7, 6, 5))
assert HFM_FULL_DAYS == 153


def _hfm_expected(ar: D) -> float:
    left = ar - sum(HFM_SALES[m] for m in (9, 8, 7, 6, 5))
    return HFM_FULL_DAYS + float(left / HFM_SALES[4]) * HFM_DAYS[4]


def test_countback_matches_the_corrected_hfm_example(tmp_path: Path) -> None:
    customers, invoices, payments = [], [], []
    total = sum(HFM_SALES.values())  # 13,250
    for seg, ar in HFM_AR.items():
        customers.append({"customer_id": seg, "segment": seg})
        for month, amount in HFM_SALES.items():
            invoices.append(
                _inv(f"{seg}-{month}", seg, f"2023-{month:02d}-15", f"2023-{month:02d}-28", amount)
            )
        # April's invoice is paid down on Sep 30 so that exactly `ar` stays open.
        payments.append(
            {
                "payment_id": f"{seg}-p",
                "invoice_id": f"{seg}-4",
                "paid_at": "2023-09-30",
                "amount": str(total - ar),
            }
        )
    wh = _build(tmp_path, customers=customers, invoices=invoices, payments=payments)
    try:
        got = {
            r["segment"]: r
            for r in wh.sql(
                "select segment, ar_amount, countback_dso_days from marts.fct_dso_monthly "
                "where month_end_date = date '2023-09-30'"
            ).to_dicts()
        }
    finally:
        wh.close()
    assert got["hfm_a"]["ar_amount"] == HFM_AR["hfm_a"]
    assert got["hfm_a"]["countback_dso_days"] == pytest.approx(_hfm_expected(HFM_AR["hfm_a"]))
    assert round(got["hfm_a"]["countback_dso_days"], 1) == 179.7
    assert got["hfm_b"]["countback_dso_days"] == pytest.approx(_hfm_expected(HFM_AR["hfm_b"]))
    assert round(got["hfm_b"]["countback_dso_days"], 1) == 166.3


# --- countback without AR, and AR no earlier sales cover (issue 12, defect 6) ------
# Segment "biz": invoice B1 1,000 issued Jan 5, paid Jan 20; invoice B2 400
# issued Mar 20, 100 paid Mar 25, the rest Apr 2 (so March is complete).
# Segment "con": nothing before March; invoice K1 500 issued Mar 10, unpaid.
# Jan 31 and Feb 29: AR = 0 in both segments -> countback 0 days (nothing is
#   owed), where the old walk counted every month: 31 and 31 + 29 = 60 days.
# Mar 31, biz: AR 300 < March sales 400 -> 300 / 400 * 31 = 23.25 days.
# Mar 31, con: AR 500 = all of con's sales since the first activity (500):
#   no month's sales leave the walk anything to stop at -> null (undefined).
# Mar 31, all: AR 800 < March sales 900 -> 800 / 900 * 31 = 27.56 days.
CB_BIZ_MAR = float(D("300") / D("400") * 31)
CB_ALL_MAR = float(D("800") / D("900") * 31)
assert round(CB_BIZ_MAR, 2) == 23.25


def test_countback_is_zero_without_ar_and_null_without_cover(tmp_path: Path) -> None:
    wh = _build(
        tmp_path,
        customers=[
            {"customer_id": "CB", "segment": "biz"},
            {"customer_id": "CK", "segment": "con"},
        ],
        invoices=[
            _inv("B1", "CB", "2024-01-05", "2024-02-04", D("1000")),
            _inv("B2", "CB", "2024-03-20", "2024-04-19", D("400")),
            _inv("K1", "CK", "2024-03-10", "2024-04-09", D("500")),
        ],
        payments=[
            {"payment_id": "P1", "invoice_id": "B1", "paid_at": "2024-01-20", "amount": "1000"},
            {"payment_id": "P2", "invoice_id": "B2", "paid_at": "2024-03-25", "amount": "100"},
            {"payment_id": "P3", "invoice_id": "B2", "paid_at": "2024-04-02", "amount": "300"},
        ],
    )
    try:
        for month_end in (JAN31, FEB29):
            for segment in ("biz", "con", "all"):
                row = _row(wh, month_end, segment)
                assert row["ar_amount"] == 0
                assert row["countback_dso_days"] == 0, (month_end, segment)
        assert _row(wh, MAR31, "biz")["countback_dso_days"] == pytest.approx(CB_BIZ_MAR)
        con = _row(wh, MAR31, "con")
        assert con["ar_amount"] == D("500")
        assert con["countback_dso_days"] is None
        assert _row(wh, MAR31, "all")["countback_dso_days"] == pytest.approx(CB_ALL_MAR)
    finally:
        wh.close()
