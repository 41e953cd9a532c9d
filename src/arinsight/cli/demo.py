"""``arinsight demo``: simulate (when no data is present), load, build, show."""

from __future__ import annotations

from pathlib import Path

import click

from arinsight.cli._common import db_option


@click.command("demo")
@db_option
@click.option(
    "--data-dir",
    default="data/sample",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the sample ledger lives (simulated when missing).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Scale the sample company's customer count.",
)
@click.option("--no-serve", is_flag=True, help="Do not start the dashboard at the end.")
@click.option("--no-report", is_flag=True, help="Do not render the monthly review.")
def command(
    db: str, data_dir: str, seed: int, scale: float, no_serve: bool, no_report: bool
) -> None:
    """The whole pipeline on a sample company, end to end.

    Simulates the default world (about 20k customers, 24 months) unless
    --data-dir already holds a ledger, loads it, builds the marts and prints
    DSO per segment.
    """
    from arinsight.pipeline import run_demo

    run_demo(
        Path(db),
        Path(data_dir),
        seed=seed,
        scale=scale,
        serve=not no_serve,
        report=not no_report,
    )
