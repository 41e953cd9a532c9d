"""``arinsight load``: source files → raw tables, bad rows → quarantine."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option


@click.command("load")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--profile", default="canonical", show_default=True,
              help="Mapping profile: a built-in name or a YAML file.")
@db_option
def command(sources: tuple[str, ...], profile: str, db: str) -> None:
    """Load ledger files (CSV, TSV, Parquet; files or directories) into the warehouse.

    Every file is typed against the canonical contract; rows that fail go to
    the quarantine with the reason, and rows read = loaded + quarantined is
    printed per file. Loading the same file again changes nothing; the whole
    call is one transaction.
    """
    from arinsight.cli._render import print_load_results
    from arinsight.ingest import load_sources
    from arinsight.ingest.profiles import resolve_profile
    from arinsight.warehouse import Warehouse

    prof = resolve_profile(profile)
    with Warehouse.open(db, read_only=False, create=True) as wh:
        results = load_sources(wh.con, list(sources), prof)
    print_load_results(results)
