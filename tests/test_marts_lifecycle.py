"""fct_invoice_lifecycle and the guardrail marts on a hand-built ledger.

L1: issued on the leap day, two reminders of stage 1, stage 2 skipped, paid in
two parts, then an agency handover AFTER settlement. L2: overpaid on its due
date. L3: closed by a credit note. L4: disputed, partly paid, written off.
L5: still open at the as-of date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

SEG = "smb"
d = dt.date.fromisoformat

L1_AMOUNT, L1_PART1 = D("1000.00"), D("400.00")
L2_AMOUNT, L2_PAID = D("500.00"), D("520.00")
L3_AMOUNT = D("300.00")
L4_AMOUNT, L4_PAID = D("250.00"), D("50.00")
L5_AMOUNT = D("700.00")

INVOICES = [
    ("L1", "2024-02-29", "2024-03-14", L1_AMOUNT, False),
    ("L2", "2024-03-01", "2024-03-31", L2_AMOUNT, False),
    ("L3", "2024-01-31", "2024-03-01", L3_AMOUNT, False),
    ("L4", "2024-01-05", "2024-02-04", L4_AMOUNT, True),
    ("L5", "2024-04-01", "2024-05-01", L5_AMOUNT, False),
]
PAYMENTS = [
    ("P1a", "L1", "2024-03-28", L1_PART1),
    ("P1b", "L1", "2024-04-10", L1_AMOUNT - L1_PART1),
    ("P2", "L2", "2024-03-31", L2_PAID),
    ("P4", "L4", "2024-02-20", L4_PAID),
]
ADJUSTMENTS = [
    ("C3", "L3", "2024-02-10", L3_AMOUNT, "credit_note"),
    ("W4", "L4", "2024-04-30", L4_AMOUNT - L4_PAID, "write_off"),
]
EVENTS = [  # (event, invoice, stage, sent, channel, fee)
    ("E1", "L1", 0, "2024-03-11", "email", "0"),
    ("E2", "L1", 1, "2024-03-21", "email", "0"),
    ("E3", "L1", 1, "2024-03-25", "email", "0"),  # a second reminder of stage 1
    ("E4", "L1", 3, "2024-04-04", "letter", "10.00"),  # stage 2 skipped
    ("E5", "L1", 4, "2024-04-15", "collection_agency", "0"),  # after settlement (Apr 10)
    ("E6", "L4", 1, "2024-02-14", "email", "0"),  # on a disputed invoice
]

# Worked figures for L1: settled Apr 10 (the second payment brings it to 0).
L1_SETTLED = d("2024-04-10")
L1_DAYS_TO_SETTLE = (L1_SETTLED - d("2024-02-29")).days  # 31 (Mar) + 10 = 41
L1_DAYS_LATE = (L1_SETTLED - d("2024-03-14")).days  # 17 + 10 = 27
assert (L1_DAYS_TO_SETTLE, L1_DAYS_LATE) == (41, 27)
L4_SETTLED = d("2024-04-30")
L4_DAYS_LATE = (L4_SETTLED - d("2024-02-04")).days  # 25 + 31 + 30 = 86
assert L4_DAYS_LATE == 86


def _ledger() -> dict[str, Any]:
    return {
        "customers": [{"customer_id": "C1", "segment": SEG}],
        "invoices": [
            {
                "invoice_id": i,
                "customer_id": "C1",
                "issue_date": a,
                "due_date": b,
                "amount": str(m),
                "is_disputed": str(dis).lower(),
            }
            for i, a, b, m, dis in INVOICES
        ],
        "payments": [
            {"payment_id": p, "invoice_id": i, "paid_at": t, "amount": str(m)}
            for p, i, t, m in PAYMENTS
        ],
        "adjustments": [
            {"adjustment_id": a, "invoice_id": i, "adjusted_at": t, "amount": str(m), "kind": k}
            for a, i, t, m, k in ADJUSTMENTS
        ],
        "dunning_events": [
            {"event_id": e, "invoice_id": i, "stage": s, "sent_at": t, "channel": c, "fee": f}
            for e, i, s, t, c, f in EVENTS
        ],
    }


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    base = tmp_path_factory.mktemp("lifecycle")
    write_ledger(base / "ledger", _ledger())
    w = Warehouse.open(base / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [base / "ledger"])
    build(w.con, load_settings())
    yield w
    w.close()


@pytest.fixture(scope="module")
def life(wh: Warehouse) -> dict[str, dict[str, Any]]:
    return {
        r["invoice_id"]: r for r in wh.sql("select * from marts.fct_invoice_lifecycle").to_dicts()
    }


def test_one_row_per_invoice(life: dict[str, dict[str, Any]]) -> None:
    assert sorted(life) == ["L1", "L2", "L3", "L4", "L5"]


def test_partial_payments_then_settled(life: dict[str, dict[str, Any]]) -> None:
    r = life["L1"]
    assert (r["settled_date"], r["settled_by"]) == (L1_SETTLED, "payment")
    assert (r["days_to_settle"], r["days_late"]) == (L1_DAYS_TO_SETTLE, L1_DAYS_LATE)
    assert r["paid_amount"] == L1_AMOUNT and r["open_amount"] == 0


def test_stage_timestamps_repeat_and_skip(life: dict[str, dict[str, Any]]) -> None:
    r = life["L1"]
    assert r["stage_0_sent_date"] == d("2024-03-11")
    assert r["stage_1_sent_date"] == d("2024-03-21")  # the first of two stage-1 reminders
    assert r["stage_2_sent_date"] is None  # skipped
    assert r["stage_3_sent_date"] == d("2024-04-04")
    assert r["stage_4_sent_date"] == d("2024-04-15")
    assert (r["highest_stage_number"], r["count_dunning_events"]) == (4, 5)
    assert r["fee_amount"] == D("10.00")
    assert r["agency_handover_date"] == d("2024-04-15")
    assert (r["first_dunning_date"], r["last_dunning_date"]) == (d("2024-03-11"), d("2024-04-15"))


def test_reminder_after_settlement_flag(life: dict[str, dict[str, Any]]) -> None:
    assert life["L1"]["has_reminder_after_settlement"] is True
    assert life["L1"]["count_reminders_after_settlement"] == 1
    assert life["L4"]["has_reminder_after_settlement"] is False


def test_overpayment_on_due_date(life: dict[str, dict[str, Any]]) -> None:
    r = life["L2"]
    assert (r["settled_date"], r["days_late"], r["days_to_settle"]) == (d("2024-03-31"), 0, 30)
    assert r["paid_amount"] == L2_PAID
    assert r["unapplied_amount"] == L2_PAID - L2_AMOUNT  # 20.00, not negative AR
    assert r["open_amount"] == 0


def test_credit_note_closes(life: dict[str, dict[str, Any]]) -> None:
    r = life["L3"]
    assert (r["settled_date"], r["settled_by"]) == (d("2024-02-10"), "credit_note")
    assert r["credited_amount"] == L3_AMOUNT and r["days_late"] == 0


def test_write_off_closes(life: dict[str, dict[str, Any]]) -> None:
    r = life["L4"]
    assert (r["settled_date"], r["settled_by"], r["days_late"]) == (
        L4_SETTLED,
        "write_off",
        L4_DAYS_LATE,
    )
    assert (r["paid_amount"], r["written_off_amount"]) == (L4_PAID, L4_AMOUNT - L4_PAID)
    assert r["open_at_due_amount"] == L4_AMOUNT


def test_open_invoice(life: dict[str, dict[str, Any]]) -> None:
    r = life["L5"]
    assert r["is_settled"] is False and r["settled_date"] is None
    assert r["days_late"] is None and r["open_amount"] == L5_AMOUNT
    assert r["highest_stage_number"] is None and r["count_dunning_events"] == 0
    assert r["as_of_date"] == L4_SETTLED  # the latest activity in the ledger


def test_guardrail_findings(wh: Warehouse) -> None:
    got = set(wh.sql("select event_id, finding_kind from marts.fct_guardrail_findings").rows())
    assert got == {
        ("E4", "skipped_stage"),  # stage 3 without stage 2
        ("E5", "reminder_after_settlement"),  # Apr 15 > settled Apr 10
        ("E6", "reminder_on_disputed_invoice"),
    }
    detail = wh.sql(
        "select finding_detail from marts.fct_guardrail_findings where event_id = 'E5'"
    ).item()
    assert detail.startswith("sent 5 day(s) after")


def test_guardrails_monthly(wh: Warehouse) -> None:
    rows = {
        (r["month_end_date"], r["finding_kind"]): r
        for r in wh.sql("select * from marts.fct_guardrails where segment = 'all'").to_dicts()
    }
    apr = dt.date(2024, 4, 30)
    # April: two events sent (E4, E5), one skipped stage and one after settlement.
    assert rows[(apr, "skipped_stage")]["count_events_sent"] == 2
    assert rows[(apr, "skipped_stage")]["finding_pct"] == 50.0
    assert rows[(apr, "reminder_after_settlement")]["count_findings"] == 1
    # February: E6 is the only event, on a disputed invoice.
    feb = dt.date(2024, 2, 29)
    assert rows[(feb, "reminder_on_disputed_invoice")]["finding_pct"] == 100.0
    # March: three events, no findings; every kind still has a row.
    mar = dt.date(2024, 3, 31)
    assert [
        rows[(mar, k)]["count_findings"]
        for k in ("reminder_after_settlement", "reminder_on_disputed_invoice", "skipped_stage")
    ] == [0, 0, 0]
    assert rows[(mar, "skipped_stage")]["count_events_sent"] == 3
