"""``arinsight metrics``: the headline figures, as a table or JSON."""

from __future__ import annotations

import json

import click

from arinsight.cli._common import as_of_option, db_option, json_option, segment_option


@click.command("metrics")
@db_option
@as_of_option
@segment_option
@json_option
def command(db: str, as_of: object, segment: str | None, as_json: bool) -> None:
    """Headline figures per segment at a month end (DSO, AR, overdue, ...).

    Reads the marts built by `arinsight build`; nothing is recomputed here.
    """
    from arinsight import connect
    from arinsight.cli._render import print_headline
    from arinsight.metrics import headline

    with connect(db) as wh:
        data = headline(wh, as_of=as_of, segment=segment)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        print_headline(data)
