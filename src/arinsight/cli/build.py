"""``arinsight build``: run the SQL models, key checks and SQL asserts."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option


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
@json_option
@quiet_option
@settings_option
def command(
    db: str, accept_quarantine: bool, select: tuple[str, ...], as_json: bool, quiet: bool
) -> None:
    """Build staging → intermediate → marts in one transaction.

    Models run in the order of what their SQL reads; keys are checked unique
    and non-null and every sql/tests assert must return no rows, or nothing is
    published and the previous build stays. With --select only the selected
    marts are replaced (atomically); the others keep their last build. Prints
    one line per model (a progress bar on a terminal).
    """
    from arinsight.cli._progress import model_progress
    from arinsight.cli._render import build_json, print_build_result, print_json, set_quiet
    from arinsight.pipeline import run_build

    set_quiet(quiet or as_json)
    with model_progress() as on_model:
        result = run_build(
            db, accept_quarantine=accept_quarantine, on_model=on_model, select=select
        )
    if as_json:
        print_json(build_json(result))
    else:
        print_build_result(result)
