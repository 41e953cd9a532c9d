"""``arinsight report``: render a report notebook for a month (papermill → HTML, PDF)."""

from __future__ import annotations

import json

import click

from arinsight.cli._common import db_option, json_option, segment_option


@click.command("report")
@db_option
@click.option(
    "--month",
    default=None,
    metavar="YYYY-MM",
    help="Month to report (default: the latest complete month in the warehouse).",
)
@click.option(
    "--notebook",
    default="monthly_review",
    show_default=True,
    help="Report template: monthly_review, dunning_effectiveness or explore.",
)
@click.option(
    "--format",
    "formats",
    default=None,
    metavar="html,pdf",
    help="Outputs besides the executed .ipynb (default: html,pdf; the PDF is skipped with "
    "a note when Chromium is missing, unless asked for explicitly).",
)
@click.option(
    "--out",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Base directory; files go to OUT/YYYY-MM/<notebook>.*",
)
@segment_option
@click.option("--lang", type=click.Choice(["en", "de"]), default="en", show_default=True)
@click.option(
    "--ladder",
    default=None,
    type=click.Path(dir_okay=False),
    help="Ladder YAML in force (default: meta.ladders, else the shipped default).",
)
@click.option("--quiet", is_flag=True, help="No progress bar; print only the paths.")
@json_option
def command(
    db: str,
    month: str | None,
    notebook: str,
    formats: str | None,
    out: str,
    segment: str | None,
    lang: str,
    ladder: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Render a report for a month: executed notebook, HTML and PDF.

    \b
    Writes OUT/YYYY-MM/<notebook>.ipynb, .html (code hidden, interactive
    charts, opens offline) and .pdf (headless Chromium: a page per section,
    page numbers). Parameters are checked against the warehouse before a
    kernel starts; the same month gives the same numbers every time.
    """
    from arinsight.reports.params import check_params
    from arinsight.reports.runner import FORMATS, describe, render

    wanted = tuple(f.strip() for f in (formats or ",".join(FORMATS)).split(",") if f.strip())
    params = check_params(db, month, segment, lang, ladder)
    result = render(
        params,
        notebook,
        wanted,
        out,
        pdf_required=formats is not None and "pdf" in wanted,
        progress=not (quiet or as_json),
    )
    if as_json:
        click.echo(json.dumps(describe(result), indent=2))
        return
    for note in result.skipped:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        click.echo(f"rendered {notebook} for {params.month} in {result.seconds:.1f} s")
    for path in result.paths():
        click.echo(str(path))
