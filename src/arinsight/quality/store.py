"""Store ``arinsight check`` results in the warehouse (``meta.checks``).

One row per expectation per run, so the dashboard's quality page and the
monthly report can say which expectations failed, on which table and column,
and on how many rows — without re-running great-expectations. A suite that
was skipped (mart not built, quarantine accepted) is one row with
``expectation = '(suite skipped)'``, ``success`` null and the reason in
``note``. Runs accumulate; readers take the latest ``check_id``.

No third-party import here (the CLI imports it after the check ran).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from arinsight.quality.runner import CheckResult

CHECKS_DDL = """
create table if not exists meta.checks (
    check_id BIGINT not null,
    checked_at TIMESTAMP not null,
    suite VARCHAR not null,
    layer VARCHAR not null,
    table_name VARCHAR not null,
    column_names VARCHAR,
    expectation VARCHAR not null,
    expectation_kind VARCHAR,
    suite_status VARCHAR not null,
    success BOOLEAN,
    unexpected_count BIGINT,
    row_count BIGINT,
    examples VARCHAR,
    note VARCHAR
)
"""

SKIPPED = "(suite skipped)"


def rows_of(result: CheckResult) -> list[tuple[Any, ...]]:
    """The run as rows (without check_id / checked_at): one per expectation,
    one per skipped suite."""
    rows: list[tuple[Any, ...]] = []
    for s in result.suites:
        suite = s.suite
        if not s.rules:
            rows.append(
                (suite.name, suite.layer, suite.relation, None, SKIPPED, None, s.status,
                 None, None, None, None, s.note or None)
            )  # fmt: skip
            continue
        for r in s.rules:
            rows.append(
                (
                    suite.name,
                    suite.layer,
                    suite.relation,
                    ", ".join(r.rule.columns) or None,
                    r.rule.doc,
                    r.rule.kind,
                    s.status,
                    r.success,
                    r.bad_rows,
                    s.rows,
                    json.dumps(r.examples, default=str) if r.examples else None,
                    s.note or None,
                )
            )
    return rows


def store_check(
    con: duckdb.DuckDBPyConnection, result: CheckResult, checked_at: dt.datetime | None = None
) -> int:
    """Append the run to ``meta.checks`` (created when missing); returns its ``check_id``.

    Args:
        con: a writable connection to the warehouse.
        result: what :func:`arinsight.quality.runner.run_check` returned.
        checked_at: the run's time (default: now, UTC, naive).
    """
    when = checked_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    con.execute(CHECKS_DDL)
    (last,) = con.execute("select coalesce(max(check_id), 0) from meta.checks").fetchone() or (0,)
    check_id = int(last) + 1
    rows = [(check_id, when, *row) for row in rows_of(result)]
    con.execute("begin transaction")
    try:
        con.executemany(
            "insert into meta.checks values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return check_id
