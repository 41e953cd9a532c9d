"""Issue 13 item 2: implausible dates are quarantined (or noted), never silently used.

tests/data/bad/implausible_dates/ (read it beside this file):

* invoices I1-I4 issued 2024-01-10 .. 2024-03-15; I5 issued 2031-03-15 (a year
  typo, 7 years after the rest); I6 issued 2024-02-01 and due 2025-06-01
  (486 days of terms: 2024-02-01 → 2025-02-01 is 366 days, + 120 to 06-01).
* payments P1 fine; P2 dated 2031-02-20 (a year typo); P3 dated 2024-02-10,
  five days before its invoice I3 was issued; P4 dated 2024-04-20, after the
  last issue date 2024-03-15 but within the 366-day margin (a late payer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from arinsight.ingest import LoadResult, load_sources
from arinsight.metrics import resolve_month_end
from arinsight.pipeline import run_build
from arinsight.warehouse import Warehouse

CASE = Path(__file__).parent / "data" / "bad" / "implausible_dates"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


def _by_table(results: list[LoadResult]) -> dict[str, LoadResult]:
    out = {r.table: r for r in results}
    assert all(r.reconciles() for r in results)
    return out


def _quarantine(wh: Warehouse, table: str) -> dict[int, tuple[str, str]]:
    rows = wh.con.execute(
        "select line_number, field, reason from meta.quarantine where table_name = ? "
        "order by line_number",
        [table],
    ).fetchall()
    return {int(line): (field, reason) for line, field, reason in rows}


def test_inferred_export_date_quarantines_year_typos_and_impossible_payments(
    wh: Warehouse,
) -> None:
    by = _by_table(load_sources(wh.con, [CASE]))
    # invoices: 6 read; I5 (line 6) and I6 (line 7) quarantined.
    assert (by["invoices"].rows_read, by["invoices"].rows_loaded) == (6, 4)
    inv = _quarantine(wh, "invoices")
    assert sorted(inv) == [6, 7]
    field, reason = inv[6]
    # the export date is 2024-03-15 (the lone 2031 invoice does not move it); the
    # latest plausible date is 2024-03-15 + 366 days = 2025-03-16.
    assert field == "issue_date"
    assert reason.startswith(
        "issue_date 2031-03-15 is after the latest plausible date 2025-03-16: the latest "
        "invoice issue date 2024-03-15 plus plausibility.max_days_after_last_issue = 366 days"
    )
    assert "set plausibility.export_date in profile canonical (or pass --export-date)" in reason
    field, reason = inv[7]
    assert (field, reason) == (
        "due_date",
        "due_date 2025-06-01 is 486 days after issue_date 2024-02-01 (more than "
        "plausibility.max_payment_terms_days = 365 in profile canonical): a typo in the year?",
    )
    # payments: P2 (line 3) after the plausible date, P3 (line 4) before its invoice.
    assert (by["payments"].rows_read, by["payments"].rows_loaded) == (4, 2)
    pay = _quarantine(wh, "payments")
    assert sorted(pay) == [3, 4]
    assert pay[3][1].startswith("paid_at 2031-02-20 is after the latest plausible date 2025-03-16")
    assert pay[4] == (
        "paid_at",
        "paid_at 2024-02-10 is before the issue date 2024-02-15 of its invoice (invoice_id "
        "I3): a typo in the date, or the payment belongs to another invoice",
    )
    # P4 is loaded, and the load says it lies after the inferred export date.
    assert wh.con.execute("select payment_id from raw.payments order by 1").fetchall() == [
        ("P1",),
        ("P4",),
    ]
    assert any(
        n.startswith(
            "1 paid_at date(s) after the latest invoice issue date 2024-03-15 (up to 2024-04-20)"
        )
        for n in by["payments"].notes
    )


def test_one_outlier_does_not_move_the_default_as_of_date(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [CASE])
    # 40 % of the invoices quarantined: the gate needs --accept-quarantine.
    run_build(db, accept_quarantine=True)
    with Warehouse.open(db) as wh:
        # Latest accepted activity: P4 on 2024-04-20, so the last complete month end is
        # 2024-03-31 (with the 2031 rows it would have been 2031-02-28).
        assert resolve_month_end(wh, None) == dt.date(2024, 3, 31)


def test_explicit_export_date_is_strict(wh: Warehouse) -> None:
    by = _by_table(load_sources(wh.con, [CASE], export_date=dt.date(2024, 4, 1)))
    # with the export taken on 2024-04-01, P4 (2024-04-20) cannot have happened yet.
    assert by["payments"].rows_loaded == 1
    pay = _quarantine(wh, "payments")
    assert sorted(pay) == [3, 4, 5]
    assert pay[5][1].startswith(
        "paid_at 2024-04-20 is after the export date 2024-04-01 (--export-date): a typo"
    )
    # I5 is after the export date as well (no margin with an explicit date).
    assert _quarantine(wh, "invoices")[6][1].startswith(
        "issue_date 2031-03-15 is after the export date 2024-04-01 (--export-date)"
    )


def test_profile_export_date_and_terms_limit(wh: Warehouse, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: strict\nextends: canonical\nplausibility:\n  export_date: 2024-04-30\n"
        "  max_payment_terms_days: 500\n",
        encoding="utf-8",
    )
    by = _by_table(load_sources(wh.con, [CASE], str(profile)))
    # I6's 486 days are within 500; only I5 is quarantined. P4 (2024-04-20) is before
    # the export date 2024-04-30 and loads without a note.
    assert _quarantine(wh, "invoices").keys() == {6}
    assert "plausibility.export_date of profile strict" in _quarantine(wh, "invoices")[6][1]
    assert by["payments"].rows_loaded == 2
    assert not [n for n in by["payments"].notes if "after" in n]
