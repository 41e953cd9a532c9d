"""The canonical contract is declared once and the docs are generated from it."""

from __future__ import annotations

from pathlib import Path

from arinsight.contract import TABLES, markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_contract_is_current() -> None:
    text = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert text == markdown(), "run: python -m arinsight.contract > docs/contract.md"


def test_design_table_columns_and_keys() -> None:
    # Required columns and keys as pinned in DESIGN.md's contract table.
    expected = {
        "customers": (["customer_id", "segment"], ("customer_id",)),
        "invoices": (
            ["invoice_id", "customer_id", "issue_date", "due_date", "amount"],
            ("invoice_id",),
        ),
        "payments": (["payment_id", "invoice_id", "paid_at", "amount"], ("payment_id",)),
        "adjustments": (
            ["adjustment_id", "invoice_id", "adjusted_at", "amount", "kind"],
            ("adjustment_id",),
        ),
        "dunning_events": (
            ["event_id", "invoice_id", "stage", "sent_at", "channel"],
            ("event_id",),
        ),
        "fx_rates": (["rate_date", "currency", "rate_to_reporting"], ("rate_date", "currency")),
        # optional tables of issue 16 (failed payments and message engagement)
        "payment_attempts": (
            ["attempt_id", "invoice_id", "attempted_at", "amount", "outcome"],
            ("attempt_id",),
        ),
        "message_events": (
            ["message_event_id", "event_id", "occurred_at", "kind"],
            ("message_event_id",),
        ),
    }
    assert {t: (TABLES[t].required, TABLES[t].key) for t in TABLES} == expected


def test_raw_ddl_matches_contract(tmp_path: Path) -> None:
    from arinsight.warehouse import Warehouse

    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        for table in TABLES.values():
            cols = wh.con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                [table.name],
            ).fetchall()
            assert cols[:-2] == [(c.name, c.duckdb_type) for c in table.columns]
            assert [c for c, _ in cols[-2:]] == ["_load_id", "_source_line"]
