"""``arinsight load``: source files → raw tables, bad rows → quarantine."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option


@click.command("load")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--profile",
    default="canonical",
    show_default=True,
    help="Mapping profile: a built-in name (canonical, german_erp, cleared_items) "
    "or a YAML file; see docs/profiles.md.",
)
@db_option
@json_option
@quiet_option
@settings_option
def command(
    sources: tuple[str, ...], profile: str, db: str, as_json: bool = False, quiet: bool = False
) -> None:
    """Load ledger files (CSV, TSV, XLSX, Parquet; files or directories) into the warehouse.

    Every file is typed against the canonical contract through the profile;
    rows that fail go to the quarantine with the reason, and rows read =
    loaded + quarantined is printed per file and table. Loading the same file
    again changes nothing; a newer export replaces rows by key; the whole call
    is one transaction.
    """
    import sys

    from arinsight.cli._render import load_json, print_json, print_load_results, set_quiet
    from arinsight.ingest import LoadResult, load_sources
    from arinsight.ingest.profiles import resolve_profile
    from arinsight.warehouse import Warehouse

    prof = resolve_profile(profile)

    set_quiet(quiet or as_json)

    def progress(r: LoadResult) -> None:
        if quiet or as_json:
            return
        name = r.file.rsplit("/", 1)[-1]
        if r.skipped:
            line = f"= {name} → {r.table}: unchanged since load {r.load_id} (same sha256), skipped"
        else:
            via = f" (derived from {r.derived_from} rows)" if r.derived_from else ""
            line = (
                f"✓ {name} → {r.table}{via}: {r.rows_read:,} read = {r.rows_loaded:,} "
                f"loaded + {r.rows_quarantined:,} quarantined"
            )
            if r.rows_replaced:
                line += f"; {r.rows_replaced:,} replaced by key"
        click.echo(line)
        for note in r.notes:
            click.echo(f"    note: {note}")
        sys.stdout.flush()

    with Warehouse.open(db, read_only=False, create=True) as wh:
        results = load_sources(wh.con, list(sources), prof, on_file=progress)
        ids = [r.load_id for r in results if not r.skipped and r.rows_quarantined]
        samples = (
            wh.con.execute(
                "select file, line_number, reason from meta.quarantine "
                "where list_contains(?, load_id) order by load_id, line_number limit 5",
                [ids],
            ).fetchall()
            if ids
            else []
        )
    if as_json:
        print_json(load_json(results, samples))
        return
    print_load_results(results)
    if samples and not quiet:
        click.echo("first quarantined rows:")
        for file, line, reason in samples:
            where = f"{file.rsplit('/', 1)[-1]} line {line}" if line is not None else file
            click.echo(f"  {where}: {reason}")
