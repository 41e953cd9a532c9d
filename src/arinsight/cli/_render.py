"""Terminal output of the commands (rich tables). Imported only inside commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from arinsight.ingest import LoadResult
    from arinsight.models import BuildResult

console = Console()


def print_load_results(results: list[LoadResult]) -> None:
    t = Table(title="load", title_justify="left")
    for col in ("file", "table", "read", "loaded", "quarantined", "replaced", "s"):
        t.add_column(col, justify="left" if col in ("file", "table") else "right")
    for r in results:
        if r.skipped:
            t.add_row(
                r.file,
                r.table,
                "-",
                "-",
                "-",
                "-",
                f"{r.seconds:.2f}",
                style="dim",
                end_section=False,
            )
            continue
        q = f"[red]{r.rows_quarantined:,}[/red]" if r.rows_quarantined else "0"
        t.add_row(
            r.file,
            r.table,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            q,
            f"{r.rows_replaced:,}",
            f"{r.seconds:.2f}",
        )
    console.print(t)
    skipped = [r for r in results if r.skipped]
    if skipped:
        console.print(
            f"{len(skipped)} file(s) unchanged since an earlier load (same sha256): skipped."
        )
    if any(r.rows_quarantined for r in results):
        console.print(
            "quarantined rows and their reasons: `select * from meta.quarantine` in the warehouse."
        )


def print_build_result(result: BuildResult) -> None:
    n_rows = sum(n for name, n, _ in result.models if name.startswith(("fct_", "dim_")))
    console.print(
        f"built {len(result.models)} models ({n_rows:,} mart rows), "
        f"{len(result.asserts)} asserts passed in {result.seconds:.2f} s"
    )


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_headline(data: dict[str, Any]) -> None:
    cur = data["reporting_currency"]
    t = Table(
        title=f"headline figures at {data['as_of']} (DSO window "
        f"{data['dso_window_days']} d, {cur})",
        title_justify="left",
    )
    cols = [
        ("segment", "segment"),
        ("dso_days", "DSO"),
        ("dso_change_days", "Δ vs prev."),
        ("best_possible_dso_days", "best DSO"),
        ("add_days", "ADD"),
        ("countback_dso_days", "countback"),
        ("cei_pct", "CEI %"),
        ("ar_amount", "AR"),
        ("overdue_pct", "overdue %"),
        ("recovery_90d_pct", "rec. 90d"),
    ]
    for _, label in cols:
        t.add_column(label, justify="left" if label == "segment" else "right")
    for seg, vals in data["segments"].items():
        t.add_row(seg, *[_fmt(vals.get(k), 0 if k == "ar_amount" else 1) for k, _ in cols[1:]])
    for warning in data.get("warnings", []):
        console.print(f"[bold red]warning:[/bold red] {warning}", highlight=False, soft_wrap=True)
    console.print(t)
    if data.get("currency_source", "").startswith("assumed"):
        console.print(f"currency {cur}: {data['currency_source']}", highlight=False, soft_wrap=True)
