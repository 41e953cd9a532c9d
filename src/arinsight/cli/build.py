"""``arinsight build``: run the SQL models, key checks and SQL asserts."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option


@click.command("build")
@db_option
@click.option(
    "--accept-quarantine",
    is_flag=True,
    help="Publish marts even when a load quarantined more than max_quarantine_pct.",
)
@click.option(
    "--select",
    "select",
    multiple=True,
    metavar="MODEL[+]",
    help="Build only MODEL and the models it reads (MODEL+: also everything "
    "downstream of it); publishes only those marts. Repeatable.",
)
def command(db: str, accept_quarantine: bool, select: tuple[str, ...]) -> None:
    """Build staging → intermediate → marts in one transaction.

    Models run in the order of what their SQL reads; keys are checked unique
    and non-null and every sql/tests assert must return no rows, or nothing is
    published and the previous build stays. With --select only the selected
    marts are replaced (atomically); the others keep their last build.
    """
    from arinsight.cli._render import print_build_result
    from arinsight.pipeline import run_build

    result = run_build(db, accept_quarantine=accept_quarantine, select=select)
    print_build_result(result)
