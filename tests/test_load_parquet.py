"""The Parquet path (read in place by DuckDB, many row groups, typed columns) gives the
same raw tables and the same quarantine as the CSV path, on one simulated ledger
with bad rows added to both:

* invoices: a second row for an invoice without payments, credits or reminders, with
  another amount (a key with conflicting rows: both quarantined), a negative
  amount, a due date 500 days after issue;
* payments: one on an unknown invoice, one dated a day before its invoice's
  issue date, one dated 2099-01-01 (after the export);
* dunning_events: a channel "fax".

Lines differ by design: a CSV line counts the header (data row k is line k + 1),
a Parquet "line" is the 1-based row number; everything else is equal.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from arinsight.ingest import load_sources
from arinsight.sim import simulate_to_dir
from arinsight.warehouse import Warehouse

TABLES = ("customers", "invoices", "payments", "adjustments", "dunning_events")


def _with_bad_rows(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    inv = frames["invoices"]
    # an invoice nobody paid, credited or dunned: quarantining it quarantines nothing else
    used = pl.concat(
        [frames[t]["invoice_id"] for t in ("payments", "adjustments", "dunning_events")]
    )
    first = inv.filter(~pl.col("invoice_id").is_in(used.implode())).head(1)
    assert first.height == 1
    second = inv.slice(1, 1)
    extra_inv = pl.concat(
        [
            first.with_columns(amount=pl.col("amount") + 1),
            second.with_columns(invoice_id=pl.lit("BAD-NEG"), amount=-pl.col("amount")),
            second.with_columns(
                invoice_id=pl.lit("BAD-TERMS"),
                due_date=pl.col("issue_date") + pl.duration(days=500),
            ),
        ]
    )
    pay = frames["payments"]
    target = inv.slice(2, 1)  # an invoice that is loaded
    p0 = pay.head(1)
    extra_pay = pl.concat(
        [
            p0.with_columns(payment_id=pl.lit("BAD-REF"), invoice_id=pl.lit("NOPE")),
            p0.with_columns(
                payment_id=pl.lit("BAD-EARLY"),
                invoice_id=target["invoice_id"],
                paid_at=target["issue_date"] - pl.duration(days=1),
            ),
            p0.with_columns(
                payment_id=pl.lit("BAD-LATE"),
                invoice_id=target["invoice_id"],
                paid_at=pl.lit(dt.date(2099, 1, 1)),
            ),
        ]
    )
    ev = frames["dunning_events"]
    extra_ev = ev.head(1).with_columns(event_id=pl.lit("BAD-FAX"), channel=pl.lit("fax"))
    out = dict(frames)
    out["invoices"] = pl.concat([inv, extra_inv])
    out["payments"] = pl.concat([pay, extra_pay])
    out["dunning_events"] = pl.concat([ev, extra_ev])
    return out


@pytest.fixture(scope="module")
def two_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Warehouse]:
    root = tmp_path_factory.mktemp("paths")
    simulate_to_dir(out=root / "sim", scale=0.03, months=6, seed=3, formats=("parquet",))
    frames = _with_bad_rows({t: pl.read_parquet(root / "sim" / f"{t}.parquet") for t in TABLES})
    (root / "csv").mkdir()
    (root / "pq").mkdir()
    for t, df in frames.items():
        df.write_csv(root / "csv" / f"{t}.csv")
        # small row groups: the file is read by several threads, rows numbered across groups
        df.write_parquet(root / "pq" / f"{t}.parquet", row_group_size=700)
    out = {}
    for name in ("csv", "pq"):
        wh = Warehouse.open(root / f"{name}.duckdb", read_only=False, create=True)
        load_sources(wh.con, [root / name])
        out[name] = wh
    yield out  # type: ignore[misc]
    for wh in out.values():
        wh.close()


@pytest.mark.parametrize("table", TABLES)
def test_raw_tables_are_identical(two_paths: dict[str, Warehouse], table: str) -> None:
    csv = (
        two_paths["csv"]
        .con.execute(
            f"select * exclude (_load_id, _source_line), _source_line - 1 from raw.{table} "
            "order by all"
        )
        .fetchall()
    )
    pq = (
        two_paths["pq"]
        .con.execute(
            f"select * exclude (_load_id, _source_line), _source_line from raw.{table} order by all"
        )
        .fetchall()
    )
    assert len(csv) > 0
    assert csv == pq


def _rows_not_lines(reason: str) -> str:
    """A CSV reason with the line numbers it quotes turned into row numbers."""
    return re.sub(
        r"\b(lines? )(\d+(?:, \d+)*)",
        lambda m: m.group(1) + ", ".join(str(int(x) - 1) for x in m.group(2).split(", ")),
        reason,
    )


def test_quarantines_are_identical(two_paths: dict[str, Warehouse]) -> None:
    q = {
        name: wh.con.execute(
            "select table_name, line_number - ?, field, reason from meta.quarantine order by all",
            [1 if name == "csv" else 0],
        ).fetchall()
        for name, wh in two_paths.items()
    }
    q["csv"] = [(t, n, f, _rows_not_lines(r)) for t, n, f, r in q["csv"]]
    # 2 conflicting rows + negative + terms; unknown invoice + early + late; fax
    assert [t for t, *_ in q["pq"]].count("adjustments") == 0
    assert [t for t, *_ in q["pq"]].count("invoices") == 4
    assert [t for t, *_ in q["pq"]].count("payments") == 3
    assert [t for t, *_ in q["pq"]].count("dunning_events") == 1
    assert q["csv"] == q["pq"]


def test_loads_reconcile_the_same(two_paths: dict[str, Warehouse]) -> None:
    rows = {
        name: wh.con.execute(
            "select table_name, rows_read, rows_loaded, rows_quarantined from meta.loads "
            "order by table_name"
        ).fetchall()
        for name, wh in two_paths.items()
    }
    assert rows["csv"] == rows["pq"]
    assert all(read == loaded + q for _, read, loaded, q in rows["pq"])
