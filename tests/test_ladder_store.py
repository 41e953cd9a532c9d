"""Ladder versions in the warehouse and the `arinsight ladder` verbs (real entry point)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from arinsight.ladder.store import apply_ladder, ladder_in_force, ladder_versions
from arinsight.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
ARINSIGHT = [str(Path(sys.executable).parent / "arinsight")]

LADDER_A = """\
name: a
default:
  - {stage: 0, name: pre, offset_days: -3, channel: email}
  - {stage: 1, name: reminder, offset_days: 7, channel: email}
  - {stage: 2, name: letter, offset_days: 14, anchor: previous_stage, channel: letter, fee: 2.5}
segments:
  wholesale:
    - {stage: 1, name: reminder, offset_days: 10, channel: email}
    - {stage: 2, name: agency, offset_days: 45, channel: collection_agency}
"""
LADDER_B = LADDER_A.replace("name: a", "name: b")
# Consumers handed to the agency at +20: an error under §286(3) BGB.
LADDER_BAD = """\
name: bad
default:
  - {stage: 1, name: reminder, offset_days: 7, channel: email}
  - {stage: 2, name: agency, offset_days: 20, channel: collection_agency}
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ARINSIGHT, *args], capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True)


def test_version_in_force_by_date(wh: Warehouse) -> None:
    jan, mar = dt.date(2025, 1, 1), dt.date(2025, 3, 1)
    v1 = apply_ladder(wh, LADDER_A, jan)
    v2 = apply_ladder(wh, LADDER_B, mar)
    assert (v1.version, v2.version, v1.is_new, v2.is_new) == (1, 2, True, True)
    assert ladder_in_force(wh, dt.date(2024, 12, 31)) is None  # before any version
    assert ladder_in_force(wh, jan).name == "a"  # type: ignore[union-attr]
    assert ladder_in_force(wh, dt.date(2025, 2, 28)).name == "a"  # type: ignore[union-attr]
    assert ladder_in_force(wh, mar).name == "b"  # type: ignore[union-attr]
    # A later-applied version with an earlier date does not displace March's.
    v3 = apply_ladder(wh, LADDER_A.replace("name: a", "name: c"), jan)
    assert v3.version == 3
    assert ladder_in_force(wh, dt.date(2025, 2, 1)).name == "c"  # type: ignore[union-attr]
    assert ladder_in_force(wh, dt.date(2025, 4, 1)).name == "b"  # type: ignore[union-attr]
    assert ladder_versions(wh)["version"].to_list() == [1, 3, 2]  # by effective date


def test_same_text_same_date_changes_nothing(wh: Warehouse) -> None:
    day = dt.date(2025, 1, 1)
    first = apply_ladder(wh, LADDER_A, day)
    again = apply_ladder(wh, LADDER_A, day)
    assert (again.version, again.is_new) == (first.version, False)
    assert wh.con.execute("select count(*) from meta.ladders").fetchall() == [(1,)]
    # Stages: 3 default + 2 wholesale rows, written once.
    assert wh.con.execute("select count(*) from meta.ladder_stages").fetchall() == [(5,)]
    # Same text, another date: a new version.
    assert apply_ladder(wh, LADDER_A, dt.date(2025, 2, 1)).version == 2


def test_stage_rows_resolve_anchors(wh: Warehouse) -> None:
    apply_ladder(wh, LADDER_A, dt.date(2025, 1, 1))
    rows = wh.con.execute(
        "select segment, stage_number, due_offset_days, channel, fee_amount "
        "from meta.ladder_stages order by segment, stage_number"
    ).fetchall()
    # The letter anchors on the reminder: +7 + 14 = +21 from due.
    assert [(r[0], r[1], r[2], r[3], float(r[4])) for r in rows] == [
        ("*", 0, -3, "email", 0.0),
        ("*", 1, 7, "email", 0.0),
        ("*", 2, 21, "letter", 2.5),
        ("wholesale", 1, 10, "email", 0.0),
        ("wholesale", 2, 45, "collection_agency", 0.0),
    ]


def test_cli_apply_show_check(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse.open(db, read_only=False, create=True).close()
    good, bad = tmp_path / "a.yaml", tmp_path / "bad.yaml"
    good.write_text(LADDER_A, encoding="utf-8")
    bad.write_text(LADDER_BAD, encoding="utf-8")

    r = run("ladder", "apply", str(good), "--effective", "2025-01-01", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "as ladder version 1 ('a'), in force from 2025-01-01" in r.stdout
    r = run("ladder", "apply", str(good), "--effective", "2025-01-01", "--db", str(db))
    assert r.returncode == 0 and "unchanged: version 1" in r.stdout

    r = run("ladder", "show", "--db", str(db), "--as-of", "2025-06-30", "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert (shown["version"], shown["effective_date"]) == (1, "2025-01-01")
    assert [s["due_offset_days"] for s in shown["segments"]["default"]] == [-3, 7, 21]
    assert [s["channel"] for s in shown["segments"]["wholesale"]] == ["email", "collection_agency"]
    r = run("ladder", "show", "--db", str(db), "--as-of", "2025-06-30")
    assert r.returncode == 0 and "segment: wholesale" in r.stdout and "+21" in r.stdout

    r = run("ladder", "show", "--db", str(db), "--as-of", "2024-06-30")
    assert r.returncode == 1
    assert "no ladder version in force on 2024-06-30" in r.stderr

    # No master data (warehouse not built): checked as b2b and b2c; consumer
    # agency handover at +20 is an error: exit 1, and apply refuses it.
    r = run("ladder", "check", str(bad), "--db", str(db))
    assert r.returncode == 1
    assert "consumer_agency_before_default" in r.stdout and "§286(3) BGB" in r.stdout
    assert r.stderr.count("\n") == 1 and "1 legal error(s)" in r.stderr
    r = run("ladder", "apply", str(bad), "--effective", "2025-02-01", "--db", str(db))
    assert r.returncode == 1 and "pass --force" in r.stderr
    with Warehouse.open(db) as wh:
        assert len(ladder_versions(wh)) == 1
    r = run("ladder", "apply", str(bad), "--effective", "2025-02-01", "--db", str(db), "--force")
    assert r.returncode == 0 and "version 2" in r.stdout

    r = run("ladder", "check", str(good), "--db", str(db), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["findings"] == []


def test_cli_check_uses_master_data(ledger_warehouse: object, tmp_path: Path) -> None:
    # A b2b-only warehouse: the +20 agency handover is lawful for businesses;
    # 75-day terms of one business customer draw the Directive 2011/7/EU warning.
    wh = ledger_warehouse(  # type: ignore[operator]
        customers=[
            {
                "customer_id": "C1",
                "segment": "trade",
                "customer_type": "b2b",
                "payment_terms_days": 75,
            },
            {
                "customer_id": "C2",
                "segment": "trade",
                "customer_type": "b2b",
                "payment_terms_days": 30,
            },
        ],
        invoices=[
            {
                "invoice_id": "I1",
                "customer_id": "C1",
                "issue_date": "2025-01-02",
                "due_date": "2025-03-18",
                "amount": "100.00",
            },
        ],
    )
    db = str(wh.path)
    wh.close()
    bad = tmp_path / "bad.yaml"
    bad.write_text(LADDER_BAD, encoding="utf-8")
    r = run("ladder", "check", str(bad), "--db", db, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "trade=b2b" in out["note"]
    assert [(f["rule"], f["segment"]) for f in out["findings"]] == [
        ("business_terms_over_60_days", "trade")
    ]
    assert "1 business customer(s) have 75-day" in out["findings"][0]["message"]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = run("ladder", "check", str(tmp_path / "missing.yaml"))
    assert r.returncode == 1 and "ladder file not found" in r.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ndefault:\n  - {stage: 1, name: r, channel: fax}\n")
    r = run("ladder", "check", str(broken))
    assert r.returncode == 2
    assert "default.0.offset_days" in r.stderr and "Traceback" not in r.stderr
    r = run("ladder", "show", "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 1 and "run `arinsight load`" in r.stderr
