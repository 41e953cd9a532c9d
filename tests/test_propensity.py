"""Payment propensity, worklist and cash forecast (arinsight.propensity).

Pure parts from hand-made inputs; the model end to end on small simulated
ledgers: no look-ahead (scores at a past date do not change when everything
after it is deleted), a world whose truth is obvious is recovered, and the
verbs fail with one line through the real entry point.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

from arinsight.config import default_path, load_ladder
from arinsight.propensity import backtest, forecast, model, worklist
from arinsight.propensity.score import next_step

REPO = Path(__file__).resolve().parents[1]


# --- pure parts --------------------------------------------------------------------------


def test_auc_counts_pairs_and_ties_half() -> None:
    # positives {0.9, 0.4}, negatives {0.4, 0.1}: pairs (0.9>0.4) (0.9>0.1) (0.4=0.4: ½)
    # (0.4>0.1) → 3.5 of 4
    assert backtest.auc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_brier_and_calibration_by_decile() -> None:
    # (0.8-1)² + (0.2-0)² = 0.04 + 0.04 → mean 0.04
    assert model.brier([0.8, 0.2], [1, 0]) == pytest.approx(0.04)
    pred = np.repeat(np.arange(10) / 10 + 0.05, 10)  # 10 rows per decile: 0.05, 0.15, ...
    obs = np.concatenate([[1] * k + [0] * (10 - k) for k in range(10)])  # k/10 observed
    cal = backtest.calibration(pred, obs)
    assert cal["count_invoices"].to_list() == [10] * 10
    assert cal["predicted_pct"].to_list() == pytest.approx([5 + 10 * k for k in range(10)])
    assert cal["observed_pct"].to_list() == pytest.approx([10 * k for k in range(10)])


def test_conditional_quantile_is_given_payment() -> None:
    days = model.MAX_DAYS + 1
    # paid with probability 0.5 by day 10 and never after: given payment, every
    # quantile is day 10; a curve that never drops below 0.97 gets no date
    s = np.ones((2, days))
    s[0, 10:] = 0.5
    s[1, 5:] = 0.97
    q50 = model.conditional_quantile_days(s, 0.5)
    assert q50[0] == 10
    assert np.isnan(q50[1])


def test_weekly_forecast_from_hand_made_curves() -> None:
    days = 7 * forecast.WEEKS + 1
    s = np.ones((2, days))
    s[0, 3:] = 0.0  # invoice A (100): paid on day 3 for sure → week 1
    s[1, 1:] = 0.5  # invoice B (200): paid on day 1 with probability ½, else never
    out = forecast.weekly(s, np.array([100.0, 200.0]), dt.date(2025, 1, 31))
    # expected week 1 = 100 + ½ × 200 = 200; nothing later
    assert out["expected_collections_amount"][0] == pytest.approx(200.0)
    assert out["expected_collections_amount"][1:].sum() == pytest.approx(0.0)
    # week 1 is 100 or 300 with probability ½ each: p10 = 100, p90 = 300
    assert out["collections_p10_amount"][0] == pytest.approx(100.0)
    assert out["collections_p90_amount"][0] == pytest.approx(300.0)
    assert out["week_start_date"][0] == dt.date(2025, 2, 1)
    assert out["week_end_date"][12] == dt.date(2025, 5, 2)  # 13 weeks = 91 days


def test_outcomes_are_censored_at_the_cutoff() -> None:
    cut = dt.date(2025, 3, 31)
    feats = pl.DataFrame(
        {
            "origin_date": [dt.date(2025, 1, 31)] * 4,
            "settled_date": [dt.date(2025, 2, 10), dt.date(2025, 4, 5), None, dt.date(2025, 2, 20)],
            "settled_by": ["payment", "payment", None, "write_off"],
        }
    )
    out = model.outcomes(feats, cut)
    # paid 10 days after the origin; paid after the cut-off → censored at it (59 days);
    # open → censored at the cut-off; written off → censored on that day (20 days)
    assert out["duration_days"].to_list() == [10, 59, 59, 20]
    assert out["is_paid"].to_list() == [1, 0, 0, 0]


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (None, (0, "Vorab-Erinnerung", "email")),  # before anything: the pre-due reminder
        (1, (2, "1. Mahnung", "letter")),  # after the payment reminder: the first letter
        (3, None),  # after the 2nd letter the next step is the agency: not a collector's step
    ],
)
def test_next_step_follows_the_ladder(stage: int | None, expected: Any) -> None:
    assert next_step(load_ladder(), "smb", stage) == expected


@pytest.mark.parametrize(
    ("days_past_due", "expected"),
    [
        (-5, (0, "Vorab-Erinnerung", "email")),  # before due: the pre-due reminder (due − 3)
        (0, (0, "Vorab-Erinnerung", "email")),  # due today: not overdue yet
        # overdue without any reminder (e.g. dunning held during a dispute): the pre-due
        # reminder is no step any more, the payment reminder (due + 7) is
        (5, (1, "Zahlungserinnerung", "email")),
    ],
)
def test_next_step_skips_the_pre_due_reminder_once_overdue(
    days_past_due: int, expected: Any
) -> None:
    assert next_step(load_ladder(), "smb", None, days_past_due) == expected


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        # overdue after a reminder, with history and a next step
        (
            {
                "days_past_due": 12,
                "stage_reached": 1,
                "days_since_stage": 5,
                "median_days_late": 4.0,
                "late_ratio": 0.25,
                "paid_within_14d_ratio": 0.3,
                "paid_within_14d_if_next_step_ratio": 0.55,
                "next_step_name": "1. Mahnung",
                "next_step_channel": "letter",
                "is_disputed": False,
            },
            [
                "12 days overdue, stage 1 sent 5 days ago",
                "25 % of earlier invoices late, median 4 days late",
                "30 % likely to pay within 14 days as is, 55 % after 1. Mahnung (letter)",
            ],
        ),
        # one day overdue, no reminder, no history, disputed: singular day, dispute first
        (
            {
                "days_past_due": 1,
                "stage_reached": None,
                "days_since_stage": None,
                "median_days_late": None,
                "late_ratio": None,
                "paid_within_14d_ratio": 0.5,
                "paid_within_14d_if_next_step_ratio": None,
                "next_step_name": None,
                "next_step_channel": None,
                "is_disputed": True,
            },
            ["1 day overdue, no reminder yet", "no payment history", "disputed"],
        ),
    ],
)
def test_worklist_reason_in_words(row: dict[str, Any], fragments: list[str]) -> None:
    text = worklist.reason(row)
    for fragment in fragments:
        assert fragment in text


def test_worklist_reason_in_german() -> None:
    row = {
        "days_past_due": 12,
        "stage_reached": 1,
        "days_since_stage": 1,
        "median_days_late": 4.0,
        "late_ratio": 0.25,
        "paid_within_14d_ratio": 0.3,
        "paid_within_14d_if_next_step_ratio": 0.55,
        "next_step_name": "1. Mahnung",
        "next_step_channel": "letter",
        "is_disputed": False,
    }
    assert worklist.reason(row, "de") == (
        "12 Tage überfällig, Stufe 1 vor 1 Tag; "
        "Kunde zahlte 25 % der früheren Rechnungen verspätet, im Median 4 Tage zu spät; "
        "zahlt mit 30 % in 14 Tagen ohne Schritt, mit 55 % nach 1. Mahnung (letter)"
    )
    # after "vor" / "in" German takes the dative plural: "vor 5 Tagen", "in 3 Tagen"
    assert "12 Tage überfällig, Stufe 1 vor 5 Tagen;" in worklist.reason(
        {**row, "days_since_stage": 5}, "de"
    )
    # due in 3 days, no reminder, no history, next step the agency
    lone = {
        **row,
        "days_past_due": -3,
        "stage_reached": None,
        "median_days_late": None,
        "next_step_name": None,
        "paid_within_14d_if_next_step_ratio": None,
    }
    assert worklist.reason(lone, "de") == (
        "fällig in 3 Tagen, noch keine Erinnerung; keine Zahlungshistorie; "
        "zahlt mit 30 % in 14 Tagen; nächster Schritt ist das Inkasso"
    )
    # not a word of English left in the German sentence
    for english in ("overdue", "stage", "days", "customer", "likely", "after"):
        assert english not in worklist.reason(row, "de")


def test_worklist_reason_never_suggests_a_reminder_for_a_dispute() -> None:
    """Even if a scores row of a disputed invoice names a next step (scores written
    before the fix), the sentence says to settle the dispute and names no reminder."""
    row = {
        "days_past_due": 20,
        "stage_reached": None,
        "days_since_stage": None,
        "median_days_late": None,
        "late_ratio": None,
        "paid_within_14d_ratio": 0.2,
        "paid_within_14d_if_next_step_ratio": 0.4,
        "next_step_name": "Vorab-Erinnerung",
        "next_step_channel": "email",
        "is_disputed": True,
    }
    for lang, says in (
        ("en", "disputed: settle the dispute first"),
        ("de", "bestritten: erst den Streitfall klären"),
    ):
        text = worklist.reason(row, lang)
        assert says in text
        assert "Vorab-Erinnerung" not in text


# --- end to end on simulated ledgers ------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arinsight", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def _warehouse(ledger: Path, db: Path) -> Path:
    assert _cli("load", str(ledger), "--db", str(db)).returncode in (0,)
    proc = _cli("build", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    return db


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arinsight.sim import simulate_to_dir

    out = tmp_path_factory.mktemp("world")
    simulate_to_dir(None, None, 15, 3, out / "ledger", 0.04, ("parquet",))
    return out


def _cut_ledger_at(src: Path, dst: Path, cut: dt.date) -> None:
    """The ledger as an export on ``cut`` would have shown it: nothing dated later."""
    dst.mkdir()
    dated = {
        "invoices": "issue_date",
        "payments": "paid_at",
        "adjustments": "adjusted_at",
        "dunning_events": "sent_at",
    }
    for f in src.glob("*.parquet"):
        frame = pl.read_parquet(f)
        table = f.stem
        if table in dated:
            col = dated[table]
            frame = frame.filter(pl.col(col).cast(pl.Date) <= cut)
        if table == "customers":
            late = pl.col("churned_at").cast(pl.Date) > cut
            frame = frame.with_columns(
                churned_at=pl.when(late).then(None).otherwise(pl.col("churned_at")),
                churn_reason=pl.when(late).then(None).otherwise(pl.col("churn_reason")),
            )
        frame.write_parquet(dst / f.name)


def test_scores_at_a_past_date_read_nothing_after_it(small_world: Path) -> None:
    import arinsight

    cut = dt.date(2024, 12, 31)
    full = _warehouse(small_world / "ledger", small_world / "whole.duckdb")
    _cut_ledger_at(small_world / "ledger", small_world / "cut", cut)
    part = _warehouse(small_world / "cut", small_world / "cut.duckdb")
    scores, errors = [], []
    for db in (full, part):
        with arinsight.connect(str(db)) as wh:
            m = model.fit(wh, cut)
            feats = model.point_in_time(wh, [cut])
            scores.append(model.predict(m, feats, load_ladder()).sort("invoice_id"))
            # the forecast band's per-week errors come from an origin 13 weeks back
            # whose weeks all end by the cut: the same without the later rows
            errors.append(model.forecast_week_errors(wh, cut, min_rows=50))
    assert len(errors[0]) == 13
    assert np.allclose(errors[0], errors[1], atol=1e-9)
    a, b = scores
    assert a.height == b.height > 100
    assert a["invoice_id"].to_list() == b["invoice_id"].to_list()
    for col in ("paid_within_7d_ratio", "paid_within_30d_ratio", "paid_before_agency_ratio"):
        assert np.allclose(a[col].to_numpy(), b[col].to_numpy(), atol=1e-9, equal_nan=True), col
    assert a["expected_paid_date"].to_list() == b["expected_paid_date"].to_list()


def test_score_and_worklist_verbs(small_world: Path) -> None:
    import arinsight

    db = small_world / "verbs.duckdb"
    _warehouse(small_world / "ledger", db)
    before = _cli("worklist", "--db", str(db))
    assert before.returncode == 1
    assert before.stderr.strip().count("\n") == 0
    assert "run `arinsight score` first" in before.stderr
    proc = _cli("score", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    summary = json.loads(proc.stdout)
    with arinsight.connect(str(db)) as wh:
        open_now = wh.sql(
            "select count(*) as n, sum(open_amount) as a from marts.fct_invoice_lifecycle "
            "where not is_settled and (agency_handover_date is null)"
        )
        scores = wh.sql("select * from marts.fct_open_invoice_scores")
        fc = wh.sql("select * from marts.fct_cash_forecast order by week_number")
    # every open invoice not with the agency is scored, once
    assert summary["count_open_invoices"] == open_now["n"][0] == scores.height
    assert scores["invoice_id"].n_unique() == scores.height
    assert summary["open_amount"] == pytest.approx(float(open_now["a"][0]), abs=0.01)
    # probabilities are probabilities and grow with the horizon
    assert ((scores["paid_within_7d_ratio"] >= 0) & (scores["paid_within_30d_ratio"] <= 1)).all()
    assert (scores["paid_within_7d_ratio"] <= scores["paid_within_14d_ratio"] + 1e-12).all()
    assert (scores["paid_within_14d_ratio"] <= scores["paid_within_30d_ratio"] + 1e-12).all()
    # the forecast never expects more than is open, and its band holds the expectation
    assert fc.height == 13
    assert fc["expected_collections_amount"].sum() <= float(open_now["a"][0]) + 0.01
    # a disputed invoice gets no reminder (its action: settle the dispute), and no
    # overdue invoice is offered the pre-due reminder
    disputed = scores.filter(pl.col("is_disputed"))
    assert disputed.height > 0
    assert disputed["next_step_name"].null_count() == disputed.height
    assert (disputed["value_of_acting_amount"] == 0).all()
    overdue = scores.filter(pl.col("days_past_due") > 0)
    assert "Vorab-Erinnerung" not in overdue["next_step_name"].drop_nulls().to_list()
    wk = _cli("worklist", "--db", str(db), "--json", "--top", "500")
    assert wk.returncode == 0, wk.stderr
    listed = {r["invoice_id"] for r in json.loads(wk.stdout)}
    assert listed and not listed & set(disputed["invoice_id"].to_list())
    de = _cli("worklist", "--db", str(db), "--json", "--top", "3", "--lang", "de")
    assert de.returncode == 0, de.stderr
    assert all("überfällig" in r["reason"] for r in json.loads(de.stdout))
    wk = _cli("worklist", "--db", str(db), "--json", "--top", "5")
    assert wk.returncode == 0, wk.stderr
    rows = json.loads(wk.stdout)
    assert 0 < len(rows) <= 5
    values = [r["value_of_acting_amount"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert all(r["days_past_due"] > 0 and r["reason"] for r in rows)
    # scoring the same date again replaces, never duplicates
    assert _cli("score", "--db", str(db)).returncode == 0
    with arinsight.connect(str(db)) as wh:
        assert wh.sql("select count(*) as n from marts.fct_open_invoice_scores")["n"][0] == (
            scores.height
        )


def test_score_on_a_warehouse_without_marts_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    from arinsight.warehouse import Warehouse

    with Warehouse.open(db, read_only=False, create=True):
        pass
    proc = _cli("score", "--db", str(db))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "run `arinsight build` first" in proc.stderr


def _obvious_world() -> dict[str, Any]:
    """One segment, one archetype that always pays exactly 10 days after due, reminders
    do nothing, no disputes or instalments: the truth the backtest must recover."""
    world = yaml.safe_load(default_path("world_default.yaml").read_text(encoding="utf-8"))
    late = world["archetypes"]["punctual"]
    late["natural_pay"] = {"never_share": 0.0, "days_after_due": {"mean": 10, "sd": 0}}
    late["reminder_response"]["lift"] = {k: 0.0 for k in late["reminder_response"]["lift"]}
    late["partial_payments"]["share"] = 0.0
    late["disputes"]["share"] = 0.0
    seg = world["segments"]["smb"]
    seg["archetypes"] = {"punctual": 1.0}
    seg["customers"] = 600
    world["segments"] = {"smb": seg}
    world["archetypes"] = {"punctual": late}
    return world


def test_backtest_recovers_an_obvious_world(tmp_path: Path) -> None:
    import arinsight
    from arinsight.sim import simulate_to_dir

    wfile = tmp_path / "world.yaml"
    wfile.write_text(yaml.safe_dump(_obvious_world()), encoding="utf-8")
    simulate_to_dir(wfile, None, 14, 1, tmp_path / "ledger", 1.0, ("parquet",))
    db = _warehouse(tmp_path / "ledger", tmp_path / "w.duckdb")
    origin = dt.date(2024, 12, 31)
    with arinsight.connect(str(db)) as wh:
        bt = backtest.run(wh, [dt.date(2024, 11, 30), origin])
        fitted = model.fit(wh, origin)
        feats = model.point_in_time(wh, [origin])
        scores = model.predict(fitted, feats, load_ladder())
    rows = bt.rows.filter(pl.col("paid_observed"))
    # every invoice is paid on due + 10: the expected date is right to the day
    err = (rows["expected_days_model"] - rows["actual_days"].cast(pl.Float64)).abs()
    median_error = err.median()
    assert median_error is not None
    assert float(median_error) <= 1.0  # type: ignore[arg-type]
    # terms are 14 days, so every open invoice pays within 30 days: p30 ≈ 1
    assert bt.summary["brier_model"] < 0.02
    # within 7 days: exactly the invoices whose due + 10 falls in the week
    will_pay_7 = ((feats["due_date"] - origin).dt.total_days() + 10 <= 7).cast(pl.Int8)
    assert 0 < will_pay_7.sum() < feats.height
    assert backtest.auc(scores["paid_within_7d_ratio"], will_pay_7) > 0.95
