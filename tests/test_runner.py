"""The model runner: header rules, dependency order and atomic publishing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arinsight.config import load_settings
from arinsight.errors import BuildError
from arinsight.models import runner
from arinsight.warehouse import Warehouse

STG = """-- model: stg_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: raw.invoices

select invoice_id, amount from raw.invoices
"""

INT = """-- model: int_doubled
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: stg_invoices

select invoice_id, amount * 2 as doubled from stg_invoices
"""

MART = """-- model: fct_total
-- grain: one row
-- keys: total_amount
-- depends_on: int_doubled

select sum(doubled) as total_amount from int_doubled
"""

MART2 = """-- model: fct_count
-- grain: one row
-- keys: n
-- depends_on: fct_total, stg_invoices

select count(*) as n from stg_invoices cross join fct_total
"""


def _project(root: Path, **files: str) -> Path:
    """A sql/ tree with the four model files above, overridden by ``files``."""
    layout = {
        "staging/stg_invoices.sql": STG,
        "intermediate/int_doubled.sql": INT,
        "marts/fct_total.sql": MART,
        "marts/fct_count.sql": MART2,
    }
    layout.update({k.replace("__", "/") + ".sql": v for k, v in files.items()})
    for rel, text in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "tests").mkdir(exist_ok=True)
    return root


@pytest.fixture
def wh(tmp_path: Path) -> Any:
    w = Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True)
    w.con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
        "_load_id, _source_line) values "
        "('A', 'C1', date '2024-01-01', date '2024-01-31', 10.00, 1, 2), "
        "('B', 'C1', date '2024-01-02', date '2024-02-01', 2.50, 1, 3)"
    )
    yield w
    w.close()


def _attached(con: Any) -> set[str]:
    return {r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()}


def test_builds_in_dependency_order_and_publishes_marts(wh: Any, tmp_path: Path) -> None:
    root = _project(tmp_path / "sql")
    seen: list[str] = []
    res = runner.build(
        wh.con, load_settings(), root=root, on_model=lambda name, i, n, s: seen.append(name)
    )
    # every model is reported after the models it depends on
    for m in runner.discover_models(root):
        for dep in m.depends_on:
            if not dep.startswith("raw."):
                assert seen.index(dep) < seen.index(m.name)
    # (10.00 + 2.50) * 2 = 25.00; two invoices x one total row = 2
    assert wh.con.execute("select total_amount from marts.fct_total").fetchall()[0][0] == 25
    assert wh.con.execute("select n from marts.fct_count").fetchall()[0][0] == 2
    assert sorted(n for n, _, _ in res.models) == sorted(seen)
    assert not ({"staging", "intermediate"} & _attached(wh.con))
    logged = wh.con.execute("select count(*) from meta.builds").fetchall()[0][0]
    assert logged == 4


def _rebuild_fails(wh: Any, root: Path, match: str) -> None:
    with pytest.raises(BuildError, match=match):
        runner.build(wh.con, load_settings(), root=root)
    # the previous build is still what readers see, and nothing is left attached
    assert wh.con.execute("select total_amount from marts.fct_total").fetchall()[0][0] == 25
    assert wh.con.execute("select count(*) from meta.builds").fetchall()[0][0] == 4
    assert not ({"staging", "intermediate"} & _attached(wh.con))


def test_failing_model_keeps_previous_marts(wh: Any, tmp_path: Path) -> None:
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    bad = INT.replace("amount * 2", "amount * no_such_column")
    _rebuild_fails(wh, _project(tmp_path / "bad", intermediate__int_doubled=bad), "int_doubled")


def test_duplicate_keys_fail_the_build(wh: Any, tmp_path: Path) -> None:
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    dup = STG.replace(
        "select invoice_id, amount from raw.invoices",
        "select 'X' as invoice_id, amount from raw.invoices",
    )
    _rebuild_fails(
        wh,
        _project(tmp_path / "dup", staging__stg_invoices=dup),
        r"keys \(invoice_id\).*1 duplicate",
    )


def test_failing_assert_keeps_previous_marts(wh: Any, tmp_path: Path) -> None:
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    root = _project(tmp_path / "assert")
    (root / "tests" / "assert_total_small.sql").write_text(
        "-- the total stays below 20\nselect * from fct_total where total_amount >= 20\n"
    )
    _rebuild_fails(wh, root, "assert_total_small")


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"marts__fct_total": MART.replace("-- keys: total_amount\n", "")}, "lacks keys"),
        (
            {"intermediate__int_doubled": INT.replace("from stg_invoices", "from raw.invoices")},
            "only staging models read raw",
        ),
        ({"marts__fct_total": MART.replace("int_doubled", "int_missing")}, "unknown model"),
        (
            {"intermediate__int_doubled": INT.replace("stg_invoices", "fct_total")},
            "cannot depend on marts",
        ),
    ],
)
def test_header_and_layer_rules(tmp_path: Path, files: dict[str, str], match: str) -> None:
    with pytest.raises(BuildError, match=match):
        runner.discover_models(_project(tmp_path / "sql", **files))


def test_a_comment_naming_raw_is_not_a_read(tmp_path: Path) -> None:
    commented = INT + "\n-- was: select ... from raw.invoices\n"
    models = runner.discover_models(_project(tmp_path / "sql", intermediate__int_doubled=commented))
    assert [m.name for m in models] == ["stg_invoices", "int_doubled", "fct_total", "fct_count"]


def test_rebuild_gives_identical_marts(
    ledger_warehouse: Callable[..., Any],
) -> None:
    """Building twice from the same raw tables gives the same marts, row for row."""
    w = ledger_warehouse(
        customers=[
            {"customer_id": "C1", "segment": "smb"},
            {"customer_id": "C2", "segment": "enterprise"},
        ],
        invoices=[
            {
                "invoice_id": "I1",
                "customer_id": "C1",
                "issue_date": "2024-01-05",
                "due_date": "2024-02-04",
                "amount": "100.00",
            },
            {
                "invoice_id": "I2",
                "customer_id": "C2",
                "issue_date": "2024-01-20",
                "due_date": "2024-02-19",
                "amount": "250.00",
            },
            {
                "invoice_id": "I3",
                "customer_id": "C1",
                "issue_date": "2024-02-10",
                "due_date": "2024-03-11",
                "amount": "80.00",
            },
        ],
        payments=[
            {"payment_id": "P1", "invoice_id": "I1", "paid_at": "2024-02-20", "amount": "100.00"},
            {"payment_id": "P2", "invoice_id": "I2", "paid_at": "2024-03-01", "amount": "100.00"},
        ],
        dunning_events=[
            {
                "event_id": "E1",
                "invoice_id": "I1",
                "stage": "1",
                "sent_at": "2024-02-10",
                "channel": "email",
            },
            {
                "event_id": "E2",
                "invoice_id": "I2",
                "stage": "1",
                "sent_at": "2024-02-25",
                "channel": "letter",
            },
        ],
        build=False,
    )
    marts = [m.name for m in runner.discover_models() if m.layer == "marts"]

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        return {
            name: sorted(w.con.execute(f"select * from marts.{name}").fetchall(), key=repr)
            for name in marts
        }

    runner.build(w.con, load_settings())
    serial = snapshot()
    runner.build(w.con, load_settings())
    assert snapshot() == serial
    assert sum(len(rows) for rows in serial.values()) > 0
