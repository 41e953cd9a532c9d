"""The quality report: one self-contained HTML page rendered from a :class:`CheckResult`.

great-expectations validates; this page reports. It needs nothing from the
network (inline CSS, no scripts, no links out), names every relation it
checked, and gives row counts and bad-row counts over the whole relation
(DuckDB's exact counts), with the size of the sample great-expectations
validated shown separately. Library code: it returns or writes text and never
prints.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arinsight.quality.runner import CheckResult, SuiteResult

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #176f2c; } .failed { color: #b00020; font-weight: bold; }
.skipped { color: #777; } .verdict { font-size: 1.1rem; }
code { background: #f6f6f6; padding: 0 .2rem; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _status(status: str) -> str:
    label = {"passed": "passed", "failed": "FAILED", "skipped": "skipped"}.get(status, status)
    return f'<span class="{_e(status)}">{_e(label)}</span>'


def _suite_section(s: SuiteResult) -> str:
    head = (
        f'<h2 id="{_e(s.suite.name)}">{_e(s.suite.name)} {_status(s.status)}</h2>'
        f"<p>relation <code>{_e(s.suite.relation)}</code>"
        + (f" — {_e(s.suite.doc)}" if s.suite.doc else "")
        + "</p>"
    )
    if s.status == "skipped":
        return head + f"<p class=skipped>skipped: {_e(s.note)}</p>"
    rows = []
    for r in s.rules:
        examples = ", ".join(_e(x) for x in r.examples) if r.examples and not r.success else ""
        rows.append(
            f"<tr><td>{_e(r.rule.doc)}</td><td>{_status('passed' if r.success else 'failed')}"
            f'</td><td class="n">{r.bad_rows:,}</td><td>{examples}</td></tr>'
        )
    return (
        head + f"<p>{s.rows:,} rows; great-expectations validated {s.validated_rows:,} of them "
        f"({s.seconds:.2f} s).</p>"
        "<table><tr><th>expectation</th><th>status</th><th>bad rows (whole relation)</th>"
        "<th>examples</th></tr>" + "".join(rows) + "</table>"
    )


def render_report(result: CheckResult, *, source: str = "", sample_rows: int | None = None) -> str:
    """The report as one HTML document (no external resources).

    Args:
        result: what :func:`arinsight.quality.runner.run_check` returned.
        source: the warehouse the checks ran on (shown in the heading).
        sample_rows: the sample size great-expectations validated per relation.
    """
    verdict = (
        '<p class="verdict passed">all expectations met</p>'
        if result.success
        else f'<p class="verdict failed">{result.n_failed} expectation(s) failed</p>'
    )
    summary = []
    for s in result.suites:
        skipped = s.status == "skipped"
        summary.append(
            f'<tr><td><a href="#{_e(s.suite.name)}">{_e(s.suite.name)}</a></td>'
            f"<td>{_e(s.suite.relation)}</td>"
            f'<td class="n">{"–" if skipped else f"{s.rows:,}"}</td>'
            f'<td class="n">{"–" if skipped else f"{s.validated_rows:,}"}</td>'
            f'<td class="n">{len(s.suite.rules)}</td>'
            f'<td class="n">{"–" if skipped else len(s.failed)}</td>'
            f"<td>{_status(s.status)}</td></tr>"
        )
    sample = f"up to {sample_rows:,} rows" if sample_rows else "a sample"
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>arinsight quality report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>arinsight quality report</h1>"
        f"<p>{_e(source) + ', ' if source else ''}checked {_e(when)} "
        f"in {result.seconds:.1f} s.</p>"
        + verdict
        + "<table><tr><th>suite</th><th>relation</th><th>rows</th><th>validated</th>"
        "<th>expectations</th><th>failed</th><th>status</th></tr>" + "".join(summary) + "</table>"
        "<p>rows and bad rows are counted by DuckDB over the whole relation; "
        f"great-expectations validated {sample} of each relation (drawn reproducibly) "
        "plus offending rows, which is where the examples come from.</p>"
        + "".join(_suite_section(s) for s in result.suites)
        + "</body></html>\n"
    )


def write_report(
    result: CheckResult, path: Path, *, source: str = "", sample_rows: int | None = None
) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8) and return ``path``."""
    path.write_text(render_report(result, source=source, sample_rows=sample_rows), encoding="utf-8")
    return path
