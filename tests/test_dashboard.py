"""The dashboard without a browser: filters, auth, the CLI, and every page callback
called directly on a small simulated warehouse (and on missing / unbuilt ones)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from arinsight.dashboard import app as dash_app
from arinsight.dashboard import data
from arinsight.dashboard.filters import Filters, parse
from arinsight.viz.theme import fmt_days
from dashboard_support import ARINSIGHT, find, make_sample, table_rows, text_of

# ---------------------------------------------------------------- filters and auth


def test_filters_round_trip_through_the_url() -> None:
    f = Filters(segment="smb", behaviour="chronic", period=dt.date(2025, 3, 31), lang="de")
    search = f.to_search()
    assert search == "?segment=smb&behaviour=chronic&period=2025-03-31&lang=de"
    assert parse(search, segments=["smb"], periods=[dt.date(2025, 3, 31)]) == f


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("", Filters()),  # nothing given: all segments, latest month, English
        ("?segment=nope", Filters()),  # unknown segment dropped
        ("?segment=smb';drop table x;--", Filters()),  # never reaches SQL, and dropped
        ("?behaviour=angry", Filters()),  # not a behaviour segment
        ("?period=2025-13-40", Filters()),  # malformed date
        ("?period=2024-01-31", Filters()),  # a month end the warehouse does not have
        ("?lang=fr", Filters()),  # unsupported language → the settings' language
        ("?basis=usd", Filters()),  # no currency filter: amounts are in the reporting currency
    ],
)
def test_filters_drop_what_they_do_not_know(search: str, expected: Filters) -> None:
    assert parse(search, segments=["smb", "enterprise"], periods=[dt.date(2025, 3, 31)]) == expected


def test_credentials_are_required_off_loopback() -> None:
    assert dash_app.credentials("127.0.0.1", {}) is None
    assert dash_app.credentials("localhost", {}) is None
    env = {dash_app.USER_ENV: "cfo", dash_app.PASSWORD_ENV: "s3cret"}
    assert dash_app.credentials("0.0.0.0", env) == ("cfo", "s3cret")
    with pytest.raises(dash_app.DashboardError, match="ARINSIGHT_DASHBOARD_PASSWORD"):
        dash_app.credentials("0.0.0.0", {dash_app.USER_ENV: "cfo"})


def test_cli_refuses_a_public_host_without_credentials(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [ARINSIGHT or "arinsight", "dashboard", "--host", "0.0.0.0", "--db", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ARINSIGHT_DASHBOARD_USER" in lines[0], proc.stderr


def test_help_lists_the_verb_and_stays_light() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "arinsight", "dashboard", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "--host" in proc.stdout and "--port" in proc.stdout
    heavy = [m for m in ("dash", "plotly", "duckdb", "polars") if f" {m}\n" in proc.stderr]
    assert heavy == []


# ---------------------------------------------------------------- page callbacks


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def pages(sample: Path) -> dict[str, Any]:
    """Page modules by name, from the app pointed at the sample warehouse."""
    import dash

    dash_app.create_app(sample)
    return {
        p["module"].split(".")[-1]: sys.modules[p["module"]] for p in dash.page_registry.values()
    }


@pytest.fixture
def at(pages: dict[str, Any]) -> Any:
    """Point the app at another warehouse for one test."""
    sample_path = data.db_path()

    def point(path: Path) -> None:
        data.configure(path)

    yield point
    data.configure(sample_path)


#: id prefix of each page's components
PREFIXES = {
    "overview": "ov",
    "aging": "ag",
    "dunning": "dn",
    "recovery": "rc",
    "ladder": "ld",
    "quality": "dq",
    "worklist": "wl",
}


def test_pages_are_the_six_of_the_issue(pages: dict[str, Any]) -> None:
    assert sorted(pages) == sorted(dash_app.PAGES)


def _mart(db: Path, sql: str, params: list[Any]) -> Any:
    import arinsight

    with arinsight.connect(str(db)) as wh:
        return wh.sql(sql, params)


def test_overview_tiles_show_the_marts_values(pages: dict[str, Any], sample: Path) -> None:
    out = pages["overview"].render("?segment=all&lang=en", None)
    latest = _mart(
        sample,
        "select month_end_date, dso_days from marts.fct_dso_monthly where segment = ? "
        "order by month_end_date desc limit 1",
        ["all"],
    ).row(0)
    tile = find(out, "ov-kpi-dso_days")
    assert tile is not None
    assert fmt_days(latest[1]) in text_of(tile)
    assert find(out, "ov-dso-trend") is not None


def test_segment_filter_changes_the_dso_trend(pages: dict[str, Any], sample: Path) -> None:
    segs = _mart(sample, "select distinct segment from marts.fct_dso_monthly order by 1", [])
    seg = [s for s in segs["segment"].to_list() if s != "all"][0]
    y_all = list(find(pages["overview"].render("", None), "ov-dso-trend").figure.data[0].y)
    y_seg = list(
        find(pages["overview"].render(f"?segment={seg}", None), "ov-dso-trend").figure.data[0].y
    )
    expected = _mart(
        sample,
        "select dso_days from marts.fct_dso_monthly where segment = ? and is_window_complete "
        "order by month_end_date",
        [seg],
    )["dso_days"].to_list()
    assert y_seg == pytest.approx(expected)
    assert y_seg != y_all


def test_behaviour_filter_applies_to_top_customers(pages: dict[str, Any]) -> None:
    out = pages["aging"].render("?behaviour=chronic", None)
    rows = table_rows(find(out, "ag-top-customers"))
    assert rows
    assert {r["behaviour"] for r in rows} == {"chronically late"}
    assert all(" · " not in r["customer"] for r in rows)  # ids only by default


def _latest_month(db: Path) -> dt.date:
    return _mart(db, "select max(month_end_date) as m from marts.fct_stage_conversion", [])["m"][0]


def test_channel_chart_shows_conversion_per_stage_and_channel(
    pages: dict[str, Any], sample: Path
) -> None:
    end = _latest_month(sample)
    expected = _mart(
        sample,
        "select stage_number, channel, conversion_pct from marts.fct_stage_channels "
        "where month_end_date = ? and segment = 'all' and behaviour_segment = 'all' "
        "and channel <> 'all' order by stage_number",
        [end],
    )
    fig = find(pages["dunning"].render("?lang=en", None), "dn-channels").figure
    shown = {
        (tr.name, int(str(x).split("<br>")[0])): y
        for tr in fig.data
        for x, y in zip(tr.x, tr.y, strict=True)
    }
    from arinsight.viz.theme import t

    want = {
        (t(r["channel"], "en"), r["stage_number"]): r["conversion_pct"]
        for r in expected.iter_rows(named=True)
    }
    assert shown == pytest.approx(want)
    assert "E-mail" in {tr.name for tr in fig.data}  # channels named for people


def test_behaviour_filter_splits_the_dunning_funnel(pages: dict[str, Any], sample: Path) -> None:
    end = _latest_month(sample)
    chronic = _mart(
        sample,
        "select stage_number, count_entered from marts.fct_stage_channels "
        "where month_end_date = ? and segment = 'all' and behaviour_segment = 'chronic' "
        "and channel = 'all' order by stage_number",
        [end],
    )
    assert chronic.height > 0
    out = pages["dunning"].render("?behaviour=chronic&lang=en", None)
    entered = find(out, "dn-funnel").figure.data[0]
    assert list(entered.y) == chronic["count_entered"].to_list()
    everyone = find(pages["dunning"].render("?lang=en", None), "dn-funnel").figure.data[0]
    assert sum(entered.y) < sum(everyone.y)
    scope = text_of(find(out, "dn-behaviour-scope"))
    assert "chronically late" in scope and "Share still unpaid" in scope  # curves: not split
    assert find(pages["dunning"].render("?lang=en", None), "dn-behaviour-scope") is None


@pytest.mark.parametrize(
    ("page", "prefix", "not_split"),
    [
        ("overview", "ov", "DSO trend"),
        ("aging", "ag", "Aging buckets"),
        ("recovery", "rc", "Recovery"),
        ("ladder", "ld", "Ladder per segment"),
    ],
)
def test_behaviour_filter_says_what_it_cannot_split(
    pages: dict[str, Any], page: str, prefix: str, not_split: str
) -> None:
    note = find(
        pages[page].render("?behaviour=reliable&lang=en", None), f"{prefix}-behaviour-scope"
    )
    assert note is not None and not_split in text_of(note)


def test_quality_page_shows_the_failed_expectations(
    pages: dict[str, Any], at: Any, sample: Path, tmp_path: Path
) -> None:
    import duckdb

    db = tmp_path / "checked.duckdb"
    shutil.copy(sample, db)
    at(db)
    before = pages["quality"].render("?lang=en", None)
    assert "arinsight check" in text_of(find(before, "dq-check"))  # no run stored yet
    con = duckdb.connect(str(db))
    n_invoices = con.execute("select count(*) from raw.invoices").fetchone()[0]
    # two invoices with a negative amount: the one failed expectation, 2 bad rows
    con.execute(
        "update raw.invoices set amount = -5 where invoice_id in "
        "(select invoice_id from raw.invoices order by invoice_id limit 2)"
    )
    con.close()
    proc = subprocess.run(
        [ARINSIGHT or "arinsight", "check", "--db", str(db), "--no-docs"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    out = pages["quality"].render("?lang=en", None)
    assert "1 failed" in text_of(find(out, "dq-check-summary"))
    failed = table_rows(find(out, "dq-check-failed"))
    assert len(failed) == 1
    assert failed[0]["table_name"] == "raw.invoices"
    assert failed[0]["column_names"] == "amount"
    assert failed[0]["bad"] == f"2 / {n_invoices:,}"
    assert "-5.00" in failed[0]["examples"]


@pytest.mark.parametrize("page", ["overview", "aging", "dunning", "recovery", "ladder", "quality"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_page_renders_without_a_notice(pages: dict[str, Any], page: str, lang: str) -> None:
    out = pages[page].render(f"?lang={lang}", None)
    assert find(out, f"{PREFIXES[page]}-notice") is None, text_of(out)


def test_a_period_picks_that_month(pages: dict[str, Any], sample: Path) -> None:
    months = _mart(
        sample, "select distinct month_end_date as m from marts.fct_dso_monthly order by 1", []
    )
    first = months["m"][1]
    out = pages["aging"].render(f"?period={first.isoformat()}", None)
    roll = find(out, "ag-roll").figure
    assert first.isoformat() in roll.layout.title.text


def test_missing_warehouse_says_which_command_to_run(
    pages: dict[str, Any], at: Any, tmp_path: Path
) -> None:
    at(tmp_path / "nowhere.duckdb")
    for name, prefix in (("overview", "ov"), ("ladder", "ld"), ("quality", "dq")):
        notice = find(pages[name].render("", None), f"{prefix}-notice")
        assert notice is not None and "arinsight demo" in text_of(notice)


def test_unbuilt_warehouse_says_build(pages: dict[str, Any], at: Any, tmp_path: Path) -> None:
    from arinsight.warehouse import Warehouse

    Warehouse.open(tmp_path / "empty.duckdb", read_only=False, create=True).close()
    at(tmp_path / "empty.duckdb")
    notice = find(pages["dunning"].render("", None), "dn-notice")
    assert notice is not None and "arinsight build" in text_of(notice)


def test_segment_without_rows_says_so(pages: dict[str, Any]) -> None:
    from arinsight.dashboard.components import guarded

    out = guarded("ov", "en", lambda: pages["overview"].body(Filters(segment="ghost")))
    assert "No KPIs for segment 'ghost'" in text_of(out)


def test_ladder_without_recommendations_names_the_command(pages: dict[str, Any]) -> None:
    out = pages["ladder"].render("", None)
    line = find(out, "ld-no-recommendations")
    assert line is not None and "arinsight recommend" in text_of(line)
    assert "shipped default ladder" in text_of(out)


def test_ladder_with_recommendations_and_versions(
    pages: dict[str, Any], at: Any, sample: Path, tmp_path: Path
) -> None:
    import duckdb

    copy = tmp_path / "with_recs.duckdb"
    shutil.copy(sample, copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "create table marts.ladder_recommendations as select * from (values "
        "('smb', 1, 7, 3, 'email', 'email', 'remind earlier: response dies out by day 3', 812, "
        "-1.2, -2.0, -0.4, 'high')) as t(segment, stage, current_offset_days, "
        "proposed_offset_days, current_channel, proposed_channel, rationale, evidence_n, "
        "expected_dso_change_days, expected_dso_change_low, expected_dso_change_high, confidence)"
    )
    yaml_text = (
        "name: tuned\ndefault:\n  - {stage: 1, name: Erinnerung, offset_days: 5, channel: email}\n"
        "  - {stage: 2, name: Mahnung, offset_days: 20, channel: letter, fee: 5}\n"
    )
    con.execute(
        "create table if not exists meta.ladders (version integer, effective_date date, "
        "name varchar, yaml_text varchar, sha256 varchar, applied_at timestamp)"
    )
    con.execute(
        "insert into meta.ladders values (2, date '2024-01-01', 'tuned', ?, 'abc', now())",
        [yaml_text],
    )
    con.close()
    at(copy)
    out = pages["ladder"].render("?segment=smb", None)
    assert find(out, "ld-no-recommendations") is None
    recs = table_rows(find(out, "ld-recommendations"))
    assert recs[0]["rationale"].startswith("remind earlier")
    timeline = find(out, "ld-timeline").figure
    proposed = [tr for tr in timeline.data if tr.name == "Proposed: E-mail"]
    assert list(proposed[0].x) == [3]
    # the ladder in force is the applied one (stage 1 at +5 days), not the default (+7)
    current = table_rows(find(out, "ld-current"))
    assert [(r["stage_number"], r["due_offset_days"]) for r in current] == [("1", "5"), ("2", "20")]
    assert "meta.ladders v2 (tuned)" in text_of(out)
    assert find(out, "ld-versions") is not None


def test_quality_page_lists_every_load(pages: dict[str, Any], sample: Path) -> None:
    out = pages["quality"].render("", None)
    n = _mart(sample, "select count(*) as n from meta.loads", [])["n"][0]
    assert len(table_rows(find(out, "dq-loads"))) == n
    assert int(table_rows(find(out, "dq-builds"))[0]["count_models"]) > 0


def test_reads_are_cached_per_version(pages: dict[str, Any]) -> None:
    from arinsight import metrics

    data.configure(data.db_path())  # clears the cache
    first = data.read(metrics.segments)
    size = data.cache_size()
    assert data.read(metrics.segments) is first  # served from the cache
    assert data.cache_size() == size


@pytest.mark.slow
def test_credentials_turn_on_basic_auth(sample: Path) -> None:
    import base64
    import urllib.error
    import urllib.request

    from dashboard_support import served

    env = {dash_app.USER_ENV: "cfo", dash_app.PASSWORD_ENV: "s3cret"}
    with served(sample, env=env, auth=("cfo", "s3cret")) as url:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url + "/", timeout=10)
        assert denied.value.code == 401
        wrong = base64.b64encode(b"cfo:guess").decode()
        req = urllib.request.Request(url + "/", headers={"Authorization": f"Basic {wrong}"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)
        right = base64.b64encode(b"cfo:s3cret").decode()
        req = urllib.request.Request(url + "/", headers={"Authorization": f"Basic {right}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200


def test_dunning_stage_table_matches_the_mart(pages: dict[str, Any], sample: Path) -> None:
    latest = _mart(sample, "select max(month_end_date) as m from marts.fct_dso_monthly", [])["m"][0]
    mart = _mart(
        sample,
        "select stage_number, count_entered, count_converted from marts.fct_stage_conversion "
        "where segment = 'all' and month_end_date = ? order by stage_number",
        [latest],
    )
    rows = table_rows(find(pages["dunning"].render("", None), "dn-stages"))
    assert [r["stage"].split(" ")[0] for r in rows] == [str(s) for s in mart["stage_number"]]
    assert [r["entered"] for r in rows] == [f"{n:,}" for n in mart["count_entered"]]
    assert [r["converted"] for r in rows] == [f"{n:,}" for n in mart["count_converted"]]


@pytest.mark.slow
def test_the_wheel_ships_the_pages_and_serves_from_any_directory(tmp_path: Path) -> None:
    """Build the wheel, unpack it, and create the app from it in an unrelated directory."""
    import os
    import zipfile

    from conftest import REPO

    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.fail("uv is needed to build the wheel (make env installs it)")
    subprocess.run(
        [uv, "build", "--wheel", "-o", str(tmp_path / "dist"), "-q"],
        cwd=REPO,
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("arinsight-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, dash\n"
        "from arinsight.dashboard import app\n"
        "assert app.pages_dir().is_relative_to(sys.argv[1]), app.pages_dir()\n"
        "app.create_app('missing.duckdb')\n"
        "print(sorted(p['path'] for p in dash.page_registry.values()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(
        sorted(["/", "/aging", "/dunning", "/recovery", "/ladder", "/quality", "/worklist"])
    )


def test_one_connection_per_callback(
    pages: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import arinsight

    opened: list[str] = []
    real = arinsight.connect

    def counting(path: str | None = None, **kw: Any) -> Any:
        opened.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(arinsight, "connect", counting)
    data.configure(data.db_path())  # empty cache: every read below misses
    pages["dunning"].render("", None)
    assert len(opened) == 1  # several readers, one connection, closed afterwards
    pages["dunning"].render("", None)
    assert len(opened) == 1  # served from the cache: the file is not opened at all


def test_guardrail_examples_come_from_the_selected_month(
    pages: dict[str, Any], sample: Path
) -> None:
    months = _mart(
        sample, "select distinct month_end_date as m from marts.fct_dso_monthly order by 1", []
    )
    month = months["m"][-2]
    rows = table_rows(
        find(pages["dunning"].render(f"?period={month.isoformat()}", None), "dn-examples")
    )
    expected = _mart(
        sample,
        "select count(*) as n from marts.fct_guardrail_findings where month_end_date = ?",
        [month],
    )["n"][0]
    assert rows, "the sample has guardrail findings"
    assert len(rows) <= 3 * 3 and len(rows) <= expected
    first, last = month.replace(day=1).isoformat(), month.isoformat()
    assert all(first <= r["sent_date"] <= last for r in rows)


@pytest.mark.parametrize(("ci", "outcome"), [("true", "fail"), ("", "skip")])
def test_missing_chromium_fails_in_ci_and_skips_locally(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    import dashboard_support

    monkeypatch.setattr(dashboard_support, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if outcome == "fail" else pytest.skip.Exception
    with pytest.raises(expected, match="apt-get install -y chromium"):
        dashboard_support.chromium_or_skip()


def test_recommendation_intervals_are_shown_with_their_estimate(pages: dict[str, Any]) -> None:
    import polars as pl

    recs = pl.DataFrame(
        {
            "segment": ["smb"],
            "expected_dso_change_days": [-1.4],
            "expected_dso_change_low": [-2.1],
            "expected_dso_change_high": [-0.7],
            "rationale": ["earlier"],
        }
    )
    rows, columns = pages["ladder"].with_intervals(recs)
    assert [c for c, _ in columns] == ["segment", "expected_dso_change_days", "rationale"]
    assert rows[0]["expected_dso_change_days"] == "-1.4 (-2.1 to -0.7)"


def test_recommendations_are_labelled_for_people(pages: dict[str, Any]) -> None:
    import polars as pl

    recs = pl.DataFrame(
        {
            "segment": ["smb", "smb"],
            "stage_number": [-1, 1],
            "stage_name": [None, "Zahlungserinnerung"],
            "current_offset_days": [None, 7],
            "proposed_offset_days": [None, 3],
            "current_channel": [None, "email"],
            "proposed_channel": [None, "email"],  # unchanged: no channel columns
            "delta_dso_days": [-1.2, -1.2],
            "delta_dso_days_low": [-2.0, -2.0],
            "delta_dso_days_high": [-0.4, -0.4],
            "delta_net_value_amount": [12000.0, 12000.0],
            "delta_net_value_amount_low": [500.0, 500.0],
            "delta_net_value_amount_high": [20500.0, 20500.0],
            "evidence_count_events": [9000, 4000],
            "rationale": ["all changes", "remind earlier"],
            "ladder_source": ["default", "default"],
        }
    )
    rows, columns = pages["ladder"].readable(recs, "en")
    keys = [c for c, _ in columns]
    assert "current_channel" not in keys and "ladder_source" not in keys
    assert dict(columns)["delta_dso_days"] == "Δ DSO, days (80 %)"
    assert rows[0]["stage_name"] == "whole ladder"
    assert rows[1]["delta_dso_days"] == "-1.2 (-2.0 to -0.4)"
    assert rows[1]["delta_net_value_amount"] == "€12,000 (€500 to €20,500)"
    assert rows[1]["evidence_count_events"] == "4,000"


# ---------------------------------------------------------------- first render (issue 10)


def _json(component: Any) -> str:
    import json

    import plotly.utils

    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, sort_keys=True)


@pytest.mark.parametrize("page", sorted(PREFIXES))
def test_the_page_layout_arrives_with_its_body_drawn(pages: dict[str, Any], page: str) -> None:
    """The router's response carries the body (no second round trip on a first visit):
    the same body the page callback draws for that query string."""
    prefix = PREFIXES[page]
    # the router passes the URL's parameters as keyword arguments (dash._pages)
    out = pages[page].layout(segment="smb", lang="de")
    body = find(out, f"{prefix}-body")
    assert body is not None and body.children
    assert _json(body.children) == _json(pages[page].render("?segment=smb&lang=de", None))
    if page != "worklist":  # the sample is not scored: the worklist names `arinsight score`
        assert find(out, f"{prefix}-notice") is None, text_of(out)


def test_the_layout_reads_the_filters_from_the_query(pages: dict[str, Any]) -> None:
    heading = find(pages["overview"].layout(segment="smb", lang="de"), "ov-heading")
    assert "smb" in text_of(heading) and "DSO-Fenster" in text_of(heading)
    # no query: all segments, English; an unknown value falls back like the URL's
    assert "· all ·" in text_of(find(pages["overview"].layout(), "ov-heading"))
    assert "· all ·" in text_of(find(pages["overview"].layout(segment="nope"), "ov-heading"))


def test_page_callbacks_skip_the_first_call(pages: dict[str, Any]) -> None:
    """Each body callback only redraws on a filter or build change (the layout drew it)."""
    import dash

    app = dash_app.create_app(data.db_path())
    # what the browser is told (the renderer fires a callback on load unless told not to)
    deps = {d["output"]: d for d in app.server.test_client().get("/_dash-dependencies").get_json()}
    for prefix in PREFIXES.values():
        spec = deps[f"{prefix}-body.children"]
        assert spec["prevent_initial_call"] is True, prefix
        assert [i["id"] for i in spec["inputs"]] == ["url", "data-version"], prefix
    assert [
        p["relative_path"] for p in dash.page_registry.values() if p.get("charts") is False
    ] == ["/quality"]


def test_the_page_preloads_plotly_from_the_installed_package(pages: dict[str, Any]) -> None:
    """The index preloads plotly.js and the graph chunk from URLs the app serves (the
    files the installed plotly / dash ship), and relies on dcc.Graph waiting on
    ``window.Plotly`` when set: a dash upgrade that changes either fails here."""
    from pathlib import Path as P

    import dash
    import plotly

    app = dash_app.create_app(data.db_path())
    client = app.server.test_client()
    html = client.get("/").get_data(as_text=True)
    for url, shipped in (
        (
            "/" + dash_app.PLOTLY_JS,
            P(plotly.__file__).parent / "package_data" / "plotly.min.js",
        ),
        ("/" + dash_app.GRAPH_JS, P(dash.__file__).parent / "dcc" / "async-graph.js"),
    ):
        assert f'<link rel="preload" as="script" href="{url}">' in html
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.get_data() == shipped.read_bytes(), url
    # before the stylesheets: an inline script after a stylesheet waits for it
    assert html.index("arinsightLoadPlotly") < html.index('rel="stylesheet"')
    dcc_js = (P(dash.__file__).parent / "dcc" / "dash_core_components.js").read_text()
    assert "Promise.resolve(window.Plotly||" in dcc_js
    renderer = (
        P(dash.__file__).parent / "dash-renderer" / "build" / "dash_renderer.min.js"
    ).read_text()
    assert '"_dash-component-suites/plotly/package_data/plotly.min.js"' in renderer
