"""Every verb's failure through the real entry point: a non-zero exit and one line on stderr.

These run ``.venv/bin/arinsight`` (the console script users run) in a
subprocess; click's ``CliRunner`` would hide how ``main()`` maps a command's
outcome to the process's exit status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arinsight.cli import COMMANDS

ARINSIGHT = str(Path(sys.executable).parent / "arinsight")

# One smb customer, one invoice of 300.00 (2024-01-15, due 2024-02-14), paid in
# two parts; a ledger every verb accepts.
LEDGER = {
    "customers.csv": "customer_id,segment\nC1,smb\n",
    "invoices.csv": "invoice_id,customer_id,issue_date,due_date,amount\n"
    "I1,C1,2024-01-15,2024-02-14,300.00\n",
    "payments.csv": "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,100.00\n"
    "P2,I1,2024-02-29,200.00\n",
}


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARINSIGHT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False", **env},
        timeout=300,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line (asserting there is exactly one, starting with ``error: ``)."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse loaded and built from LEDGER through the entry point."""
    d = tmp_path_factory.mktemp("built")
    for name, text in LEDGER.items():
        (d / name).write_text(text, encoding="utf-8")
    db = d / "w.duckdb"
    for args in (["load", str(d)], ["build"]):
        proc = run(*args, "--db", str(db))
        assert proc.returncode == 0, proc.stderr
    return db


@pytest.fixture
def db_copy(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "w.duckdb"
    shutil.copy(built, target)
    return target


#: Verbs whose failure path is tested through the entry point (here, or in the
#: verb's own test module with the same `run` / `one_line_error` pattern).
HAVE_FAILURE_TESTS = (
    "demo",
    "simulate",
    "load",
    "build",
    "check",
    "metrics",
    "ladder",  # tests/test_ladder_store.py: missing/broken file, no warehouse → one line
    "recommend",  # tests/test_recommend_cli.py: no/empty/too small warehouse → one line
    "score",  # tests/test_propensity.py: no marts → one line, exit 1
    "worklist",  # tests/test_propensity.py: no scores yet → one line, exit 1
)


def test_every_verb_has_a_failure_test() -> None:
    untested = [v for v in COMMANDS if v not in HAVE_FAILURE_TESTS]
    assert not untested, (
        f"verbs {untested}: add a test that runs `.venv/bin/arinsight <verb>` on a failing "
        "input and asserts the exit status and the one-line `error: ...` (see this file)"
    )


def test_check_failure_exits_1(db_copy: Path, tmp_path: Path) -> None:
    # Defect: `check` printed "2 expectation(s) failed" and exited 0.
    import duckdb

    con = duckdb.connect(str(db_copy))
    # two corrupted raw rows: a second C1 (customer_id unique: 2 bad rows) and an
    # invoice due before it was issued (due_date >= issue_date: 1 bad row)
    con.execute("insert into raw.customers (customer_id, segment) values ('C1', 'smb')")
    con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount) "
        "values ('I2', 'C1', '2024-03-01', '2024-02-01', 5)"
    )
    con.close()
    proc = run("check", "--db", str(db_copy), "--no-docs")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert one_line_error(proc) == ("error: 2 expectation(s) failed in raw.customers, raw.invoices")
    assert "raw.customers: customer_id unique — 2 bad row(s); e.g. C1, C1" in proc.stdout


def test_check_passes_with_exit_0(built: Path, tmp_path: Path) -> None:
    proc = run("check", "--db", str(built), "--out", str(tmp_path / "q"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert "all expectations met" in proc.stdout


def test_metrics_unknown_segment(built: Path) -> None:
    proc = run("metrics", "--db", str(built), "--segment", "retail")
    assert proc.returncode == 1
    assert one_line_error(proc) == "error: unknown segment 'retail'; known: all, smb"


def test_build_without_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    proc = run("build", "--db", str(db))
    assert proc.returncode == 1
    assert one_line_error(proc) == (
        f"error: no warehouse at {db} — run `arinsight load` (or `arinsight demo`) first"
    )


def test_load_unknown_file(tmp_path: Path) -> None:
    f = tmp_path / "rechnungen.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    proc = run("load", str(f), "--db", str(tmp_path / "w.duckdb"))
    assert proc.returncode == 1
    assert "profile canonical maps no table to this file name" in one_line_error(proc)


def test_demo_with_a_broken_ledger(tmp_path: Path) -> None:
    data = tmp_path / "ledger"
    data.mkdir()
    # `total` instead of the required `amount`
    (data / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,total\nI1,C1,2024-01-05,2024-02-04,1\n",
        encoding="utf-8",
    )
    proc = run("demo", "--db", str(tmp_path / "w.duckdb"), "--data-dir", str(data))
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert str(data / "invoices.csv") in line and "invoices.amount" in line


def test_simulate_with_an_invalid_ladder(tmp_path: Path) -> None:
    ladder = tmp_path / "ladder.yaml"
    ladder.write_text(
        "default:\n  - {stage: 1, name: reminder, offset_days: 7, channel: fax}\n",
        encoding="utf-8",
    )
    proc = run("simulate", "--ladder", str(ladder), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2  # ConfigError
    line = one_line_error(proc)
    assert line.startswith(f"error: {ladder}: default.0.channel: Input should be 'email'")
    assert not (tmp_path / "out").exists()


def test_settings_error_names_file_key_and_fix(built: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("max_quarantine_pcnt: 5\n", encoding="utf-8")
    proc = run("build", "--db", str(built), "--settings", str(cfg))
    assert proc.returncode == 2
    assert one_line_error(proc).startswith(
        f"error: {cfg}: max_quarantine_pcnt: unknown key 'max_quarantine_pcnt' "
        "(did you mean 'max_quarantine_pct'?)"
    )


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = run("simulate", "--months", "0", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Invalid value for '--months'" in proc.stderr


def test_success_exits_0(built: Path) -> None:
    proc = run("metrics", "--db", str(built), "--json")
    assert (proc.returncode, proc.stderr) == (0, "")
