"""Issue 13 item 5 (and the currency label of item 7): figures built on accepted
quarantine say so, in ``arinsight.metrics.quarantine_share``, in the headline JSON
and above the metrics table.

Data: tests/data/bad/implausible_dates (see test_ingest_plausibility.py): 2 of 6
invoices and 2 of 4 payments are quarantined, 2 customers load cleanly; no file
has a currency column, so the 4 loaded invoices count in the reporting currency.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from arinsight.ingest import load_sources
from arinsight.metrics import quarantine_share
from arinsight.pipeline import run_build
from arinsight.warehouse import Warehouse

CASE = Path(__file__).parent / "data" / "bad" / "implausible_dates"
BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "arinsight"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("share") / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [CASE])
    run_build(db, accept_quarantine=True)
    return db


def test_quarantine_share_per_table(built: Path) -> None:
    with Warehouse.open(built) as wh:
        share = quarantine_share(wh)
    rows = {r["table_name"]: r for r in share.to_dicts()}
    assert set(rows) == {"customers", "invoices", "payments"}
    assert (rows["invoices"]["count_rows_read"], rows["invoices"]["count_rows_quarantined"]) == (
        6,
        2,
    )
    assert rows["invoices"]["quarantine_pct"] == pytest.approx(100 * 2 / 6)
    assert rows["payments"]["quarantine_pct"] == pytest.approx(100 * 2 / 4)
    assert rows["customers"]["quarantine_pct"] == 0
    # above max_quarantine_pct (1 %): the build needed --accept-quarantine
    assert [rows[t]["is_accepted_quarantine"] for t in ("customers", "invoices", "payments")] == [
        False,
        True,
        True,
    ]


def test_metrics_json_and_table_carry_the_share(built: Path) -> None:
    proc = subprocess.run(
        [str(BIN), "metrics", "--json", "--db", str(built)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["quarantine"]["invoices"] == {
        "rows_read": 6,
        "rows_quarantined": 2,
        "quarantine_pct": pytest.approx(33.333333),
        "is_accepted_quarantine": True,
    }
    assert data["warnings"] == [
        "figures rest on accepted quarantine: 33.3 % of invoices rows (2 of 6) were not loaded",
        "figures rest on accepted quarantine: 50.0 % of payments rows (2 of 4) were not loaded",
    ]
    assert data["currency_source"].startswith(
        "assumed: 4 invoice(s) carry no currency and count as EUR"
    )
    table = subprocess.run(
        [str(BIN), "metrics", "--db", str(built)], capture_output=True, text=True
    )
    assert table.returncode == 0, table.stderr
    out = table.stdout.splitlines()
    # the warnings come first, above the figures
    assert out[:2] == [f"warning: {w}" for w in data["warnings"]]
    assert any(line.startswith("currency EUR: assumed: 4 invoice(s)") for line in out)


def test_profile_currency_names_the_currency(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    for name in ("customers.csv", "invoices.csv"):
        (tmp_path / "src" / name).write_bytes((CASE / name).read_bytes())
    profile = tmp_path / "eur.yaml"
    profile.write_text("name: eur\nextends: canonical\ncurrency: eur\n", encoding="utf-8")
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        results = load_sources(wh.con, [tmp_path / "src"], str(profile))
        assert wh.con.execute("select distinct currency from raw.invoices").fetchall() == [("EUR",)]
    assert not [n for r in results for n in r.notes if "without a currency" in n]
