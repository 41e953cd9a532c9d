"""The monthly report's cash-forecast section (arinsight.reports.forecast) and the
overview card: absent before `arinsight score`, then the scored weeks, with the
invoicing run-rate stated apart."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from arinsight.reports import forecast, review
from arinsight.warehouse import Warehouse
from report_warehouse import arinsight, small_warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = small_warehouse(tmp_path_factory)
    out = tmp_path_factory.mktemp("forecast") / "w.duckdb"
    shutil.copy(src, out)
    return out


def _months(db: Path) -> list:
    with Warehouse.open(db) as wh:
        rows = wh.con.execute(
            "select distinct month_end_date from marts.fct_dso_monthly order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_section_names_the_command_then_shows_the_scored_weeks(db: Path) -> None:
    months = _months(db)
    last, before = months[-1], months[-2]
    rv = review.start(last.strftime("%Y-%m"), str(db), plotly_renderer=None)
    fc = forecast.frame(rv)
    assert fc.height == 0
    text = forecast.summary_html(rv, fc)
    assert f"arinsight score --as-of {last.isoformat()}" in text

    # scored a month earlier: the report of the last month shows it and says how old
    r = arinsight("score", "--db", str(db), "--as-of", before.isoformat())
    assert r.returncode == 0, r.stderr
    rv = review.start(last.strftime("%Y-%m"), str(db), plotly_renderer=None)
    fc = forecast.frame(rv)
    assert fc.height == 13 and set(fc["scoring_date"]) == {before}
    text = forecast.summary_html(rv, fc)
    assert f"({(last - before).days} days before the month end)" in text
    # the total is the sum of the mart's weeks, printed whole: checked against the mart
    with Warehouse.open(db) as wh:
        mart = wh.sql(
            "select sum(expected_collections_amount) as e, "
            "any_value(invoicing_run_rate_weekly_amount) as r "
            "from marts.fct_cash_forecast where scoring_date = ?",
            [before],
        )
    total = f"{round(float(mart['e'][0])):,}"
    rate = f"{round(float(mart['r'][0])):,}"
    assert f": {total} EUR (scored on {before.isoformat()}" in text
    assert f"Invoicing run-rate {rate} EUR per week" in text and "not in the forecast" in text
    assert len(re.findall(r"<tr data-key=", text)) == 13
    # the report of the earlier month sees the same forecast, without an age
    rv = review.start(before.strftime("%Y-%m"), str(db), plotly_renderer=None, lang="de")
    text = forecast.summary_html(rv, forecast.frame(rv))
    assert f"bewertet am {before.isoformat()})" in text and "nicht in der Prognose" in text
