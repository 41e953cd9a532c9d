"""``arinsight check``: great-expectations suites on raw inputs and marts, with Data Docs."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option


@click.command("check")
@db_option
@click.option(
    "--out",
    default="reports/quality",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the Data Docs HTML goes (index.html).",
)
@click.option(
    "--sample-rows",
    type=click.IntRange(min=100),
    default=20_000,
    show_default=True,
    help="Rows per table validated row by row (plus every offending row, capped); "
    "counts of bad rows are always exact.",
)
@click.option("--no-docs", is_flag=True, help="Skip writing Data Docs.")
def command(db: str, out: str, sample_rows: int, no_docs: bool) -> None:
    """Validate the raw tables and the marts with great-expectations.

    Suites are code (src/arinsight/quality/suites.py): keys, required
    columns, allowed values, ranges, references, due_date >= issue_date,
    aging buckets sum to AR, lifecycle days consistent with dates. Prints a
    summary, writes Data Docs HTML and exits non-zero when an expectation
    fails. Marts that are not built yet are skipped with a note.
    """
    from pathlib import Path

    from arinsight.cli._render import console
    from arinsight.quality.render import print_check_result
    from arinsight.quality.runner import run_check
    from arinsight.warehouse import Warehouse

    with Warehouse.open(db) as wh, console.status("checking (great-expectations)…"):
        result = run_check(wh.con, None if no_docs else Path(out), sample_rows=sample_rows)
    print_check_result(result)
    if not result.success:
        raise click.exceptions.Exit(1)
