"""The worklist page and the score figure builders (arinsight.viz.scores).

Page tests call the page's callback on a small simulated warehouse, first
without payment scores (a notice naming `arinsight score`), then after running
`arinsight score` through the real entry point; the page must show what
`arinsight worklist --json` prints (an independent path to the same mart).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import plotly.io as pio
import polars as pl
import pytest

from arinsight import viz
from arinsight.dashboard import app as dash_app
from arinsight.viz import figures
from dashboard_support import ARINSIGHT, find, make_sample, table_rows, text_of

# ---------------------------------------------------------------- builders


@pytest.fixture(autouse=True)
def _validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "VALIDATE", True)


WORK = pl.DataFrame(
    {
        "invoice_id": ["INV-A", "INV-B", "INV-C"],
        "customer_id": ["C1", "C2", "C1"],
        "segment": ["smb", "smb", "consumer"],
        "open_amount": [1000.0, 400.0, 50.0],
        "days_past_due": [12, 30, 3],
        "paid_within_14d_ratio": [0.20, 0.50, 0.10],
        "paid_within_14d_if_next_step_ratio": [0.50, 0.75, 0.30],
        # open × gain: 1000 × 0.30 = 300; 400 × 0.25 = 100; 50 × 0.20 = 10
        "value_of_acting_amount": [300.0, 100.0, 10.0],
        "reason": ["ra", "rb", "rc"],
    }
)


def test_worklist_bars_put_the_first_row_on_top_with_its_reason() -> None:
    fig = viz.worklist_bars(WORK)
    (bar,) = fig.data
    # plotly draws the last category on top: the list's first row is last
    assert list(bar.y) == ["INV-C", "INV-B", "INV-A"]
    assert list(bar.x) == [10.0, 100.0, 300.0]
    assert list(bar.customdata) == ["rc", "rb", "ra"]


def test_worklist_rows_format_amounts_and_probabilities() -> None:
    rows = viz.worklist_rows(WORK.head(1), lang="de")
    assert rows[0]["open_amount"] == "1.000 €"
    assert (rows[0]["p14"], rows[0]["p14_next"]) == ("20 %", "50 %")
    assert rows[0]["value"] == "300 €"
    assert [k for k, _ in viz.worklist_columns()] == list(rows[0])


FORECAST = pl.DataFrame(
    {
        "week_number": [2, 1],
        "week_end_date": [dt.date(2025, 1, 14), dt.date(2025, 1, 7)],
        "expected_collections_amount": [800.0, 1000.0],
        "collections_p10_amount": [500.0, 700.0],
        "collections_p90_amount": [1200.0, 1250.0],
        "invoicing_run_rate_weekly_amount": [900.0, 900.0],
    }
)


def test_cash_forecast_draws_the_interval_and_the_run_rate_apart() -> None:
    fig = viz.cash_forecast(FORECAST)
    bars, run_rate = fig.data
    assert list(bars.y) == [1000.0, 800.0]  # week order
    # error bars reach the 80 % bounds: 1250 − 1000 = 250 up, 1000 − 700 = 300 down
    assert list(bars.error_y.array) == [250.0, 400.0]
    assert list(bars.error_y.arrayminus) == [300.0, 300.0]
    assert list(run_rate.y) == [900.0, 900.0]
    assert "not in the forecast" in run_rate.name


@pytest.mark.parametrize("builder", [viz.worklist_bars, viz.cash_forecast])
def test_empty_frames_say_so(builder: Any) -> None:
    fig = builder(pl.DataFrame())
    assert "No data" in pio.to_json(fig)


# ---------------------------------------------------------------- the page


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARINSIGHT or "arinsight", *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    import dash

    # 9 months at scale 0.03: at 6 months / 0.02 the only overdue invoice a step
    # helped was a disputed one, and a disputed invoice gets no reminder (its
    # action is to settle the dispute), so the list was empty
    db = make_sample(tmp_path_factory.mktemp("worklist"), months=9, scale=0.03)
    dash_app.create_app(db)
    mod = next(
        sys.modules[p["module"]]
        for p in dash.page_registry.values()
        if p["module"].endswith("worklist")
    )
    return mod, db


def test_worklist_page_without_scores_then_with_them(page: tuple[Any, Path]) -> None:
    mod, db = page
    notice = find(mod.render("?lang=en", None), "wl-notice")
    assert notice is not None and "arinsight score" in text_of(notice)

    assert run("score", "--db", str(db)).returncode == 0
    out = mod.render("?lang=en", None)
    assert find(out, "wl-notice") is None, text_of(out)
    assert find(out, "wl-table") is not None, text_of(out)
    shown = [r["invoice_id"] for r in table_rows(find(out, "wl-table"))]
    cli = run("worklist", "--db", str(db), "--top", str(mod.TOP), "--json")
    assert cli.returncode == 0, cli.stderr
    expected = [r["invoice_id"] for r in json.loads(cli.stdout)]
    assert shown == expected and shown
    # the forecast chart shows the mart's weeks
    import arinsight

    with arinsight.connect(str(db)) as wh:
        mart = wh.sql(
            "select * from marts.fct_cash_forecast where scoring_date = "
            "(select max(scoring_date) from marts.fct_cash_forecast) order by week_number"
        )
    bars = find(out, "wl-forecast").figure.data[0]
    assert list(bars.y) == pytest.approx(mart["expected_collections_amount"].to_list())
    # a segment filter narrows the list to that segment
    seg = json.loads(cli.stdout)[0]["segment"]
    out = mod.render(f"?segment={seg}&lang=de", None)
    rows = table_rows(find(out, "wl-table"))
    assert rows and {r["segment"] for r in rows} == {seg}
    # on the German page the reasons are German too
    assert all("überfällig" in r["reason"] and "overdue" not in r["reason"] for r in rows)
    assert "Arbeitsliste" in text_of(find(out, "wl-heading"))


def test_overview_shows_the_cash_forecast_with_the_run_rate_apart(page: tuple[Any, Path]) -> None:
    import dash

    _, db = page
    overview = next(
        sys.modules[p["module"]]
        for p in dash.page_registry.values()
        if p["module"].endswith("overview")
    )
    assert run("score", "--db", str(db)).returncode == 0
    import arinsight

    with arinsight.connect(str(db)) as wh:
        mart = wh.sql(
            "select * from marts.fct_cash_forecast where scoring_date = "
            "(select max(scoring_date) from marts.fct_cash_forecast) order by week_number"
        )
    out = overview.render("?lang=en", None)
    graph_ = find(out, "ov-forecast")
    assert graph_ is not None, text_of(out)
    bars, run_rate = graph_.figure.data
    assert list(bars.y) == pytest.approx(mart["expected_collections_amount"].to_list())
    assert list(run_rate.y) == pytest.approx(mart["invoicing_run_rate_weekly_amount"].to_list())
    assert "not included" in text_of(out) and "80 % interval" in text_of(out)
