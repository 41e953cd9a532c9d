"""Run the quality suites with great-expectations and write the quality report.

For each suite, DuckDB first counts the bad rows of every rule over the whole
relation (exact, one scan plus a join per key/reference rule). The
great-expectations validation then runs on a pandas frame of at most
``sample_rows`` rows drawn reproducibly (``reservoir ... repeatable``) plus up
to ``offenders`` offending rows per failing rule, so 1M-row tables never travel
to pandas whole. A rule fails when its expectation fails or its exact count is
non-zero. great-expectations is used for the validation only: the HTML report
(``index.html``) is rendered by :mod:`arinsight.quality.render` from these
results, self-contained, with counts over the whole relation.

great-expectations is imported inside :func:`run_check` only (it takes
seconds to import); pandas frames are validated through an ephemeral context
(no project directory, no network; set ``GX_ANALYTICS_ENABLED=False``).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.quality.suites import (
    Rule,
    Suite,
    key_suites,
    mart_suites,
    quarantine_suite,
    raw_suites,
)

if TYPE_CHECKING:
    import duckdb

_QC = "_qc_frame"


@dataclass
class RuleResult:
    """One expectation's outcome: GX's verdict and DuckDB's exact bad-row count."""

    rule: Rule
    success: bool
    bad_rows: int
    examples: list[Any] = field(default_factory=list)


@dataclass
class SuiteResult:
    """A suite's outcome; ``status`` is passed, failed or skipped (with ``note``)."""

    suite: Suite
    status: str
    rows: int = 0
    validated_rows: int = 0
    rules: list[RuleResult] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.success]


@dataclass
class CheckResult:
    """Every suite's outcome and where the Data Docs went."""

    suites: list[SuiteResult]
    docs_index: Path | None
    seconds: float

    @property
    def success(self) -> bool:
        return all(s.status != "failed" for s in self.suites)

    @property
    def n_failed(self) -> int:
        """Failed expectations over every suite."""
        return sum(len(s.failed) for s in self.suites)


# ----------------------------------------------------------------------- SQL side


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name "
        "from information_schema.columns "
        "where table_schema in ('raw', 'marts', 'meta')"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for rel, col in rows:
        out.setdefault(rel, set()).add(col)
    return out


def _missing(suite: Suite, existing: dict[str, set[str]]) -> str | None:
    for rel, cols in suite.needs.items():
        if rel not in existing:
            return f"{rel} is not built yet"
        lacking = [c for c in cols if c not in existing[rel]]
        if lacking:
            return f"{rel} has no column {', '.join(lacking)} (suite needs an update)"
    return None


def _bad_predicate(rule: Rule, i: int) -> str:
    c = rule.columns
    if rule.kind == "not_null":
        return f"{c[0]} is null"
    if rule.kind == "unique":
        return f"_dup{i}"
    if rule.kind == "in_set":
        return f"{c[0]} is not null and not list_contains($set{i}, {c[0]})"
    if rule.kind == "between":
        parts = []
        if rule.min_value is not None:
            parts.append(f"{c[0]} < {float(rule.min_value)!r}")
        if rule.max_value is not None:
            parts.append(f"{c[0]} > {float(rule.max_value)!r}")
        return "(" + " or ".join(parts) + ")"
    if rule.kind == "pair_ge":
        return f"{c[0]} < {c[1]}"
    if rule.kind == "pair_equal":
        return f"{c[0]} <> {c[1]}"
    if rule.kind == "reference":
        return f"{c[0]} is not null and not {rule.helper()}"
    if rule.kind == "row_count":
        return "false"
    raise AssertionError(rule.kind)  # pragma: no cover


def _stage_frame(con: duckdb.DuckDBPyConnection, suite: Suite) -> tuple[int, dict[int, int]]:
    """Materialise the columns the rules read (+ helpers) as a temp table; count bad rows.

    Returns:
        (row count, rule index → exact number of bad rows)
    """
    base = suite.sql or f"select * from {suite.relation}"
    cols: list[str] = []
    for r in suite.rules:
        for c in (*r.columns, *([r.label] if r.label else [])):
            if c not in cols:
                cols.append(c)
    joins, extra = [], []
    params: dict[str, Any] = {}
    for i, r in enumerate(suite.rules):
        if r.kind == "unique":
            on = " and ".join(f"b.{k} = d{i}.{k}" for k in r.columns)
            joins.append(
                f"left join (select {', '.join(r.columns)} from b group by all "
                f"having count(*) > 1) d{i} on {on}"
            )
            extra.append(f"d{i}.{r.columns[0]} is not null as _dup{i}")
        elif r.kind == "reference":
            assert r.ref is not None
            table, col = r.ref
            extra.append(
                f"exists (select 1 from {table} x where x.{col} = b.{r.columns[0]}) as {r.helper()}"
            )
        elif r.kind == "in_set":
            params[f"set{i}"] = list(r.values)
    select = ", ".join([*(f"b.{c}" for c in cols), "b._rid", *extra])
    con.execute(f"drop table if exists {_QC}")
    con.execute(
        f"create temp table {_QC} as with b as (select *, row_number() over () as _rid "
        f"from ({base})) select {select} from b {' '.join(joins)}"
    )
    counts = [f"count(*) filter (where {_bad_predicate(r, i)})" for i, r in enumerate(suite.rules)]
    sql = f"select count(*), {', '.join(counts)} from {_QC}"
    row = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()[0]
    n = int(row[0])
    bad = {i: int(row[i + 1]) for i in range(len(suite.rules))}
    for i, r in enumerate(suite.rules):
        if r.kind == "row_count":
            low_ok = r.min_value is None or n >= r.min_value
            high_ok = r.max_value is None or n <= r.max_value
            bad[i] = 0 if (low_ok and high_ok) else 1
    return n, bad


def _frame(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    n: int,
    bad: dict[int, int],
    sample_rows: int,
    offenders: int,
) -> Any:
    """pandas frame: a reproducible sample plus offending rows of each failing rule."""
    parts = [
        f"select * from {_QC} using sample reservoir({int(sample_rows)} rows) repeatable (42)"
        if n > sample_rows
        else f"select * from {_QC}"
    ]
    params: dict[str, Any] = {}
    for i, r in enumerate(suite.rules):
        if bad[i] and r.kind != "row_count" and n > sample_rows:
            order = ", ".join([*r.columns, "_rid"])
            parts.append(
                f"select * from (select * from {_QC} where {_bad_predicate(r, i)} "
                f"order by {order} limit {int(offenders)})"
            )
            if r.kind == "in_set":
                params[f"set{i}"] = list(r.values)
    sql = " union ".join(f"({p})" for p in parts) + " order by _rid"
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).df()


# ------------------------------------------------------------------------ GX side


def _expectation(gxe: Any, rule: Rule) -> Any:
    c = rule.columns
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=c[0])
    if rule.kind == "unique":
        if len(c) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=c[0])
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(c))
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=c[0], value_set=list(rule.values))
    if rule.kind == "between":
        return gxe.ExpectColumnValuesToBeBetween(
            column=c[0], min_value=rule.min_value, max_value=rule.max_value
        )
    if rule.kind == "pair_ge":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=c[0], column_B=c[1], or_equal=True, ignore_row_if="either_value_is_missing"
        )
    if rule.kind == "pair_equal":
        return gxe.ExpectColumnPairValuesToBeEqual(
            column_A=c[0], column_B=c[1], ignore_row_if="either_value_is_missing"
        )
    if rule.kind == "reference":
        return gxe.ExpectColumnValuesToBeInSet(column=rule.helper(), value_set=[True])
    if rule.kind == "row_count":
        return gxe.ExpectTableRowCountToBeBetween(
            min_value=rule.min_value, max_value=rule.max_value
        )
    raise AssertionError(rule.kind)  # pragma: no cover


def _import_gx() -> Any:
    """Import great-expectations without letting pyspark end the process.

    With pyspark installed (the ``spark`` extra), great-expectations imports
    ``pyspark.sql.connect``, whose import calls ``sys.exit(0)`` when the main
    module has no file (``python -c``, pytest-xdist workers) because it takes
    that for a doctest run: the process would stop with status 0, silently.
    ``sys.ps1`` (set only for the import) tells pyspark it is interactive, so
    the import ends in an ImportError that great-expectations handles.
    """
    import sys

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    had_ps1 = hasattr(sys, "ps1")
    if not had_ps1:
        sys.ps1 = ">>> "
    try:
        import great_expectations as gx
    finally:
        if not had_ps1:
            del sys.ps1
    return gx


def _context() -> Any:
    """An ephemeral great-expectations context (no project directory, no Data Docs)."""
    import logging

    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _clean_docs(out_dir: Path) -> None:
    """Remove what earlier versions' great-expectations Data Docs wrote there."""
    for sub in ("validations", "expectations", "static"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)


def _examples(con: duckdb.DuckDBPyConnection, rule: Rule, i: int) -> list[Any]:
    """Up to five bad rows' values, first in the relation's order (never helper columns)."""
    if rule.kind == "row_count" or (rule.kind == "not_null" and not rule.label):
        return []  # nothing to show: the values are all null
    if rule.label:
        expr = rule.label
    elif rule.kind in ("pair_ge", "pair_equal", "unique") and len(rule.columns) > 1:
        sep = " vs " if rule.kind != "unique" else " + "
        expr = f"concat_ws('{sep}', {', '.join(rule.columns)})"
    else:
        expr = rule.columns[0]
    sql = f"select {expr} from {_QC} where {_bad_predicate(rule, i)} order by _rid limit 5"
    params = {f"set{i}": list(rule.values)} if f"$set{i}" in sql else {}
    return [r[0] for r in con.execute(sql, params).fetchall()]


def run_check(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path | None = Path("reports/quality"),
    *,
    sample_rows: int = 20_000,
    offenders: int = 200,
    on_suite: Any = None,
    max_quarantine_pct: float | None = None,
    accept_quarantine: bool = False,
    source: str = "",
) -> CheckResult:
    """Validate raw tables, the quarantine and marts; write the HTML report under ``out_dir``.

    Args:
        con: a connection to the warehouse (read-only is enough).
        out_dir: where the HTML report goes (``index.html``, replaced on each run;
            None: no report).
        sample_rows: rows of each relation validated row by row in pandas.
        offenders: offending rows added per failing rule.
        on_suite: called with each SuiteResult as it completes.
        max_quarantine_pct: the quarantine gate (None: the settings' ``max_quarantine_pct``).
        accept_quarantine: skip the quarantine gate (with a note), as
            ``build --accept-quarantine`` does.
        source: what the report names as the warehouse (e.g. its path).

    Returns:
        Every suite's result; ``success`` is False when any rule failed.
    """
    started = time.perf_counter()
    gx = _import_gx()
    import great_expectations.expectations as gxe

    from arinsight.quality.render import write_report

    if max_quarantine_pct is None:
        from arinsight.config import load_settings

        max_quarantine_pct = load_settings().max_quarantine_pct
    ctx = _context()
    ds = ctx.data_sources.add_pandas("arinsight")
    existing = _columns(con)
    marts = [rel.split(".", 1)[1] for rel in existing if rel.startswith("marts.")]
    gate = quarantine_suite(max_quarantine_pct)
    suites = raw_suites() + [gate] + mart_suites()
    specific = {s.relation for s in suites if s.layer == "marts"}
    suites += key_suites(marts, specific)
    results: list[SuiteResult] = []
    for suite in suites:
        t0 = time.perf_counter()
        missing = _missing(suite, existing)
        if suite is gate and accept_quarantine:
            res = SuiteResult(suite, "skipped", note="quarantine accepted (--accept-quarantine)")
        elif missing:
            res = SuiteResult(suite, "skipped", note=missing)
        else:
            n, bad = _stage_frame(con, suite)
            df = _frame(con, suite, n, bad, sample_rows, offenders)
            asset = ds.add_dataframe_asset(suite.name)
            batch = asset.add_batch_definition_whole_dataframe("frame")
            gsuite = ctx.suites.add(gx.ExpectationSuite(name=suite.name))
            ids: dict[str, int] = {}
            for i, rule in enumerate(suite.rules):
                ids[str(gsuite.add_expectation(_expectation(gxe, rule)).id)] = i
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=gsuite)
            )
            run = vd.run(batch_parameters={"dataframe": df})
            by_rule = {ids[str(r.expectation_config.id)]: r for r in run.results}
            rule_results = []
            for i, rule in enumerate(suite.rules):  # GX reports in its own order
                r = by_rule[i]
                examples = _examples(con, rule, i) if bad[i] else []
                ok = bool(r.success) and bad[i] == 0
                rule_results.append(RuleResult(rule, ok, bad[i], examples))
            status = "passed" if all(r.success for r in rule_results) else "failed"
            res = SuiteResult(suite, status, rows=n, validated_rows=len(df), rules=rule_results)
            con.execute(f"drop table if exists {_QC}")
        res.seconds = time.perf_counter() - t0
        results.append(res)
        if on_suite:
            on_suite(res)
    result = CheckResult(results, None, time.perf_counter() - started)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        _clean_docs(out_dir)
        result.docs_index = write_report(
            result, out_dir / "index.html", source=source, sample_rows=sample_rows
        )
    return result
