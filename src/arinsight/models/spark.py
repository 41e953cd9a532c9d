"""Run the same ``sql/`` models on Apache Spark (``arinsight build --engine spark``).

The models are written in DuckDB's dialect. Here each one is parsed with sqlglot,
its settings (``getvariable('name')``) become literals, layer qualifiers
(``raw.invoices``, ``marts.fct_dso_monthly``) become the names of Spark temp
views, DuckDB's always-floating-point ``/`` becomes a division of doubles, and the
result is written out as Spark SQL. Model discovery, headers, dependency order
and settings come from :mod:`arinsight.models.runner`; the runner's rules hold
here too: keys unique and non-null after each model, every ``sql/tests`` assert
returns no rows, and nothing is written unless all of it passed.

Raw tables come from Parquet in the canonical layout (``<dir>/invoices.parquet``
or ``<dir>/invoices/``) or from a Spark database holding tables of the canonical
names. Marts are written as one Parquet (or Delta) directory per mart.

pyspark (the ``spark`` extra) and Java 17+ are optional: :func:`require_spark`
says exactly what to install when either is missing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.contract import REQUIRED_TABLES, TABLES
from arinsight.errors import ArinsightError, BuildError
from arinsight.models.runner import LAYERS, BuildResult, Model, discover_models, sql_variables

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark.sql import DataFrame, SparkSession
    from sqlglot import exp

    from arinsight.config import Settings

#: How to get the optional pieces (printed when one is missing).
INSTALL_PYSPARK = "pip install 'arinsight[spark]'  (or: uv sync --extra spark)"
INSTALL_JAVA = "apt-get install -y openjdk-17-jre-headless  (Java 17 or newer; or set JAVA_HOME)"
MIN_JAVA = 17

#: Spark SQL type for each contract column type (the DuckDB ``VARCHAR`` is ``STRING``).
SPARK_TYPES: dict[str, str] = {
    "str": "STRING",
    "date": "DATE",
    "amount": "DECIMAL(18,2)",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "rate": "DECIMAL(18,8)",
}

#: Schemas the SQL names; on Spark every relation is a temp view of its bare name.
QUALIFIERS = frozenset({"raw", "meta", *LAYERS})

#: File written next to the marts: which build produced them (models, rows, seconds).
MANIFEST = "_arinsight_build.json"

#: DuckDB constructs that Spark SQL cannot run, or that sqlglot carries over with a
#: different meaning (sqlglot class name → what to write instead).
NOT_PORTABLE: dict[str, str] = {
    "AsOfJoin": "ASOF joins: use a range join plus a window (row_number) instead",
    "PositionalJoin": "POSITIONAL joins: join on an explicit row number",
    "Pivot": "PIVOT/UNPIVOT: spell out the columns with filtered aggregates",
    "StarModifier": "SELECT * RENAME/ILIKE, or * REPLACE over a join: list the columns "
    "(* EXCLUDE is fine, and * REPLACE over one relation is expanded)",
    "Lambda": "list lambdas (list_transform, list_filter, ...): use a join or unnest",
    "TimeToUnix": "epoch(): Spark's unix_timestamp depends on the session time zone; "
    "use date_diff('day', date '1970-01-01', d)",
    "DayOfWeek": "dayofweek()/weekday(): 0 = Sunday in DuckDB, 1 = Sunday in Spark; "
    "use date_diff('day', date '1970-01-05', d) % 7 (0 = Monday)",
    "DayOfWeekIso": "isodow(): sqlglot's Spark form is off by one on Sundays; "
    "use date_diff('day', date '1970-01-05', d) % 7 + 1",
    "DateMinusDate": "date - date: DuckDB returns days (an integer), Spark an interval; "
    "use date_diff('day', earlier, later)",
}


class SparkUnavailable(ArinsightError):
    """pyspark or Java is missing; the message says what to install."""

    exit_code = 3


def java_problem() -> str | None:
    """Why Java cannot run Spark here (None when a Java 17+ is found).

    Looks where pyspark looks: ``$JAVA_HOME/bin/java``, else ``java`` on PATH.
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH"
        return f"Spark needs Java {MIN_JAVA}+ and found none ({where}). Install it: {INSTALL_JAVA}"
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        return f"cannot run {java} ({exc}). Install Java: {INSTALL_JAVA}"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return f"cannot tell the Java version of {java}. Install Java: {INSTALL_JAVA}"
    major = int(m.group(2)) if m.group(1) == "1" and m.group(2) else int(m.group(1))
    if major < MIN_JAVA:
        return f"{java} is Java {major}; Spark 4 needs Java {MIN_JAVA}+. Install it: {INSTALL_JAVA}"
    return None


def require_spark() -> None:
    """Check that pyspark imports and Java 17+ is installed.

    Raises:
        SparkUnavailable: naming what to install (both, when both are missing).
    """
    problems = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problems.append(f"pyspark is not installed. Install it: {INSTALL_PYSPARK}")
    java = java_problem()
    if java:
        problems.append(java)
    if problems:
        raise SparkUnavailable("--engine spark: " + " | ".join(problems))


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession for the build (an already running one is reused).

    ``master`` None keeps whatever ``spark-submit``/Databricks configured, else
    ``local[*]``. Local masters bind to 127.0.0.1, use few shuffle partitions and
    run without the web UI. The session time zone is UTC so dates never shift.

    Raises:
        SparkUnavailable: pyspark or Java missing.
    """
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName("arinsight build")
    chosen = master or "local[*]"
    builder = builder.master(chosen)
    settings = {"spark.sql.session.timeZone": "UTC"}
    if chosen.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings |= {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "8",
        }
    settings |= conf or {}
    for key, value in settings.items():
        builder = builder.config(key, value)
    session: SparkSession = builder.getOrCreate()
    # failures reach the caller as exceptions (one line each); the JVM's own
    # copy of every analysis error is a page of stack trace
    session.sparkContext.setLogLevel("OFF")
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return session


# --- SQL: DuckDB dialect → Spark SQL ------------------------------------------------


#: Column names taken for dates by :func:`is_date_typed` (the naming convention:
#: ``_date`` everywhere, ``_at`` in the canonical ledger's raw tables).
_DATE_COLUMN = re.compile(r"(^|_)(date|at)$")


def is_date_typed(node: exp.Expr) -> bool:
    """Whether ``node`` is a date by the project's conventions (a syntactic heuristic).

    sqlglot parses without the schema, so types are read off the expression:

    - a column named ``*_date`` or ``date`` (docs/conventions.md: every date
      column carries the unit), or ``*_at`` (the raw ledger's dates);
    - ``cast(… as date)``, ``…::date``, ``try_cast(… as date)`` and date literals
      (``date '2026-01-31'``, which sqlglot parses as a cast);
    - ``current_date``, ``last_day(…)``, ``make_date(…)``;
    - a date plus or minus anything but a date (``d - 1``, ``d + interval 1 day``);
    - ``(…)``, ``min``/``max``/``any_value``/``first``/``last`` (also as window
      functions), ``coalesce``/``greatest``/``least`` and ``case``/``if`` when
      one of their values is a date.

    It misses dates it cannot see (a date column named without the unit, a CTE
    column aliased to another name, a function returning a date not listed);
    the naming convention is what makes it reliable here.
    """
    from sqlglot import exp

    if isinstance(node, exp.Paren | exp.Window | exp.Alias):
        return is_date_typed(node.this)
    if isinstance(node, exp.Column):
        return bool(_DATE_COLUMN.search(node.name.lower()))
    if isinstance(node, exp.Cast):  # TryCast is a Cast
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.CurrentDate | exp.LastDay | exp.DateFromParts):
        return True
    if isinstance(node, exp.Add):
        return is_date_typed(node.this) != is_date_typed(node.expression)
    if isinstance(node, exp.Sub):
        return is_date_typed(node.this) and not is_date_typed(node.expression)
    if isinstance(node, exp.Min | exp.Max | exp.AnyValue | exp.First | exp.Last):
        return is_date_typed(node.this)
    if isinstance(node, exp.Coalesce | exp.Greatest | exp.Least):
        return any(is_date_typed(e) for e in [node.this, *node.expressions])
    if isinstance(node, exp.If):
        return any(is_date_typed(e) for e in (node.args.get("true"), node.args.get("false")) if e)
    if isinstance(node, exp.Case):
        values = [i.args.get("true") for i in node.args.get("ifs") or []]
        return any(is_date_typed(e) for e in [*values, node.args.get("default")] if e)
    return False


def portability_problems(sql: str) -> list[str]:
    """Constructs in ``sql`` (DuckDB dialect) that Spark SQL cannot run, one line each."""
    import sqlglot
    from sqlglot import exp

    found: list[str] = []
    for node in sqlglot.parse_one(sql, read="duckdb").walk():
        name = type(node).__name__
        if name in NOT_PORTABLE:
            found.append(NOT_PORTABLE[name])
        elif (
            isinstance(node, exp.Sub)
            and is_date_typed(node.this)
            and is_date_typed(node.expression)
        ):
            found.append(NOT_PORTABLE["DateMinusDate"])
        elif isinstance(node, exp.Star) and any(
            node.args.get(k) for k in ("replace", "rename", "ilike")
        ):
            select = node.parent
            expandable = (
                node.args.get("replace")
                and not node.args.get("rename")
                and not node.args.get("ilike")
                and isinstance(select, exp.Select)
                and not select.args.get("joins")
                and isinstance(select.args.get("from_") or select.args.get("from"), exp.From)
            )
            if not expandable:
                found.append(NOT_PORTABLE["StarModifier"])
        elif isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() in (
            "ASOF",
            "POSITIONAL",
        ):
            method = str(node.args["method"]).upper()
            found.append(NOT_PORTABLE["AsOfJoin" if method == "ASOF" else "PositionalJoin"])
        elif isinstance(node, exp.Anonymous) and node.name.lower() not in _SPARK_FUNCTIONS:
            found.append(
                f"function {node.name}(): unknown to sqlglot's Spark dialect "
                "(use a standard function)"
            )
    return sorted(set(found))


#: Functions sqlglot does not model but Spark has under the same name.
_SPARK_FUNCTIONS = frozenset({"getvariable", "product"})


def _literal(value: Any) -> exp.Expr:
    from sqlglot import exp

    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if value is None:
        return exp.Null()
    return exp.Literal.string(str(value))


def _guarded_series(series: exp.Expr) -> exp.Expr:
    """``generate_series(a, b[, step])`` as an array that is empty when ``b < a``.

    DuckDB returns an empty list there; Spark's ``sequence`` raises instead.
    (Only ascending series occur in the models; a descending one is refused.)
    """
    from sqlglot import exp

    if not isinstance(series, exp.GenerateSeries):
        return series
    step = series.args.get("step")
    if isinstance(step, exp.Neg) or (isinstance(step, exp.Interval) and step.name.startswith("-")):
        raise BuildError("a descending generate_series is not portable to Spark (use ascending)")
    start, end = series.args["start"], series.args["end"]
    return exp.If(
        this=exp.LTE(this=start.copy(), expression=end.copy()),
        true=series,
        false=exp.Array(expressions=[]),
    )


def _generators_to_lateral_views(tree: exp.Expr, name: str) -> None:
    """Rewrite DuckDB's set-returning ``generate_series``/``unnest`` for Spark, in place.

    ``from t, generate_series(a, b, s) as g`` (column ``g.generate_series``)
    and ``select f(unnest(x)) ...`` (a generator inside an expression, which
    Spark refuses) both become ``lateral view explode(...) alias as column``:
    one output row per element, as in DuckDB. A select-list ``unnest`` next to
    a ``group by`` is refused (the order of the two differs between engines).
    """
    from sqlglot import exp

    for select in list(tree.find_all(exp.Select)):
        laterals: list[exp.Expr] = list(select.args.get("laterals") or [])
        joins = list(select.args.get("joins") or [])
        for i, join in enumerate(joins):
            table = join.this
            fn = table.this if isinstance(table, exp.Table) else None
            if not isinstance(fn, exp.GenerateSeries | exp.Explode | exp.Unnest):
                continue
            if i != len(joins) - 1 or join.args.get("on"):
                raise BuildError(
                    f"{name}: a table-valued generate_series/unnest must be the last "
                    "item of FROM and take no ON condition (Spark: LATERAL VIEW)"
                )
            alias = table.args.get("alias")
            columns = list(alias.columns) if alias and alias.columns else []
            column = columns[0] if columns else exp.to_identifier("generate_series")
            values = fn.this if isinstance(fn, exp.Explode) else fn
            if isinstance(fn, exp.Unnest):
                values = fn.expressions[0]
            laterals.append(
                exp.Lateral(
                    this=exp.Explode(this=_guarded_series(values)),
                    view=True,
                    alias=exp.TableAlias(
                        this=exp.to_identifier(alias.name if alias else f"_series{i}"),
                        columns=[column],
                    ),
                )
            )
            joins.remove(join)
        nested = [
            g
            for projection in select.expressions
            for g in projection.find_all(exp.Explode, exp.Unnest)
        ]
        if nested and select.args.get("group"):
            raise BuildError(f"{name}: unnest() in a select list with GROUP BY is not portable")
        for k, generator in enumerate(nested):
            values = generator.this if isinstance(generator, exp.Explode) else generator
            if isinstance(generator, exp.Unnest):
                values = generator.expressions[0]
            view = f"_unnest{k}"
            laterals.append(
                exp.Lateral(
                    this=exp.Explode(this=_guarded_series(values.copy())),
                    view=True,
                    alias=exp.TableAlias(
                        this=exp.to_identifier(view), columns=[exp.to_identifier("value")]
                    ),
                )
            )
            generator.replace(exp.column("value", table=view))
        select.set("joins", joins or None)
        select.set("laterals", laterals or None)


def _product(node: exp.Expr) -> exp.Expr:
    """DuckDB's ``product(x) [over (...)]`` for Spark, which has no SQL ``product``.

    Becomes ``aggregate(collect_list(x) [over (...)], 1.0d, (acc, v) -> acc * v)``:
    the same factors (nulls skipped, as ``product`` skips them) multiplied in
    frame order. Not ``exp(sum(ln(x)))``, which is inexact and fails on 0.
    """
    import sqlglot
    from sqlglot import exp

    window = node.copy()
    call = window.this if isinstance(window, exp.Window) else window
    collected = exp.Anonymous(this="collect_list", expressions=call.expressions)
    if isinstance(window, exp.Window):
        window.set("this", collected)
        values: exp.Expr = window
    else:
        values = collected
    template = sqlglot.parse_one(
        "aggregate(__values__, cast(1 as double), (acc, v) -> acc * v)", read="spark"
    )
    placeholder = template.find(exp.Column)
    assert placeholder is not None and placeholder.name == "__values__"
    placeholder.replace(values)
    return template


def _frameless_offsets(tree: exp.Expr) -> None:
    """Drop window frames from lead/lag/row_number/rank (in place).

    DuckDB ignores a frame on these functions (so a model may share one named
    window between ``sum`` and ``lead``); Spark refuses it. A named window is
    inlined without its frame for these functions only.
    """
    from sqlglot import exp

    offsets = (
        exp.Lead,
        exp.Lag,
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.Ntile,
        exp.PercentRank,
        exp.CumeDist,
    )
    for select in list(tree.find_all(exp.Select)):
        named = {w.name: w for w in select.args.get("windows") or []}
        for window in select.find_all(exp.Window):
            if window.parent is select and window in named.values():
                continue
            if not isinstance(window.this, offsets):
                continue
            ref = window.args.get("alias")
            if ref is not None and ref.name in named and not window.args.get("partition_by"):
                source = named[ref.name]
                window.set("alias", None)
                partition = source.args.get("partition_by") or []
                window.set("partition_by", [p.copy() for p in partition])
                order = source.args.get("order")
                window.set("order", order.copy() if order else None)
            window.set("spec", None)


def _expand_star_replace(tree: exp.Expr, columns_of: Callable[[str], list[str]]) -> None:
    """``select * replace (e as c) from x`` → ``select a, e as c, b from x`` (in place).

    Spark has no ``* REPLACE``. The columns of ``x`` (a CTE before this one, or a
    view) come from ``columns_of(spark_sql)``: Spark analyses ``with <the CTEs up
    to x> select * from x`` without running it. Order is kept, as DuckDB does.
    """
    from sqlglot import exp

    with_ = tree.args.get("with_") or tree.args.get("with")
    ctes = list(with_.expressions) if with_ else []
    for star in list(tree.find_all(exp.Star)):
        replace = star.args.get("replace")
        select = star.parent
        if not replace or not isinstance(select, exp.Select):
            continue
        source = select.args.get("from_") or select.args.get("from")
        if source is None:
            continue
        relation = source.this.name
        names = [c.alias_or_name for c in ctes]
        upto = names.index(relation) + 1 if relation in names else 0
        probe_sql = f"SELECT * FROM {relation}"
        if upto:
            defined = ", ".join(c.sql(dialect="spark") for c in ctes[:upto])
            probe_sql = f"WITH {defined} {probe_sql}"
        by_name = {r.alias: r.this for r in replace}
        projections = [
            exp.alias_(by_name[c].copy(), c) if c in by_name else exp.column(c)
            for c in columns_of(probe_sql)
        ]
        star_index = select.expressions.index(star)
        select.set(
            "expressions",
            select.expressions[:star_index] + projections + select.expressions[star_index + 1 :],
        )


def to_spark_sql(
    sql: str,
    variables: dict[str, Any],
    *,
    name: str = "model",
    columns_of: Callable[[str], list[str]] | None = None,
) -> str:
    """One DuckDB-dialect statement as Spark SQL.

    ``getvariable('x')`` becomes the literal ``variables['x']``; ``raw.t`` /
    ``staging.m`` / ``intermediate.m`` / ``marts.m`` become ``t`` / ``m`` (temp
    views); ``a / b`` becomes ``cast(a as double) / cast(b as double)`` because
    DuckDB's ``/`` always divides in floating point while Spark's divides
    decimals as decimals (rounding to as few as 6 places). With ``columns_of``
    (a running session's column lookup) ``* REPLACE`` is spelled out.

    Raises:
        BuildError: a setting the SQL reads is unknown, a construct is not
            portable, or sqlglot cannot express the statement in Spark SQL.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    problems = portability_problems(sql)
    if problems:
        raise BuildError(f"{name}: not portable to Spark SQL — {'; '.join(problems)}")
    statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    if len(statements) != 1:
        raise BuildError(f"{name}: a model holds exactly one statement (found {len(statements)})")
    tree = statements[0]
    _generators_to_lateral_views(tree, name)
    _frameless_offsets(tree)

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "getvariable":
            key = node.expressions[0].name if node.expressions else ""
            if key not in variables:
                raise BuildError(
                    f"{name}: getvariable('{key}') names no setting "
                    f"(known: {', '.join(sorted(variables))})"
                )
            return _literal(variables[key])
        if isinstance(node, exp.Table) and node.args.get("db") and node.db in QUALIFIERS:
            node.set("db", None)
            node.set("catalog", None)
            return node
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            # `as [not] materialized`: a DuckDB planning hint; Spark plans CTEs itself
            node.set("materialized", None)
            return node
        if isinstance(node, exp.Div):
            # in place, so that the walk continues into both operands
            node.set("this", exp.cast(node.this, exp.DataType.Type.DOUBLE))
            node.set("expression", exp.cast(node.expression, exp.DataType.Type.DOUBLE))
        return node

    def rewrite_product(node: exp.Expr) -> exp.Expr:
        # a second pass: a replaced node's operands are not walked again
        is_product = isinstance(node, exp.Anonymous) and node.name.lower() == "product"
        if is_product and not isinstance(node.parent, exp.Window):
            return _product(node)
        if (
            isinstance(node, exp.Window)
            and isinstance(node.this, exp.Anonymous)
            and node.this.name.lower() == "product"
        ):
            return _product(node)
        return node

    tree = tree.transform(rewrite, copy=False).transform(rewrite_product, copy=False)
    if columns_of is not None:
        _expand_star_replace(tree, columns_of)
    try:
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise BuildError(f"{name}: sqlglot cannot write this as Spark SQL: {exc}") from exc


# --- inputs and outputs -------------------------------------------------------------


def _is_uri(location: str) -> bool:
    return "://" in location or location.startswith("dbfs:")


def _raw_frame(spark: SparkSession, source: str, table: str) -> DataFrame | None:
    """The raw ``table`` from a Parquet directory or a Spark database (None = absent)."""
    if _is_uri(source) or Path(source).is_dir():
        candidates = [f"{source.rstrip('/')}/{table}.parquet", f"{source.rstrip('/')}/{table}"]
        if not _is_uri(source):
            candidates = [c for c in candidates if Path(c).exists()]
            if not candidates:
                return None
        for location in candidates:
            try:
                return spark.read.parquet(location)
            except Exception as exc:  # pyspark's AnalysisException: path missing
                if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                    continue
                raise BuildError(f"{location}: cannot read as Parquet: {exc}") from exc
        return None
    qualified = f"{source}.{table}"
    if not spark.catalog.tableExists(qualified):
        return None
    return spark.table(qualified)


def _meta_source_schemas() -> dict[str, str]:
    """Spark schema (DDL string) of each ``meta`` table staging may read (ladder versions)."""
    import sqlglot
    from sqlglot import exp

    from arinsight.models.runner import META_SOURCES
    from arinsight.warehouse import META_DDL

    schemas: dict[str, str] = {}
    for ddl in META_DDL:
        tree = sqlglot.parse_one(ddl, read="duckdb")
        target = tree.find(exp.Table)
        if not isinstance(tree, exp.Create) or target is None or target.name not in META_SOURCES:
            continue
        columns = [
            f"{c.name} {c.args['kind'].sql(dialect='spark')}" for c in tree.find_all(exp.ColumnDef)
        ]
        schemas[target.name] = ", ".join(columns)
    return schemas


def register_raw(spark: SparkSession, source: str) -> list[str]:
    """Register each canonical table as a temp view of its name, typed as the contract says.

    ``source`` is a directory (or URI) with ``<table>.parquet`` files or
    ``<table>/`` Parquet directories, or the name of a Spark database
    (``schema`` or ``catalog.schema``) holding tables of the canonical names.
    Optional tables that are absent become empty views; optional columns that
    are absent become nulls. Returns the tables that were found.

    Raises:
        BuildError: the source does not exist, a required table or a required
            column is missing.
    """
    if not (_is_uri(source) or Path(source).is_dir()) and not spark.catalog.databaseExists(source):
        raise BuildError(
            f"--input {source}: neither a directory of Parquet files nor a Spark database "
            "(give a directory with invoices.parquet, customers.parquet, ... or a schema name)"
        )
    found: list[str] = []
    for table in TABLES.values():
        frame = _raw_frame(spark, source, table.name)
        if frame is not None:
            found.append(table.name)
        else:
            if table.name in REQUIRED_TABLES:
                raise BuildError(
                    f"--input {source}: no {table.name} table "
                    f"({table.name}.parquet, {table.name}/ or {source}.{table.name})"
                )
            schema = ", ".join(f"{c.name} {SPARK_TYPES[c.type]}" for c in table.columns)
            frame = spark.createDataFrame([], schema)
        have = {c.lower() for c in frame.columns}
        missing = [c for c in table.required if c not in have]
        if missing:
            raise BuildError(
                f"--input {source}: {table.name} lacks required column(s) "
                f"{', '.join(missing)} (see docs/contract.md)"
            )
        exprs = [
            f"cast({c.name} as {SPARK_TYPES[c.type]}) as {c.name}"
            if c.name in have
            else f"cast(null as {SPARK_TYPES[c.type]}) as {c.name}"
            for c in table.columns
        ]
        frame.selectExpr(*exprs).createOrReplaceTempView(table.name)
    # the ladder versions `arinsight ladder apply` stores (meta.ladders, meta.ladder_stages):
    # optional inputs of the same names; absent, the marts infer the ladder from the log
    for name, schema in _meta_source_schemas().items():
        frame = _raw_frame(spark, source, name)
        if frame is None:
            frame = spark.createDataFrame([], schema)
        else:
            found.append(name)
        frame.createOrReplaceTempView(name)
    return found


@dataclass
class _Built:
    model: Model
    frame: DataFrame
    rows: int
    seconds: float


def _count_and_check_keys(spark: SparkSession, m: Model) -> int:
    """Rows of the model's view; raises unless its keys are unique and non-null (one job)."""
    cols = ", ".join(m.keys)
    nulls = " or ".join(f"{k} is null" for k in m.keys)
    row = spark.sql(
        f"select count(*), count_if({nulls}), count(distinct {cols}) from {m.name}"
    ).first()
    assert row is not None
    rows, null_count, distinct = (int(v) for v in row)
    # count(distinct ...) skips rows with a null key: duplicates among the others
    dupes = rows - null_count - distinct
    if dupes or null_count:
        sample = [
            tuple(r)
            for r in spark.sql(
                f"select {cols}, count(*) as n from {m.name} group by {cols} "
                "having count(*) > 1 limit 3"
            ).collect()
        ]
        raise BuildError(
            f"{m.layer}.{m.name}: keys ({cols}) must be unique and not null — "
            f"{dupes} duplicate(s), {null_count} null(s); e.g. {sample}"
        )
    return rows


def run_asserts_on_spark(
    spark: SparkSession, variables: dict[str, Any], root: Path | None = None
) -> list[str]:
    """Run ``sql/tests/assert_*.sql`` on Spark; each must return no rows.

    Raises:
        BuildError: naming the assert, what it checks and the first offending rows.
    """
    from arinsight.models.runner import sql_dir

    ran: list[str] = []
    for path in sorted(((root or sql_dir()) / "tests").glob("assert_*.sql")):
        sql = path.read_text(encoding="utf-8")
        what = sql.splitlines()[0].lstrip("-").strip() if sql else path.stem
        query = to_spark_sql(sql, variables, name=str(path))
        try:
            bad = spark.sql(query).limit(5).collect()
        except Exception as exc:  # pyspark errors; keep the import lazy
            raise BuildError(f"assert {path.stem} ({path}) failed to run on Spark: {exc}") from exc
        if bad:
            shown = "; ".join(str(r.asDict()) for r in bad)
            raise BuildError(f"assert {path.stem} failed ({what}): {shown}")
        ran.append(path.stem)
    return ran


def _write(built: list[_Built], output: str, fmt: str, seconds: float) -> None:
    """Write every mart under ``output`` (one directory each), replacing earlier ones.

    Local directories are written beside the target first and moved into place
    mart by mart, so a crash mid-write leaves each mart either old or new.
    """
    marts = [b for b in built if b.model.layer == "marts"]
    manifest = {
        "engine": "spark",
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "format": fmt,
        "seconds": round(seconds, 3),
        "models": [
            {"model": b.model.name, "layer": b.model.layer, "rows": b.rows, "seconds": b.seconds}
            for b in built
        ],
    }
    if _is_uri(output):
        for b in marts:
            b.frame.write.mode("overwrite").format(fmt).save(f"{output.rstrip('/')}/{b.model.name}")
        return
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    scratch = target / f".building-{uuid.uuid4().hex[:8]}"
    try:
        for b in marts:
            b.frame.write.mode("overwrite").format(fmt).save(str(scratch / b.model.name))
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = scratch / "_previous"
        old.mkdir()
        for entry in [*(b.model.name for b in marts), MANIFEST]:
            if (target / entry).exists():
                (target / entry).rename(old / entry)
            (scratch / entry).rename(target / entry)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_on_spark(
    spark: SparkSession,
    settings: Settings,
    source: str,
    output: str | None,
    *,
    root: Path | None = None,
    output_format: str = "parquet",
    on_model: Callable[[Model, int, float], None] | None = None,
) -> BuildResult:
    """Build every model on Spark, check keys, run the asserts, then write the marts.

    Each model's transpiled SQL is materialised (cached) and registered as a
    temp view of the model's name, so later models read it like DuckDB reads
    ``staging.stg_invoices``. Nothing is written before every model, key check
    and assert has passed.

    Raises:
        BuildError: the first failing model, key check or assert (nothing written).
    """
    started = time.perf_counter()
    models = discover_models(root)
    variables = sql_variables(settings)
    # refuse unportable models before Spark does any work; transpile each one
    # when its inputs exist (expanding * REPLACE asks Spark for their columns)
    for m in models:
        to_spark_sql(m.sql, variables, name=f"{m.name} ({m.path})")

    def columns_of(query: str) -> list[str]:
        return list(spark.sql(query).columns)

    # dates and the timestamps date_trunc returns must not shift with the cluster's zone
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    register_raw(spark, source)
    built: list[_Built] = []
    try:
        for m in models:
            t0 = time.perf_counter()
            try:
                # a local checkpoint (filled by the key-check job) computes the
                # model once and cuts its plan off from the upstream ones (a temp
                # view over the plain plan would re-analyse every upstream model
                # in every later one)
                query = to_spark_sql(
                    m.sql, variables, name=f"{m.name} ({m.path})", columns_of=columns_of
                )
                frame = spark.sql(query).localCheckpoint(eager=False)
                frame.createOrReplaceTempView(m.name)
            except BuildError:
                raise
            except Exception as exc:  # pyspark errors; keep the import lazy
                raise BuildError(f"model {m.name} ({m.path}) failed on Spark: {exc}") from exc
            rows = _count_and_check_keys(spark, m)
            seconds = time.perf_counter() - t0
            built.append(_Built(m, frame, rows, seconds))
            if on_model:
                on_model(m, rows, seconds)
        asserts = run_asserts_on_spark(spark, variables, root)
        if output:
            _write(built, output, output_format, time.perf_counter() - started)
    finally:
        for b in built:
            b.frame.unpersist()
    return BuildResult(
        [(b.model.name, b.rows, b.seconds) for b in built],
        asserts,
        time.perf_counter() - started,
    )


#: Where ``build --engine spark`` writes the marts unless ``--output`` says otherwise.
DEFAULT_OUTPUT = "data/marts"


def run_spark_build(
    source: str | None,
    output: str | None,
    master: str | None,
    conf: tuple[str, ...] = (),
    output_format: str = "parquet",
    accept_quarantine: bool = False,
    echo: Callable[[str], None] | None = None,
) -> BuildResult:
    """``arinsight build --engine spark``: check the options, start Spark, build, write.

    Prints (through ``echo``, default ``click.echo``) one line per model as it
    finishes and where the marts went.

    Raises:
        ArinsightError: an option is missing or malformed.
        SparkUnavailable: pyspark or Java is missing (says what to install).
        BuildError: a model, key check or assert failed (nothing written).
    """
    import click

    from arinsight.config import load_settings

    if accept_quarantine:
        raise ArinsightError(
            "--accept-quarantine applies to the DuckDB engine: the Spark build reads "
            "Parquet or Spark tables directly, without a load step or quarantine"
        )
    if not source:
        raise ArinsightError(
            "--engine spark needs --input: a directory of canonical Parquet files "
            "(`arinsight simulate --format parquet` writes one) or a Spark database name"
        )
    settings_conf: dict[str, str] = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ArinsightError(f"--spark-conf {item!r}: expected KEY=VALUE")
        settings_conf[key.strip()] = value.strip()
    settings = load_settings()
    require_spark()
    say = echo or click.echo
    say(f"starting Spark ({master or 'local[*]'}) …")
    spark = spark_session(master, settings_conf)
    target = output or DEFAULT_OUTPUT

    def progress(m: Model, rows: int, seconds: float) -> None:
        say(f"✓ {m.layer}.{m.name}: {rows:,} rows in {seconds:.1f} s")

    result = build_on_spark(
        spark, settings, source, target, output_format=output_format, on_model=progress
    )
    marts = sum(1 for name, _, _ in result.models if name.startswith(("fct_", "dim_")))
    say(f"wrote {marts} marts ({output_format}) to {target}")
    return result
