"""``arinsight check``: great-expectations suites on raw inputs, the quarantine and marts."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option


@click.command("check")
@db_option
@click.option(
    "--out",
    default="reports/quality",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the HTML quality report goes (index.html).",
)
@click.option(
    "--sample-rows",
    type=click.IntRange(min=100),
    default=20_000,
    show_default=True,
    help="Rows per table validated row by row (plus every offending row, capped); "
    "counts of rows and bad rows are always over the whole table.",
)
@click.option("--no-docs", is_flag=True, help="Skip writing the HTML report.")
@click.option(
    "--accept-quarantine",
    is_flag=True,
    help="Do not fail when a load quarantined more than max_quarantine_pct "
    "(as `build --accept-quarantine`).",
)
@json_option
@quiet_option
@settings_option
def command(
    db: str,
    out: str,
    sample_rows: int,
    no_docs: bool,
    accept_quarantine: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Validate the raw tables, the quarantine and the marts with great-expectations.

    Suites are code (src/arinsight/quality/suites.py): keys, required
    columns, allowed values, ranges, references, due_date >= issue_date, the
    latest load of each file quarantined at most max_quarantine_pct, aging
    buckets sum to AR, lifecycle days consistent with dates. Prints a summary,
    writes a self-contained HTML report, stores every expectation's result in
    meta.checks (read by the dashboard and the monthly report) and exits 1
    when an expectation fails.
    Marts that are not built yet are skipped with a note.
    """
    from pathlib import Path

    from arinsight.cli._render import check_json, console, print_check_result, print_json, set_quiet
    from arinsight.errors import ArinsightError
    from arinsight.quality.runner import run_check
    from arinsight.quality.store import store_check
    from arinsight.warehouse import Warehouse

    set_quiet(quiet or as_json)
    # writable: the results go to meta.checks (the dashboard and the report read
    # them); leaving the block publishes the read snapshot with them
    with (
        Warehouse.open(db, read_only=False) as wh,
        console.status("checking (great-expectations)…"),
    ):
        result = run_check(
            wh.con,
            None if no_docs else Path(out),
            sample_rows=sample_rows,
            accept_quarantine=accept_quarantine,
            source=str(db),
        )
        store_check(wh.con, result)
    if as_json:
        print_json(check_json(result))
    else:
        print_check_result(result)
    if not result.success:
        failed = sorted({s.suite.name for s in result.suites if s.status == "failed"})
        raise ArinsightError(
            f"{result.n_failed} expectation(s) failed in {', '.join(failed)}"
            + (f"; details in {result.docs_index}" if result.docs_index else "")
        )
