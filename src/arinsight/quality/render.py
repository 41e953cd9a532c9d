"""Terminal summary of ``arinsight check`` (rich; imported only inside the command)."""

from __future__ import annotations

from rich.table import Table

from arinsight.quality.runner import CheckResult


def print_check_result(result: CheckResult) -> None:
    """Summary table per suite, then every failed expectation with its exact bad-row count."""
    from arinsight.cli._render import console

    t = Table(title="check", title_justify="left")
    for col in ("suite", "rows", "validated", "expectations", "failed", "status"):
        t.add_column(col, justify="left" if col in ("suite", "status") else "right")
    for s in result.suites:
        if s.status == "skipped":
            t.add_row(s.suite.name, "–", "–", str(len(s.suite.rules)), "–", "skipped", style="dim")
            continue
        status = "[green]passed[/green]" if s.status == "passed" else "[red]FAILED[/red]"
        t.add_row(
            s.suite.name,
            f"{s.rows:,}",
            f"{s.validated_rows:,}",
            str(len(s.rules)),
            str(len(s.failed)),
            status,
        )
    console.print(t)
    for s in result.suites:
        if s.status == "skipped":
            console.print(f"note: {s.suite.name} skipped — {s.note}")
    for s in result.suites:
        for r in s.failed:
            eg = f"; e.g. {', '.join(map(str, r.examples))}" if r.examples else ""
            console.print(
                f"[red]✗[/red] {s.suite.name}: {r.rule.doc} — {r.bad_rows:,} bad row(s){eg}"
            )
    n_fail = sum(len(s.failed) for s in result.suites)
    verdict = (
        "[green]all expectations met[/green]"
        if result.success
        else f"[red]{n_fail} expectation(s) failed[/red]"
    )
    docs = f"; Data Docs: {result.docs_index}" if result.docs_index else ""
    console.print(f"{verdict} in {result.seconds:.1f} s{docs}")
