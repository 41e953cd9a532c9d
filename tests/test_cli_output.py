"""What the verbs print: tables that never cut a figure, --json, --quiet, build progress, demo.

Run through the real entry point with stdout piped (rich then lays tables out
for 80 columns, like a terminal of that width).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARINSIGHT = str(Path(sys.executable).parent / "arinsight")

# Two smb customers. I1: 300.00 issued 2024-01-15, due 2024-02-14, 100.00 paid on
# 2024-01-20, 200.00 on 2024-02-29. I2: 12,345,678.00 issued 2024-01-10, due
# 2024-01-20, never paid. At 2024-01-31: AR = 200.00 + 12,345,678.00 = 12,345,878.00,
# printed without decimals as "12,345,878"; overdue = 12,345,678.00 (I2 is past due).
LEDGER = {
    "customers.csv": "customer_id,segment\nC1,smb\nC2,smb\n",
    "invoices.csv": "invoice_id,customer_id,issue_date,due_date,amount\n"
    "I1,C1,2024-01-15,2024-02-14,300.00\n"
    "I2,C2,2024-01-10,2024-01-20,12345678.00\n",
    "payments.csv": "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,100.00\n"
    "P2,I1,2024-02-29,200.00\n",
}
ROWS_READ = {"customers": 2, "invoices": 2, "payments": 2}
#: Models the build runs: one per .sql file of the three layers (counted independently).
N_MODELS = sum(
    len(list((REPO / "sql" / d).glob("*.sql"))) for d in ("staging", "intermediate", "marts")
)


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [ARINSIGHT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "GX_ANALYTICS_ENABLED": "False", **env},
        timeout=300,
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ledger")
    for name, text in LEDGER.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def loaded(ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(warehouse, stdout of `load --json`)."""
    db = tmp_path_factory.mktemp("wh") / "w.duckdb"
    proc = run("load", str(ledger), "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    return db, proc.stdout


@pytest.fixture(scope="module")
def built(loaded: tuple[Path, str]) -> tuple[Path, str]:
    """(warehouse, stdout of a piped `build`)."""
    db, _ = loaded
    proc = run("build", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    return db, proc.stdout


def test_load_json(loaded: tuple[Path, str], ledger: Path) -> None:
    _, out = loaded
    data = json.loads(out)  # nothing but JSON on stdout
    got = {
        f["table"]: (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) for f in data["files"]
    }
    assert got == {t: (n, n, 0) for t, n in ROWS_READ.items()}
    assert data["first_quarantined_rows"] == []


def test_build_prints_a_line_per_model_when_piped(built: tuple[Path, str]) -> None:
    _, out = built
    lines = out.splitlines()
    progress = [ln for ln in lines if re.match(r"^\[\s*\d+/\d+\] \w+ \d+\.\d\d s$", ln)]
    assert len(progress) == N_MODELS
    assert progress[0].startswith(f"[ 1/{N_MODELS}] stg_") or progress[0].startswith(
        f"[1/{N_MODELS}] stg_"
    )
    assert progress[-1].startswith(f"[{N_MODELS}/{N_MODELS}] ")
    assert lines[-1].startswith(f"built {N_MODELS} models")


def test_build_json_and_quiet(built: tuple[Path, str]) -> None:
    db, _ = built
    proc = run("build", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # no progress lines mixed in
    assert len(data["models"]) == N_MODELS
    assert len(data["asserts"]) == len(list((REPO / "sql" / "tests").glob("assert_*.sql")))
    quiet = run("build", "--db", str(db), "--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def _headline_json(db: Path) -> dict[str, object]:
    proc = run("metrics", "--db", str(db), "--json", "--as-of", "2024-01-31")
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_headline_table_never_cuts_a_number_at_80_columns(built: tuple[Path, str]) -> None:
    db, _ = built
    smb = _headline_json(db)["segments"]["smb"]  # type: ignore[index]
    assert smb["ar_amount"] == pytest.approx(12_345_878.00)
    proc = run("metrics", "--db", str(db), "--as-of", "2024-01-31")  # piped: 80 columns
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = [ln for ln in lines if ln[:1] in "┏┃┡│└"]
    assert [ln.split()[1] for ln in table if ln.startswith("│")] == ["smb", "all"]
    assert max(len(ln) for ln in table) <= 80
    assert "12,345,878" in proc.stdout
    assert "…" not in proc.stdout
    note = [ln for ln in lines if ln.startswith("note: left out to fit 80 columns:")]
    assert note, proc.stdout  # ten columns need ~95 characters: some were left out
    dropped = note[0].split(":", 2)[2].split("(")[0]
    # the columns kept are the important ones: segment, DSO, AR
    assert "DSO" in proc.stdout and " AR " in proc.stdout
    assert "AR" not in [d.strip() for d in dropped.split(",")]


def test_headline_table_shows_every_column_when_wide(built: tuple[Path, str]) -> None:
    db, _ = built
    proc = run("metrics", "--db", str(db), "--as-of", "2024-01-31", COLUMNS="200")
    assert "note: left out" not in proc.stdout
    assert "countback" in proc.stdout and "12,345,878" in proc.stdout


def test_every_table_verb_has_json() -> None:
    from click.testing import CliRunner

    from arinsight.cli import cli

    for verb in ("load", "build", "check", "metrics"):
        help_text = CliRunner().invoke(cli, [verb, "--help"]).output
        assert "--json" in help_text, verb
        assert "--quiet" in help_text, verb
        assert "--settings" in help_text and "ARINSIGHT_SETTINGS" in help_text, verb


def test_demo_ends_serving_the_dashboard_and_stops_cleanly(ledger: Path, tmp_path: Path) -> None:
    # Defect: plain `arinsight demo` exited 1 after a successful pipeline. It now
    # ends by serving the dashboard (its URL printed) until interrupted.
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "demo.duckdb"
    proc = subprocess.Popen(
        [ARINSIGHT, "demo", "--db", str(db), "--data-dir", str(ledger), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if f"http://127.0.0.1:{port}/" in line:
                break
        out = "".join(seen)
        # the latest month end, 2024-02-29: I1 is paid off, AR = I2's 12,345,678.00
        assert "headline figures at 2024-02-29" in out
        assert "12,345,678" in out
        assert f"built {N_MODELS} models" in out
        # the URL is printed as the server starts: give it a moment to bind
        status = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
                    status = page.status
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest_out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    again = run("demo", "--db", str(db), "--data-dir", str(ledger), "--no-serve", "-q")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    noserve = run("demo", "--db", str(db), "--data-dir", str(ledger), "--no-serve")
    # two invoices: recommend and score say why they skip, and the demo goes on
    assert "skipped: too little history to recommend" in noserve.stdout
    assert "skipped: too little history before 2024-02-29 to fit a payment model" in noserve.stdout
    assert noserve.stdout.splitlines()[-1] == (
        f"next: `arinsight dashboard --db {db}` opens the dashboard on these marts"
    )


def test_headline_on_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal (not a pipe) 80 columns wide, with figures as wide as they get.
    import io

    from rich.console import Console

    from arinsight.cli import _render

    buf = io.StringIO()
    term = Console(file=buf, width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(_render, "console", term)
    big = {
        "dso_days": 1234.5,
        "dso_change_days": -1234.5,
        "best_possible_dso_days": 1000.0,
        "add_days": 234.5,
        "countback_dso_days": 1200.0,
        "cei_pct": 99.9,
        "ar_amount": 123_456_789_012.0,
        "overdue_pct": 100.0,
        "recovery_90d_pct": 12.3,
    }
    data = {
        "as_of": "2025-12-31",
        "dso_window_days": 90,
        "reporting_currency": "EUR",
        "segments": {"enterprise": big, "all": big},
    }
    _render.print_headline(data)
    out = buf.getvalue()
    table = [ln for ln in out.splitlines() if ln[:1] in "┏┃┡│└"]
    assert max(len(ln) for ln in table) <= 80
    assert out.count("123,456,789,012") == 2  # AR, never cut
    assert "1,234.5" in out and "…" not in out  # DSO, never cut
    assert "note: left out to fit 80 columns:" in out
