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
