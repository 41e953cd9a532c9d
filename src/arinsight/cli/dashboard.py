"""``arinsight dashboard``: serve the Dash app over the marts."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option


@click.command("dashboard")
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind. Anything but loopback needs ARINSIGHT_DASHBOARD_USER and "
    "ARINSIGHT_DASHBOARD_PASSWORD (basic auth).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True)
def command(db: str, host: str, port: int) -> None:
    """Serve the CFO dashboard (Overview, Aging, Dunning funnel, Recovery & churn,
    Ladder, Data quality) until Ctrl+C.

    Reads the marts through short-lived read-only connections, so `arinsight build`
    can run meanwhile; a new build shows up without a restart.
    """
    from arinsight.dashboard.app import serve

    serve(db, host=host, port=port)
