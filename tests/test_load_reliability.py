"""Reliability rules of `arinsight load` beyond the basics in test_reconcile.py.

Idempotence across profiles, lineage of derived tables, referential problems
(currencies without rates), the build's quarantine gate and the CLI's output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from arinsight.cli import cli
from arinsight.errors import ArinsightError, InputError
from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

CUSTOMERS = "customer_id,segment\nC1,smb\nC2,enterprise\n"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


def _write(d: Path, **files: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return d


def _state(wh: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for t in ("customers", "invoices", "payments", "adjustments", "dunning_events", "fx_rates"):
        out[t] = wh.con.execute(f"select * from raw.{t} order by all").fetchall()
    out["loads"] = wh.con.execute(
        "select * exclude (loaded_at, seconds) from meta.loads order by all"
    ).fetchall()
    out["quarantine"] = wh.con.execute("select * from meta.quarantine order by all").fetchall()
    return out


CLEARED = (
    "Document Number,Customer,Document Date,Net Due Date,Amount,Clearing Date\n"
    "A1,K1,2024-01-05,2024-02-04,250.00,2024-02-10\n"
    "A2,K1,2024-01-06,2024-02-05,100.00,\n"
)


def test_every_output_of_a_file_reconciles_in_meta_loads(wh: Warehouse, tmp_path: Path) -> None:
    src = _write(tmp_path / "src", cleared_items__csv=CLEARED)
    results = load_sources(wh.con, [src], "cleared_items")
    rows = wh.con.execute(
        "select table_name, rows_read, rows_loaded, rows_quarantined, profile "
        "from meta.loads order by load_id"
    ).fetchall()
    # customers (1 distinct: K1) load first, then the invoices (2 rows), then payments
    # (1 row with a clearing date).
    assert [r[:4] for r in rows] == [
        ("customers", 1, 1, 0),
        ("invoices", 2, 2, 0),
        ("payments", 1, 1, 0),
    ]
    assert all(r[4].startswith("cleared_items@") for r in rows)
    assert all(r.reconciles() for r in results)


def test_same_file_same_profile_is_skipped_other_profile_rereads(
    wh: Warehouse, tmp_path: Path
) -> None:
    src = _write(tmp_path / "src", customers__csv=CUSTOMERS)
    load_sources(wh.con, [src])
    before = _state(wh)
    again = load_sources(wh.con, [src])
    assert [r.skipped for r in again] == [True]
    assert _state(wh) == before
    # A different profile reads the same bytes differently: the file is read again and
    # replaces its own rows by key (a fixed profile must be able to repair a bad load).
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: upper\nextends: canonical\ntables:\n  customers:\n"
        "    files: [customers.csv]\n    value_maps: {segment: {smb: SMB}}\n",
        encoding="utf-8",
    )
    (res,) = load_sources(wh.con, [src], str(profile))
    # rows_replaced counts rows that changed: C1 (smb → SMB); C2 is re-sent as it was.
    assert (res.skipped, res.rows_replaced) == (False, 1)
    assert wh.con.execute("select segment from raw.customers order by 1").fetchall() == [
        ("SMB",),
        ("enterprise",),
    ]


def test_newer_cleared_items_export_replaces_invoices_and_payments(
    wh: Warehouse, tmp_path: Path
) -> None:
    v1 = _write(tmp_path / "v1", cleared_items__csv=CLEARED)
    # A2 got paid on 2024-02-20 in the newer export.
    v2 = _write(
        tmp_path / "v2",
        cleared_items__csv=CLEARED.replace(
            "A2,K1,2024-01-06,2024-02-05,100.00,", "A2,K1,2024-01-06,2024-02-05,100.00,2024-02-20"
        ),
    )
    load_sources(wh.con, [v1], "cleared_items")
    results = load_sources(wh.con, [v2], "cleared_items")
    by = {r.table: r for r in results}
    # Nothing already loaded changed: both invoices are re-sent as they were (their
    # columns do not include the clearing date), and A2's payment is new, not a replacement.
    assert (by["invoices"].rows_replaced, by["payments"].rows_replaced) == (0, 0)
    pays = wh.con.execute(
        "select payment_id, cast(paid_at as varchar), _load_id from raw.payments order by 1"
    ).fetchall()
    assert [p[:2] for p in pays] == [("A1-cleared", "2024-02-10"), ("A2-cleared", "2024-02-20")]
    assert {p[2] for p in pays} == {by["payments"].load_id}
    # lineage: both exports stay listed in meta.loads
    files = wh.con.execute(
        "select file from meta.loads where table_name = 'invoices' order by load_id"
    ).fetchall()
    assert [Path(f[0]).parent.name for f in files] == ["v1", "v2"]


INVOICES_2CUR = (
    "invoice_id,customer_id,issue_date,due_date,amount,currency\n"
    "I1,C1,2024-01-05,2024-02-04,100.00,EUR\n"
    "I2,C2,2024-01-06,2024-02-05,80.00,USD\n"
    "I3,C2,2024-01-07,2024-02-06,70.00,usd\n"
)


def test_several_currencies_without_rates_fail_the_whole_load(
    wh: Warehouse, tmp_path: Path
) -> None:
    src = _write(tmp_path / "src", customers__csv=CUSTOMERS, invoices__csv=INVOICES_2CUR)
    before = _state(wh)
    with pytest.raises(InputError) as err:
        load_sources(wh.con, [src])
    msg = str(err.value)
    assert "reporting currency EUR" in msg
    assert f"USD: 2 invoice(s), e.g. {src / 'invoices.csv'} line 3 issued 2024-01-06" in msg
    assert "Nothing was loaded." in msg
    assert _state(wh) == before


def test_rates_in_the_same_call_make_the_currencies_loadable(wh: Warehouse, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        invoices__csv=INVOICES_2CUR,
        fx_rates__csv="rate_date,currency,rate_to_reporting\n2024-01-01,USD,0.91\n",
    )
    results = load_sources(wh.con, [src])
    assert {r.table: r.rows_loaded for r in results} == {
        "customers": 2,
        "invoices": 3,
        "fx_rates": 1,
    }


def test_rate_after_the_issue_date_is_not_enough(wh: Warehouse, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        invoices__csv=INVOICES_2CUR,
        fx_rates__csv="rate_date,currency,rate_to_reporting\n2024-01-07,USD,0.91\n",
    )
    with pytest.raises(
        InputError,
        match=r"USD: 1 invoice\(s\), e.g. .* line 3 issued "
        r"2024-01-06",
    ):
        load_sources(wh.con, [src])


def test_payments_and_dunning_on_unknown_invoices(wh: Warehouse, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        invoices__csv="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-05,2024-02-04,100.00\n",
        payments__csv="payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,100\n"
        "P2,I9,2024-01-20,5\n",
        dunning_events__csv="event_id,invoice_id,stage,sent_at,channel\n"
        "E1,I1,1,2024-02-10,email\nE2,I8,1,2024-02-10,email\n",
    )
    load_sources(wh.con, [src])
    reasons = wh.con.execute(
        "select table_name, line_number, reason from meta.quarantine order by table_name"
    ).fetchall()
    assert reasons == [
        (
            "dunning_events",
            3,
            "invoice_id 'I8' is not in invoices: load invoices (the row is held and "
            "retried by every later `arinsight load`, even of unchanged files), or fix the "
            "invoice_id",
        ),
        (
            "payments",
            3,
            "invoice_id 'I9' is not in invoices: load invoices (the row is held and "
            "retried by every later `arinsight load`, even of unchanged files), or fix the "
            "invoice_id",
        ),
    ]


def test_build_quarantine_gate(tmp_path: Path) -> None:
    """pipeline.run_build refuses to publish marts above max_quarantine_pct (1 %)."""
    from arinsight.pipeline import run_build

    # 2 invoice rows, 1 quarantined (due before issue): 50 % > 1 %.
    src = _write(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        invoices__csv="invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-05,2024-02-04,100.00\n"
        "I2,C1,2024-01-05,2024-01-04,100.00\n",
    )
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as w:
        load_sources(w.con, [src])
    with pytest.raises(ArinsightError) as err:
        run_build(db)
    assert "not publishing marts: quarantine above 1.0 % in" in str(err.value)
    assert f"{src / 'invoices.csv'} (invoices): 50.0 %" in str(err.value)
    assert "`arinsight build --accept-quarantine`" in str(err.value)
    with Warehouse.open(db) as w:
        assert not w.has_marts()
    result = run_build(db, accept_quarantine=True)
    assert result.models
    with Warehouse.open(db) as w:
        assert w.has_marts()


def test_cli_prints_reconciliation_per_file(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        customers__csv=CUSTOMERS,
        invoices__csv="invoice_id,customer_id,issue_date,due_date,amount,memo\n"
        "I1,C1,2024-01-05,2024-02-04,100.00,x\n"
        "I2,C1,2024-01-05,2024-02-04,1.234,y\n",
    )
    db = str(tmp_path / "w.duckdb")
    first = CliRunner().invoke(cli, ["load", str(src), "--db", db])
    # a row went to the quarantine: the load succeeds with the distinct exit code 3
    assert first.exit_code == 3, first.output
    lines = first.output.splitlines()
    assert lines[:4] == [
        "✓ customers.csv → customers: 2 read = 2 loaded + 0 quarantined",
        "✓ invoices.csv → invoices: 2 read = 1 loaded + 1 quarantined",
        "    note: ignored columns: memo",
        "    note: 1 invoice(s) without a currency: counted in the reporting currency "
        "(settings reporting_currency); name their currency with currency: in the profile",
    ]
    assert "first quarantined rows:" in lines
    assert lines[-2:] == [
        "  invoices.csv line 3: amount '1.234' is not a number (decimal point, no thousands "
        "separator, at most 2 decimals expected by profile canonical; profile keys "
        "csv.decimal, csv.thousands; it looks like a decimal comma number: check csv.decimal / "
        "csv.thousands)",
        "exit code 3: 1 row(s) of this load are in the quarantine (`select * from "
        "meta.quarantine`); `arinsight build` refuses to publish above max_quarantine_pct "
        "unless run with --accept-quarantine",
    ]
    again = CliRunner().invoke(cli, ["load", str(src), "--db", db])
    # nothing was loaded by the second call, so nothing of it is in the quarantine
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[:2] == [
        "= customers.csv → customers: unchanged since load 1 (same sha256), skipped",
        "= invoices.csv → invoices: unchanged since load 2 (same sha256), skipped",
    ]
