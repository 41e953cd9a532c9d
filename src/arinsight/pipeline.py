"""Steps the CLI chains: build with the quarantine gate, and the demo."""

from __future__ import annotations

from pathlib import Path

from arinsight.errors import ArinsightError
from arinsight.models import BuildResult


def quarantine_breaches(con: object, max_pct: float) -> list[tuple[str, str, float]]:
    """Latest loads (per file and table) whose quarantined share exceeds ``max_pct``.

    Only the latest load of each file counts: reloading a fixed file (or the
    same file with a repaired profile) clears the gate.
    """
    rows = con.execute(  # type: ignore[attr-defined]
        "select file, table_name, 100.0 * rows_quarantined / rows_read as pct "
        "from meta.loads where rows_read > 0 "
        "qualify load_id = max(load_id) over (partition by file, table_name) "
        "and 100.0 * rows_quarantined / rows_read > ? "
        "order by load_id",
        [max_pct],
    ).fetchall()
    return [(str(f), str(t), float(p)) for f, t, p in rows]


def run_build(
    db: str | Path, *, accept_quarantine: bool = False, on_model: object = None
) -> BuildResult:
    """Build the marts of the warehouse at ``db``.

    Raises:
        WarehouseMissing: no warehouse yet.
        ArinsightError: a load quarantined too much (without ``accept_quarantine``).
        BuildError: a model, key check or assert failed (previous build kept).
    """
    from arinsight.config import load_settings
    from arinsight.models import build
    from arinsight.warehouse import Warehouse

    settings = load_settings()
    with Warehouse.open(db, read_only=False) as wh:
        breaches = quarantine_breaches(wh.con, settings.max_quarantine_pct)
        if breaches and not accept_quarantine:
            listed = "; ".join(f"{f} ({t}): {p:.1f} %" for f, t, p in breaches)
            raise ArinsightError(
                f"not publishing marts: quarantine above {settings.max_quarantine_pct} % in "
                f"{listed}. Inspect meta.quarantine, fix the source or profile, or run "
                "`arinsight build --accept-quarantine`"
            )
        return build(wh.con, settings, on_model=on_model)


def _has_ledger(data_dir: Path) -> bool:
    return any((data_dir / f"invoices.{ext}").exists() for ext in ("csv", "parquet"))


def run_demo(
    db: Path,
    data_dir: Path,
    *,
    seed: int = 0,
    scale: float = 1.0,
    serve: bool = True,
    report: bool = True,
) -> None:
    """Simulate the default world if ``data_dir`` has no ledger, load, build, print."""
    from arinsight.cli._render import (
        console,
        print_build_result,
        print_headline,
        print_load_results,
    )
    from arinsight.ingest import load_sources
    from arinsight.metrics import headline
    from arinsight.warehouse import Warehouse

    if not _has_ledger(data_dir):
        from arinsight.cli._progress import run_simulation

        console.print(f"[bold]1/4 simulate[/bold] the default world → {data_dir}")
        summary = run_simulation(None, None, None, seed, scale, data_dir, ("csv", "parquet"))
        rows = summary["rows"]
        console.print(
            f"    {rows.get('customers', 0):,} customers, "
            f"{rows.get('invoices', 0):,} invoices, "
            f"{rows.get('dunning_events', 0):,} dunning events "
            f"in {summary['seconds']:.1f} s"
        )
    else:
        console.print(f"[bold]1/4 simulate[/bold] skipped: {data_dir} already holds a ledger")
    console.print(f"[bold]2/4 load[/bold] {data_dir} → {db}")
    with Warehouse.open(db, read_only=False, create=True) as wh:
        results = load_sources(wh.con, [data_dir], "canonical")
    print_load_results(results)
    console.print("[bold]3/4 build[/bold] sql/ → marts")
    print_build_result(run_build(db))
    console.print("[bold]4/4 headline figures[/bold]")
    with Warehouse.open(db) as wh:
        print_headline(headline(wh))
    # --- the monthly review of the last complete month (arinsight report) ---
    if report:
        from arinsight.reports.runner import render_demo_report

        console.print("[bold]report[/bold] the last complete month → reports/")
        for path in render_demo_report(db):
            console.print(f"    {path}")
    if serve:
        from arinsight.dashboard.app import serve as serve_dashboard

        console.print("[bold]dashboard[/bold] open the URL below (Ctrl+C stops it)")
        serve_dashboard(db)
