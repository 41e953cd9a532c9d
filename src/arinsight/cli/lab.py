"""``arinsight lab``: JupyterLab on 127.0.0.1 in the notebooks folder, warehouse preset."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option


@click.command("lab")
@db_option
@click.option("--port", type=int, default=8888, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--dir",
    "directory",
    default=None,
    type=click.Path(file_okay=False),
    help="Notebook folder (default: notebooks/ of a checkout, else ./notebooks with the "
    "shipped templates copied in).",
)
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
def command(db: str, port: int, directory: str | None, no_browser: bool) -> None:
    """Start JupyterLab for analysts: 127.0.0.1 only, token on, ARINSIGHT_DB preset.

    Notebooks opened there find the warehouse through ARINSIGHT_DB
    (`arinsight.connect()` with no path). Stop it with Ctrl-C.
    """
    from arinsight.reports.lab import run_lab

    raise SystemExit(run_lab(db, port=port, directory=directory, open_browser=not no_browser))
