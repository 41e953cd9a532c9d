"""The dashboard's marts (sql/marts/fct_dash_*.sql) on hand-built ledgers.

Ledger (EUR, as-of date 2024-06-30 = the last activity, I6's payment):
  customer A (smb, "Alpha GmbH"), customer B (enterprise, "Beta AG")
  I1 A issued 2024-01-05, 1,000, paid 2024-01-20 (15 days after issue)
  I2 A issued 2024-01-10,   500, paid 2024-03-01 (51 days)
  I3 B issued 2024-01-15, 2,000, written off 2024-03-10 (settled, not paid)
  I4 B issued 2024-02-01,   300, due 2024-03-02, still open
  I5 A issued 2024-05-01,   200, paid 2024-05-10 (9 days)
  I6 A issued 2024-06-01,   400, due 2024-07-01, paid 2024-06-30 (29 days)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from arinsight import metrics
from conftest import REPO

AS_OF = dt.date(2024, 6, 30)
JAN, FEB, MAR, MAY, JUN = (
    dt.date(2024, 1, 31),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 31),
    dt.date(2024, 5, 31),
    dt.date(2024, 6, 30),
)

CUSTOMERS = [
    {"customer_id": "A", "segment": "smb", "name": "Alpha GmbH"},
    {"customer_id": "B", "segment": "enterprise", "name": "Beta AG"},
]
INVOICES = [  # id, customer, issue, due, amount
    ("I1", "A", "2024-01-05", "2024-02-04", "1000"),
    ("I2", "A", "2024-01-10", "2024-02-09", "500"),
    ("I3", "B", "2024-01-15", "2024-02-14", "2000"),
    ("I4", "B", "2024-02-01", "2024-03-02", "300"),
    ("I5", "A", "2024-05-01", "2024-05-31", "200"),
    ("I6", "A", "2024-06-01", "2024-07-01", "400"),
]
PAYMENTS = [
    ("P1", "I1", "2024-01-20", "1000"),
    ("P2", "I2", "2024-03-01", "500"),
    ("P5", "I5", "2024-05-10", "200"),
    ("P6", "I6", "2024-06-30", "400"),
]


@pytest.fixture
def wh(ledger_warehouse: Any) -> Any:
    return ledger_warehouse(
        customers=CUSTOMERS,
        invoices=[
            {
                "invoice_id": i,
                "customer_id": c,
                "issue_date": issue,
                "due_date": due,
                "amount": amount,
                "currency": "EUR",
            }
            for i, c, issue, due, amount in INVOICES
        ],
        payments=[
            {"payment_id": p, "invoice_id": i, "paid_at": d, "amount": a} for p, i, d, a in PAYMENTS
        ],
        adjustments=[
            {
                "adjustment_id": "W3",
                "invoice_id": "I3",
                "adjusted_at": "2024-03-10",
                "amount": "2000",
                "kind": "write_off",
            }
        ],
    )


def _row(frame: Any, **keys: Any) -> dict[str, Any]:
    for k, v in keys.items():
        frame = frame.filter(frame[k] == v)
    assert frame.height == 1, keys
    return frame.row(0, named=True)


def test_billing_cohorts(wh: Any) -> None:
    cohorts = metrics.billing_cohorts(wh)
    jan = _row(cohorts, month_end_date=JAN, segment="all")
    # January: 1,000 + 500 + 2,000 = 3,500 invoiced; paid within 30 days: I1 (15 d)
    # = 1,000; within 60 and 90: I1 + I2 (51 d) = 1,500; I3 was written off (not paid).
    assert jan["count_invoices"] == 3
    assert float(jan["invoiced_amount"]) == 3500
    assert jan["paid_within_30d_pct"] == pytest.approx(100 * 1000 / 3500)
    assert jan["paid_within_60d_pct"] == pytest.approx(100 * 1500 / 3500)
    assert jan["paid_within_90d_pct"] == pytest.approx(100 * 1500 / 3500)
    smb = _row(cohorts, month_end_date=JAN, segment="smb")
    assert smb["paid_within_30d_pct"] == pytest.approx(100 * 1000 / 1500)
    assert smb["paid_within_60d_pct"] == pytest.approx(100.0)
    # February: I4 is still open -> 0 %, every horizon observed (Feb 29 + 90 = May 29).
    assert _row(cohorts, month_end_date=FEB, segment="all")["paid_within_90d_pct"] == 0
    # May: May 31 + 30 = Jun 30 <= as-of -> 30 d observed (I5 paid after 9 days: 100 %);
    # May 31 + 60 is after the as-of date -> null.
    may = _row(cohorts, month_end_date=MAY, segment="all")
    assert may["paid_within_30d_pct"] == pytest.approx(100.0)
    assert may["paid_within_60d_pct"] is None


def test_overdue_customers(wh: Any) -> None:
    rows = metrics.overdue_customers(wh)
    # Only I4 is open and past due at the as-of date: customer B, 300, due 2024-03-02;
    # days past due = 29 (rest of March) + 30 + 31 + 30 = 120 (I6 was paid on time).
    assert rows["customer_id"].to_list() == ["B"]
    b = rows.row(0, named=True)
    assert float(b["overdue_amount"]) == 300
    assert b["count_overdue_invoices"] == 1
    assert b["max_days_past_due"] == 120
    assert b["customer_name"] == "Beta AG"
    assert b["as_of_date"] == AS_OF
    assert metrics.overdue_customers(wh, segment="smb").height == 0
    assert metrics.overdue_customers(wh, behaviour_segment=b["behaviour_segment"]).height == 1


def test_cash_and_kpis(wh: Any) -> None:
    cash = metrics.cash_monthly(wh, segment="all")
    collected = {
        r["month_end_date"]: float(r["collected_amount"]) for r in cash.iter_rows(named=True)
    }
    # Payments by month: Jan 1,000; Feb none; Mar 500; Apr none; May 200; Jun 400.
    assert collected == {
        JAN: 1000,
        FEB: 0,
        MAR: 500,
        dt.date(2024, 4, 30): 0,
        MAY: 200,
        JUN: 400,
    }
    kpi = _row(metrics.kpis(wh, MAR, "all"), kpi_name="collected_amount")
    assert kpi["kpi_value"] == 500
    assert kpi["prev_month_value"] == 0
    assert kpi["change_vs_prev_month"] == 500
    assert kpi["prev_year_value"] is None  # March 2023 is before the data
    dso = metrics.dso_monthly(wh, segment="all").filter(
        metrics.dso_monthly(wh, segment="all")["month_end_date"] == MAR
    )
    kdso = _row(metrics.kpis(wh, MAR, "all"), kpi_name="dso_days")
    assert kdso["kpi_value"] == pytest.approx(dso["dso_days"][0])
    names = set(metrics.kpis(wh, MAR, "all")["kpi_name"].to_list())
    assert names == {
        "dso_days",
        "best_possible_dso_days",
        "add_days",
        "countback_dso_days",
        "cei_pct",
        "overdue_ar_pct",
        "collected_amount",
    }


def test_survival_bands_sql_on_hand_rows() -> None:
    """fct_dash_survival_bands' SQL over a hand-written fct_stage_survival.

    Day 1: 10 at risk, 2 settled -> S = 0.8, Greenwood sum 2 / (10 * 8) = 0.025.
    Day 3: 6 at risk (2 censored on day 2), 3 settled -> S = 0.4, sum 0.025 + 3 / (6 * 3).
    Day 5: 3 at risk, 3 settled -> S = 0 (band collapses onto 0).
    """
    sql = (REPO / "sql" / "marts" / "fct_dash_survival_bands.sql").read_text()
    con = duckdb.connect()
    con.execute(
        "create table fct_stage_survival as select * from (values "
        "('all', 1, 1, 10, 2, 0, 0.8), ('all', 1, 2, 8, 0, 2, 0.8), "
        "('all', 1, 3, 6, 3, 0, 0.4), ('all', 1, 5, 3, 3, 0, 0.0)) as t(segment, "
        "stage_number, days_since_send, count_at_risk, count_settled, count_censored, "
        "still_open_ratio)"
    )
    rows = con.execute(f"select * from ({sql}) order by days_since_send").fetchall()
    con.close()

    def band(s: float, g: float) -> tuple[float, float]:
        se = math.sqrt(g) / abs(math.log(s))
        return s ** math.exp(1.96 * se), s ** math.exp(-1.96 * se)

    g1 = 2 / (10 * 8)
    g3 = g1 + 3 / (6 * 3)
    lo1, hi1 = band(0.8, g1)
    lo3, hi3 = band(0.4, g3)
    assert rows[0][-2:] == pytest.approx((lo1, hi1))
    assert rows[1][-2:] == pytest.approx((lo1, hi1))  # nothing settled on day 2
    assert rows[2][-2:] == pytest.approx((lo3, hi3))
    assert rows[3][-2:] == (0.0, 0.0)
    assert lo3 < 0.4 < hi3


def test_dashboard_marts_read_only_marts_and_staging() -> None:
    """The dashboard's marts never read int_* models (another engineer owns them)."""
    paths = sorted(Path(REPO / "sql" / "marts").glob("fct_dash_*.sql"))
    assert len(paths) == 7
    for path in paths:
        code = "\n".join(ln.split("--", 1)[0] for ln in path.read_text().splitlines())
        assert not re.search(r"\bint_[a-z_]+", code), path.name
        deps = [ln for ln in path.read_text().splitlines() if ln.startswith("-- depends_on")]
        assert deps and "int_" not in deps[0], path.name


def test_behaviour_mix_counts_active_customers(wh: Any) -> None:
    mix = metrics.behaviour_mix(wh)
    # independently: group the customers() reader's state at each month end
    expected = []
    for month in metrics.month_ends(wh):
        state = metrics.customers(wh, as_of=month).filter(pl.col("is_active_at_month_start"))
        counts = state.group_by("segment", "behaviour_segment").len()
        expected += [(month, seg, beh, n) for seg, beh, n in counts.iter_rows()]
    got = [
        (r["month_end_date"], r["segment"], r["behaviour_segment"], r["count_customers"])
        for r in mix.filter(pl.col("segment") != "all").iter_rows(named=True)
    ]
    assert expected and sorted(got) == sorted(expected)
    # shares of a month and segment add up to 100 %
    totals = mix.group_by("month_end_date", "segment").agg(
        total=pl.col("share_of_customers_pct").sum()
    )
    assert totals["total"].to_list() == pytest.approx([100.0] * totals.height)


# ------------------------------------------------- fct_stage_channels (own ledger)
# Customers A and B (smb), three January invoices due 2024-01-31, and I9 in April
# so that February is a complete month (as-of 2024-04-15). Reminders in February:
#   I1 A 100: stage 1 by email 02-05, paid 02-10      -> converted (no next stage)
#   I2 B 300: stage 1 by sms   02-05, stage 2 letter 02-20, paid 03-01
#             -> stage 1 progressed (not converted); stage 2 converted (9 days)
#   I3 A 200: stage 1 by email 02-06 and again by letter 02-06 (same day: the
#             smallest channel name, email, is the send's channel), paid 02-07
CHANNEL_INVOICES = [
    ("I1", "A", "2024-01-01", "2024-01-31", "100"),
    ("I2", "B", "2024-01-01", "2024-01-31", "300"),
    ("I3", "A", "2024-01-01", "2024-01-31", "200"),
    ("I9", "A", "2024-04-01", "2024-05-01", "50"),
]
CHANNEL_PAYMENTS = [
    ("P1", "I1", "2024-02-10", "100"),
    ("P2", "I2", "2024-03-01", "300"),
    ("P3", "I3", "2024-02-07", "200"),
    ("P9", "I9", "2024-04-15", "50"),
]
CHANNEL_EVENTS = [
    ("E1", "I1", 1, "2024-02-05", "email"),
    ("E2", "I2", 1, "2024-02-05", "sms"),
    ("E3", "I2", 2, "2024-02-20", "letter"),
    ("E4", "I3", 1, "2024-02-06", "letter"),
    ("E5", "I3", 1, "2024-02-06", "email"),
]


def test_stage_channels_split_conversion_by_channel(ledger_warehouse: Any) -> None:
    wh = ledger_warehouse(
        customers=[
            {"customer_id": "A", "segment": "smb"},
            {"customer_id": "B", "segment": "smb"},
        ],
        invoices=[
            {
                "invoice_id": i,
                "customer_id": c,
                "issue_date": issue,
                "due_date": due,
                "amount": amount,
                "currency": "EUR",
            }
            for i, c, issue, due, amount in CHANNEL_INVOICES
        ],
        payments=[
            {"payment_id": p, "invoice_id": i, "paid_at": d, "amount": a}
            for p, i, d, a in CHANNEL_PAYMENTS
        ],
        dunning_events=[
            {"event_id": e, "invoice_id": i, "stage": s, "sent_at": d, "channel": ch}
            for e, i, s, d, ch in CHANNEL_EVENTS
        ],
    )
    rows = metrics.stage_channels(wh, "all", "all", FEB)
    email = _row(rows, stage_number=1, channel="email")
    # I1 (100) and I3 (200) by email, both paid before any next stage
    assert (email["count_entered"], email["count_converted"]) == (2, 2)
    assert float(email["entered_amount"]) == 300
    assert email["conversion_pct"] == pytest.approx(100.0)
    sms = _row(rows, stage_number=1, channel="sms")
    # I2 by sms: escalated to stage 2 on 02-20, unpaid until 03-01 -> not converted
    assert (sms["count_entered"], sms["count_converted"], sms["count_progressed"]) == (1, 0, 1)
    assert sms["conversion_pct"] == pytest.approx(0.0)
    both = _row(rows, stage_number=1, channel="all")
    assert (both["count_entered"], both["count_converted"]) == (3, 2)
    assert both["conversion_pct"] == pytest.approx(100 * 2 / 3)
    assert float(both["converted_amount"]) == 300  # 100 + 200
    letter = _row(rows, stage_number=2, channel="letter")
    assert (letter["count_entered"], letter["count_converted"]) == (1, 1)  # paid 9 days later
    # no letter row for stage 1: I3's same-day letter is not the send's channel
    assert rows.filter((rows["stage_number"] == 1) & (rows["channel"] == "letter")).height == 0
    # behaviour at 2024-01-31 (the month end before the sends): nothing was past due
    # yet, so both customers are unscored and that split repeats the totals
    unscored = _row(
        metrics.stage_channels(wh, "smb", "unscored", FEB), stage_number=1, channel="all"
    )
    assert (unscored["count_entered"], unscored["count_converted"]) == (3, 2)
    assert metrics.stage_channels(wh, "all", "chronic", FEB).height == 0
