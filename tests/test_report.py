"""``arinsight report`` through the real entry point on a small simulated warehouse.

The rendered HTML must show the figures ``arinsight metrics --json`` prints for
the same month (parsed from both and compared), the PDF must carry them too,
the same month must render the same numbers twice, and bad parameters must
fail with one line that names the fix, before any kernel starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from report_warehouse import arinsight, small_warehouse

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")


class Tables(HTMLParser):
    """Rows of every ``<table class="ai-table ...">``: {css class: {data-key: [cells]}}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.narrative: list[str] = []
        self._table: str | None = None
        self._row: str | None = None
        self._cell: list[str] | None = None
        self._in_narrative = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        css = (a.get("class") or "").split()
        if tag == "table" and "ai-table" in css:
            self._table = next(c for c in css if c != "ai-table")
            self.tables.setdefault(self._table, {})
        elif tag == "tr" and self._table and a.get("data-key") is not None:
            self._row = a["data-key"]
            self.tables[self._table][self._row or ""] = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "p" and "ai-narrative" in css:
            self._in_narrative = True
            self.narrative.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table and self._row is not None:
            self.tables[self._table][self._row].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "p":
            self._in_narrative = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_narrative:
            self.narrative[-1] += data


def parse(html: Path) -> Tables:
    p = Tables()
    p.feed(html.read_text(encoding="utf-8"))
    return p


def number(text: str) -> float:
    """A table cell as the report prints it (en): ``1,234.5`` / ``−0.3`` / ``+7``."""
    return float(text.replace(",", "").replace("−", "-").replace("+", ""))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def rendered(db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The monthly review of the latest month, HTML and (with Chromium) PDF."""
    out = tmp_path_factory.mktemp("reports")
    formats = "html,pdf" if shutil.which("chromium") else "html"
    proc = arinsight("report", "--db", str(db), "--out", str(out), "--format", formats, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    paths = json.loads(proc.stdout)
    metrics = arinsight("metrics", "--db", str(db), "--json")
    assert metrics.returncode == 0, metrics.stderr
    return {"paths": paths, "metrics": json.loads(metrics.stdout), "out": out}


def test_writes_notebook_html_and_pdf_under_the_month(rendered: dict[str, Any]) -> None:
    month = rendered["metrics"]["as_of"][:7]  # the latest month end, as the default month
    folder = rendered["out"] / month
    assert Path(rendered["paths"]["notebook"]) == folder / "monthly_review.ipynb"
    assert Path(rendered["paths"]["html"]) == folder / "monthly_review.html"
    assert (folder / "monthly_review.ipynb").stat().st_size > 0


def test_html_shows_the_metrics_figures(rendered: dict[str, Any]) -> None:
    seg = rendered["metrics"]["segments"]["all"]
    page = parse(Path(rendered["paths"]["html"]))
    kpi = page.tables["ai-kpi"]
    # Column 1 is this month, printed with one decimal (days, %) or whole (EUR).
    assert number(kpi["dso_days"][1]) == round(seg["dso_days"], 1)
    assert number(kpi["cei_pct"][1]) == round(seg["cei_pct"], 1)
    assert number(kpi["countback_dso_days"][1]) == round(seg["countback_dso_days"], 1)
    assert number(kpi["best_possible_dso_days"][1]) == round(seg["best_possible_dso_days"], 1)
    assert number(kpi["ar_amount"][1]) == round(seg["ar_amount"])
    # The change vs the previous month is the mart's dso_change_days.
    assert number(kpi["dso_days"][2]) == round(seg["dso_change_days"], 1)
    aging = page.tables["ai-aging"]
    for bucket in BUCKETS:
        assert number(aging[bucket][2]) == round(seg["aging_pct"][bucket], 1), bucket
    # Bucket amounts add up to the AR printed in the total row (and in the KPI table).
    assert sum(number(aging[b][1]) for b in BUCKETS) == pytest.approx(
        number(aging["total"][1]), abs=len(BUCKETS)
    )
    assert number(aging["total"][1]) == round(seg["ar_amount"])


def test_narrative_and_attribution_agree_with_the_dso_change(rendered: dict[str, Any]) -> None:
    seg = rendered["metrics"]["segments"]["all"]
    page = parse(Path(rendered["paths"]["html"]))
    change = seg["dso_change_days"]
    verb = "rose" if change > 0 else "fell"
    assert page.narrative[0].startswith(f"DSO {verb} {abs(change):.1f} days")
    attr = page.tables["ai-attr"]
    parts = [number(cells[2]) for key, cells in attr.items() if key != "change"]
    # The printed contributions (each rounded to 0.1) add up to the change.
    assert sum(parts) == pytest.approx(change, abs=0.05 * len(parts) + 0.05)
    assert number(attr["change"][2]) == round(change, 1)


def test_html_is_self_contained_and_hides_code(rendered: dict[str, Any]) -> None:
    text = Path(rendered["paths"]["html"]).read_text(encoding="utf-8")
    assert "review.start(" not in text  # code cells are not exported
    assert "Plotly.newPlot" in text or "Plotly.react" in text  # interactive charts
    # plotly.js is inlined (its bundle's banner), and no script or style is fetched.
    assert "plotly.js v" in text
    assert re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="https?://', text) == []
    assert text.count("plotly-graph-div") >= 8


def test_pdf_has_pages_and_the_figures(rendered: dict[str, Any]) -> None:
    if not shutil.which("chromium") or not shutil.which("pdftotext"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: chromium and poppler-utils must be installed for the PDF")
        pytest.skip("no chromium / pdftotext here")
    pdf = Path(rendered["paths"]["pdf"])
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(next(ln.split()[-1] for ln in info.stdout.splitlines() if ln.startswith("Pages")))
    assert pages >= 6  # one page per section at least
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    seg = rendered["metrics"]["segments"]["all"]
    for value in (seg["dso_days"], seg["cei_pct"], seg["aging_pct"]["not_due"]):
        assert f"{value:.1f}" in text
    assert f"{round(seg['ar_amount']):,}" in text
    # The charts were drawn into the PDF (their titles and axis labels are text).
    from arinsight.viz.theme import t

    assert t("dso_trend_title", "en") in text and t("survival_title", "en") in text
    assert f"Page 1 / {pages}" in text and f"Page {pages} / {pages}" in text
    # The first page carries the summary: narrative and KPI table.
    first = text.split("\f")[0]
    assert "Summary" in first and "DSO (days)" in first


def test_same_month_twice_gives_the_same_numbers(
    rendered: dict[str, Any], db: Path, tmp_path: Path
) -> None:
    month = rendered["metrics"]["as_of"][:7]
    proc = arinsight(
        "report",
        "--db",
        str(db),
        "--month",
        month,
        "--out",
        str(tmp_path),
        "--format",
        "html",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = parse(tmp_path / month / "monthly_review.html")
    first = parse(Path(rendered["paths"]["html"]))
    assert again.tables == first.tables
    assert again.narrative == first.narrative


def test_german_report_uses_decimal_commas(db: Path, tmp_path: Path) -> None:
    metrics = json.loads(arinsight("metrics", "--db", str(db), "--json").stdout)
    dso = metrics["segments"]["smb"]["dso_days"]
    proc = arinsight(
        "report",
        "--db",
        str(db),
        "--out",
        str(tmp_path),
        "--format",
        "html",
        "--lang",
        "de",
        "--segment",
        "smb",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = parse(tmp_path / metrics["as_of"][:7] / "monthly_review.html")
    assert page.tables["ai-kpi"]["dso_days"][1] == f"{dso:.1f}".replace(".", ",")
    assert page.narrative[0].startswith("Die DSO ")


# --- bad parameters: one line, the fix named, non-zero, no kernel ------------------------


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "cells" not in proc.stderr  # no progress bar: no kernel was started
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_month_outside_the_data(db: Path, tmp_path: Path) -> None:
    msg = one_line_error(
        arinsight("report", "--db", str(db), "--month", "2031-01", "--out", str(tmp_path))
    )
    assert msg.startswith("error: no data for 2031-01:")
    assert "pick --month in that range" in msg


def test_month_not_a_month(db: Path, tmp_path: Path) -> None:
    msg = one_line_error(
        arinsight("report", "--db", str(db), "--month", "2025-13", "--out", str(tmp_path))
    )
    assert msg == "error: --month '2025-13' is not a month: write it as YYYY-MM, e.g. 2025-06"


def test_unknown_notebook(db: Path, tmp_path: Path) -> None:
    msg = one_line_error(
        arinsight("report", "--db", str(db), "--notebook", "quarterly", "--out", str(tmp_path))
    )
    assert msg == (
        "error: no report notebook 'quarterly': choose --notebook from "
        "dunning_effectiveness, explore, monthly_review"
    )


def test_unknown_segment(db: Path, tmp_path: Path) -> None:
    msg = one_line_error(
        arinsight("report", "--db", str(db), "--segment", "retail", "--out", str(tmp_path))
    )
    assert msg.startswith("error: unknown --segment 'retail': the warehouse has ")


def test_missing_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    msg = one_line_error(arinsight("report", "--db", str(db), "--out", str(tmp_path)))
    assert msg == (
        f"error: no warehouse at {db} — run `arinsight load` and `arinsight build` "
        "(or `arinsight demo`) first, or pass --db"
    )


def test_empty_warehouse(tmp_path: Path) -> None:
    from arinsight.warehouse import Warehouse

    db = tmp_path / "empty.duckdb"
    Warehouse.open(db, read_only=False, create=True).close()
    msg = one_line_error(arinsight("report", "--db", str(db), "--out", str(tmp_path)))
    assert msg == f"error: {db} has no marts yet — run `arinsight build --db {db}` first"


def test_month_with_no_data_for_the_segment(ledger_warehouse: Any, tmp_path: Path) -> None:
    # Segment "late" has its only invoice in March: at the January month end it has
    # no receivables and no sales in the 90-day window, while "early" has both.
    wh = ledger_warehouse(
        customers=[
            {"customer_id": "C1", "segment": "early"},
            {"customer_id": "C2", "segment": "late"},
        ],
        invoices=[
            {
                "invoice_id": "I1",
                "customer_id": "C1",
                "issue_date": "2024-01-10",
                "due_date": "2024-02-09",
                "amount": "100.00",
            },
            {
                "invoice_id": "I2",
                "customer_id": "C2",
                "issue_date": "2024-03-05",
                "due_date": "2024-04-04",
                "amount": "50.00",
            },
        ],
        payments=[
            {"payment_id": "P1", "invoice_id": "I2", "paid_at": "2024-04-30", "amount": "50.00"},
        ],
    )
    db = wh.path
    wh.close()
    msg = one_line_error(
        arinsight(
            "report",
            "--db",
            str(db),
            "--month",
            "2024-01",
            "--segment",
            "late",
            "--out",
            str(tmp_path),
        )
    )
    assert msg == (
        "error: 2024-01 has no data for segment late (no receivables and no sales in the "
        "DSO window) — pick a later --month"
    )


def test_pdf_asked_for_without_chromium(db: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ARINSIGHT_CHROMIUM": str(tmp_path / "no-chromium")}
    proc = arinsight(
        "report", "--db", str(db), "--format", "pdf", "--out", str(tmp_path), "--quiet", env=env
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: no Chromium found for the PDF — install it (apt-get install chromium) "
        "or set ARINSIGHT_CHROMIUM"
    )


def test_failed_cell_is_one_line() -> None:
    from arinsight.reports.runner import execution_message

    target = Path("reports/2025-01/monthly_review.ipynb")
    assert execution_message("ArinsightError", "no data for 2025-01: ...\nmore", 3, target) == (
        "no data for 2025-01: ..."
    )
    assert execution_message("KeyError", "'dso_days'", 7, target) == (
        "the report notebook failed in cell 7: KeyError: 'dso_days' "
        "(executed notebook: reports/2025-01/monthly_review.ipynb)"
    )
