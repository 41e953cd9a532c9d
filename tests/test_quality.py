"""`arinsight check`: great-expectations suites on raw tables and marts, with Data Docs.

The ledger is built by hand; bad rows are then written straight into raw.* or
the marts (bypassing the loader, as a buggy upstream step would) so each rule
has something to catch. Expected bad-row counts are the rows inserted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arinsight.cli import cli
from arinsight.quality.runner import CheckResult, run_check
from arinsight.quality.suites import mart_suites, raw_suites

CUSTOMERS = [{"customer_id": "C1", "segment": "smb"}, {"customer_id": "C2", "segment": "retail"}]
# Two invoices of 100.00 and 300.00: I1 paid in full on 2024-02-10 (before its due date
# 2024-02-14), I2 open and reminded once.
INVOICES = [
    {
        "invoice_id": "I1",
        "customer_id": "C1",
        "issue_date": "2024-01-15",
        "due_date": "2024-02-14",
        "amount": "100.00",
    },
    {
        "invoice_id": "I2",
        "customer_id": "C2",
        "issue_date": "2024-01-20",
        "due_date": "2024-02-19",
        "amount": "300.00",
    },
]
PAYMENTS = [{"payment_id": "P1", "invoice_id": "I1", "paid_at": "2024-02-10", "amount": "100.00"}]
EVENTS = [
    {
        "event_id": "E1",
        "invoice_id": "I2",
        "stage": "1",
        "sent_at": "2024-02-26",
        "channel": "email",
    }
]


def _ledger(ledger_warehouse: Callable[..., Any], build: bool = True) -> Any:
    return ledger_warehouse(
        build=build,
        customers=CUSTOMERS,
        invoices=INVOICES,
        payments=PAYMENTS,
        dunning_events=EVENTS,
    )


def _suite(result: CheckResult, name: str) -> Any:
    (s,) = [s for s in result.suites if s.suite.name == name]
    return s


def test_clean_ledger_passes_and_writes_the_report(
    ledger_warehouse: Callable[..., Any], tmp_path: Path
) -> None:
    wh = _ledger(ledger_warehouse)
    docs = tmp_path / "quality"
    result = run_check(wh.con, docs)
    assert result.success, [
        (s.suite.name, [r.rule.doc for r in s.failed]) for s in result.suites if s.failed
    ]
    inv = _suite(result, "raw.invoices")
    assert (inv.status, inv.rows, inv.validated_rows) == ("passed", 2, 2)
    assert _suite(result, "marts.fct_dso_monthly").status == "passed"
    index = docs / "index.html"
    assert result.docs_index == index and index.exists()
    html = index.read_text(encoding="utf-8")
    assert "raw.invoices" in html and "marts.fct_dso_monthly" in html
    assert "all expectations met" in html


def test_report_is_self_contained_and_counts_the_whole_table(
    ledger_warehouse: Callable[..., Any], tmp_path: Path
) -> None:
    # Defect: GX Data Docs pulled CSS/JS from CDNs, carried the vendor's footer,
    # said "Data asset: None", showed the helper column of reference rules and
    # reported the counts of the validated sample as if they were the table.
    wh = _ledger(ledger_warehouse)
    # 2 customers + 1,000 good ones + 3 without a segment = 1,005 rows; sample 100.
    wh.con.execute(
        "insert into raw.customers (customer_id, segment) select 'K' || i, 'smb' "
        "from range(1000) t(i)"
    )
    wh.con.execute(
        "insert into raw.customers (customer_id, segment) values ('X1', NULL), "
        "('X2', NULL), ('X3', NULL)"
    )
    result = run_check(wh.con, tmp_path / "q", sample_rows=100)
    html = (tmp_path / "q" / "index.html").read_text(encoding="utf-8")
    for outside in ("http://", "https://", "<script", "<link", "src=", "@import"):
        assert outside not in html, outside
    assert "Data asset" not in html and "None" not in html
    assert "_known" not in html and "_rid" not in html  # helper columns
    assert "great_expectations" not in html
    assert "1,005 rows" in html  # the whole table, not the sample
    cust = _suite(result, "raw.customers")
    assert cust.validated_rows <= 103  # the sample (100) plus the 3 offenders
    assert f"validated {cust.validated_rows:,} of them" in html
    # the failing rule with its exact count and the offending customers by key
    assert "segment not null" in html and "X1, X2, X3" in html
    assert ">3</td>" in html
    assert not (tmp_path / "q" / "static").exists()  # no vendor assets


def test_check_fails_on_quarantine_above_the_setting(tmp_path: Path) -> None:
    # Defect: check reported green with 37.5 % of invoices quarantined.
    # 8 invoice rows, 3 with an unparseable amount: 3 / 8 = 37.5 % > 1.0 % (default).
    import os
    import subprocess
    import sys

    arinsight = str(Path(sys.executable).parent / "arinsight")
    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    amounts = ["100.00"] * 5 + ["abc", "x1", "--"]
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        + "".join(f"I{i},C1,2024-01-15,2024-02-14,{a}\n" for i, a in enumerate(amounts)),
        encoding="utf-8",
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,invoice_id,paid_at,amount\nP1,I0,2024-02-01,100.00\n", encoding="utf-8"
    )
    db = str(tmp_path / "w.duckdb")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [arinsight, *args, "--db", db], capture_output=True, text=True, env=env
        )

    assert run("load", str(tmp_path)).returncode == 3  # loaded, with quarantined rows
    assert run("build", "--accept-quarantine").returncode == 0
    gated = run("check", "--no-docs")
    assert gated.returncode == 1, gated.stdout
    assert gated.stderr.strip() == "error: 1 expectation(s) failed in meta.quarantine"
    invoices = str(tmp_path / "invoices.csv")
    assert (
        "meta.quarantine: quarantined share of each file's latest load <= 1 % "
        f"(max_quarantine_pct) — 1 bad row(s); e.g. {invoices} (invoices): 37.5 %"
    ) in gated.stdout.replace("\n", "")
    accepted = run("check", "--no-docs", "--accept-quarantine")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "quarantine accepted (--accept-quarantine)" in accepted.stdout


def test_mart_suites_skip_with_a_note_before_build(ledger_warehouse: Callable[..., Any]) -> None:
    wh = _ledger(ledger_warehouse, build=False)
    result = run_check(wh.con, None)
    dso = _suite(result, "marts.fct_dso_monthly")
    assert (dso.status, dso.note) == ("skipped", "marts.fct_dso_monthly is not built yet")
    assert result.success  # skipped suites do not fail the gate


def test_raw_rules_catch_rows_that_bypassed_the_loader(
    ledger_warehouse: Callable[..., Any],
) -> None:
    wh = _ledger(ledger_warehouse)
    con = wh.con
    # I1 again with other content (1 duplicate key, 2 rows share it); I3 due before issue
    # and for an unknown customer; a payment on unknown invoice I9; a negative payment;
    # a dunning event on channel 'fax'.
    con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount)"
        " values ('I1', 'C1', '2024-01-15', '2024-02-14', 5), "
        "('I3', 'C7', '2024-03-01', '2024-02-01', 10)"
    )
    con.execute(
        "insert into raw.payments (payment_id, invoice_id, paid_at, amount) values "
        "('P8', 'I9', '2024-03-01', 1), ('P9', 'I2', '2024-03-01', -2)"
    )
    con.execute(
        "insert into raw.dunning_events (event_id, invoice_id, stage, sent_at, channel) "
        "values ('E9', 'I2', 1, '2024-03-01', 'fax')"
    )
    result = run_check(con, None)
    assert not result.success
    failed = {(s.suite.name, r.rule.doc): r.bad_rows for s in result.suites for r in s.failed}
    assert failed == {
        ("raw.invoices", "invoice_id unique"): 2,
        ("raw.invoices", "customer_id in customers"): 1,
        ("raw.invoices", "due_date >= issue_date"): 1,
        ("raw.payments", "invoice_id in invoices"): 1,
        ("raw.payments", "amount >= 0"): 1,
        ("raw.dunning_events", "channel in email, letter, sms, phone, collection_agency"): 1,
    }
    fax = [r for s in result.suites for r in s.failed if r.rule.kind == "in_set"][0]
    assert fax.examples == ["fax"]


def test_sampling_keeps_counts_exact_and_offenders_visible(
    ledger_warehouse: Callable[..., Any],
) -> None:
    wh = _ledger(ledger_warehouse)
    con = wh.con
    # 1,000 more good customers, then 3 without a segment: validate only 100 sampled rows.
    con.execute(
        "insert into raw.customers (customer_id, segment) select 'K' || i, 'smb' "
        "from range(1000) t(i)"
    )
    con.execute(
        "insert into raw.customers (customer_id, segment) values ('X1', NULL), "
        "('X2', NULL), ('X3', NULL)"
    )
    result = run_check(con, None, sample_rows=100)
    cust = _suite(result, "raw.customers")
    assert cust.rows == 1005
    assert cust.validated_rows <= 103
    (bad,) = cust.failed
    assert (bad.rule.doc, bad.bad_rows) == ("segment not null", 3)


def test_aging_must_sum_to_ar(ledger_warehouse: Callable[..., Any]) -> None:
    wh = _ledger(ledger_warehouse)
    if "fct_aging_snapshots" not in wh.tables("marts"):
        pytest.skip("fct_aging_snapshots is not built yet")
    # Add 1.00 to one bucket of one (month end, segment): exactly one pair disagrees.
    wh.con.execute(
        "update marts.fct_aging_snapshots set open_amount = open_amount + 1 "
        "where (month_end_date, segment, aging_bucket) = (select (month_end_date, segment, "
        "aging_bucket) from marts.fct_aging_snapshots where segment = 'smb' "
        "order by month_end_date limit 1)"
    )
    result = run_check(wh.con, None)
    (bad,) = _suite(result, "marts.aging_sums_to_ar").failed
    assert (bad.rule.doc, bad.bad_rows) == ("sum of aging buckets = AR", 1)


def test_cli_exit_codes(ledger_warehouse: Callable[..., Any], tmp_path: Path) -> None:
    wh = _ledger(ledger_warehouse)
    db = str(wh.path)
    wh.close()
    ok = CliRunner().invoke(cli, ["check", "--db", db, "--out", str(tmp_path / "q")])
    assert ok.exit_code == 0, ok.output
    assert "all expectations met in" in ok.output
    assert f"report: {tmp_path / 'q' / 'index.html'}" in ok.output.replace("\n", "")
    import duckdb

    con = duckdb.connect(db)
    con.execute("insert into raw.customers (customer_id, segment) values ('C1', 'smb')")
    con.close()
    bad = CliRunner().invoke(cli, ["check", "--db", db, "--no-docs"])
    assert bad.exit_code == 1
    assert "raw.customers: customer_id unique — 2 bad row(s); e.g. C1, C1" in bad.output
    assert "1 expectation(s) failed" in bad.output


def test_check_json(ledger_warehouse: Callable[..., Any]) -> None:
    import json

    wh = _ledger(ledger_warehouse)
    db = str(wh.path)
    wh.close()
    result = CliRunner().invoke(cli, ["check", "--db", db, "--no-docs", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["success"] is True
    suites = {s["suite"]: s for s in data["suites"]}
    # INVOICES: 2 rows; one expectation per rule of the contract's suite
    assert suites["raw.invoices"]["rows"] == 2
    assert len(suites["raw.invoices"]["rules"]) == len(raw_suites()[1].rules)
    assert suites["meta.quarantine"]["status"] == "passed"


def test_suites_are_declared_from_the_contract() -> None:
    names = [s.name for s in raw_suites()]
    assert names == [
        "raw.customers",
        "raw.invoices",
        "raw.payments",
        "raw.adjustments",
        "raw.dunning_events",
        "raw.fx_rates",
        "raw.payment_attempts",
        "raw.message_events",
    ]
    inv = {r.doc for r in raw_suites()[1].rules}
    assert {
        "invoice_id unique",
        "amount >= 0",
        "due_date >= issue_date",
        "customer_id in customers",
        "has rows",
    } <= inv
    assert {s.name for s in mart_suites()} >= {"marts.fct_dso_monthly", "marts.aging_sums_to_ar"}


def test_store_check_keeps_every_expectation_and_skipped_suites(tmp_path: Path) -> None:
    import datetime as dt

    import duckdb

    from arinsight.quality.runner import RuleResult, SuiteResult
    from arinsight.quality.store import SKIPPED, store_check
    from arinsight.quality.suites import Rule, Suite

    amount = Rule("between", ("amount",), "amount >= 0", min_value=0)
    key = Rule("unique", ("invoice_id",), "invoice_id unique")
    ran = SuiteResult(
        Suite("raw.invoices", "raw.invoices", (amount, key), "raw"),
        "failed",
        rows=10,
        validated_rows=10,
        rules=[RuleResult(amount, False, 2, [-5, -1]), RuleResult(key, True, 0)],
    )
    skipped = SuiteResult(
        Suite("marts.x", "marts.x", (), "marts"), "skipped", note="marts.x is not built yet"
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema meta")
    result = CheckResult([ran, skipped], None, 1.0)
    first = store_check(con, result, dt.datetime(2026, 1, 5, 8, 0))
    second = store_check(con, result, dt.datetime(2026, 1, 6, 8, 0))
    assert (first, second) == (1, 2)
    rows = con.execute(
        "select expectation, table_name, column_names, success, unexpected_count, row_count, "
        "examples, note from meta.checks where check_id = 2 order by expectation"
    ).fetchall()
    assert rows == [
        (SKIPPED, "marts.x", None, None, None, None, None, "marts.x is not built yet"),
        ("amount >= 0", "raw.invoices", "amount", False, 2, 10, "[-5, -1]", None),
        ("invoice_id unique", "raw.invoices", "invoice_id", True, 0, 10, None, None),
    ]
