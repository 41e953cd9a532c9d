"""Behaviour of the simulated world, checked on the written files (never on engine internals).

One small run of the default world (5 % of its customers, 24 months) is shared by
the module; the experiment test runs its own world with an experiment block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from arinsight.config import default_path, load_ladder
from arinsight.contract import TABLES
from arinsight.sim import ARCHETYPE_TABLE, LEDGER_TABLES, load_world, simulate_to_dir

SCALE = 0.05  # 1,000 customers, ~13k invoices
SEED = 11
WINDOW_DAYS = 3  # hazard window before / after a reminder
PUNCTUAL_BY_DUE_MIN = 0.90
EXPERIMENT_SHARE = 0.3


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sim")
    summary = simulate_to_dir(out=out, scale=SCALE, seed=SEED)
    tables = {t: pl.read_parquet(out / f"{t}.parquet") for t in LEDGER_TABLES}
    tables[ARCHETYPE_TABLE] = pl.read_parquet(out / f"{ARCHETYPE_TABLE}.parquet")
    return {"out": out, "summary": summary, **tables}


def _settled(run: dict[str, Any]) -> pl.DataFrame:
    """Invoices with the date their payments (plus adjustments) first cover the amount."""
    moves = pl.concat(
        [
            run["payments"].select(
                "invoice_id",
                pl.col("paid_at").alias("at"),
                "amount",
                pl.lit(True).alias("is_payment"),
            ),
            run["adjustments"].select(
                "invoice_id",
                pl.col("adjusted_at").alias("at"),
                "amount",
                pl.lit(False).alias("is_payment"),
            ),
        ]
    )
    cum = (
        moves.sort("invoice_id", "at", "is_payment")
        .with_columns(pl.col("amount").cum_sum().over("invoice_id").alias("covered"))
        .join(
            run["invoices"].select("invoice_id", pl.col("amount").alias("inv_amount")),
            on="invoice_id",
        )
        .filter(pl.col("covered") >= pl.col("inv_amount"))
        .group_by("invoice_id")
        .agg(pl.col("at").min().alias("settled_at"), pl.col("is_payment").first())
    )
    return (
        run["invoices"]
        .join(cum, on="invoice_id", how="left")
        .join(run[ARCHETYPE_TABLE].select("customer_id", "archetype"), on="customer_id")
    )


def test_files_follow_the_contract(run: dict[str, Any]) -> None:
    out: Path = run["out"]
    for t in LEDGER_TABLES:
        assert pl.read_csv(out / f"{t}.csv", n_rows=1).columns == TABLES[t].column_names
        assert run[t].columns == TABLES[t].column_names
        key = TABLES[t].key
        assert run[t].select(key).is_duplicated().sum() == 0
        assert run["summary"]["rows"][t] == run[t].height
    assert str(run["invoices"].schema["amount"]) == "Decimal(precision=18, scale=2)"
    assert (out / "truth.json").exists()
    assert not (out / "fx_rates.csv").exists()


def test_ledger_is_consistent(run: dict[str, Any]) -> None:
    inv = run["invoices"]
    assert (inv["due_date"] >= inv["issue_date"]).all()
    assert (inv["amount"] > 0).all()
    paid = run["payments"].join(inv, on="invoice_id", suffix="_inv")
    assert (paid["paid_at"] >= paid["issue_date"]).all()
    assert (paid["amount"] > 0).all()
    # payments plus adjustments never exceed the invoice (no negative open amounts)
    total = (
        pl.concat(
            [
                run["payments"].select("invoice_id", "amount"),
                run["adjustments"].select("invoice_id", "amount"),
            ]
        )
        .group_by("invoice_id")
        .agg(pl.col("amount").sum().alias("covered"))
        .join(inv, on="invoice_id")
    )
    assert (total["covered"] <= total["amount"]).all()
    # pre-due reminders go out before the due date
    ev = run["dunning_events"].join(inv, on="invoice_id")
    stage0 = ev.filter(pl.col("stage") == 0)
    assert stage0.height > 0
    assert (stage0["sent_at"] < stage0["due_date"]).all()
    # customer_type follows the segment
    cust = run["customers"]
    assert set(cust.filter(pl.col("segment") == "consumer")["customer_type"]) == {"b2c"}
    assert set(cust.filter(pl.col("segment") != "consumer")["customer_type"]) == {"b2b"}
    assert set(cust["country"]) <= {"DE", "AT", "CH", "NL"}


def test_no_invoices_after_churn(run: dict[str, Any]) -> None:
    cust = run["customers"].filter(pl.col("churned_at").is_not_null())
    assert cust.height > 0
    assert set(cust["churn_reason"]) == {"voluntary", "non_payment"}
    late = (
        run["invoices"]
        .join(cust, on="customer_id")
        .filter(pl.col("issue_date") > pl.col("churned_at"))
    )
    assert late.height == 0


def test_punctual_payers_settle_by_due_date(run: dict[str, Any]) -> None:
    s = _settled(run).filter(pl.col("archetype") == "punctual")
    by_due = (s["settled_at"].is_not_null() & (s["settled_at"] <= s["due_date"])).mean()
    assert s.height > 1000
    assert by_due >= PUNCTUAL_BY_DUE_MIN


def test_reminder_lifts_payment_hazard_of_forgetful_payers(run: dict[str, Any]) -> None:
    """Hazard = settled in the window / open at the window's start, around stage 1."""
    offset = load_ladder().due_offsets("consumer")[1]  # stage 1 (Zahlungserinnerung)
    s = (
        _settled(run)
        .filter(pl.col("archetype") == "forgetful")
        .with_columns((pl.col("settled_at") - pl.col("due_date")).dt.total_days().alias("rel"))
    )

    def hazard(lo: int, hi: int) -> float:
        at_risk = s.filter(pl.col("rel").is_null() | (pl.col("rel") > lo))
        hits = at_risk.filter(pl.col("rel") <= hi).height
        return hits / at_risk.height

    before = hazard(offset - WINDOW_DAYS, offset)
    after = hazard(offset, offset + WINDOW_DAYS)
    assert after > 1.5 * before


def test_churn_after_agency_handover_exceeds_baseline(run: dict[str, Any]) -> None:
    """Churn within 90 days after the first handover vs. the 90-day churn of never-dunned."""
    horizon_end = run["invoices"]["issue_date"].max()
    cust = run["customers"]
    ev = run["dunning_events"].join(
        run["invoices"].select("invoice_id", "customer_id"), on="invoice_id"
    )
    handed = (
        ev.filter(pl.col("channel") == "collection_agency")
        .group_by("customer_id")
        .agg(pl.col("sent_at").min().alias("handover"))
        .join(cust, on="customer_id")
        .filter(pl.col("churned_at").is_null() | (pl.col("churned_at") >= pl.col("handover")))
        .filter((horizon_end - pl.col("handover")).dt.total_days() >= 90)
    )
    after = (
        ((handed["churned_at"] - handed["handover"]).dt.total_days() <= 90).fill_null(False).mean()
    )
    dunned = ev.filter(pl.col("stage") >= 1)["customer_id"].unique()
    calm = cust.filter(~pl.col("customer_id").is_in(dunned.implode()))
    start = run["invoices"]["issue_date"].min()
    exposure = calm.select(
        (
            (
                pl.coalesce("churned_at", pl.lit(horizon_end))
                - pl.max_horizontal("created_at", pl.lit(start))
            ).dt.total_days()
        ).sum()
    ).item()
    baseline = calm["churned_at"].is_not_null().sum() / exposure * 90
    assert handed.height >= 30
    assert after > 1.5 * baseline


def test_reminders_stop_once_the_payment_is_posted(run: dict[str, Any]) -> None:
    """Events after the settling payment only inside the posting delay."""
    max_delay = load_world().dunning.posting_delay.max_days
    s = _settled(run).filter(pl.col("is_payment"))
    ev = run["dunning_events"].join(s.select("invoice_id", "settled_at"), on="invoice_id")
    after = ev.filter(pl.col("sent_at") > pl.col("settled_at")).with_columns(
        (pl.col("sent_at") - pl.col("settled_at")).dt.total_days().alias("gap")
    )
    assert after.height > 0  # the posting delay does produce some
    assert after["gap"].max() < max_delay
    # and nothing is ever sent after a credit note or write-off closed the invoice
    closed = _settled(run).filter(pl.col("is_payment").not_())
    ev2 = run["dunning_events"].join(closed.select("invoice_id", "settled_at"), on="invoice_id")
    assert ev2.filter(pl.col("sent_at") > pl.col("settled_at")).height == 0


def test_no_experiment_means_null_variant(run: dict[str, Any]) -> None:
    assert run["dunning_events"]["variant"].null_count() == run["dunning_events"].height


def test_experiment_assigns_share_and_records_variant(tmp_path: Path) -> None:
    data = yaml.safe_load(default_path("world_default.yaml").read_text(encoding="utf-8"))
    early = yaml.safe_load(default_path("ladder_default.yaml").read_text(encoding="utf-8"))
    early["name"] = "early"
    early["default"][1]["offset_days"] = 3  # stage 1 at +3 instead of +7
    data["experiment"] = {"share": EXPERIMENT_SHARE, "ladder": early}
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    summary = simulate_to_dir(
        world=world, out=out, scale=SCALE, months=12, seed=SEED, formats=("parquet",)
    )
    arms = pl.read_parquet(out / f"{ARCHETYPE_TABLE}.parquet")
    share = (arms["variant"] == "treatment").mean()
    assert share == pytest.approx(EXPERIMENT_SHARE, abs=0.05)
    ev = (
        pl.read_parquet(out / "dunning_events.parquet")
        .join(pl.read_parquet(out / "invoices.parquet"), on="invoice_id")
        .join(arms.select("customer_id", pl.col("variant").alias("arm")), on="customer_id")
    )
    assert set(ev["variant"]) == {"control", "treatment"}
    assert (ev["variant"] == ev["arm"]).all()
    # (disputed invoices are left out: a dunning block shifts their stages)
    stage1 = ev.filter((pl.col("stage") == 1) & ~pl.col("is_disputed")).with_columns(
        (pl.col("sent_at") - pl.col("due_date")).dt.total_days().alias("rel")
    )
    assert set(stage1.filter(pl.col("variant") == "treatment")["rel"]) == {3}
    assert set(stage1.filter(pl.col("variant") == "control")["rel"]) == {7}
    exp = summary["truth"]["experiment"]
    assert exp["customers"]["treatment"] == (arms["variant"] == "treatment").sum()
    assert set(summary["truth"]["objective"]["by_variant"]) == {"control", "treatment"}
