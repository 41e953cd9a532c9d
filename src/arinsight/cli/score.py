"""``arinsight score``: payment probabilities per open invoice and a 13-week cash forecast."""

from __future__ import annotations

import json
from typing import Any

import click

from arinsight.cli._common import db_option, json_option


@click.command("score")
@db_option
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Score the invoices open on this date, fitting on data up to it "
    "(default: the ledger's as-of date).",
)
@json_option
def command(db: str, as_of: object, as_json: bool) -> None:
    """Fit the payment-timing model and score every open invoice.

    Writes marts.fct_open_invoice_scores (P(paid within 7/14/30 days), P(paid
    before the agency handover), expected payment date with an 80 % interval)
    and marts.fct_cash_forecast (expected collections per week, 13 weeks, with
    an 80 % interval). Learns from the warehouse only; see docs/propensity.md.
    """
    import datetime as dt

    from arinsight.propensity.score import run
    from arinsight.warehouse import Warehouse

    day = as_of.date() if isinstance(as_of, dt.datetime) else None
    with Warehouse.open(db, read_only=False) as wh:
        result = run(wh, day)
    fc = result.forecast
    summary: dict[str, Any] = {
        "scoring_date": str(result.scoring_date),
        "count_open_invoices": result.count_open_invoices,
        "count_training_rows": result.count_training_rows,
        "count_training_events": result.count_training_events,
        "concordance": round(result.concordance, 4),
        "open_amount": round(float(result.scores["open_amount"].sum()), 2),
        "expected_collections_13w_amount": round(float(fc["expected_collections_amount"].sum()), 2),
        "forecast": [
            {
                "week_end_date": str(r["week_end_date"]),
                "expected_amount": round(r["expected_collections_amount"], 2),
                "p10_amount": round(r["collections_p10_amount"], 2),
                "p90_amount": round(r["collections_p90_amount"], 2),
            }
            for r in fc.iter_rows(named=True)
        ],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"scored {result.count_open_invoices:,} open invoices at {result.scoring_date} "
        f"(model fitted on {result.count_training_rows:,} open invoice-months, "
        f"{result.count_training_events:,} payments; concordance {result.concordance:.3f})"
    )
    t = Table(title="cash forecast (open invoices only; EUR)", title_justify="left")
    for col in ("week ending", "expected", "80 % interval"):
        t.add_column(col, justify="right")
    for r in summary["forecast"]:
        t.add_row(
            r["week_end_date"],
            f"{r['expected_amount']:,.0f}",
            f"{r['p10_amount']:,.0f} – {r['p90_amount']:,.0f}",
        )
    console.print(t)
    console.print(
        f"invoicing run-rate (not in the forecast): "
        f"{float(fc['invoicing_run_rate_weekly_amount'][0]):,.0f} per week. "
        "Next: `arinsight worklist`."
    )
