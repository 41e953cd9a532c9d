"""Terminal output of the commands (rich tables, JSON). Imported only inside commands.

Tables never cut a number: figure columns get exactly the width of their
widest value, text columns (file paths) wrap, and when the terminal (or the
80 columns of a pipe) is too narrow for every figure, the lowest-priority
columns are left out and a note says which ones and that ``--json`` has them all.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from arinsight.ingest import LoadResult
    from arinsight.models import BuildResult
    from arinsight.quality.runner import CheckResult

console = Console()


def set_quiet(quiet: bool) -> None:
    """``--quiet``: the console prints nothing (errors go to stderr through ``main``)."""
    console.quiet = quiet


def say(text: str) -> None:
    """One message line, never wrapped (so it can be searched and copied); rich markup allowed."""
    console.print(text, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """JSON on stdout (printed even with ``--quiet``: it is what was asked for)."""
    import click

    click.echo(json.dumps(data, indent=2, default=str))


@dataclass(frozen=True)
class Col:
    """A table column.

    Attributes:
        header: the column title (may wrap between words).
        figure: a number: never wrapped or cut; right-aligned.
        priority: lower is more important; the highest numbers are dropped first
            when the table does not fit (0 is never dropped).
        min_width: a text column's narrowest width (it wraps below its natural width).
    """

    header: str
    figure: bool = True
    priority: int = 0
    min_width: int = 8


def _cell_len(text: str) -> int:
    from rich.text import Text

    return Text.from_markup(text).cell_len


def _header_width(header: str) -> int:
    return max(_cell_len(word) for word in header.split())


def fit_table(
    title: str,
    cols: list[Col],
    rows: list[list[str]],
    *,
    width: int | None = None,
    row_styles: list[str] | None = None,
) -> tuple[Table, list[str]]:
    """A rich table that fits ``width`` without cutting a figure.

    Returns:
        (table, headers of the columns left out to fit).
    """
    width = console.width if width is None else width
    keep = list(range(len(cols)))

    def needed(idx: list[int]) -> int:
        total = 1  # left border
        for i in idx:
            c = cols[i]
            natural = max([_header_width(c.header), *(_cell_len(r[i]) for r in rows)])
            total += (natural if c.figure else min(natural, c.min_width)) + 3  # pad + border
        return total

    while needed(keep) > width:
        droppable = [i for i in keep if cols[i].priority > 0]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (cols[i].priority, i)))
    t = Table(title=title, title_justify="left")
    for i in keep:
        c = cols[i]
        if c.figure:
            w = max([_header_width(c.header), *(_cell_len(r[i]) for r in rows)])
            t.add_column(c.header, justify="right", width=w, no_wrap=False, overflow="fold")
        else:
            t.add_column(c.header, justify="left", overflow="fold", min_width=c.min_width)
    for n, r in enumerate(rows):
        t.add_row(*(r[i] for i in keep), style=row_styles[n] if row_styles else None)
    dropped = [cols[i].header for i in range(len(cols)) if i not in keep]
    return t, dropped


def print_table(title: str, cols: list[Col], rows: list[list[str]], **kw: Any) -> None:
    """Print a fitted table and, when columns were left out, a note naming them."""
    table, dropped = fit_table(title, cols, rows, **kw)
    console.print(table)
    if dropped:
        say(
            f"note: left out to fit {console.width} columns: {', '.join(dropped)} "
            "(widen the terminal or use --json for every figure)"
        )


# ----------------------------------------------------------------------------- load


def load_json(results: list[LoadResult], samples: list[tuple[Any, ...]]) -> dict[str, Any]:
    """``arinsight load --json``: one object per file and table, and the first quarantined rows."""
    return {
        "files": [asdict(r) for r in results],
        "first_quarantined_rows": [
            {"file": f, "line_number": line, "reason": reason} for f, line, reason in samples
        ],
    }


def print_load_results(results: list[LoadResult]) -> None:
    cols = [
        Col("file", figure=False, min_width=12),
        Col("table", figure=False, min_width=6),
        Col("read"),
        Col("loaded"),
        Col("quarantined"),
        Col("replaced", priority=2),
        Col("s", priority=1),
    ]
    rows, styles = [], []
    for r in results:
        if r.skipped:
            rows.append([r.file, r.table, "-", "-", "-", "-", f"{r.seconds:.2f}"])
            styles.append("dim")
            continue
        q = f"[red]{r.rows_quarantined:,}[/red]" if r.rows_quarantined else "0"
        rows.append(
            [
                r.file,
                r.table,
                f"{r.rows_read:,}",
                f"{r.rows_loaded:,}",
                q,
                f"{r.rows_replaced:,}",
                f"{r.seconds:.2f}",
            ]
        )
        styles.append("")
    print_table("load", cols, rows, row_styles=styles)
    skipped = [r for r in results if r.skipped]
    if skipped:
        say(f"{len(skipped)} file(s) unchanged since an earlier load (same sha256): skipped.")
    if any(r.rows_quarantined for r in results):
        say("quarantined rows and their reasons: `select * from meta.quarantine` in the warehouse.")


# ---------------------------------------------------------------------------- build


def build_json(result: BuildResult) -> dict[str, Any]:
    """``arinsight build --json``: rows and seconds per model, asserts, total seconds."""
    return {
        "models": [{"model": m, "rows": n, "seconds": s} for m, n, s in result.models],
        "asserts": list(result.asserts),
        "seconds": result.seconds,
    }


def print_build_result(result: BuildResult) -> None:
    n_rows = sum(n for name, n, _ in result.models if name.startswith(("fct_", "dim_")))
    say(
        f"built {len(result.models)} models ({n_rows:,} mart rows), "
        f"{len(result.asserts)} asserts passed in {result.seconds:.2f} s"
    )


# ---------------------------------------------------------------------------- check


def check_json(result: CheckResult) -> dict[str, Any]:
    """``arinsight check --json``: every suite and rule with exact bad-row counts."""
    return {
        "success": result.success,
        "seconds": result.seconds,
        "report": str(result.docs_index) if result.docs_index else None,
        "suites": [
            {
                "suite": s.suite.name,
                "relation": s.suite.relation,
                "layer": s.suite.layer,
                "status": s.status,
                "rows": s.rows,
                "validated_rows": s.validated_rows,
                "note": s.note or None,
                "rules": [
                    {
                        "rule": r.rule.doc,
                        "kind": r.rule.kind,
                        "success": r.success,
                        "bad_rows": r.bad_rows,
                        "examples": r.examples,
                    }
                    for r in s.rules
                ],
            }
            for s in result.suites
        ],
    }


def print_check_result(result: CheckResult) -> None:
    """Summary table per suite, then every failed expectation with its exact bad-row count."""
    cols = [
        Col("suite", figure=False, min_width=14),
        Col("rows"),
        Col("validated", priority=1),
        Col("expectations", priority=2),
        Col("failed"),
        Col("status", figure=False, min_width=7),
    ]
    rows, styles = [], []
    for s in result.suites:
        if s.status == "skipped":
            rows.append([s.suite.name, "–", "–", str(len(s.suite.rules)), "–", "skipped"])
            styles.append("dim")
            continue
        status = "[green]passed[/green]" if s.status == "passed" else "[red]FAILED[/red]"
        rows.append(
            [
                s.suite.name,
                f"{s.rows:,}",
                f"{s.validated_rows:,}",
                str(len(s.rules)),
                str(len(s.failed)),
                status,
            ]
        )
        styles.append("")
    print_table("check", cols, rows, row_styles=styles)
    for s in result.suites:
        if s.status == "skipped":
            say(f"note: {s.suite.name} skipped — {s.note}")
    for s in result.suites:
        for r in s.failed:
            eg = f"; e.g. {', '.join(map(str, r.examples))}" if r.examples else ""
            say(f"[red]✗[/red] {s.suite.name}: {r.rule.doc} — {r.bad_rows:,} bad row(s){eg}")
    verdict = (
        "[green]all expectations met[/green]"
        if result.success
        else f"[red]{result.n_failed} expectation(s) failed[/red]"
    )
    docs = f"; report: {result.docs_index}" if result.docs_index else ""
    say(f"{verdict} in {result.seconds:.1f} s{docs}")


# ------------------------------------------------------------------------- headline


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


#: (key, header, priority): what is dropped first on a narrow terminal is last here.
HEADLINE_COLUMNS = [
    ("segment", "segment", 0),
    ("dso_days", "DSO", 0),
    ("ar_amount", "AR", 0),
    ("overdue_pct", "overdue %", 1),
    ("best_possible_dso_days", "best DSO", 2),
    ("add_days", "ADD", 3),
    ("cei_pct", "CEI %", 4),
    ("dso_change_days", "Δ vs prev.", 5),
    ("recovery_90d_pct", "rec. 90d", 6),
    ("countback_dso_days", "countback", 7),
]
#: The order the columns appear in (when they fit).
HEADLINE_ORDER = [
    "segment",
    "dso_days",
    "dso_change_days",
    "best_possible_dso_days",
    "add_days",
    "countback_dso_days",
    "cei_pct",
    "ar_amount",
    "overdue_pct",
    "recovery_90d_pct",
]


def print_headline(data: dict[str, Any]) -> None:
    spec = {k: (label, prio) for k, label, prio in HEADLINE_COLUMNS}
    cols = [
        Col(spec[k][0], figure=k != "segment", priority=spec[k][1], min_width=10)
        for k in HEADLINE_ORDER
    ]
    rows = [
        [
            seg,
            *[_fmt(vals.get(k), 0 if k == "ar_amount" else 1) for k in HEADLINE_ORDER[1:]],
        ]
        for seg, vals in data["segments"].items()
    ]
    # figures resting on accepted quarantine say so, above the figures
    for warning in data.get("warnings", []):
        say(f"[bold red]warning:[/bold red] {warning}")
    print_table(
        f"headline figures at {data['as_of']} (DSO window "
        f"{data['dso_window_days']} d, {data['reporting_currency']})",
        cols,
        rows,
    )
    if str(data.get("currency_source", "")).startswith("assumed"):
        say(f"currency {data['reporting_currency']}: {data['currency_source']}")
