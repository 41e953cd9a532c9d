"""Every SQL model is plain SQL: sqlglot transpiles it to Spark SQL, which re-parses.

A user with more data than one machine holds can run the same models on an
existing distributed engine. Settings are DuckDB variables here; on Spark they
become literals (or `${var}` substitution), which the test does first.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from arinsight.config import load_settings
from arinsight.models import discover_models
from arinsight.models.runner import sql_variables

MODELS = discover_models()
# Constructs DuckDB understands and Spark SQL does not.
NOT_SPARK = ("ASOF", "GETVARIABLE", "EXCLUDE")


def _with_settings(sql: str) -> str:
    values = sql_variables(load_settings())

    def sub(m: re.Match[str]) -> str:
        value = values[m.group(1)]
        return f"'{value}'" if isinstance(value, str) else str(value)

    return re.sub(r"getvariable\('([a-z_]+)'\)", sub, sql)


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_model_transpiles_to_spark(model: object) -> None:
    sql = _with_settings(model.sql)  # type: ignore[attr-defined]
    (spark,) = sqlglot.transpile(
        sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    sqlglot.parse_one(spark, read="spark")  # the output is valid Spark syntax
    body = re.sub(r"/\*.*?\*/", "", spark, flags=re.S).upper()
    assert not [w for w in NOT_SPARK if re.search(rf"\b{w}\b", body)]
