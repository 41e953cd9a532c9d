"""Reporting-currency conversion: the latest rate on or before the issue date."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

USD_JAN_01 = "0.90"  # rate valid 2024-01-01 .. 2024-01-14
USD_JAN_15 = "0.95"  # rate valid from 2024-01-15
CHF_JAN_01 = "1.05"


def test_invoice_uses_latest_rate_on_or_before_issue(ledger_warehouse: Callable[..., Any]) -> None:
    wh = ledger_warehouse(
        customers=[{"customer_id": "C1", "segment": "smb"}],
        invoices=[
            # issued the day before the second USD rate: 100 x 0.90 = 90.00
            {
                "invoice_id": "U1",
                "customer_id": "C1",
                "issue_date": "2024-01-14",
                "due_date": "2024-02-13",
                "amount": "100.00",
                "currency": "USD",
            },
            # issued on the day of the second USD rate: 100 x 0.95 = 95.00
            {
                "invoice_id": "U2",
                "customer_id": "C1",
                "issue_date": "2024-01-15",
                "due_date": "2024-02-14",
                "amount": "100.00",
                "currency": "USD",
            },
            # CHF, one rate only: 200 x 1.05 = 210.00
            {
                "invoice_id": "F1",
                "customer_id": "C1",
                "issue_date": "2024-01-20",
                "due_date": "2024-02-19",
                "amount": "200.00",
                "currency": "CHF",
            },
            # reporting currency: unchanged
            {
                "invoice_id": "E1",
                "customer_id": "C1",
                "issue_date": "2024-01-20",
                "due_date": "2024-02-19",
                "amount": "50.00",
                "currency": "EUR",
            },
        ],
        # paid in February: makes January a complete month, leaves its AR unchanged
        payments=[
            {"payment_id": "P1", "invoice_id": "E1", "paid_at": "2024-02-05", "amount": "50.00"}
        ],
        fx_rates=[
            {"rate_date": "2024-01-01", "currency": "USD", "rate_to_reporting": USD_JAN_01},
            {"rate_date": "2024-01-15", "currency": "USD", "rate_to_reporting": USD_JAN_15},
            {"rate_date": "2024-01-01", "currency": "CHF", "rate_to_reporting": CHF_JAN_01},
        ],
    )
    ar = wh.sql(
        "select ar_amount from marts.fct_dso_monthly "
        "where month_end_date = date '2024-01-31' and segment = 'smb'"
    )
    expected = (
        Decimal("100") * Decimal(USD_JAN_01)
        + Decimal("100") * Decimal(USD_JAN_15)
        + Decimal("200") * Decimal(CHF_JAN_01)
        + Decimal("50")
    )
    assert ar["ar_amount"][0] == expected  # 90 + 95 + 210 + 50 = 445.00
