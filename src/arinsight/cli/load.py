"""``arinsight load``: source files → raw tables, bad rows → quarantine."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option

#: Exit code of a load that succeeded but sent rows to the quarantine (docs/profiles.md).
EXIT_QUARANTINED = 3


@click.command("load")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--profile",
    default="canonical",
    show_default=True,
    help="Mapping profile: a built-in name (canonical, german_erp, cleared_items) "
    "or a YAML file; see docs/profiles.md.",
)
@click.option(
    "--export-date",
    "export_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the export was taken: rows dated after it are quarantined "
    "(default: the profile's plausibility.export_date, else the latest invoice "
    "issue date, with a margin for payments and reminders).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail (loading nothing) when a directory holds files the profile does not load.",
)
@db_option
@json_option
@quiet_option
@settings_option
def command(
    sources: tuple[str, ...],
    profile: str,
    db: str,
    export_date: object = None,
    strict: bool = False,
    as_json: bool = False,
    quiet: bool = False,
) -> None:
    """Load ledger files (CSV, TSV, XLSX, Parquet; files or directories) into the warehouse.

    Every file is typed against the canonical contract through the profile;
    rows that fail go to the quarantine with the reason, and rows read =
    loaded + quarantined is printed per file and table. Loading the same file
    again changes nothing; a newer export replaces rows by key; the whole call
    is one transaction. Rows held for a missing reference (a payment before
    its invoice) are retried by every load.

    \b
    Exit codes: 0 loaded, nothing quarantined; 3 loaded, but rows of this call
    are in the quarantine (see meta.quarantine); 1 nothing loaded (bad input);
    2 invalid profile or settings; 75 the warehouse is in use by another process.
    """
    import datetime as dt
    import sys
    from pathlib import Path

    from arinsight.cli._render import load_json, print_json, print_load_results, set_quiet
    from arinsight.ingest import LoadResult, load_sources
    from arinsight.ingest.loader import Released, ignored_files
    from arinsight.ingest.profiles import resolve_profile
    from arinsight.warehouse import Warehouse, resolve_db_path

    prof = resolve_profile(profile)
    day = export_date.date() if isinstance(export_date, dt.datetime) else None
    silent = quiet or as_json

    set_quiet(silent)

    def progress(r: LoadResult) -> None:
        if silent:
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
                line += f"; {r.rows_replaced:,} changed row(s) replaced by key"
        click.echo(line)
        for note in r.notes:
            click.echo(f"    note: {note}")
        sys.stdout.flush()

    released: list[Released] = []

    def release(r: Released) -> None:
        released.append(r)
        if silent:
            return
        name = r.file.rsplit("/", 1)[-1]
        line = (
            f"↻ {name} → {r.table}: {r.rows:,} row(s) held for a missing reference "
            f"since load {r.load_id} now loaded"
        )
        if r.requarantined:
            line += f"; {r.requarantined:,} fail another check and stay quarantined"
        click.echo(line)

    ignored = [] if strict else ignored_files(sources, prof)
    if not silent:
        for path, why in ignored:
            click.echo(f"- {path.name}: not loaded ({why}; --strict refuses this)")

    path = resolve_db_path(db)
    existed = path.exists()
    try:
        with Warehouse.open(db, read_only=False, create=True) as wh:
            results = load_sources(
                wh.con,
                list(sources),
                prof,
                on_file=progress,
                export_date=day,
                strict=strict,
                on_release=release,
            )
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
            # quarantined rows of this call that are still there after the retries
            left = (
                wh.con.execute(
                    "select count(*) from meta.quarantine where list_contains(?, load_id)", [ids]
                ).fetchall()[0][0]
                if ids
                else 0
            )
    except BaseException:
        if not existed:  # a failed first load leaves no empty warehouse behind
            for leftover in (path, Path(f"{path}.wal")):
                leftover.unlink(missing_ok=True)
        raise
    if as_json:
        data = load_json(results, samples)
        data["released"] = [
            {"file": r.file, "table": r.table, "load_id": r.load_id, "rows": r.rows}
            for r in released
        ]
        data["not_loaded"] = [{"file": str(f), "reason": why} for f, why in ignored]
        data["rows_quarantined_left"] = int(left)
        print_json(data)
    else:
        print_load_results(results)
        if samples and not quiet:
            click.echo("first quarantined rows:")
            for file, line, reason in samples:
                where = f"{file.rsplit('/', 1)[-1]} line {line}" if line is not None else file
                click.echo(f"  {where}: {reason}")
    if left:
        if not silent:
            click.echo(
                f"exit code {EXIT_QUARANTINED}: {left:,} row(s) of this load are in the "
                "quarantine (`select * from meta.quarantine`); `arinsight build` refuses to "
                "publish above max_quarantine_pct unless run with --accept-quarantine"
            )
        sys.stdout.flush()
        # SystemExit, not click's Exit: the group runs in non-standalone mode, where
        # click would turn Exit into a return value and the process would exit 0.
        sys.exit(EXIT_QUARANTINED)
