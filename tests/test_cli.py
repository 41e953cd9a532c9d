"""The command line: help for every verb, no heavy imports on start-up, exact outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arinsight.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("duckdb", "polars", "numpy", "pandas", "great_expectations", "pyarrow", "plotly", "dash")


def test_help_lists_every_verb_in_data_flow_order() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("verb", list(COMMANDS))
def test_each_verb_has_help(verb: str) -> None:
    result = CliRunner().invoke(cli, [verb, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {verb}" in result.output or f"Usage: arinsight {verb}" in result.output
    # The first help line is a real sentence, not an empty docstring.
    body = result.output.split("\n\n")[1].strip()
    assert len(body) > 20


@pytest.mark.parametrize("verb", list(COMMANDS))
def test_each_verb_is_documented_in_readme(verb: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"arinsight {verb}" in readme


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from arinsight.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"for verb in {list(COMMANDS)!r}:\n"
        + "    try:\n        main([verb, '--help'])\n    except SystemExit:\n        pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_missing_warehouse_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "arinsight", "metrics", "--db", str(db)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: no warehouse at {db} — run `arinsight load` (or `arinsight demo`) first"
    )


def test_load_unknown_file_name_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "rechnungen.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "arinsight", "load", str(f), "--db", str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "profile canonical maps no table to this file name" in proc.stderr


# A tiny ledger: one smb customer, one invoice of 300.00 issued 2024-01-15, due
# 2024-02-14, paid 100.00 on 2024-01-20. At 2024-01-31: AR = 300 - 100 = 200.00,
# S(t-90, t] = 300.00, DSO = 200 / 300 * 90 = 60.0 days; not yet due, so BPDSO
# = 60.0 and ADD = 0.
LEDGER = {
    "customers.csv": "customer_id,segment\nC1,smb\n",
    "invoices.csv": "invoice_id,customer_id,issue_date,due_date,amount\n"
    "I1,C1,2024-01-15,2024-02-14,300.00\n",
    "payments.csv": "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,100.00\n"
    "P2,I1,2024-02-29,200.00\n",
}


def test_load_build_metrics_json(tmp_path: Path) -> None:
    for name, text in LEDGER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    run = CliRunner().invoke
    assert run(cli, ["load", str(tmp_path), "--db", db]).exit_code == 0
    assert run(cli, ["build", "--db", db]).exit_code == 0
    result = run(
        cli, ["metrics", "--json", "--db", db, "--as-of", "2024-02-15", "--segment", "smb"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"as_of", "reporting_currency", "dso_window_days", "segments"}
    assert data["as_of"] == "2024-01-31"
    smb = data["segments"]["smb"]
    assert set(smb) >= {
        "dso_days",
        "dso_change_days",
        "best_possible_dso_days",
        "add_days",
        "ar_amount",
        "current_ar_amount",
        "overdue_ar_amount",
        "overdue_pct",
        "sales_window_amount",
        "count_open_invoices",
        "is_window_complete",
    }
    assert smb["ar_amount"] == 200.0
    assert smb["dso_days"] == pytest.approx(200 / 300 * 90)
    assert smb["add_days"] == 0.0


def test_metrics_unknown_segment(tmp_path: Path) -> None:
    for name, text in LEDGER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    run = CliRunner().invoke
    run(cli, ["load", str(tmp_path), "--db", db])
    run(cli, ["build", "--db", db])
    proc = subprocess.run(
        [sys.executable, "-m", "arinsight", "metrics", "--db", db, "--segment", "retail"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "unknown segment 'retail'" in proc.stderr


def test_check_writes_the_report_to_the_default_relative_path(tmp_path: Path) -> None:
    # Regression: the report directory default, `reports/quality`, is relative to
    # where the user runs it (GX once refused relative directories).
    for name, text in LEDGER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    for args in (["load", str(tmp_path)], ["build"]):
        subprocess.run(
            [sys.executable, "-m", "arinsight", *args, "--db", db],
            check=True,
            capture_output=True,
            cwd=tmp_path,
        )
    proc = subprocess.run(
        [sys.executable, "-m", "arinsight", "check", "--db", db],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "GX_ANALYTICS_ENABLED": "False"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "reports" / "quality" / "index.html").is_file()


def test_overdue_share_and_dso_change_come_from_the_mart(tmp_path: Path) -> None:
    # LEDGER: Jan 31: AR 200 (due Feb 14, so 0 % overdue), S = 300,
    # DSO = 200 / 300 * 90 = 60.0; no previous month, so no change.
    # Feb 29: P2 pays the remaining 200 that day, AR = 0 (overdue share null),
    # S(Dec 1, Feb 29] = 300, DSO = 0 / 300 * 90 = 0.0, change = 0 - 60 = -60.0.
    for name, text in LEDGER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    run = CliRunner().invoke
    run(cli, ["load", str(tmp_path), "--db", db])
    run(cli, ["build", "--db", db])
    import arinsight

    with arinsight.connect(db) as wh:
        rows = wh.sql(
            "select month_end_date::varchar as m, overdue_ar_pct, dso_change_days "
            "from marts.fct_dso_monthly where segment = 'smb' order by 1"
        ).rows()
    assert rows == [("2024-01-31", 0.0, None), ("2024-02-29", None, -60.0)]
