"""Atomicity under a hard kill: SIGKILL `arinsight load` mid-way, the warehouse is unchanged.

A real process is killed (no Python exception handler runs, no rollback is
sent): what protects the warehouse is DuckDB's write-ahead log, which only
replays committed transactions, and the loader's single transaction per call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

N_CUSTOMERS = 200_000
N_INVOICES = 2_000_000


def _state(db: Path) -> dict[str, object]:
    with Warehouse.open(db) as wh:
        out: dict[str, object] = {}
        for t in ("customers", "invoices", "payments"):
            out[t] = wh.con.execute(f"select * from raw.{t} order by all").fetchall()
        out["loads"] = wh.con.execute("select * from meta.loads order by all").fetchall()
        out["quarantine"] = wh.con.execute("select count(*) from meta.quarantine").fetchall()
        return out


def _big_ledger(d: Path) -> Path:
    """200k customers (first file, loads fast) and 2M invoices (takes seconds)."""
    d.mkdir()
    ids = pl.int_range(0, N_CUSTOMERS, eager=True)
    pl.DataFrame({"customer_id": "K" + ids.cast(pl.String), "segment": "smb"}).write_csv(
        d / "customers.csv"
    )
    n = pl.int_range(0, N_INVOICES, eager=True)
    pl.DataFrame(
        {
            "invoice_id": "BIG" + n.cast(pl.String),
            "customer_id": "K" + (n % N_CUSTOMERS).cast(pl.String),
            "issue_date": "2024-01-05",
            "due_date": "2024-02-04",
            "amount": "10.50",
        }
    ).write_csv(d / "invoices.csv")
    return d


@pytest.mark.slow
def test_sigkill_mid_load_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    small = tmp_path / "small"
    small.mkdir()
    (small / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (small / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-05,2024-02-04,9.99\n",
        encoding="utf-8",
    )
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [small])
    before = _state(db)
    big = _big_ledger(tmp_path / "big")

    proc = subprocess.Popen(
        [sys.executable, "-m", "arinsight", "load", str(big), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    # Wait until the customers file is in (inside the open transaction), then kill
    # while the 2M invoices are being read and typed.
    first = proc.stdout.readline()
    assert first.startswith("✓ customers.csv → customers: 200,000 read"), first
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rest = proc.stdout.read()
    assert proc.returncode == -signal.SIGKILL
    assert "invoices" not in rest  # it really died mid-way

    assert _state(db) == before
    # and the warehouse is usable: the same load, uninterrupted, goes through
    with Warehouse.open(db, read_only=False) as wh:
        results = load_sources(wh.con, [big / "customers.csv"])
        assert results[0].rows_loaded == N_CUSTOMERS
