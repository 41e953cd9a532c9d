"""Render a report notebook: papermill → ``.ipynb`` → ``.html`` (→ ``.pdf``).

``render`` executes a template from the notebooks folder with checked
parameters (:func:`arinsight.reports.params.check_params`) and writes
``OUT/YYYY-MM/<name>.ipynb``, ``<name>.html`` (code hidden, interactive charts,
plotly.js inlined so it opens offline) and, with Chromium, ``<name>.pdf``
(headless print of the HTML: one section per page, page numbers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arinsight.errors import ArinsightError
from arinsight.reports.params import ReportParams

FORMATS = ("html", "pdf")
#: ``<script src="http(s)://...">`` tags (CDN scripts) in exported HTML.
REMOTE_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', re.IGNORECASE)
#: Chromium flags that work offline, as root, in a container (RECIPES.md).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-pdf-header-footer",
    "--virtual-time-budget=20000",
    "--run-all-compositor-stages-before-draw",
    # The charts lay out at the window's width: A4 less the margins, so that
    # nothing is cut at the right edge of the page.
    "--window-size=700,1000",
)

#: Print layout: A4, a page per section, page numbers in the footer, no chart toolbar.
PRINT_CSS = """<style>
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-right { content: "{page} " counter(page) " / " counter(pages);
                  font: 9pt sans-serif; color: #555; } }
@media print {
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .modebar, .modebar-container { display: none !important; }
  .jp-OutputArea-output, .js-plotly-plot { break-inside: avoid; }
  /* wide tables: no scroll bar on paper */
  .jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow: visible !important; }
}
</style>"""


def notebooks_dir() -> Path:
    """The report templates: ``notebooks/`` in a checkout, else the packaged copy."""
    here = Path(__file__).resolve()
    repo = here.parents[3] / "notebooks"
    if (repo / "monthly_review.ipynb").is_file():
        return repo
    return here.parents[1] / "_notebooks"


def notebook_names() -> list[str]:
    """Names of the shipped templates (file stems)."""
    return sorted(p.stem for p in notebooks_dir().glob("*.ipynb"))


def find_chromium() -> str | None:
    """Chromium for the PDF: ``$ARINSIGHT_CHROMIUM``, else ``chromium`` on PATH."""
    env = os.environ.get("ARINSIGHT_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class RenderResult:
    """Paths written by one render, and what was skipped and why."""

    notebook: Path
    html: Path | None = None
    pdf: Path | None = None
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def paths(self) -> list[Path]:
        return [p for p in (self.notebook, self.html, self.pdf) if p is not None]


def render(
    params: ReportParams,
    notebook: str = "monthly_review",
    formats: Sequence[str] = FORMATS,
    out: str | Path = "reports",
    *,
    pdf_required: bool = False,
    progress: bool = True,
) -> RenderResult:
    """Execute ``notebook`` for ``params`` and export it.

    Args:
        params: checked parameters (month, warehouse, segment, language).
        notebook: template name (a file stem in :func:`notebooks_dir`).
        formats: any of ``html``, ``pdf`` (the ``.ipynb`` is always written).
        out: base directory; files go to ``out/YYYY-MM/``.
        pdf_required: fail instead of skipping the PDF when Chromium is missing.
        progress: show a progress bar over the notebook's cells.

    Raises:
        ArinsightError: unknown notebook or format, a cell failed (the message
            names the cell and the error), Chromium failed or is missing while
            required.
    """
    import time

    started = time.perf_counter()
    template = notebooks_dir() / f"{notebook}.ipynb"
    if not template.is_file():
        raise ArinsightError(
            f"no report notebook {notebook!r}: choose --notebook from "
            f"{', '.join(notebook_names()) or '(none found in ' + str(notebooks_dir()) + ')'}"
        )
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ArinsightError(
            f"--format {','.join(bad)} is not supported: use html, pdf or html,pdf"
        )
    chromium = find_chromium() if "pdf" in formats else None
    no_chromium = (
        "no Chromium found for the PDF — install it (apt-get install chromium) "
        "or set ARINSIGHT_CHROMIUM"
    )
    if "pdf" in formats and chromium is None and pdf_required:
        raise ArinsightError(no_chromium)
    folder = Path(out) / params.month
    folder.mkdir(parents=True, exist_ok=True)
    result = RenderResult(notebook=folder / f"{notebook}.ipynb")
    execute(template, result.notebook, params, progress=progress)
    if "html" in formats or "pdf" in formats:
        html_path = folder / f"{notebook}.html"
        export_html(result.notebook, html_path)
        if "html" in formats:
            result.html = html_path
        if "pdf" in formats:
            if chromium is None:
                result.skipped.append(no_chromium)
            else:
                result.pdf = folder / f"{notebook}.pdf"
                print_pdf(html_path, result.pdf, chromium)
        if "html" not in formats:
            html_path.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result


def execute(template: Path, target: Path, params: ReportParams, *, progress: bool = True) -> None:
    """Run ``template`` with papermill into ``target``.

    Raises:
        ArinsightError: a cell raised (the message carries the kernel's error
            in one line and where the executed notebook is).
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    env_db = os.environ.get("ARINSIGHT_DB")
    os.environ["ARINSIGHT_DB"] = str(params.db)
    # The kernel inherits file descriptor 2 and logs start-up warnings and its
    # shutdown there; send that to a scratch file and keep only the progress
    # bar (on a duplicate of the real stderr) in the terminal.
    sys.stderr.flush()
    saved = os.dup(2)
    terminal = os.fdopen(os.dup(saved), "w", encoding="utf-8", errors="replace")
    try:
        with tempfile.TemporaryFile() as kernel_log:
            os.dup2(kernel_log.fileno(), 2)
            pm.execute_notebook(
                str(template),
                str(target),
                parameters=params.as_papermill(),
                kernel_name="python3",
                progress_bar=(
                    {"desc": f"{template.stem} cells", "unit": "cell", "file": terminal}
                    if progress
                    else False
                ),
                log_output=False,
                request_save_on_cell_execute=False,
                cwd=str(target.parent),
            )
    except PapermillExecutionError as exc:
        raise ArinsightError(
            execution_message(exc.ename, exc.evalue, exc.exec_count, target)
        ) from None
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        terminal.close()
        if env_db is None:
            os.environ.pop("ARINSIGHT_DB", None)
        else:
            os.environ["ARINSIGHT_DB"] = env_db


def execution_message(ename: str, evalue: str, cell: int | None, target: Path) -> str:
    """One line for a failed cell: our own errors verbatim, others with their place."""
    first = (evalue or "").strip().splitlines()[0] if (evalue or "").strip() else ename
    if ename in {"ArinsightError", "WarehouseMissing", "ConfigError", "InputError", "BuildError"}:
        return first
    return (
        f"the report notebook failed in cell {cell}: {ename}: {first} (executed notebook: {target})"
    )


def export_html(notebook: Path, target: Path) -> None:
    """The executed notebook as one self-contained HTML file, code and prompts hidden.

    Warnings a cell printed to stderr and cells tagged ``template-doc`` are
    left out; code stays only when the notebook's metadata says
    ``arinsight.show_input`` (the explore notebook, a tutorial). The print CSS
    adds page numbers and a page per section for :func:`print_pdf`.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)  # type: ignore[no-untyped-call]
    show_input = bool(nb.metadata.get("arinsight", {}).get("show_input", False))
    nb.cells = [c for c in nb.cells if "template-doc" not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if outputs:
            cell["outputs"] = [
                o
                for o in outputs
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]
    exporter.exclude_input = not show_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    # nbconvert's template pulls require.js and MathJax from CDNs, plotly's
    # output MathJax: none is needed (plotly.js is inlined, no formulas), and
    # offline they only fail; with require.js present plotly would even try to
    # fetch itself from its CDN. Leave them out so the file opens offline.
    body = REMOTE_SCRIPT.sub("", body)
    lang = nb.metadata.get("papermill", {}).get("parameters", {}).get("lang", "en")
    css = PRINT_CSS.replace("{page}", "Seite" if lang == "de" else "Page")
    body = body.replace("</head>", css + "\n</head>", 1)
    target.write_text(body, encoding="utf-8")


def print_pdf(html: Path, target: Path, chromium: str, timeout: float = 180.0) -> None:
    """Print ``html`` to ``target`` with headless Chromium.

    Raises:
        ArinsightError: Chromium failed or wrote no PDF.
    """
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="arinsight-chromium-") as profile:
        cmd: list[str] = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={target.resolve()}",
            html.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ArinsightError(
                f"Chromium did not finish printing {html} within {timeout:.0f} s — "
                "open the HTML instead, or retry with --format html"
            ) from None
    if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise ArinsightError(
            f"Chromium could not print {html} to PDF ({tail[0]}) — retry with --format html"
        )


def render_demo_report(
    db: str | Path, out: str | Path = "reports", *, progress: bool = True
) -> list[Path]:
    """``make demo``'s last step: the monthly review of the latest month; the paths written."""
    from arinsight.reports.params import check_params

    result = render(check_params(db, None), "monthly_review", FORMATS, out, progress=progress)
    return result.paths()


def describe(result: RenderResult) -> dict[str, Any]:
    """JSON-able summary of a render (paths as strings)."""
    return {
        "notebook": str(result.notebook),
        "html": str(result.html) if result.html else None,
        "pdf": str(result.pdf) if result.pdf else None,
        "skipped": result.skipped,
        "seconds": round(result.seconds, 2),
    }
