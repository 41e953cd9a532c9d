"""``arinsight metrics``: the headline figures, as a table or JSON."""

from __future__ import annotations

import click

from arinsight.cli._common import (
    as_of_option,
    db_option,
    json_option,
    quiet_option,
    segment_option,
    settings_option,
)


@click.command("metrics")
@db_option
@as_of_option
@segment_option
@json_option
@quiet_option
@settings_option
def command(db: str, as_of: object, segment: str | None, as_json: bool, quiet: bool) -> None:
    """Headline figures per segment at a month end (DSO, AR, overdue, ...).

    Reads the marts built by `arinsight build`; nothing is recomputed here.
    On a narrow terminal the least important columns are left out (with a
    note); --json prints every figure.
    """
    from arinsight import connect
    from arinsight.cli._render import print_headline, print_json, set_quiet
    from arinsight.metrics import headline

    set_quiet(quiet)
    with connect(db) as wh:
        data = headline(wh, as_of=as_of, segment=segment)  # type: ignore[arg-type]
    if as_json:
        print_json(data)
    else:
        print_headline(data)
