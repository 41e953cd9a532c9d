"""Issue 13 item 1: rows quarantined for a missing reference are loaded when it arrives.

tests/data/bad/retry_reference/: ``first/`` holds customer C1 and three payments
(P1 on I1, P2 on I2 dated 2024-01-20, P3 on I9); ``later/`` holds invoices I1
(issued 2024-01-10) and I2 (issued 2024-02-01). Loaded in that order, the
payments wait in the quarantine; once the invoices are loaded, P1 is loaded,
P2 stays quarantined with its new reason (paid 12 days before I2 was issued)
and P3 keeps waiting for I9.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

CASE = Path(__file__).parent / "data" / "bad" / "retry_reference"
BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "arinsight"


def _payments_load(wh: Warehouse) -> tuple[int, int, int]:
    row = wh.con.execute(
        "select rows_read, rows_loaded, rows_quarantined from meta.loads "
        "where table_name = 'payments'"
    ).fetchall()
    assert len(row) == 1
    return row[0]


def _quarantined(wh: Warehouse) -> list[tuple[int, str]]:
    return wh.con.execute(
        "select line_number, reason from meta.quarantine where table_name = 'payments' "
        "order by line_number"
    ).fetchall()


def test_held_payments_are_loaded_when_their_invoice_arrives(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [CASE / "first"])
        assert _payments_load(wh) == (3, 0, 3)
        reason = _quarantined(wh)[0][1]
        assert reason.startswith("invoice_id 'I1' is not in invoices: load invoices (the row is ")
        assert "retried by every later `arinsight load`, even of unchanged files" in reason

        # Reloading the same payments file is skipped as unchanged; nothing to release yet.
        released: list[object] = []
        again = load_sources(wh.con, [CASE / "first"], on_release=released.append)
        assert all(r.skipped for r in again) and released == []
        assert _payments_load(wh) == (3, 0, 3)

        load_sources(wh.con, [CASE / "later"], on_release=released.append)
        # P1 loaded; P2's invoice now exists but P2 predates it; P3 still waits for I9.
        assert [(r.table, r.rows, r.requarantined) for r in released] == [  # type: ignore[attr-defined]
            ("payments", 1, 1)
        ]
        assert wh.con.execute(
            "select payment_id, invoice_id, _source_line from raw.payments"
        ).fetchall() == [("P1", "I1", 2)]
        # 3 read = 1 loaded + 2 quarantined, still true for the original load
        assert _payments_load(wh) == (3, 1, 2)
        q = _quarantined(wh)
        assert [line for line, _ in q] == [3, 4]
        assert q[0][1] == (
            "paid_at 2024-01-20 is before the issue date 2024-02-01 of its invoice (invoice_id "
            "I2): a typo in the date, or the payment belongs to another invoice"
        )
        assert q[1][1].startswith("invoice_id 'I9' is not in invoices")


def test_reloading_the_unchanged_file_after_the_invoices_releases_through_the_cli(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "w.duckdb")
    first = subprocess.run(
        [str(BIN), "load", str(CASE / "first"), "--db", db], capture_output=True, text=True
    )
    # rows went to the quarantine: the distinct exit code 3
    assert first.returncode == 3, first.stderr
    second = subprocess.run(
        [str(BIN), "load", str(CASE / "later"), "--db", db], capture_output=True, text=True
    )
    assert "↻ payments.csv → payments: 1 row(s) held for a missing reference since load 2 " in (
        second.stdout
    )
    # the invoices themselves loaded cleanly, and this call quarantined nothing new
    assert second.returncode == 0, second.stdout + second.stderr
