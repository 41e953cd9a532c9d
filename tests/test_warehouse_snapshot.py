"""Readers never block writers: read snapshots, and one line when the file is held.

DuckDB lets one process write a file and no other process open it meanwhile.
Writers publish a read snapshot (a copy of the file) when they finish cleanly;
``arinsight.connect`` reads it. These tests run real processes against each
other, because the lock is between processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import arinsight
from arinsight.errors import WarehouseBusy
from arinsight.warehouse import SNAPSHOTS_KEPT, Warehouse, read_version, snapshot_dir

REPO = Path(__file__).resolve().parents[1]
ARINSIGHT = [sys.executable, "-m", "arinsight"]

# One invoice of 300.00, paid 100.00 on 2024-01-20 and 200.00 on 2024-02-29.
LEDGER = {
    "customers.csv": "customer_id,segment\nC1,smb\n",
    "invoices.csv": "invoice_id,customer_id,issue_date,due_date,amount\n"
    "I1,C1,2024-01-15,2024-02-14,300.00\n",
    "payments.csv": "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,100.00\n"
    "P2,I1,2024-02-29,200.00\n",
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ARINSIGHT, *args], capture_output=True, text=True, cwd=REPO, timeout=300
    )


@pytest.fixture
def built(tmp_path: Path) -> Path:
    src = tmp_path / "ledger"
    src.mkdir()
    for name, text in LEDGER.items():
        (src / name).write_text(text, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert _cli("load", str(src), "--db", str(db)).returncode == 0
    proc = _cli("build", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    return db


def _last_build_id(wh: Warehouse) -> int:
    return int(wh.sql("select max(build_id) as b from meta.builds")["b"][0])


def test_connect_reads_the_published_snapshot(built: Path) -> None:
    version = read_version(built)
    assert version is not None
    with arinsight.connect(str(built)) as wh:
        assert wh.source == snapshot_dir(built) / f"{version}.duckdb"
        # the one invoice: AR at 2024-01-31 is 300 - 100 = 200
        ar = wh.sql(
            "select ar_amount from marts.fct_dso_monthly "
            "where segment = 'smb' and month_end_date = date '2024-01-31'"
        )["ar_amount"][0]
        assert ar == pytest.approx(200.0)
        # meta and raw travel with the marts (data-quality views, ad-hoc queries)
        assert wh.sql("select count(*) as n from meta.loads")["n"][0] == 3
        assert wh.sql("select count(*) as n from raw.payments")["n"][0] == 2


def test_open_notebook_does_not_block_the_build_and_sees_it_after_reconnect(
    built: Path,
) -> None:
    first_version = read_version(built)
    with arinsight.connect(str(built)) as wh:
        first_build = _last_build_id(wh)
    # another process (an analyst's notebook) holds a reader open during the build
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, arinsight\n"
            f"wh = arinsight.connect({str(built)!r})\n"
            "wh.sql('select count(*) from marts.fct_dso_monthly')\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        proc = _cli("build", "--db", str(built))
        assert proc.returncode == 0, proc.stderr
    finally:
        holder.kill()
        holder.wait()
    assert read_version(built) != first_version
    with arinsight.connect(str(built)) as wh:
        assert _last_build_id(wh) == first_build + 1


def test_held_writer_gives_one_line_naming_the_process(built: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, time\n"
            f"con = duckdb.connect({str(built)!r})\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        proc = _cli("build", "--db", str(built))
        # readers are unaffected while the file is held
        with arinsight.connect(str(built)) as wh:
            assert _last_build_id(wh) >= 1
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == WarehouseBusy.exit_code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"process {holder.pid}" in lines[0]
    assert "Traceback" not in proc.stderr
    # the hint works: once the holder is gone, the same command succeeds
    assert _cli("build", "--db", str(built)).returncode == 0


def test_live_connect_while_held_is_one_clear_error(built: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, time\n"
            f"con = duckdb.connect({str(built)!r})\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match=f"process {holder.pid}"):
            arinsight.connect(str(built), live=True)
    finally:
        holder.kill()
        holder.wait()


def test_old_snapshots_are_pruned_but_an_open_one_keeps_reading(built: Path) -> None:
    reader = arinsight.connect(str(built))
    held = reader.source
    for _ in range(SNAPSHOTS_KEPT + 2):
        with Warehouse.open(built, read_only=False):
            time.sleep(0.001)  # each clean writer exit publishes
    files = sorted(snapshot_dir(built).glob("*.duckdb"))
    assert len(files) == SNAPSHOTS_KEPT + 1
    assert held not in files  # pruned from the folder ...
    # ... and still read by the process that holds it
    assert reader.sql("select count(*) as n from marts.fct_dso_monthly")["n"][0] > 0
    reader.close()
    assert not list(snapshot_dir(built).glob(".*.tmp"))


def test_failed_writer_publishes_nothing(built: Path) -> None:
    before = read_version(built)
    with pytest.raises(RuntimeError), Warehouse.open(built, read_only=False) as wh:
        wh.con.execute("create table marts.half_built as select 1 as x")
        raise RuntimeError("interrupted")
    assert read_version(built) == before
    with arinsight.connect(str(built)) as wh:
        assert "half_built" not in wh.tables("marts")


def test_no_snapshot_yet_opens_the_file_read_only(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    Warehouse.open(db, read_only=False, create=True).close()  # no `with`: nothing published
    assert read_version(db) is None
    with arinsight.connect(str(db)) as wh:
        assert wh.source == db
        assert "loads" in wh.tables("meta")


def test_env_var_names_the_warehouse(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARINSIGHT_DB", os.fspath(built))
    assert read_version() == read_version(built)


@pytest.mark.parametrize("stem", ["full", "before-1"])  # a SQL keyword; a name with '-'
def test_any_file_name_builds(tmp_path: Path, stem: str) -> None:
    src = tmp_path / "ledger"
    src.mkdir()
    for name, text in LEDGER.items():
        (src / name).write_text(text, encoding="utf-8")
    db = tmp_path / f"{stem}.duckdb"
    assert _cli("load", str(src), "--db", str(db)).returncode == 0
    proc = _cli("build", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
