"""Issue 13 item 7, through the real entry point (``.venv/bin/arinsight``): files a
directory holds but the profile does not load are listed (``--strict`` refuses
them), a load that quarantined rows exits 3, a clean one 0, a failed first load
leaves no warehouse file, and "replaced" counts rows that changed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from arinsight.warehouse import Warehouse

BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "arinsight"
CUSTOMERS = "customer_id,segment\nC1,smb\nC2,enterprise\n"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True)


def _folder(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return root


def test_unmatched_files_are_listed_and_strict_refuses_them(tmp_path: Path) -> None:
    src = _folder(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        kunden__csv="Kundennummer;Segment\nK1;smb\n",
        notes__txt="not a ledger file\n",
    )
    db = tmp_path / "w.duckdb"
    proc = _run("load", str(src), "--db", str(db))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    # kunden.csv fits no canonical pattern; notes.txt would fit none either.
    assert lines[:2] == [
        "- kunden.csv: not loaded (matches no tables.<table>.files pattern of profile "
        "canonical; --strict refuses this)",
        "- notes.txt: not loaded (matches no tables.<table>.files pattern of profile "
        "canonical; --strict refuses this)",
    ]
    strict_db = tmp_path / "strict.duckdb"
    proc = _run("load", str(src), "--strict", "--db", str(strict_db))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: --strict: 2 file(s) would not be loaded (")
    assert proc.stderr.rstrip().endswith("Nothing was loaded.")
    # the refused first load leaves no warehouse file behind
    assert not strict_db.exists()


def test_parquet_shadowing_csv_is_listed(tmp_path: Path) -> None:
    import polars as pl

    src = _folder(tmp_path / "src", customers__csv=CUSTOMERS)
    pl.DataFrame({"customer_id": ["C1"], "segment": ["smb"]}).write_parquet(
        src / "customers.parquet"
    )
    proc = _run("load", str(src), "--db", str(tmp_path / "w.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "- customers.csv: not loaded (customers.parquet in the same folder is loaded instead; "
        "--strict refuses this)"
    )


def test_exit_code_3_when_rows_were_quarantined(tmp_path: Path) -> None:
    clean = _folder(tmp_path / "clean", customers__csv=CUSTOMERS)
    db = tmp_path / "w.duckdb"
    assert _run("load", str(clean), "--db", str(db)).returncode == 0
    # one of two invoices names an unknown customer: 50 % quarantined
    bad = _folder(
        tmp_path / "bad",
        invoices__csv="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-05,2024-02-04,10.00\nI2,C9,2024-01-05,2024-02-04,10.00\n",
    )
    proc = _run("load", str(bad), "--db", str(db))
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(
        "exit code 3: 1 row(s) of this load are in the quarantine"
    )
    # documented in the help
    assert "3 loaded, but rows of this call" in _run("load", "--help").stdout


def test_failed_first_load_leaves_no_warehouse(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", customers__csv="")  # empty file: a whole-file error
    db = tmp_path / "new" / "w.duckdb"
    proc = _run("load", str(src), "--db", str(db))
    assert proc.returncode == 1
    assert "the file is empty" in proc.stderr
    assert not db.exists() and not Path(f"{db}.wal").exists()


def test_failed_load_into_an_existing_warehouse_keeps_it(tmp_path: Path) -> None:
    good = _folder(tmp_path / "good", customers__csv=CUSTOMERS)
    db = tmp_path / "w.duckdb"
    assert _run("load", str(good), "--db", str(db)).returncode == 0
    bad = _folder(tmp_path / "bad", invoices__csv="")
    assert _run("load", str(bad), "--db", str(db)).returncode == 1
    with Warehouse.open(db) as wh:
        assert wh.con.execute("select count(*) from raw.customers").fetchall() == [(2,)]


def test_replaced_counts_rows_that_changed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    v1 = _folder(tmp_path / "v1", customers__csv=CUSTOMERS)
    assert _run("load", str(v1), "--db", str(db)).returncode == 0
    # the newer export re-sends C1 unchanged, changes C2's segment and adds C3
    v2 = _folder(
        tmp_path / "v2", customers__csv="customer_id,segment\nC1,smb\nC2,smb\nC3,consumer\n"
    )
    proc = _run("load", str(v2), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "✓ customers.csv → customers: 3 read = 3 loaded + 0 quarantined; "
        "1 changed row(s) replaced by key"
    )
