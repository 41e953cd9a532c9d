"""``arinsight worklist``: the open invoices a collector should act on today."""

from __future__ import annotations

import json

import click

from arinsight.cli._common import db_option, json_option, segment_option, settings_option


@click.command("worklist")
@db_option
@segment_option
@click.option("--top", default=25, show_default=True, type=click.IntRange(1), help="Rows.")
@click.option(
    "--lang",
    type=click.Choice(["en", "de"]),
    default=None,
    help="Language of the reasons (default: the settings' dashboard language).",
)
@json_option
@settings_option
def command(db: str, segment: str | None, top: int, lang: str | None, as_json: bool) -> None:
    """Open invoices ranked by the expected value of acting, with the reason in words.

    Value of acting = open amount x the gain in the model's probability of
    payment within 14 days if the ladder's next step went out today. Reads the
    scores written by `arinsight score`.
    """
    from arinsight import connect
    from arinsight.config import load_settings
    from arinsight.propensity.worklist import worklist

    language = lang or load_settings().dashboard.language
    with connect(db) as wh:
        rows = worklist(wh, segment=segment, top=top, lang=language)
    if as_json:
        click.echo(json.dumps(rows.to_dicts(), indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"worklist ({rows.height} invoices)", title_justify="left", expand=True)
    for col, justify in (
        ("invoice", "left"),
        ("customer", "left"),
        ("open EUR", "right"),
        ("value of acting", "right"),
        ("why", "left"),
    ):
        t.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows.iter_rows(named=True):
        t.add_row(
            r["invoice_id"],
            r["customer_id"],
            f"{r['open_amount']:,.2f}",
            f"{r['value_of_acting_amount']:,.2f}",
            r["reason"],
        )
    Console().print(t)
