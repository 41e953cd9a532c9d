"""Issue 13 item 3: conflicting master data on invoice rows is detected, resolved by a
documented rule chosen in the profile, and reported.

tests/data/bad/conflicting_master/cleared_items.csv: customer K1 appears on four
rows with three segments — smb (A1, 2024-01-05; A2, 2024-01-20), enterprise
(A3, issued 2024-03-01, the latest date) and retail (A5, 2024-02-10, the last
line of the file); K2 on one row (consumer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

CASE = Path(__file__).parent / "data" / "bad" / "conflicting_master"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


def _profile(tmp_path: Path, rule: str) -> str:
    path = tmp_path / f"{rule}.yaml"
    path.write_text(
        f"name: ci_{rule}\nextends: cleared_items\ntables:\n  invoices:\n    derive:\n"
        f"      customers:\n        on_conflict: {rule}\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize(
    ("rule", "k1_segment"),
    [
        ("latest", "enterprise"),  # A3 has the latest document date, 2024-03-01
        ("most_frequent", "smb"),  # two rows say smb, one each enterprise / retail
        ("last_row", "retail"),  # A5 is the file's last K1 row
    ],
)
def test_rule_chooses_and_the_load_reports_the_conflict(
    wh: Warehouse, tmp_path: Path, rule: str, k1_segment: str
) -> None:
    results = load_sources(wh.con, [CASE], _profile(tmp_path, rule))
    assert wh.con.execute(
        "select customer_id, segment from raw.customers order by 1"
    ).fetchall() == [
        ("K1", k1_segment),
        ("K2", "consumer"),
    ]
    (customers,) = [r for r in results if r.table == "customers"]
    (note,) = [n for n in customers.notes if "different values" in n]
    assert note.startswith(
        "customers: 1 of 2 customer_id come with different values on different rows; "
    )
    assert f"(tables.invoices.derive.customers.on_conflict: {rule}; " in note
    assert note.endswith(
        "E.g. K1: Segment 'smb' (2 row(s)) vs Segment 'enterprise' (1 row(s)) vs "
        "Segment 'retail' (1 row(s))"
    )


def test_the_default_rule_is_the_latest_date(wh: Warehouse) -> None:
    load_sources(wh.con, [CASE], "cleared_items")
    assert wh.con.execute(
        "select segment from raw.customers where customer_id = 'K1'"
    ).fetchall() == [("enterprise",)]


def test_consistent_rows_give_no_note(wh: Warehouse, tmp_path: Path) -> None:
    text = (CASE / "cleared_items.csv").read_text(encoding="utf-8")
    consistent = text.replace(",enterprise", ",smb").replace(",retail", ",smb")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "cleared_items.csv").write_text(consistent, encoding="utf-8")
    results = load_sources(wh.con, [tmp_path / "src"], "cleared_items")
    assert not [n for r in results for n in r.notes if "different values" in n]
