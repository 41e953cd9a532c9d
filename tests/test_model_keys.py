"""Keys proven unique by the SQL's structure (``-- keys_unique_by: construction``).

The build skips counting distinct keys only for a model whose header claims
it AND whose SQL proves it; a header that claims it for SQL that could repeat
a key is refused before anything runs. Each proof rule is checked against
DuckDB: where the prover says "unique", the query on data built to break it
if it could still returns unique keys; where it says "not proven", the data
show a repeat is possible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from arinsight.config import load_settings
from arinsight.errors import BuildError
from arinsight.models import runner
from arinsight.models.keys import KeyProver, Rel, explain
from arinsight.warehouse import Warehouse

# inv: unique on id; pay: several rows per inv_id; one: a single row
SETUP = """
create table inv as select * from (values (1, 'a'), (2, 'b'), (3, 'a')) t(id, cust);
create table pay as select * from (values (10, 1), (11, 1), (12, 2)) t(pid, inv_id);
create table one as select 7 as as_of;
"""
MODELS = {
    "inv": Rel((frozenset({"id"}),)),
    "pay": Rel((frozenset({"pid"}),)),
    "one": Rel((frozenset({"as_of"}),), single=True),
}

# (1, 'a') twice (two payments of invoice 1), then (2, 'b')
PAID_CUSTOMERS = (
    "with x as (select pay.inv_id, inv.cust from pay inner join inv on pay.inv_id = inv.id)"
)


def _proves(sql: str, keys: tuple[str, ...]) -> bool:
    import sqlglot

    rel = KeyProver(MODELS).query(sqlglot.parse_one(sql, read="duckdb"), {})
    return explain(rel, keys) is None


def _unique_in_duckdb(sql: str, keys: tuple[str, ...]) -> bool:
    con = duckdb.connect()
    con.execute(SETUP)
    cols = ", ".join(keys)
    n, d = con.execute(f"select count(*), count(distinct ({cols})) from ({sql})").fetchone()  # type: ignore[misc]
    return bool(n == d)


@pytest.mark.parametrize(
    ("sql", "keys", "proven"),
    [
        # group by the key columns: one row per group
        ("select inv_id, count(*) as n from pay group by inv_id", ("inv_id",), True),
        # group by an expression not selected as a column: no proof
        ("select inv_id, count(*) as n from pay group by inv_id, pid % 2", ("inv_id",), False),
        # a model read by name keeps its declared key, through a rename
        ("select id as invoice_id, cust from inv", ("invoice_id",), True),
        # left join to a relation unique on the join column: at most one match
        (
            "with p as (select inv_id, count(*) as n from pay group by inv_id) "
            "select inv.id, p.n from inv left join p on inv.id = p.inv_id",
            ("id",),
            True,
        ),
        # join to the many side (two payments of invoice 1): the invoice repeats
        ("select inv.id, pay.pid from inv inner join pay on inv.id = pay.inv_id", ("id",), False),
        # ... but the pair of both keys is unique
        (
            "select inv.id, pay.pid from inv inner join pay on inv.id = pay.inv_id",
            ("id", "pid"),
            True,
        ),
        # cross join with a single-row relation keeps the key
        ("select inv.id, one.as_of from inv cross join one", ("id",), True),
        # cross join with a many-row relation does not
        ("select inv.id from inv cross join pay", ("id",), False),
        # row_number per partition
        (
            "select inv_id, row_number() over (partition by inv_id order by pid) as n from pay",
            ("inv_id", "n"),
            True,
        ),
        # qualify keeping the last of each value's peers in the window's order
        (
            "select inv_id, pid from pay "
            "qualify lead(inv_id) over (order by inv_id, pid) is distinct from inv_id",
            ("inv_id",),
            True,
        ),
        (
            f"{PAID_CUSTOMERS} select inv_id, cust from x "
            "qualify lead(cust) over (partition by inv_id order by cust) is distinct from cust",
            ("inv_id", "cust"),
            True,
        ),
        # ... not when lead skips a row, orders by something else or compares with <>
        (
            f"{PAID_CUSTOMERS} select inv_id, cust from x "
            "qualify lead(cust, 2) over (partition by inv_id order by cust) is distinct from cust",
            ("inv_id", "cust"),
            False,
        ),
        (
            "select inv_id, pid from pay "
            "qualify lead(inv_id) over (order by pid) is distinct from inv_id",
            ("inv_id",),
            False,
        ),
        (
            "select inv_id, pid from pay qualify lead(inv_id) over (order by inv_id) <> inv_id",
            ("inv_id",),
            False,
        ),
        # union all can repeat anything
        ("select id from inv union all select id from inv", ("id",), False),
        # an aggregate without group by is one row; unnest in the select list is many
        (
            "with o as (select max(id) as m from inv) select inv.id, o.m from inv cross join o",
            ("id",),
            True,
        ),
        (
            "with o as (select max(id) as m from inv) select o.m, unnest([1, 1]) as d from o",
            ("m",),
            False,
        ),
        # * replace (...) may overwrite the key with anything: not analysed
        ("select * replace (1 as id) from inv", ("id",), False),
        ("select * from inv", ("id",), True),
        # select distinct
        ("select distinct cust from inv", ("cust",), True),
        # a filter keeps keys; a full outer join does not prove them
        ("select id from inv where cust = 'a'", ("id",), True),
        (
            "select inv.id from inv full outer join pay on inv.id = pay.inv_id",
            ("id",),
            False,
        ),
    ],
)
def test_proof_rules_agree_with_duckdb(sql: str, keys: tuple[str, ...], proven: bool) -> None:
    assert _proves(sql, keys) is proven
    if proven:
        assert _unique_in_duckdb(sql, keys)


def test_unproven_cases_really_repeat_on_this_data() -> None:
    # the prover is conservative; these are cases where it is right to refuse
    assert not _unique_in_duckdb(
        "select inv.id, pay.pid from inv inner join pay on inv.id = pay.inv_id", ("id",)
    )
    assert not _unique_in_duckdb("select inv.id from inv cross join pay", ("id",))
    assert not _unique_in_duckdb("select id from inv union all select id from inv", ("id",))
    # lead(d, 2): both rows of invoice 1 see no row two ahead, so both pass
    assert not _unique_in_duckdb(
        f"{PAID_CUSTOMERS} select inv_id, cust from x "
        "qualify lead(cust, 2) over (partition by inv_id order by cust) is distinct from cust",
        ("inv_id", "cust"),
    )


STG = """-- model: stg_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: raw.invoices

select invoice_id, customer_id, amount from raw.invoices
"""

HONEST = """-- model: int_customer_totals
-- grain: one row per customer
-- keys: customer_id
-- keys_unique_by: construction
-- depends_on: stg_invoices

select customer_id, sum(amount) as total_amount from stg_invoices group by customer_id
"""

# claims a proof, but one customer has several invoices: customer_id repeats
LYING = """-- model: int_customer_totals
-- grain: one row per customer
-- keys: customer_id
-- keys_unique_by: construction
-- depends_on: stg_invoices

select customer_id, amount as total_amount from stg_invoices
"""


def _project(root: Path, model: str) -> Path:
    for rel, text in {
        "staging/stg_invoices.sql": STG,
        "intermediate/int_customer_totals.sql": model,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "marts").mkdir(exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    return root


@pytest.fixture
def wh(tmp_path: Path) -> Any:
    w = Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True)
    # customer C1 has two invoices; the invoice without a customer gives a NULL group
    w.con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
        "_load_id, _source_line) values "
        "('A', 'C1', date '2024-01-01', date '2024-01-31', 10.00, 1, 2), "
        "('B', 'C1', date '2024-01-02', date '2024-02-01', 2.50, 1, 3)"
    )
    yield w
    w.close()


def test_a_header_claiming_a_proof_the_sql_lacks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"int_customer_totals\.sql.*keys_unique_by"):
        runner.discover_models(_project(tmp_path / "sql", LYING))


def test_the_same_sql_without_the_claim_fails_on_its_duplicates(wh: Any, tmp_path: Path) -> None:
    # what the proof protects: counted at run time, C1's two rows are found
    plain = LYING.replace("-- keys_unique_by: construction\n", "")
    with pytest.raises(BuildError, match=r"keys \(customer_id\).*1 duplicate"):
        runner.build(wh.con, load_settings(), root=_project(tmp_path / "sql", plain))


def test_a_proven_model_builds_and_still_refuses_null_keys(wh: Any, tmp_path: Path) -> None:
    root = _project(tmp_path / "sql", HONEST)
    models = {m.name: m for m in runner.discover_models(root)}
    assert models["int_customer_totals"].keys_proven
    assert not models["stg_invoices"].keys_proven  # raw keys: the loader's, counted here
    runner.build(wh.con, load_settings(), root=root)
    # a NULL group: group by proves uniqueness, not presence
    wh.con.execute(
        "insert into raw.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
        "_load_id, _source_line) values "
        "('C', NULL, date '2024-01-03', date '2024-02-02', 1.00, 1, 4)"
    )
    with pytest.raises(BuildError, match=r"int_customer_totals: keys \(customer_id\).*1 null"):
        runner.build(wh.con, load_settings(), root=root)


def test_an_unknown_claim_is_refused(tmp_path: Path) -> None:
    odd = HONEST.replace("keys_unique_by: construction", "keys_unique_by: trust me")
    with pytest.raises(BuildError, match="only value is 'construction'"):
        runner.discover_models(_project(tmp_path / "sql", odd))


def test_every_shipped_claim_is_proven() -> None:
    models = runner.discover_models()
    claimed = {m.name for m in models if "keys_unique_by" in m.header}
    assert claimed == {m.name for m in models if m.keys_proven}
    # the big per-row models this was added for
    assert {"int_invoice_balance_intervals", "fct_invoice_lifecycle"} <= claimed
