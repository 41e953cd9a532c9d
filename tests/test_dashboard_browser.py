"""The dashboard in a real headless Chromium (Debian's, driven by playwright).

Every page opens without browser console errors or failed callbacks; changing a
filter changes a chart and the URL; a shared URL restores the filters;
screenshots land in tests/artifacts/ (git-ignored). Chromium missing: the tests
fail under CI=true and skip otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard_support import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    PAGES,
    chromium_or_skip,
    make_sample,
    served,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = make_sample(tmp_path_factory.mktemp("browser"), score=True)
    with served(db) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


class Watched:
    """A page that records console errors and failed Dash callback responses."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1440, "height": 900})
        self.console: list[str] = []
        self.failed: list[str] = []
        self.page.on(
            "console", lambda m: self.console.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.console.append(str(e)))
        self.page.on(
            "response",
            lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def open(self, url: str, body_id: str) -> None:
        self.page.goto(url)
        # the body is filled by its callback: a chart, a table or a notice appears
        self.page.wait_for_selector(f"#{body_id} > *", timeout=30_000)
        self.page.wait_for_load_state("networkidle")

    def figure_y(self, graph_id: str, trace: int = 0) -> list[Any]:
        self.page.wait_for_selector(f"#{graph_id} .js-plotly-plot .main-svg", timeout=30_000)
        result: list[Any] = self.page.evaluate(
            "([id, i]) => Array.from("
            "document.querySelector('#' + id + ' .js-plotly-plot').data[i].y)",
            [graph_id, trace],
        )
        return result

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.close()


def _shot(w: Watched, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    w.page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.parametrize(("path", "body_id"), PAGES)
@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_page_opens_cleanly(
    base_url: str, watched: Watched, path: str, body_id: str, lang: str
) -> None:
    watched.open(f"{base_url}{path}?lang={lang}", body_id)
    body = watched.page.inner_text(f"#{body_id}")
    assert "Nothing to show yet" not in body and "Noch nichts anzuzeigen" not in body, body
    if path not in ("/ladder", "/quality"):
        watched.page.wait_for_selector(f"#{body_id} .js-plotly-plot .main-svg", timeout=30_000)
        assert watched.page.locator(f"#{body_id} .js-plotly-plot").count() >= 2
    shot = _shot(watched, f"{(path.strip('/') or 'overview')}_{lang}")
    assert shot.stat().st_size > 10_000
    assert watched.console == []
    assert watched.failed == []


def test_changing_the_segment_changes_the_chart_and_the_url(
    base_url: str, watched: Watched
) -> None:
    watched.open(base_url + "/", "ov-body")
    before = watched.figure_y("ov-dso-trend")
    watched.page.click("#flt-segment")
    option = watched.page.locator(".Select-option, [role=option]").filter(has_text="smb").first
    option.click()
    watched.page.wait_for_url("**segment=smb**", timeout=15_000)
    watched.page.wait_for_function(
        "(before) => { const g = document.querySelector('#ov-dso-trend .js-plotly-plot');"
        " return g && JSON.stringify(Array.from(g.data[0].y)) !== JSON.stringify(before); }",
        arg=before,
        timeout=15_000,
    )
    after = watched.figure_y("ov-dso-trend")
    assert after != before
    assert "smb" in watched.page.inner_text("#ov-heading")
    _shot(watched, "overview_segment_smb")
    assert watched.console == [] and watched.failed == []


def test_a_shared_url_restores_the_filters(base_url: str, watched: Watched) -> None:
    watched.open(base_url + "/aging?segment=smb&behaviour=chronic&lang=de", "ag-body")
    assert "smb" in watched.page.inner_text("#flt-segment")
    assert "chronic" in watched.page.inner_text("#flt-behaviour")
    assert "Altersstruktur" in watched.page.inner_text("#ag-body")
    rows = watched.page.locator("#ag-top-customers tbody tr td.col-behaviour").all_inner_texts()
    assert rows and set(rows) == {"chronisch verspätet"}
    # the menu follows the language; navigating keeps the filters in the link
    watched.page.wait_for_function(
        "() => document.querySelector('#nav-dunning').innerText === 'Mahnstufen'",
        timeout=15_000,
    )
    watched.page.click("#nav-dunning")
    watched.page.wait_for_url("**/dunning?**segment=smb**", timeout=15_000)
    assert watched.console == [] and watched.failed == []


def test_empty_warehouse_page_names_the_command(browser: Any, tmp_path: Path) -> None:
    w = Watched(browser)
    try:
        with served(tmp_path / "none.duckdb") as url:
            w.open(url + "/", "ov-body")
            text = w.page.inner_text("#ov-body")
            assert "arinsight demo" in text
            _shot(w, "empty_warehouse")
        assert w.console == [] and w.failed == []
    finally:
        w.close()


def test_overview_prints_without_the_controls(base_url: str, watched: Watched) -> None:
    watched.open(base_url + "/", "ov-body")
    watched.page.wait_for_selector("#ov-dso-trend .js-plotly-plot .main-svg", timeout=30_000)
    watched.page.emulate_media(media="print")
    assert not watched.page.is_visible("#filters")
    assert not watched.page.is_visible("#nav")
    assert watched.page.is_visible("#ov-kpis")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "overview_print.pdf"
    watched.page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
    assert watched.console == [] and watched.failed == []


def test_a_first_visit_costs_one_round_trip_and_one_plotly(base_url: str, watched: Watched) -> None:
    """The body arrives with the page (its callback does not fire on load); plotly.js is
    fetched once (preloaded, then run) and runs once; a filter change is one callback."""
    posts: list[str] = []
    plotly: list[str] = []

    def seen(request: Any) -> None:
        if "_dash-update-component" in request.url:
            posts.append(json.loads(request.post_data)["output"])
        elif request.url.endswith("/plotly.min.js"):
            plotly.append(request.url)

    watched.page.on("request", seen)
    watched.open(base_url + "/", "ov-body")
    watched.page.wait_for_selector("#ov-body .js-plotly-plot .main-svg", timeout=30_000)
    assert "ov-body.children" not in posts, posts
    assert any("_pages_content.children" in p for p in posts), posts
    assert len(plotly) == 1, plotly
    scripts = "document.querySelectorAll('script[src$=\"/plotly.min.js\"]').length"
    assert watched.page.evaluate(scripts) == 1
    assert watched.page.evaluate("typeof window.Plotly.newPlot") == "function"
    posts.clear()
    watched.page.click("#flt-segment")
    watched.page.locator(".Select-option, [role=option]").filter(has_text="smb").first.click()
    watched.page.wait_for_function(
        "() => document.querySelector('#ov-heading').innerText.includes('smb')", timeout=15_000
    )
    watched.page.wait_for_load_state("networkidle")
    assert posts.count("ov-body.children") == 1, posts
    assert not any("_pages_content" in p for p in posts), posts
    assert watched.console == [] and watched.failed == []


def test_the_quality_page_does_not_start_plotly(base_url: str, watched: Watched) -> None:
    """No charts there: plotly.js is only preloaded; the next page with charts runs it."""
    watched.open(base_url + "/quality", "dq-body")
    assert watched.page.evaluate("typeof window.Plotly.newPlot") == "undefined"
    watched.page.click("#nav-overview")
    watched.page.wait_for_selector("#ov-body .js-plotly-plot .main-svg", timeout=30_000)
    assert watched.page.evaluate("typeof window.Plotly.newPlot") == "function"
    assert watched.console == [] and watched.failed == []
