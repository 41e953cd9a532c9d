"""Every SQL model stays portable to Spark SQL, and the DuckDB → Spark rewrites keep meaning.

No Spark needed here: the models are linted for constructs Spark cannot run
(or that sqlglot carries over with another meaning) and transpiled the way
``build --engine spark`` does; ``test_spark_build.py`` then runs every one of
them on Spark and compares the marts with DuckDB's.
"""

from __future__ import annotations

import re

import pytest
import sqlglot

from arinsight.config import load_settings
from arinsight.errors import BuildError
from arinsight.models import discover_models
from arinsight.models.runner import sql_dir, sql_variables
from arinsight.models.spark import portability_problems, to_spark_sql

MODELS = discover_models()
ASSERTS = sorted((sql_dir() / "tests").glob("assert_*.sql"))
VARIABLES = sql_variables(load_settings())


def _body(spark_sql: str) -> str:
    """The statement without comments, upper-cased."""
    return re.sub(r"/\*.*?\*/", "", spark_sql, flags=re.S).upper()


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_model_is_portable_and_transpiles(model: object) -> None:
    sql = model.sql  # type: ignore[attr-defined]
    assert portability_problems(sql) == [], f"{model.path}: not portable to Spark"  # type: ignore[attr-defined]
    spark = to_spark_sql(sql, VARIABLES, name=model.name)  # type: ignore[attr-defined]
    sqlglot.parse_one(spark, read="spark")  # valid Spark syntax
    body = _body(spark)
    # settings became literals; no schema-qualified relation is left
    assert "GETVARIABLE" not in body
    assert not re.search(r"\b(RAW|STAGING|INTERMEDIATE|MARTS)\.", body)


@pytest.mark.parametrize("path", ASSERTS, ids=[p.stem for p in ASSERTS])
def test_assert_is_portable_and_transpiles(path: object) -> None:
    sql = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert portability_problems(sql) == []
    sqlglot.parse_one(to_spark_sql(sql, VARIABLES, name=str(path)), read="spark")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        # Spark has no * REPLACE: expanded over one relation, refused over a join
        ("select * replace (a.x + 1 as x) from a join b on a.k = b.k", "* REPLACE over a join"),
        ("select * from a asof join b on a.k = b.k and a.t >= b.t", "ASOF joins"),
        ("select * from a positional join b", "POSITIONAL joins"),
        ("pivot t on k using sum(v)", "PIVOT"),
        ("select list_transform(l, x -> x + 1) as l from t", "list lambdas"),
        # sqlglot writes unix_timestamp(d): it depends on the session time zone
        ("select epoch(d) as s from t", "epoch()"),
        # DuckDB counts from 0 = Sunday, Spark from 1 = Sunday
        ("select dayofweek(d) as w from t", "dayofweek()"),
        ("select isodow(d) as w from t", "isodow()"),
        ("select my_udf(x) as y from t", "function my_udf()"),
    ],
)
def test_unportable_construct_is_refused_by_name(sql: str, construct: str) -> None:
    with pytest.raises(BuildError, match=r"fct_example: not portable to Spark SQL — ") as info:
        to_spark_sql(sql, VARIABLES, name="fct_example")
    assert construct in str(info.value)


def test_settings_become_literals() -> None:
    out = to_spark_sql(
        "select getvariable('dso_window_days') as d, getvariable('reporting_currency') as c",
        {"dso_window_days": 90, "reporting_currency": "EUR"},
    )
    assert out == "SELECT 90 AS d, 'EUR' AS c"


def test_unknown_setting_is_named() -> None:
    with pytest.raises(BuildError, match=r"m: getvariable\('nope'\) names no setting"):
        to_spark_sql("select getvariable('nope') as x", {"dso_window_days": 90}, name="m")


def test_layer_qualifiers_become_view_names_but_aliases_stay() -> None:
    out = to_spark_sql(
        "select invoices.invoice_id from raw.invoices as invoices "
        "inner join marts.fct_x as x on invoices.invoice_id = x.invoice_id",
        {},
    )
    assert out == (
        "SELECT invoices.invoice_id FROM invoices AS invoices "
        "INNER JOIN fct_x AS x ON invoices.invoice_id = x.invoice_id"
    )


def test_division_is_floating_point_as_in_duckdb() -> None:
    # DuckDB: 3 / 4 = 0.75 (a double), nested divisions included; // stays integer
    out = to_spark_sql("select a / (b / c) as r, a // b as q from t", {})
    assert out == (
        "SELECT CAST(a AS DOUBLE) / CAST((CAST(b AS DOUBLE) / CAST(c AS DOUBLE)) AS DOUBLE) AS r, "
        "a DIV b AS q FROM t"
    )


def test_product_becomes_an_exact_fold() -> None:
    out = to_spark_sql("select product(1.0 - x / y) over (order by d) as p from t", {})
    assert out == (
        "SELECT AGGREGATE(COLLECT_LIST(1.0 - CAST(x AS DOUBLE) / CAST(y AS DOUBLE)) "
        "OVER (ORDER BY d NULLS LAST), CAST(1 AS DOUBLE), (acc, v) -> acc * v) AS p FROM t"
    )


def test_lead_loses_the_frame_of_a_shared_named_window() -> None:
    out = to_spark_sql(
        "select lead(d) over w as n, sum(x) over w as s from t "
        "window w as (partition by k order by d rows between unbounded preceding and current row)",
        {},
    )
    assert "LEAD(d) OVER (PARTITION BY k ORDER BY d NULLS LAST) AS n" in out
    assert "SUM(x) OVER w AS s" in out
    # sum keeps its running frame
    assert "WINDOW W AS (PARTITION BY K ORDER BY D NULLS LAST ROWS BETWEEN" in out.upper()


def test_generate_series_becomes_a_guarded_lateral_view() -> None:
    out = to_spark_sql(
        "select b.k, g.generate_series as m "
        "from b, generate_series(b.s, b.e, interval 1 month) as g",
        {},
    )
    # Spark's sequence() raises when e < s; DuckDB's generate_series is empty there
    assert out == (
        "SELECT b.k, g.generate_series AS m FROM b LATERAL VIEW EXPLODE("
        "IF(b.s <= b.e, SEQUENCE(b.s, b.e, INTERVAL '1' MONTH), ARRAY())) g AS generate_series"
    )


def test_nested_unnest_moves_to_a_lateral_view() -> None:
    out = to_spark_sql("select t.k, last_day(unnest(generate_series(t.s, t.e))) as m from t", {})
    assert out == (
        "SELECT t.k, LAST_DAY(_unnest0.value) AS m FROM t LATERAL VIEW EXPLODE("
        "IF(t.s <= t.e, SEQUENCE(t.s, t.e), ARRAY())) _unnest0 AS value"
    )


def test_star_replace_is_spelled_out_in_column_order() -> None:
    asked: list[str] = []

    def columns_of(query: str) -> list[str]:
        # what Spark would answer for the CTE `o` (three columns, in this order)
        asked.append(query)
        return ["invoice_id", "segment", "amount"]

    out = to_spark_sql(
        "with o as (select * from t), "
        "x as (select * from o union all select * replace ('all' as segment) from o) "
        "select * from x",
        {},
        columns_of=columns_of,
    )
    assert asked == ["WITH o AS (SELECT * FROM t) SELECT * FROM o"]
    assert "SELECT invoice_id, 'all' AS segment, amount FROM o" in out


# --- date - date: DuckDB gives days (BIGINT), Spark an interval ---------------------

DATE_MINUS_DATE = "date - date"

#: A hand-written model in the house style that computes days late by subtracting
#: dates: what the lint exists to refuse (on Spark `days_late` would be an interval).
MODEL_SUBTRACTING_DATES = """
-- model: fct_days_late
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: int_invoice_facts
with facts as (
    select * from intermediate.int_invoice_facts
),

final as (
    select
        invoice_id,
        greatest(settled_date - due_date, 0) as days_late
    from facts
)

select * from final
"""


def test_a_model_subtracting_dates_is_refused() -> None:
    assert portability_problems(MODEL_SUBTRACTING_DATES) == [NOT_PORTABLE_DATE]
    with pytest.raises(BuildError, match=r"fct_days_late: not portable to Spark SQL — date - date"):
        to_spark_sql(MODEL_SUBTRACTING_DATES, VARIABLES, name="fct_days_late")


def test_the_same_model_with_date_diff_passes() -> None:
    fixed = MODEL_SUBTRACTING_DATES.replace(
        "settled_date - due_date", "date_diff('day', due_date, settled_date)"
    )
    assert portability_problems(fixed) == []


NOT_PORTABLE_DATE = (
    "date - date: DuckDB returns days (an integer), Spark an interval; "
    "use date_diff('day', earlier, later)"
)


@pytest.mark.parametrize(
    ("expression", "refused"),
    [
        # the naming convention: *_date columns, qualified or not; raw *_at dates
        ("i.settled_date - i.due_date", True),
        ("paid_at - issue_date", True),
        # casts, :: casts and date literals (sqlglot parses `date '…'` as a cast)
        ("cast(x as date) - y::date", True),
        ("date '2026-03-01' - date '2026-02-28'", True),
        ("current_date - due_date", True),
        ("last_day(m) - month_start_date", True),
        # wrapped dates stay dates: least/greatest/coalesce, min/max (window too), case
        ("least(coalesce(settled_date, as_of_date), as_of_date) - sent_date", True),
        ("max(paid_date) over (partition by k) - min(issue_date)", True),
        ("case when a then settled_date else as_of_date end - due_date", True),
        # date minus days is still a date, so subtracting a date from it is refused
        ("(due_date + 30) - issue_date", True),
        # date minus a number or an interval is a date on both engines: allowed
        ("due_date - 30", False),
        ("month_end_date - getvariable('dso_window_days')", False),
        ("month_end_date - interval 1 month", False),
        ("cast(date_trunc('month', due_date) as date) - 1", False),
        # counts and amounts are not dates
        ("total_amount - paid_amount", False),
        ("days_late - grace_days", False),
        # the portable spelling
        ("date_diff('day', due_date, settled_date)", False),
        # a column named "update" or "format" must not look like "…_at"/"…date"
        ("format - updates", False),
    ],
)
def test_date_subtraction_heuristic(expression: str, refused: bool) -> None:
    problems = portability_problems(f"select {expression} as v from t")
    assert (problems == [NOT_PORTABLE_DATE]) is refused, problems
    assert all(DATE_MINUS_DATE in p for p in problems)
