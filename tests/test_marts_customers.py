"""dim_customers: behaviour segments scored month by month without look-ahead, stored as
change points (valid_from_date / valid_to_date) and read at a month end by
``arinsight.metrics.customers``.

Default thresholds (settings behaviour_scoring): reliable when late ratio <=
0.10 and weighted days late <= 3 and highest stage <= 1; chronic when late
ratio >= 0.50 or weighted days late >= 30 or highest stage >= 3; else
occasional; no scored invoice yet -> unscored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

SEG = "smb"
JAN31, FEB29, MAR31 = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)
d = dt.date.fromisoformat


def _on_time(
    cust: str, n: int, first_due: str, step: int, amount: str = "100.00"
) -> list[tuple[str, str, str, str, str | None]]:
    """n invoices (id, customer, due, amount, paid date) paid on their due dates."""
    out = []
    for k in range(n):
        due = (d(first_due) + dt.timedelta(days=step * k)).isoformat()
        out.append((f"{cust}-{k}", cust, due, amount, due))
    return out


INVOICES = [
    *_on_time("B1", 2, "2024-02-01", 29),  # due Feb 1 and Mar 1, both paid on time
    ("B2-0", "B2", "2024-04-15", "100.00", None),  # not due before Apr 15
    *_on_time("B3", 3, "2024-01-10", 10),  # Jan 10, Jan 20, Jan 30 on time
    ("B3-late", "B3", "2024-02-20", "100.00", "2024-03-01"),  # 10 days late (leap year)
    *_on_time("B4", 2, "2024-01-10", 10),
    ("B4-late", "B4", "2024-01-15", "200.00", None),  # open, overdue since Jan 15
    *_on_time("B5", 10, "2024-01-05", 5),
    ("B5-late", "B5", "2024-02-01", "10.00", "2024-03-12"),  # 40 days late, stage 3
    *_on_time("B6", 10, "2024-01-05", 5),
    ("B6-late", "B6", "2024-02-01", "10.00", "2024-02-06"),  # 5 days late, stage 2
    *_on_time("B7", 10, "2024-01-05", 5),
    ("B7-late", "B7", "2024-02-01", "10.00", "2024-02-06"),  # 5 days late, stage 1
]
EVENTS = [
    ("B5-late", 1, "2024-02-08"),
    ("B5-late", 2, "2024-02-22"),
    ("B5-late", 3, "2024-03-07"),
    ("B6-late", 1, "2024-02-03"),
    ("B6-late", 2, "2024-02-05"),
    ("B7-late", 1, "2024-02-04"),
    ("B2-0", 0, "2024-04-12"),
]  # the last activity: March is complete

# Worked measures at Mar 31:
B3_LATE_RATIO = 1 / 4
B3_WDL = 100 * 10 / 400  # 2.5 days
B4_DPD_FEB, B4_DPD_MAR = (FEB29 - d("2024-01-15")).days, (MAR31 - d("2024-01-15")).days
assert (B4_DPD_FEB, B4_DPD_MAR) == (45, 76)
B4_WDL_FEB = 200 * B4_DPD_FEB / 400  # 22.5 -> below 30
B4_WDL_MAR = 200 * B4_DPD_MAR / 400  # 38.0 -> chronic
B5_LATE_RATIO = 1 / 11  # 0.0909 <= 0.10
B5_WDL = 10 * 40 / 1010  # 0.396


def _ledger() -> dict[str, Any]:
    customers = sorted({c for _, c, *_ in INVOICES})
    return {
        "customers": [
            {"customer_id": c, "segment": SEG, "created_at": "2023-12-01"} for c in customers
        ],
        "invoices": [
            {
                "invoice_id": i,
                "customer_id": c,
                "issue_date": (d(due) - dt.timedelta(days=30)).isoformat(),
                "due_date": due,
                "amount": a,
            }
            for i, c, due, a, _ in INVOICES
        ],
        "payments": [
            {"payment_id": f"P-{i}", "invoice_id": i, "paid_at": p, "amount": a}
            for i, _, _, a, p in INVOICES
            if p
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


def _build(directory: Path, settings: Any = None) -> Warehouse:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    write_ledger(directory / "ledger", _ledger())
    w = Warehouse.open(directory / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [directory / "ledger"])
    build(w.con, settings or load_settings())
    return w


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with _build(tmp_path_factory.mktemp("customers")) as w:
        yield w


@pytest.fixture(scope="module")
def points(built: Warehouse) -> dict[str, list[dict[str, Any]]]:
    """customer -> its dim_customers change points in date order."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = built.sql("select * from marts.dim_customers order by customer_id, valid_from_date")
    for r in rows.to_dicts():
        out.setdefault(r["customer_id"], []).append(r)
    return out


@pytest.fixture(scope="module")
def dim(built: Warehouse) -> dict[tuple[str, dt.date], Any]:
    """(customer, month end) -> the reader's row at that month end (change points expanded)."""
    from arinsight import metrics

    out = {}
    for month_end in (dt.date(2023, 12, 31), JAN31, FEB29, MAR31):
        for r in metrics.customers(built, as_of=month_end).to_dicts():
            assert r["month_end_date"] == month_end
            out[(r["customer_id"], month_end)] = r
    return out


@pytest.mark.parametrize(
    ("customer", "month_end", "expected"),
    [
        ("B1", MAR31, "reliable"),  # two invoices, both paid on the due date
        ("B2", MAR31, "unscored"),  # its only invoice is not due yet
        ("B3", JAN31, "reliable"),  # by Jan 31 only the on-time invoices were due
        ("B3", FEB29, "occasional"),  # Feb 20 invoice overdue at Feb 29: 1 of 4 late
        ("B3", MAR31, "occasional"),  # late ratio 0.25 > 0.10, weighted days late 2.5
        ("B4", FEB29, "occasional"),  # 1 of 3 late, weighted days late 22.5 < 30
        ("B4", MAR31, "chronic"),  # the open invoice keeps ageing: 38.0 >= 30
        ("B5", MAR31, "chronic"),  # ratio 0.09 and 0.4 days are fine, but stage 3 reached
        ("B5", JAN31, "reliable"),  # no look-ahead: nothing was late yet at Jan 31
        ("B6", MAR31, "occasional"),  # stage 2 is above reliable_max_stage 1, below 3
        ("B7", MAR31, "reliable"),  # stage 1 only, 1 of 11 late by 5 days
    ],
)
def test_behaviour_segment(
    dim: dict[tuple[str, dt.date], Any], customer: str, month_end: dt.date, expected: str
) -> None:
    assert dim[(customer, month_end)]["behaviour_segment"] == expected


def test_change_points(points: dict[str, list[dict[str, Any]]]) -> None:
    # B3: created Dec 1 -> Dec 31 inactive at the month start, unscored; Jan 31
    # reliable (three on-time invoices); Feb 29 occasional (the Feb 20 invoice is
    # late), still occasional at Mar 31: three change points, the last current.
    b3 = points["B3"]
    assert [(p["valid_from_date"], p["valid_to_date"]) for p in b3] == [
        (dt.date(2023, 12, 31), JAN31),
        (JAN31, FEB29),
        (FEB29, dt.date(9999, 12, 31)),
    ]
    assert [p["behaviour_segment"] for p in b3] == ["unscored", "reliable", "occasional"]
    assert [p["is_current"] for p in b3] == [False, False, True]
    # B4: occasional from Jan 31 (the Jan 15 invoice is open and late), chronic
    # from Mar 31 when its weighted days late pass 30: Feb 29 is no change point.
    assert [(p["valid_from_date"], p["behaviour_segment"]) for p in points["B4"]] == [
        (dt.date(2023, 12, 31), "unscored"),
        (JAN31, "occasional"),
        (MAR31, "chronic"),
    ]


def test_measures(
    dim: dict[tuple[str, dt.date], Any], points: dict[str, list[dict[str, Any]]]
) -> None:
    # figures are the change point's: B3's last one starts Feb 29, when the Feb 20
    # invoice was 9 days late and open: 100 * 9 / 400 = 2.25 days
    b3 = dim[("B3", MAR31)]
    assert b3["valid_from_date"] == FEB29
    assert (b3["count_scored_invoices"], b3["count_late_invoices"]) == (4, 1)
    assert b3["late_ratio"] == pytest.approx(B3_LATE_RATIO)
    assert b3["weighted_days_late"] == pytest.approx(100 * 9 / 400)
    # B4 at Jan 31: 3 scored, the 200.00 invoice 16 days late: 200 * 16 / 400 = 8.0
    b4 = {p["valid_from_date"]: p for p in points["B4"]}
    assert b4[JAN31]["weighted_days_late"] == pytest.approx(200 * 16 / 400)
    assert B4_WDL_FEB < 30  # Feb 29 is still occasional (no new change point)
    assert dim[("B4", FEB29)]["behaviour_segment"] == "occasional"
    assert b4[MAR31]["weighted_days_late"] == pytest.approx(B4_WDL_MAR)
    b5 = dim[("B5", MAR31)]
    assert b5["late_ratio"] == pytest.approx(B5_LATE_RATIO)
    assert b5["weighted_days_late"] == pytest.approx(B5_WDL)
    assert b5["highest_stage_number"] == 3
    assert dim[("B5", FEB29)]["highest_stage_number"] == 2  # stage 3 went out Mar 7


def test_rows_span_the_customer_lifetime(dim: dict[tuple[str, dt.date], Any]) -> None:
    months = sorted(m for c, m in dim if c == "B1")
    assert months == [dt.date(2023, 12, 31), JAN31, FEB29, MAR31]
    assert all(r["is_current"] == (m == MAR31) for (_, m), r in dim.items())
    assert dim[("B1", dt.date(2023, 12, 31))]["is_active_at_month_start"] is False  # created Dec 1
    assert dim[("B1", JAN31)]["is_active_at_month_start"] is True


def test_thresholds_are_settings(tmp_path: Path) -> None:
    from arinsight.config import load_settings

    s = load_settings()
    looser = s.model_copy(
        update={
            "behaviour_scoring": s.behaviour_scoring.model_copy(update={"reliable_max_stage": 2})
        }
    )
    with _build(tmp_path, looser) as w:
        got = w.sql(
            "select behaviour_segment from marts.dim_customers where customer_id = 'B6' "
            "and valid_from_date <= ? and valid_to_date > ?",
            [MAR31, MAR31],
        ).item()
    assert got == "reliable"
