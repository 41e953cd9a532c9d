"""The second-design models build the same marts as the first design, row for row.

The first design's SQL (interval joins, text keys, ``dim_customers`` as one row
per customer and month end) is kept under ``tests/fixtures/sql_v1`` for this
test only. Both are built from the same raw tables of a simulated ledger (and of
a small hand-made one with an overpayment, a credit note, a write-off and a
reminder after settlement); every mart is compared cell by cell, with types.

Two differences are intended and compared as such:

* ``dim_customers`` holds change points (``valid_from_date`` /
  ``valid_to_date``): expanded back to month ends it must give the old rows'
  segment, behaviour segment, highest stage and flags at every month end, and
  the old rows' figures at each change point.
* ``fct_dso_monthly.countback_dso_days`` (issue 12, defect 6): 0 when AR is 0,
  null when all earlier sales do not cover AR; elsewhere unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from arinsight.config import load_settings
from arinsight.models import build, discover_models
from arinsight.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
OLD_SQL = REPO / "tests" / "fixtures" / "sql_v1"
NEW_SQL = REPO / "sql"

#: columns of the old dim_customers row that the change point must carry unchanged
#: at every month end it covers
CONSTANT_COLUMNS = (
    "segment",
    "behaviour_segment",
    "is_active_at_month_start",
    "is_churned_in_month",
    "is_involuntary_churn",
    "highest_stage_number",
)
#: ... and the ones that are the change point's figures at valid_from_date
FIGURE_COLUMNS = (
    "count_scored_invoices",
    "count_late_invoices",
    "late_ratio",
    "weighted_days_late",
)


def _built_pair(tmp_path: Path, raw: Path) -> tuple[Warehouse, Warehouse]:
    old_db, new_db = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
    shutil.copy(raw, old_db)
    shutil.copy(raw, new_db)
    old = Warehouse.open(old_db, read_only=False)
    new = Warehouse.open(new_db, read_only=False)
    build(old.con, load_settings(), root=OLD_SQL)
    build(new.con, load_settings(), root=NEW_SQL)
    return old, new


def _marts(root: Path) -> list[str]:
    return sorted(m.name for m in discover_models(root) if m.layer == "marts")


def _columns(wh: Warehouse, mart: str) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in wh.con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position",
            [mart],
        ).fetchall()
    ]


def _rows(wh: Warehouse, query: str) -> list[tuple[Any, ...]]:
    return sorted(wh.con.execute(query).fetchall(), key=repr)


def _old_countback_fixed(old: Warehouse) -> None:
    """Apply defect 6's rule to the old mart: 0 without AR, null without cover."""
    old.con.execute(
        """
        create or replace temp table countback_fix as
        with walk as (
            select c.month_end_date, c.segment, c.ar_amount,
                sum(h.sales_month_amount) over (
                    partition by c.month_end_date, c.segment
                    order by h.month_end_date desc
                ) as cumulative_sales_amount
            from marts.fct_dso_monthly c
            join marts.fct_dso_monthly h
              on c.segment = h.segment and h.month_end_date <= c.month_end_date
        )
        select month_end_date, segment,
            bool_or(cumulative_sales_amount > ar_amount) as is_covered,
            any_value(ar_amount) = 0 as is_zero
        from walk group by all
        """
    )
    old.con.execute(
        """
        update marts.fct_dso_monthly d set countback_dso_days = case
            when f.is_zero then 0 when not f.is_covered then null
            else d.countback_dso_days end
        from countback_fix f
        where d.month_end_date = f.month_end_date and d.segment = f.segment
        """
    )


def _compare(old: Warehouse, new: Warehouse) -> None:
    marts = _marts(NEW_SQL)
    assert marts == _marts(OLD_SQL)
    _old_countback_fixed(old)
    compared = 0
    for mart in marts:
        if mart == "dim_customers":
            continue
        assert _columns(new, mart) == _columns(old, mart), mart
        q = f"select * from marts.{mart}"
        got, want = _rows(new, q), _rows(old, q)
        assert len(got) == len(want), mart
        for g, w in zip(got, want, strict=True):
            assert g == w, (mart, g, w)
        compared += len(got)
    assert compared > 0
    _compare_dim_customers(old, new)


def _compare_dim_customers(old: Warehouse, new: Warehouse) -> None:
    old_rows = {
        (r["customer_id"], r["month_end_date"]): r
        for r in old.sql("select * from marts.dim_customers").to_dicts()
    }
    month_ends = sorted({k[1] for k in old_rows})
    last = month_ends[-1] if month_ends else None
    points = new.sql("select * from marts.dim_customers order by customer_id, valid_from_date")
    expanded: dict[tuple[str, Any], dict[str, Any]] = {}
    for p in points.to_dicts():
        covered = [t for t in month_ends if p["valid_from_date"] <= t < p["valid_to_date"]]
        assert covered and covered[0] == p["valid_from_date"], p
        # a change point's figures are the old row's at valid_from_date
        first = old_rows[(p["customer_id"], p["valid_from_date"])]
        for col in FIGURE_COLUMNS:
            assert p[col] == first[col], (p, col, first[col])
        assert p["is_current"] == (covered[-1] == last)
        for t in covered:
            key = (p["customer_id"], t)
            assert key not in expanded, key
            expanded[key] = {c: p[c] for c in CONSTANT_COLUMNS} | {"is_current": t == last}
    assert set(expanded) == set(old_rows)
    for key, row in expanded.items():
        assert row == {c: old_rows[key][c] for c in (*CONSTANT_COLUMNS, "is_current")}, key
    # change points are fewer rows than customer x month ends whenever there is history
    assert len(points) < len(old_rows)


@pytest.fixture(scope="module")
def simulated_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arinsight.ingest import load_sources
    from arinsight.sim import simulate_to_dir

    base = tmp_path_factory.mktemp("equiv")
    out = base / "ledger"
    simulate_to_dir(months=14, seed=7, scale=0.02, out=out, formats=("parquet",))
    raw = base / "ledger.duckdb"
    with Warehouse.open(raw, read_only=False, create=True) as wh:
        load_sources(wh.con, [out])
    return raw


def test_simulated_ledger_builds_identical_marts(simulated_raw: Path, tmp_path: Path) -> None:
    old, new = _built_pair(tmp_path, simulated_raw)
    try:
        _compare(old, new)
    finally:
        old.close()
        new.close()


def _hand_made_ledger() -> dict[str, list[dict[str, Any]]]:
    """Two segments over Jan-May 2024 with the edge cases the models special-case."""
    inv = [
        # id, customer, issue, due, amount
        ("H1", "A", "2024-01-05", "2024-02-04", "100.00"),  # overpaid (120) on Feb 1
        ("H2", "A", "2024-01-20", "2024-02-19", "200.00"),  # credit note 50 + payment 150
        ("H3", "B", "2024-02-01", "2024-02-29", "300.00"),  # partly paid, rest written off
        ("H4", "B", "2024-02-10", "2024-03-11", "80.00"),  # paid before its issue date
        ("H5", "A", "2024-03-01", "2024-03-31", "0.00"),  # zero amount
        ("H6", "B", "2024-03-15", "2024-04-14", "500.00"),  # open to the end, stages 1-3
        ("H7", "A", "2024-04-02", "2024-05-02", "60.00"),  # paid late, 0.01 left open
    ]
    pay = [
        ("P1", "H1", "2024-02-01", "120.00"),
        ("P2", "H2", "2024-03-10", "150.00"),
        ("P3", "H3", "2024-03-20", "100.00"),
        ("P4", "H4", "2024-02-05", "80.00"),
        ("P5", "H7", "2024-05-20", "59.99"),
    ]
    adj = [
        ("J1", "H2", "2024-02-25", "50.00", "credit_note"),
        ("J2", "H3", "2024-04-30", "200.00", "write_off"),
    ]
    ev = [
        ("E1", "H2", 1, "2024-02-22", "email"),
        ("E2", "H2", 2, "2024-03-12", "letter"),  # after settlement on Mar 10
        ("E3", "H3", 1, "2024-03-05", "email"),
        ("E4", "H3", 3, "2024-04-10", "collection_agency"),  # stage 2 skipped
        ("E5", "H6", 1, "2024-04-20", "email"),
        ("E6", "H6", 2, "2024-05-05", "letter"),
        ("E7", "H6", 3, "2024-05-25", "collection_agency"),
        ("E8", "H7", 0, "2024-04-28", "email"),
        ("E9", "H7", 1, "2024-05-06", "email"),
    ]
    return {
        "customers": [
            {"customer_id": "A", "segment": "smb", "created_at": "2023-12-15"},
            {
                "customer_id": "B",
                "segment": "enterprise",
                "created_at": "2024-01-01",
                "churned_at": "2024-05-28",
                "churn_reason": "non_payment",
            },
        ],
        "invoices": [
            {"invoice_id": i, "customer_id": c, "issue_date": s, "due_date": d, "amount": a}
            for i, c, s, d, a in inv
        ],
        "payments": [
            {"payment_id": p, "invoice_id": i, "paid_at": t, "amount": a} for p, i, t, a in pay
        ],
        "adjustments": [
            {"adjustment_id": j, "invoice_id": i, "adjusted_at": t, "amount": a, "kind": k}
            for j, i, t, a, k in adj
        ],
        "dunning_events": [
            {
                "event_id": e,
                "invoice_id": i,
                "stage": s,
                "sent_at": t,
                "channel": ch,
                "fee": "5.00" if s >= 2 else "0",
            }
            for e, i, s, t, ch in ev
        ],
    }


def test_hand_made_edge_cases_build_identical_marts(tmp_path: Path) -> None:
    from arinsight.ingest import load_sources
    from conftest import write_ledger

    src = write_ledger(tmp_path / "ledger", _hand_made_ledger())
    raw = tmp_path / "ledger.duckdb"
    with Warehouse.open(raw, read_only=False, create=True) as wh:
        results = load_sources(wh.con, [src])
    assert all(r.rows_quarantined == 0 for r in results)
    (tmp_path / "built").mkdir()
    old, new = _built_pair(tmp_path / "built", raw)
    try:
        _compare(old, new)
        # the edge cases are in the marts being compared: a write-off, a reminder
        # after settlement and an overpayment
        lifecycle = new.sql(
            "select invoice_id, settled_by, unapplied_amount, count_reminders_after_settlement "
            "from marts.fct_invoice_lifecycle order by invoice_id"
        ).rows()
        assert ("H3", "write_off", 0, 0) in lifecycle
        assert ("H1", "payment", 20, 0) in lifecycle
        assert ("H2", "payment", 0, 1) in lifecycle
    finally:
        old.close()
        new.close()
