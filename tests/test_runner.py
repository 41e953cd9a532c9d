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
        wh.con, load_settings(), root=root, on_model=lambda name, i, total, s: seen.append(name)
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


# --- dependencies come from the SQL (issue 12, defect 2) ---------------------------


def test_a_header_that_forgets_a_read_fails(tmp_path: Path) -> None:
    # fct_count reads fct_total; a header without it used to order fct_count
    # first and read the previous build's fct_total
    forgot = MART2.replace("-- depends_on: fct_total, stg_invoices", "-- depends_on: stg_invoices")
    with pytest.raises(BuildError, match=r"fct_count\.sql: depends_on disagrees.*reads fct_total"):
        runner.discover_models(_project(tmp_path / "sql", marts__fct_count=forgot))


def test_a_header_that_names_an_unread_model_fails(tmp_path: Path) -> None:
    extra = MART.replace("-- depends_on: int_doubled", "-- depends_on: int_doubled, stg_invoices")
    with pytest.raises(BuildError, match="declares stg_invoices but never reads it"):
        runner.discover_models(_project(tmp_path / "sql", marts__fct_total=extra))


def test_reading_a_published_table_that_is_no_model_fails(wh: Any, tmp_path: Path) -> None:
    # the warehouse has marts.fct_total from an earlier build; a model set without it
    # must not read that stale table through the search path
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    root = _project(tmp_path / "gone")
    (root / "marts" / "fct_total.sql").unlink()
    with pytest.raises(BuildError, match="reads 'fct_total', which is no model"):
        runner.build(wh.con, load_settings(), root=root)


def test_sql_reads_ignores_ctes_comments_and_table_functions() -> None:
    sql = (
        "-- from raw.customers\nwith a as (select * from stg_x), "
        "b as (select * from a, generate_series(1, 3) as g)\n"
        "select * from b join intermediate.int_y using (k) join raw.invoices using (k)"
    )
    assert runner.sql_reads(sql) == {"stg_x", "int_y", "raw.invoices"}


def test_every_shipped_header_matches_its_sql() -> None:
    models = runner.discover_models()  # raises on any disagreement
    assert {m.name for m in models} >= {"fct_dso_monthly", "dim_customers", "int_invoice_facts"}
    churn = next(m for m in models if m.name == "fct_churn")
    assert "dim_customers" in churn.depends_on


# --- build --select ------------------------------------------------------------------


def test_select_builds_the_model_and_what_it_reads(wh: Any, tmp_path: Path) -> None:
    root = _project(tmp_path / "sql")
    models = runner.discover_models(root)
    assert [m.name for m in runner.select_models(models, ["fct_total"])] == [
        "stg_invoices",
        "int_doubled",
        "fct_total",
    ]
    # MODEL+ adds what is downstream (fct_count reads fct_total) and what that reads
    assert [m.name for m in runner.select_models(models, ["int_doubled+"])] == [
        "stg_invoices",
        "int_doubled",
        "fct_total",
        "fct_count",
    ]
    with pytest.raises(BuildError, match="no model 'fct_totl' — did you mean fct_total"):
        runner.select_models(models, ["fct_totl"])


def test_select_publishes_only_the_selected_marts(wh: Any, tmp_path: Path) -> None:
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    # (10.00 + 2.50) * 2 = 25.00 before; one more invoice of 5.00 -> 35.00, 3 invoices
    wh.con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
        "_load_id, _source_line) values ('C', 'C1', date '2024-01-03', date '2024-02-02', "
        "5.00, 1, 4)"
    )
    root = _project(tmp_path / "ok")
    res = runner.build(wh.con, load_settings(), root=root, select=["fct_total"])
    assert [n for n, _, _ in res.models] == ["stg_invoices", "int_doubled", "fct_total"]
    assert wh.con.execute("select total_amount from marts.fct_total").fetchall()[0][0] == 35
    # fct_count was not selected: it keeps its last build (2 invoices x 1 row)
    assert wh.con.execute("select n from marts.fct_count").fetchall()[0][0] == 2


def test_select_runs_only_asserts_on_what_it_built(wh: Any, tmp_path: Path) -> None:
    root = _project(tmp_path / "sql")
    (root / "tests" / "assert_count_small.sql").write_text(
        "-- fct_count stays below 1\nselect * from marts.fct_count where n >= 1\n"
    )
    res = runner.build(wh.con, load_settings(), root=root, select=["fct_total"])
    assert res.asserts == []
    with pytest.raises(BuildError, match="assert_count_small"):
        runner.build(wh.con, load_settings(), root=root, select=["fct_count"])


def test_select_through_the_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as w:
        w.con.execute(
            "insert into raw.customers (customer_id, segment, _load_id, _source_line) "
            "values ('C1', 'smb', 1, 2)"
        )
        w.con.execute(
            "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
            "_load_id, _source_line) values "
            "('A', 'C1', date '2024-01-01', date '2024-01-31', 10.00, 1, 2)"
        )
    exe = Path(sys.executable).parent / "arinsight"
    ok = subprocess.run(
        [str(exe), "build", "--db", str(db), "--select", "fct_dso_monthly"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    with Warehouse.open(db) as w:
        assert set(w.tables("marts")) == {"fct_dso_monthly"}
    bad = subprocess.run(
        [str(exe), "build", "--db", str(db), "--select", "fct_dso_monthy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert "did you mean fct_dso_monthly" in bad.stderr + bad.stdout


# --- memory limit from the machine ------------------------------------------------------


@pytest.mark.parametrize(
    ("available_mib", "expected"),
    [
        (21_584, "3072MiB"),  # plenty free: capped at 3 GiB (the 4 GB peak-RSS target)
        (4_000, "2000MiB"),  # half of what is free
        (300, "256MiB"),  # a tiny container still gets the floor
    ],
)
def test_auto_memory_limit(available_mib: int, expected: str) -> None:
    from arinsight.models.memory import auto_memory_limit

    assert auto_memory_limit(available_mib) == expected


def test_available_memory_reads_meminfo_within_the_cgroup(tmp_path: Path) -> None:
    from arinsight.models.memory import available_mib

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 24000000 kB\nMemAvailable: 8388608 kB\n")  # 8 GiB
    cgroup = tmp_path / "memory.max"
    cgroup.write_text("max\n")
    assert available_mib(meminfo, cgroup) == 8192
    cgroup.write_text(f"{2 * 2**30}\n")  # a 2 GiB container
    assert available_mib(meminfo, cgroup) == 2048


def test_auto_limit_reaches_the_writing_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arinsight.models import memory

    monkeypatch.setattr(memory, "available_mib", lambda: 1000)  # -> 500 MiB
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        (value,) = w.con.execute("select current_setting('memory_limit')").fetchall()[0]
    assert value in {"500.0 MiB", "524.2 MB"}, value


ZSTD_MART = """-- model: fct_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- zstd_columns: invoice_id, customer_id
-- depends_on: stg_invoices

select
    stg_invoices.invoice_id,
    'C' || stg_invoices.invoice_id as customer_id,
    stg_invoices.amount,
    cast(stg_invoices.amount as decimal(9, 1)) as rounded_amount,
    count(*) over () as n_invoices
from stg_invoices
"""


def _compression(con: Any, relation: str) -> dict[str, set[str]]:
    rows = con.execute(
        f"select column_name, compression from pragma_storage_info('{relation}') "
        "where segment_type <> 'VALIDITY'"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for col, comp in rows:
        out.setdefault(col, set()).add(comp)
    return out


def test_zstd_columns_are_stored_with_zstd_and_nothing_else_changes(
    wh: Any, tmp_path: Path
) -> None:
    plain = ZSTD_MART.replace("-- zstd_columns: invoice_id, customer_id\n", "")
    root_plain = _project(tmp_path / "plain", marts__fct_invoices=plain)
    runner.build(wh.con, load_settings(), root=root_plain)
    wh.con.execute("checkpoint")
    before_rows = wh.con.execute("select * from marts.fct_invoices order by all").fetchall()
    before_types = wh.con.execute("describe marts.fct_invoices").fetchall()
    assert "ZSTD" not in set().union(*_compression(wh.con, "marts.fct_invoices").values())

    runner.build(
        wh.con, load_settings(), root=_project(tmp_path / "z", marts__fct_invoices=ZSTD_MART)
    )
    wh.con.execute("checkpoint")
    comp = _compression(wh.con, "marts.fct_invoices")
    assert comp["invoice_id"] == {"ZSTD"}
    assert comp["customer_id"] == {"ZSTD"}
    assert "ZSTD" not in comp["amount"] | comp["rounded_amount"]
    # the same rows (hand-written: the fixture's two invoices) and the same types
    rows = wh.con.execute("select * from marts.fct_invoices order by all").fetchall()
    assert [r[:2] for r in rows] == [("A", "CA"), ("B", "CB")]
    assert [float(r[2]) for r in rows] == [10.0, 2.5]
    assert [r[4] for r in rows] == [2, 2]
    assert rows == before_rows
    assert wh.con.execute("describe marts.fct_invoices").fetchall() == before_types


def test_zstd_columns_naming_a_missing_column_fails_the_build(wh: Any, tmp_path: Path) -> None:
    runner.build(wh.con, load_settings(), root=_project(tmp_path / "ok"))
    bad = ZSTD_MART.replace("zstd_columns: invoice_id, customer_id", "zstd_columns: invoice_no")
    _rebuild_fails(
        wh,
        _project(tmp_path / "bad", marts__fct_invoices=bad),
        r"fct_invoices.sql: `-- zstd_columns:` names invoice_no, which the model does not select",
    )


def test_zstd_columns_only_on_marts(tmp_path: Path) -> None:
    bad = INT.replace("-- keys: invoice_id\n", "-- keys: invoice_id\n-- zstd_columns: invoice_id\n")
    with pytest.raises(BuildError, match="applies to marts only"):
        runner.discover_models(_project(tmp_path / "sql", intermediate__int_doubled=bad))
