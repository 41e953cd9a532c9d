"""Foundation guarantees of `arinsight load`: nothing lost, idempotent, atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinsight.errors import InputError
from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

CUSTOMERS = "customer_id,segment\nC1,smb\nC2,enterprise\n"
# Line 2 good; line 3 due before issue; line 4 unknown customer; line 5 not a
# date; line 6 negative amount; line 7 exact repeat of line 2; line 8 too many
# fields. 7 data rows: 1 loaded + 6 quarantined.
INVOICES = (
    "invoice_id,customer_id,issue_date,due_date,amount\n"
    "I1,C1,2024-01-31,2024-02-14,100.00\n"
    "I2,C1,2024-02-01,2024-01-01,50\n"
    "I3,C9,2024-02-01,2024-03-01,50\n"
    "I4,C2,2024-02-30,2024-03-01,12.50\n"
    "I5,C2,2024-02-01,2024-03-01,-5\n"
    "I1,C1,2024-01-31,2024-02-14,100.00\n"
    "I6,C2,2024-02-01,2024-03-01,12,5\n"
)
EXPECTED_BAD = {
    3: "due_date",
    4: "customer_id",
    5: "issue_date",
    6: "amount",
    7: "invoice_id",
    8: "(line)",
}


def _write(d: Path, **files: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / f"{name}.csv").write_text(text, encoding="utf-8")
    return d


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for schema, table in [
        ("raw", "customers"),
        ("raw", "invoices"),
        ("raw", "payments"),
        ("meta", "loads"),
        ("meta", "quarantine"),
    ]:
        cols = "* exclude (loaded_at, seconds)" if table == "loads" else "*"
        out[table] = wh.con.execute(f"select {cols} from {schema}.{table} order by all").fetchall()
    return out


def test_rows_read_equal_loaded_plus_quarantined(tmp_path: Path) -> None:
    src = _write(tmp_path / "src", customers=CUSTOMERS, invoices=INVOICES)
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        results = load_sources(wh.con, [src])
        by_table = {r.table: r for r in results}
        assert (
            by_table["invoices"].rows_read,
            by_table["invoices"].rows_loaded,
            by_table["invoices"].rows_quarantined,
        ) == (7, 1, 6)
        assert all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results)
        recorded = wh.con.execute(
            "select table_name, rows_read, rows_loaded, rows_quarantined from meta.loads "
            "order by load_id"
        ).fetchall()
        assert recorded == [("customers", 2, 2, 0), ("invoices", 7, 1, 6)]
        bad = dict(
            wh.con.execute(
                "select line_number, field from meta.quarantine order by line_number"
            ).fetchall()
        )
        assert bad == EXPECTED_BAD
        # The raw line is kept verbatim.
        raw8 = wh.con.execute(
            "select raw_row from meta.quarantine where line_number = 8"
        ).fetchall()[0][0]
        assert raw8 == "I6,C2,2024-02-01,2024-03-01,12,5"


def test_loading_the_same_files_twice_changes_nothing(tmp_path: Path) -> None:
    src = _write(tmp_path / "src", customers=CUSTOMERS, invoices=INVOICES)
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [src])
        before = _snapshot(wh)
        again = load_sources(wh.con, [src])
        assert all(r.skipped for r in again)
        assert _snapshot(wh) == before


def test_newer_export_replaces_rows_by_key(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "v1",
        customers=CUSTOMERS,
        invoices="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-31,2024-02-14,100.00\nI2,C2,2024-02-01,2024-03-02,7\n",
    )
    newer = _write(
        tmp_path / "v2",
        invoices="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-31,2024-02-14,90.00\n",
    )
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [src])
        (res,) = load_sources(wh.con, [newer / "invoices.csv"])
        assert res.rows_replaced == 1
        rows = wh.con.execute(
            "select invoice_id, amount, _load_id from raw.invoices order by invoice_id"
        ).fetchall()
        assert [(r[0], float(r[1])) for r in rows] == [("I1", 90.0), ("I2", 7.0)]
        assert rows[0][2] == res.load_id  # lineage: I1 now comes from the newer export


def test_a_failing_load_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    good = _write(tmp_path / "good", customers=CUSTOMERS)
    # Second call: a valid invoices file, then a payments file without required columns.
    bad = _write(
        tmp_path / "bad",
        invoices="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I9,C1,2024-01-31,2024-02-14,1.00\n",
        payments="payment_id;invoice_id;paid_at;amount\nP1;I9;2024-02-01;1.00\n",
    )
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [good])
        before = _snapshot(wh)
        with pytest.raises(InputError, match=r"payments.csv line 1: missing required column"):
            load_sources(wh.con, [bad])
        assert _snapshot(wh) == before


def test_quarantine_gate_clears_when_the_file_is_reloaded_fixed(tmp_path: Path) -> None:
    from arinsight.errors import ArinsightError
    from arinsight.pipeline import run_build

    # 2 invoice rows, 1 with an unparseable amount: 50 % quarantined > 1 % default.
    src = _write(
        tmp_path / "src",
        customers=CUSTOMERS,
        invoices="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-31,2024-02-14,100.00\n"
        "I2,C1,2024-01-31,2024-02-14,1O.00\n",
    )
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [src])
    with pytest.raises(ArinsightError, match=r"invoices.csv \(invoices\): 50.0 %"):
        run_build(db)
    (src / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-31,2024-02-14,100.00\n"
        "I2,C1,2024-01-31,2024-02-14,10.00\n",
        encoding="utf-8",
    )
    with Warehouse.open(db, read_only=False) as wh:
        load_sources(wh.con, [src / "invoices.csv"])
    assert run_build(db).asserts  # built, asserts ran
