"""fct_stage_reached: fee yield and churn by the highest stage reached (hand-built).

Segment "s", one invoice per customer, issued 2025-01-01, due 2025-01-15, 100 EUR:

  N1  paid Jan 10 (before due: not an overdue case), never dunned
  N2  paid Jan 20 without any reminder: overdue, highest stage 0
  N3  paid Jan 10, never dunned, churned Feb 1 for non-payment
  D1  stage 1 (no fee) Jan 20, paid Jan 25
  D2  stage 1 Jan 20, stage 2 (fee 5) Feb 1, paid Feb 10
  D3  stage 1 Jan 20, stage 2 (fee 5) Feb 1, written off Mar 1, churned Mar 15
      for non-payment
Segment "z": one invoice issued Jun 30 sets the as-of date.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

Z = 1.959964
INV = {
    "N1": "2025-01-10",
    "N2": "2025-01-20",
    "N3": "2025-01-10",
    "D1": "2025-01-25",
    "D2": "2025-02-10",
}


def tables() -> dict[str, list[dict[str, Any]]]:
    ids = ["N1", "N2", "N3", "D1", "D2", "D3"]
    churn = {"N3": "2025-02-01", "D3": "2025-03-15"}
    customers = [
        {
            "customer_id": c,
            "segment": "s",
            "churned_at": churn.get(c),
            "churn_reason": "non_payment" if c in churn else None,
        }
        for c in ids
    ] + [{"customer_id": "Z", "segment": "z", "churned_at": None, "churn_reason": None}]
    invoices = [
        {
            "invoice_id": f"I{c}",
            "customer_id": c,
            "issue_date": "2025-01-01",
            "due_date": "2025-01-15",
            "amount": "100.00",
        }
        for c in ids
    ] + [
        {
            "invoice_id": "IZ",
            "customer_id": "Z",
            "issue_date": "2025-06-30",
            "due_date": "2025-07-14",
            "amount": "100.00",
        }
    ]
    payments = [
        {"payment_id": f"P{c}", "invoice_id": f"I{c}", "paid_at": d, "amount": "100.00"}
        for c, d in INV.items()
    ]
    adjustments = [
        {
            "adjustment_id": "A1",
            "invoice_id": "ID3",
            "adjusted_at": "2025-03-01",
            "amount": "100.00",
            "kind": "write_off",
        }
    ]
    events = [
        {
            "event_id": f"E1{c}",
            "invoice_id": f"I{c}",
            "stage": 1,
            "sent_at": "2025-01-20",
            "channel": "email",
            "fee": None,
        }
        for c in ("D1", "D2", "D3")
    ] + [
        {
            "event_id": f"E2{c}",
            "invoice_id": f"I{c}",
            "stage": 2,
            "sent_at": "2025-02-01",
            "channel": "letter",
            "fee": "5.00",
        }
        for c in ("D2", "D3")
    ]
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "adjustments": adjustments,
        "dunning_events": events,
    }


def test_fee_yield_and_churn_by_stage(ledger_warehouse: Any) -> None:
    wh = ledger_warehouse(**tables())
    rows = {
        r["highest_stage_number"]: r
        for r in wh.sql("select * from marts.fct_stage_reached where segment = 's'").to_dicts()
    }
    assert sorted(rows) == [0, 1, 2]
    # Overdue invoices: stage 0 = N2 only (N1, N3 paid before due).
    assert (rows[0]["count_overdue_invoices"], rows[1]["count_overdue_invoices"]) == (1, 1)
    # Stage 2: D2 and D3, 5 + 5 fees charged, 5 on the paid one: 50 % yield.
    r2 = rows[2]
    assert (r2["count_overdue_invoices"], r2["count_paid_invoices"]) == (2, 1)
    assert float(r2["fee_charged_amount"]) == 10.0 and float(r2["fee_on_paid_amount"]) == 5.0
    assert r2["fee_yield_pct"] == pytest.approx(50.0)
    assert rows[1]["fee_yield_pct"] is None  # no fee charged: no yield
    # Customers: never dunned N1, N2, N3 (1 churned), stage 2 D2, D3 (1 churned).
    assert (rows[0]["count_customers"], rows[0]["count_involuntary_churned"]) == (3, 1)
    assert (r2["count_customers"], r2["count_involuntary_churned"]) == (2, 1)
    assert r2["involuntary_churn_pct"] == pytest.approx(50.0)
    rr = 0.5 / (1 / 3)
    se = math.sqrt(1 / 1 - 1 / 2 + 1 / 1 - 1 / 3)
    assert r2["churn_relative_risk_ratio"] == pytest.approx(rr)
    assert r2["churn_relative_risk_ci_low_ratio"] == pytest.approx(rr * math.exp(-Z * se))
    assert r2["churn_relative_risk_ci_high_ratio"] == pytest.approx(rr * math.exp(Z * se))
    # Wilson interval for 1 of 2.
    n, p = 2, 0.5
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    assert r2["involuntary_churn_ci_low_pct"] == pytest.approx(100 * (centre - half))
    # 'all' adds segment z's customer (never dunned, not churned).
    (a0,) = wh.sql(
        "select * from marts.fct_stage_reached where segment = 'all' and highest_stage_number = 0"
    ).to_dicts()
    assert a0["count_customers"] == 4
