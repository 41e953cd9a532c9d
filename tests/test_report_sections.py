"""Report sections over the optional tables other verbs write: recommendations
(``marts.ladder_recommendations``), ladder versions (``meta.ladders``) and
experiment arms (``marts.fct_experiment_arms``) — present, absent and empty."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from arinsight.reports import dunning, review
from arinsight.warehouse import Warehouse
from report_warehouse import small_warehouse

pytestmark = pytest.mark.slow

LADDER_V1 = {
    "name": "v1",
    "default": [
        {"stage": 0, "name": "Vorab-Erinnerung", "offset_days": -3, "channel": "email"},
        {"stage": 1, "name": "Zahlungserinnerung", "offset_days": 7, "channel": "email"},
        {"stage": 2, "name": "1. Mahnung", "offset_days": 21, "channel": "letter", "fee": 5.0},
    ],
}
# v2 changes smb only (reminder 1 five days earlier); the other segments keep v1.
LADDER_V2 = {
    **LADDER_V1,
    "name": "v2",
    "segments": {
        "smb": [
            {"stage": 0, "name": "Vorab-Erinnerung", "offset_days": -3, "channel": "email"},
            {"stage": 1, "name": "Zahlungserinnerung", "offset_days": 2, "channel": "email"},
            {"stage": 2, "name": "1. Mahnung", "offset_days": 21, "channel": "letter", "fee": 5.0},
        ]
    },
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_warehouse(tmp_path_factory)


def copy_of(base: Path, tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    shutil.copy(base, db)
    return db


def month_ends(db: Path) -> list[dt.date]:
    with Warehouse.open(db) as wh:
        rows = wh.con.execute(
            "select distinct month_end_date from marts.fct_dso_monthly order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_absent_optional_tables_say_how_to_get_them(base: Path) -> None:
    rv = review.start(db=str(base), plotly_renderer=None)
    assert "run <code>arinsight recommend</code>" in review.recommendations_html(rv)
    assert "fewer than two versions" in review.ladder_change_html(rv)
    # The experiment marts are built on every warehouse; without a variant they are empty.
    assert dunning.experiment_table(rv) == (
        '<p class="ai-note">No experiment results: the dunning log names no variant '
        "(column variant).</p>"
    )


def test_last_ladder_change_against_unchanged_segments(base: Path, tmp_path: Path) -> None:
    db = copy_of(base, tmp_path)
    ends = month_ends(db)
    effective = ends[8] + dt.timedelta(days=1)  # the first day of the 10th month
    with Warehouse.open(db, read_only=False) as wh:
        wh.con.execute("drop table if exists meta.ladders")  # main's warehouses have one
        wh.con.execute(
            "create table meta.ladders (version integer, effective_date date, name varchar, "
            "yaml_text varchar, sha256 varchar, applied_at timestamp)"
        )
        for version, ladder, day in ((1, LADDER_V1, ends[0]), (2, LADDER_V2, effective)):
            wh.con.execute(
                "insert into meta.ladders values (?, ?, ?, ?, 'x', ?)",
                [version, day, ladder["name"], yaml.safe_dump(ladder), day],
            )
        # Independent expectation: mean DSO of the 3 month ends before the change and
        # of those from it to the last month, per segment, straight from the mart.
        rows = wh.con.execute(
            """
            with d as (
                select segment, month_end_date, dso_days from marts.fct_dso_monthly
                where segment <> 'all'
            )
            select segment,
                avg(dso_days) filter (where month_end_date < ? and month_end_date >= ?),
                avg(dso_days) filter (where month_end_date >= ?)
            from d group by segment order by segment
            """,
            [effective, ends[6], effective],
        ).fetchall()
    change = {seg: after - before for seg, before, after in rows}
    others = [v for seg, v in change.items() if seg != "smb"]
    expected_did = change["smb"] - sum(others) / len(others)

    rv = review.start(db=str(db), plotly_renderer=None)
    result = review.last_ladder_change(rv)
    assert result is not None
    assert result.changed == ("smb",)
    assert set(result.unchanged) == set(change) - {"smb"}
    assert result.effective_date == effective
    assert result.did_days == pytest.approx(expected_did)
    html = review.ladder_change_html(rv)
    assert f"moved {'+' if expected_did >= 0 else '−'}{abs(expected_did):.1f} days" in html

    # A report month before the change sees only one version: nothing to review.
    early = review.start(month=ends[5].isoformat()[:7], db=str(db), plotly_renderer=None)
    assert review.last_ladder_change(early) is None


def test_ladder_review_compares_with_the_effect_expected_at_apply(
    base: Path, tmp_path: Path
) -> None:
    from arinsight.ladder.store import apply_ladder

    db = copy_of(base, tmp_path)
    ends = month_ends(db)
    effective = ends[8] + dt.timedelta(days=1)
    with Warehouse.open(db, read_only=False) as wh:
        for table in ("ladders", "ladder_stages"):
            wh.con.execute(f"delete from meta.{table}")
        apply_ladder(wh.con, yaml.safe_dump(LADDER_V1), ends[0])
        # The recommendation v2 came from: smb moves reminder 1 from day 7 to day 2 (what
        # v2 applies); enterprise was told to move it to day 10, which v2 does not do.
        # Whole-ladder rows (stage -1) carry the expected effect with its 80 % interval.
        wh.con.execute(
            """
            create or replace table marts.ladder_recommendations as
            select * from (values
                ('smb', -1, null, null, -1.5, -2.5, -0.4, 0.8, 0.1, 1.5, 900.0, 100.0, 1700.0),
                ('smb', 0, -3, -3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                ('smb', 1, 7, 2, -1.5, -2.5, -0.4, 0.8, 0.1, 1.5, 900.0, 100.0, 1700.0),
                ('smb', 2, 21, 21, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                ('enterprise', -1, null, null, 0.7, 0.2, 1.1, 0.5, 0.1, 0.9, 50.0, 10.0, 90.0),
                ('enterprise', 1, 7, 10, 0.7, 0.2, 1.1, 0.5, 0.1, 0.9, 50.0, 10.0, 90.0)
            ) as r (segment, stage_number, current_offset_days, proposed_offset_days,
                delta_dso_days, delta_dso_days_low, delta_dso_days_high,
                delta_recovery_pct, delta_recovery_pct_low, delta_recovery_pct_high,
                delta_net_value_amount, delta_net_value_amount_low,
                delta_net_value_amount_high)
            """
        )
        applied = apply_ladder(wh.con, yaml.safe_dump(LADDER_V2), effective)
    assert applied.count_expectations == 2

    rv = review.start(db=str(db), plotly_renderer=None)
    result = review.last_ladder_change(rv)
    assert result is not None and result.expected is not None
    flags = dict(result.expected.select("segment", "is_as_recommended").rows())
    assert flags == {"smb": True, "enterprise": False}
    smb = result.table.filter(result.table["segment"] == "smb").row(0, named=True)
    assert smb["expected_delta_dso_days"] == pytest.approx(-1.5)
    assert (smb["expected_delta_dso_days_low"], smb["expected_delta_dso_days_high"]) == (
        pytest.approx(-2.5),
        pytest.approx(-0.4),
    )
    # realised for smb: its own change minus the mean change of the unchanged segments
    others = result.table.filter(~result.table["is_ladder_changed"])["dso_change_days"]
    assert smb["dso_change_vs_unchanged_days"] == pytest.approx(
        smb["dso_change_days"] - others.mean()
    )
    html = review.ladder_change_html(rv)
    assert "−1.5 (−2.5 to −0.4)" in html
    assert "stored when version 2 was applied" in html


def test_ladder_review_without_a_stored_expectation_says_so(base: Path, tmp_path: Path) -> None:
    from arinsight.ladder.store import apply_ladder

    db = copy_of(base, tmp_path)
    ends = month_ends(db)
    with Warehouse.open(db, read_only=False) as wh:
        for table in ("ladders", "ladder_stages"):
            wh.con.execute(f"delete from meta.{table}")
        wh.con.execute("drop table if exists marts.ladder_recommendations")
        apply_ladder(wh.con, yaml.safe_dump(LADDER_V1), ends[0])
        apply_ladder(wh.con, yaml.safe_dump(LADDER_V2), ends[8] + dt.timedelta(days=1))
    html = review.ladder_change_html(review.start(db=str(db), plotly_renderer=None))
    assert "No expected effect is stored with version 2" in html


def test_recommendations_table_to_approve(base: Path, tmp_path: Path) -> None:
    db = copy_of(base, tmp_path)
    with Warehouse.open(db, read_only=False) as wh:
        wh.con.execute(
            """
            create table marts.ladder_recommendations as
            select * from (values
                ('smb', 1, 'Zahlungserinnerung', 7, 2, 'email', 'email',
                 'response died out by day 5', 812, -1.2, -2.0, -0.4, 'high'),
                ('consumer', 2, '1. Mahnung', 21, 28, 'letter', 'letter', 'reliable payers',
                 45, 0.3, -0.5, 1.1, 'low: small n')
            ) as t(segment, stage_number, stage_name, current_offset_days,
                   proposed_offset_days, current_channel, proposed_channel, rationale,
                   evidence_count_invoices, delta_dso_days, delta_dso_days_low,
                   delta_dso_days_high, confidence)
            """
        )
    rv = review.start(db=str(db), plotly_renderer=None)
    html = review.recommendations_html(rv)
    assert "response died out by day 5" in html and "low: small n" in html
    assert "−1.2 [−2.0,\u00a0−0.4]" in html and "+0.3 [−0.5,\u00a0+1.1]" in html
    # channels did not change: no channel columns, a note instead; rationale below the table
    assert "Channel now" not in html and "Channels and fees stay as they are" in html
    assert "<li><b>smb · 1 Zahlungserinnerung</b>: response died out by day 5</li>" in html
    assert "Expected Δ DSO (days)" in html and "Evidence n (invoices)" in html
    assert html.count("☐ / ☐") == 2  # one approve / reject box per row
    smb = review.start(db=str(db), segment="smb", plotly_renderer=None)
    assert "reliable payers" not in review.recommendations_html(smb)


def test_empty_recommendations_say_no_change(base: Path, tmp_path: Path) -> None:
    db = copy_of(base, tmp_path)
    with Warehouse.open(db, read_only=False) as wh:
        wh.con.execute(
            "create table marts.ladder_recommendations (segment varchar, stage_number integer)"
        )
    rv = review.start(db=str(db), plotly_renderer=None)
    assert "proposes no change" in review.recommendations_html(rv)


def test_experiment_arms_with_intervals(base: Path, tmp_path: Path) -> None:
    db = copy_of(base, tmp_path)
    with Warehouse.open(db, read_only=False) as wh:
        wh.con.execute("drop table if exists marts.fct_experiment_arms")  # empty: no variants
        wh.con.execute(
            """
            create table marts.fct_experiment_arms as
            select * from (values
                ('all', 'control', true, 'control', 400, 21.0, 20.0, 22.0, 0.0, null, null,
                 80.0, 0.0, null, null, 1.0, 0.0, null, null),
                ('all', 'early', false, 'control', 390, 18.5, 17.4, 19.6, -2.5, -4.0, -1.0,
                 84.0, 4.0, 1.0, 7.0, 1.2, 0.2, -0.8, 1.2)
            ) as t(segment, experiment_variant, is_control, control_variant, count_customers,
                   mean_days_to_settle, mean_days_to_settle_ci_low,
                   mean_days_to_settle_ci_high, delta_days_to_settle,
                   delta_days_to_settle_ci_low, delta_days_to_settle_ci_high,
                   recovery_90d_pct, delta_recovery_90d_pct, delta_recovery_90d_ci_low_pct,
                   delta_recovery_90d_ci_high_pct, involuntary_churn_pct,
                   delta_involuntary_churn_pct, delta_involuntary_churn_ci_low_pct,
                   delta_involuntary_churn_ci_high_pct)
            """
        )
    rv = review.start(db=str(db), plotly_renderer=None)
    html = dunning.experiment_table(rv)
    assert "control (control)" in html
    assert "18.5 [17.4, 19.6]" in html
    assert "−2.5 [−4.0, −1.0]" in html  # days to settle, early vs control
    assert "+4.0 [+1.0, +7.0]" in html  # recovery points


def test_ladder_parameter_is_the_ladder_in_force(base: Path, tmp_path: Path) -> None:
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(LADDER_V2), encoding="utf-8")
    rv = review.start(db=str(base), ladder=str(path), plotly_renderer=None)
    frame, source = review.ladder_in_force(rv)
    assert source == str(path.resolve())
    offsets = {(r["segment"], r["stage_number"]): r["due_offset_days"] for r in frame.to_dicts()}
    assert offsets[("smb", 1)] == 2  # the smb override
    assert offsets[("consumer", 1)] == 7  # the default stages
    assert review.stage_names(rv) == {
        0: "Vorab-Erinnerung",
        1: "Zahlungserinnerung",
        2: "1. Mahnung",
    }


def test_first_month_has_nothing_to_compare(base: Path) -> None:
    first = month_ends(base)[0]
    rv = review.start(month=first.isoformat()[:7], db=str(base), plotly_renderer=None)
    sentences, attribution = review.narrative(rv)
    assert attribution is None
    assert sentences == [
        "This is the first month in the warehouse: there is no previous month to compare."
    ]
    assert review.attribution_table(rv) == ""


def test_kpi_changes_against_the_previous_month_and_a_year_ago(base: Path) -> None:
    ends = month_ends(base)
    last, prev, year_ago = ends[-1], ends[-2], ends[-13]  # 14 months: index -13 is a year back
    assert (last.year - year_ago.year, last.month) == (1, year_ago.month)
    with Warehouse.open(base) as wh:
        dso = dict(
            wh.con.execute(
                "select month_end_date, dso_days from marts.fct_dso_monthly where segment = 'all'"
            ).fetchall()
        )
        row = wh.con.execute(
            "select kpi_value, previous_month_value, change_vs_previous_month, year_ago_value, "
            "change_vs_year_ago from marts.fct_report_kpis "
            "where month_end_date = ? and segment = 'all' and kpi_name = 'dso_days'",
            [last],
        ).fetchone()
    assert row == pytest.approx(
        (
            dso[last],
            dso[prev],
            dso[last] - dso[prev],
            dso[year_ago],
            dso[last] - dso[year_ago],
        )
    )


def test_data_quality_lists_the_failed_expectations_of_the_latest_check(
    base: Path, tmp_path: Path
) -> None:
    import datetime as _dt

    from arinsight.quality.runner import CheckResult, RuleResult, SuiteResult
    from arinsight.quality.store import store_check
    from arinsight.quality.suites import Rule, Suite

    db = copy_of(base, tmp_path)
    assert "run <code>arinsight check</code>" in review.data_quality_html(
        review.start(db=str(db), plotly_renderer=None)
    )
    amount = Rule("between", ("amount",), "amount >= 0", min_value=0)
    suite = Suite("raw.payments", "raw.payments", (amount,), "raw")
    old = CheckResult(
        [SuiteResult(suite, "passed", 40, 40, [RuleResult(amount, True, 0)])], None, 1
    )
    new = CheckResult(
        [SuiteResult(suite, "failed", 40, 40, [RuleResult(amount, False, 3, [-1])])], None, 1
    )
    with Warehouse.open(db, read_only=False) as wh:
        store_check(wh.con, old, _dt.datetime(2026, 1, 1, 7, 0))
        store_check(wh.con, new, _dt.datetime(2026, 1, 2, 7, 30))
    html = review.data_quality_html(review.start(db=str(db), plotly_renderer=None))
    # the latest run only: 0 of 1 met, its failed expectation with 3 of 40 rows
    assert "(2026-01-02 07:30 UTC): 0 of 1 expectations met, 1 failed." in html
    assert 'data-key="raw.payments|amount &gt;= 0"' in html
    assert '<td class="num">3</td><td class="num">40</td>' in html
