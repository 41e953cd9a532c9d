"""Failed payments and message engagement where people read them: the dashboard's
funnel page and the monthly review, on a simulated ledger with the optional
tables (through the real CLI) and on one without them (a one-line hint)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from arinsight.dashboard import app as dash_app
from arinsight.dashboard import data
from dashboard_support import find, make_sample, run, table_rows, text_of

BLOCKS = Path(__file__).parent / "data" / "worlds" / "auto_pay_blocks.yaml"


@pytest.fixture(scope="module")
def with_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arinsight.config import deep_merge, default_path

    d = tmp_path_factory.mktemp("payments_ui")
    base = yaml.safe_load(Path(default_path("world_default.yaml")).read_text(encoding="utf-8"))
    world = deep_merge(base, yaml.safe_load(BLOCKS.read_text(encoding="utf-8")))
    (d / "world.yaml").write_text(yaml.safe_dump(world), encoding="utf-8")
    run(
        "simulate", "--world", str(d / "world.yaml"), "--months", "6", "--scale", "0.03",
        "--seed", "4", "--format", "csv", "--out", str(d / "ledger"),
    )  # fmt: skip
    load = run("load", str(d / "ledger"), "--db", str(d / "w.duckdb"))
    assert "payment_attempts" in load.stdout and "message_events" in load.stdout
    run("build", "--db", str(d / "w.duckdb"))
    return d / "w.duckdb"


@pytest.fixture(scope="module")
def without_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("payments_ui_plain"))


@pytest.fixture(scope="module")
def dunning(without_tables: Path) -> Any:
    import dash

    dash_app.create_app(without_tables)
    pages = {
        p["module"].split(".")[-1]: sys.modules[p["module"]] for p in dash.page_registry.values()
    }
    return pages["dunning"]


def _mart(db: Path, sql: str, params: list[Any] | None = None) -> Any:
    import arinsight

    with arinsight.connect(str(db)) as wh:
        return wh.sql(sql, params or [])


def test_funnel_page_says_one_line_without_the_tables(dunning: Any, without_tables: Path) -> None:
    data.configure(without_tables)
    page = dunning.render("", None)
    assert find(page, "dn-retries") is None and find(page, "dn-engagement") is None
    hint = find(page, "dn-payments-hint")
    assert hint is not None and "payment_attempts" in text_of(hint.children)


def test_funnel_page_shows_retries_and_engagement(dunning: Any, with_tables: Path) -> None:
    before = data.db_path()
    data.configure(with_tables)
    try:
        page = dunning.render("", None)
        assert find(page, "dn-payments-hint") is None
        rows = table_rows(find(page, "dn-retries"))
        mart = _mart(
            with_tables,
            "select failure_reason, retry_number, count_attempts from marts.fct_payment_retries "
            "where segment = 'all' order by failure_reason, retry_number",
        )
        assert [(r["reason"], r["attempts"]) for r in rows] == [
            (reason, f"{n:,}") for reason, _, n in mart.rows()
        ]
        latest = _mart(with_tables, "select max(month_end_date) from marts.fct_dso_monthly")
        sent = _mart(
            with_tables,
            "select sum(count_sent) from marts.fct_message_engagement where segment = 'all' "
            "and month_end_date = ?",
            [latest.item()],
        ).item()
        eng = table_rows(find(page, "dn-engagement"))
        assert sum(int(r["sent"].replace(",", "")) for r in eng) == sent
    finally:
        data.configure(before)


def test_review_section(with_tables: Path, without_tables: Path) -> None:
    from arinsight.reports import payments, review

    plain = payments.html(review.start(None, str(without_tables), plotly_renderer=None))
    assert 'id="ai-payments-hint"' in plain and "<table" not in plain
    rv = review.start(None, str(with_tables), plotly_renderer=None)
    text = payments.html(rv)
    n_retry_rows = _mart(
        with_tables, "select count(*) from marts.fct_payment_retries where segment = 'all'"
    ).item()
    assert text.count('<tr data-key="') >= n_retry_rows
    assert "ai-retries" in text and "card_expired" in text
    n_eng = _mart(
        with_tables,
        "select count(*) from marts.fct_message_engagement where segment = 'all' "
        "and month_end_date = ?",
        [rv.month_end],
    ).item()
    assert text.count('<tr data-key="') == n_retry_rows + n_eng
