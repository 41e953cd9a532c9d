"""Experiment marts (fct_experiment_customers, fct_experiment_arms) and the net-value bootstrap.

Hand-built: six customers in segment "s", one invoice each (issued 2025-01-01,
due 2025-01-15, 100 EUR), one stage-1 email each on 2025-01-20 carrying the arm:

  control:    C1 paid Jan 25 (24 days), C2 paid Feb 14 (44 days), C3 never paid
              (restricted to due + 90 = Apr 15: 104 days) and churned for non-payment
  treatment:  C4 paid Jan 21 (20), C5 paid Jan 22 (21), C6 paid Feb 1 (31)

A seventh customer's invoice issued Jun 30 sets the as-of date (no events: no arm).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from arinsight.warehouse import Warehouse

Z = 1.959964
DAYS = {"C1": 24, "C2": 44, "C3": 104, "C4": 20, "C5": 21, "C6": 31}
PAID = {
    "C1": "2025-01-25",
    "C2": "2025-02-14",
    "C4": "2025-01-21",
    "C5": "2025-01-22",
    "C6": "2025-02-01",
}
ARM = {
    "C1": "control",
    "C2": "control",
    "C3": "control",
    "C4": "treatment",
    "C5": "treatment",
    "C6": "treatment",
}


def tables() -> dict[str, list[dict[str, Any]]]:
    customers = [
        {
            "customer_id": c,
            "segment": "s",
            "customer_type": "b2c",
            "churned_at": None,
            "churn_reason": None,
        }
        for c in ARM
    ]
    customers[2].update(churned_at="2025-03-01", churn_reason="non_payment")
    customers.append(
        {
            "customer_id": "CZ",
            "segment": "s",
            "customer_type": "b2c",
            "churned_at": None,
            "churn_reason": None,
        }
    )
    invoices = [
        {
            "invoice_id": f"I{c}",
            "customer_id": c,
            "issue_date": "2025-01-01",
            "due_date": "2025-01-15",
            "amount": "100.00",
        }
        for c in ARM
    ] + [
        {
            "invoice_id": "IZ",
            "customer_id": "CZ",
            "issue_date": "2025-06-30",
            "due_date": "2025-07-14",
            "amount": "100.00",
        }
    ]
    payments = [
        {"payment_id": f"P{c}", "invoice_id": f"I{c}", "paid_at": d, "amount": "100.00"}
        for c, d in PAID.items()
    ]
    events = [
        {
            "event_id": f"E{c}",
            "invoice_id": f"I{c}",
            "stage": 1,
            "sent_at": "2025-01-20",
            "channel": "email",
            "variant": arm,
        }
        for c, arm in ARM.items()
    ]
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "dunning_events": events,
    }


@pytest.fixture
def wh(ledger_warehouse: Any) -> Warehouse:
    w: Warehouse = ledger_warehouse(**tables())
    return w


def test_customers_mart(wh: Warehouse) -> None:
    rows = {
        r["customer_id"]: r
        for r in wh.sql("select * from marts.fct_experiment_customers").to_dicts()
    }
    assert sorted(rows) == sorted(ARM)  # CZ has no event, hence no arm
    for c, days in DAYS.items():
        assert rows[c]["experiment_variant"] == ARM[c]
        assert rows[c]["total_restricted_days_to_settle"] == days
        assert rows[c]["overdue_amount"] == pytest.approx(100.0)
        assert rows[c]["recovered_90d_amount"] == pytest.approx(100.0 if c in PAID else 0.0)
        assert rows[c]["count_email_events"] == 1
    assert rows["C3"]["is_involuntary_churn"] is True
    assert rows["C1"]["is_involuntary_churn"] is False


def test_arms_effects_and_intervals(wh: Warehouse) -> None:
    rows = {
        r["experiment_variant"]: r
        for r in wh.sql("select * from marts.fct_experiment_arms where segment = 's'").to_dicts()
    }
    ctl = [DAYS[c] for c in ARM if ARM[c] == "control"]  # 24, 44, 104
    trt = [DAYS[c] for c in ARM if ARM[c] == "treatment"]  # 20, 21, 31
    # With one invoice per customer the linearised variance is s^2 / n.
    var_c, var_t = statistics.variance(ctl) / 3, statistics.variance(trt) / 3
    c, t = rows["control"], rows["treatment"]
    assert (c["is_control"], t["is_control"], t["control_variant"]) == (True, False, "control")
    assert c["mean_days_to_settle"] == pytest.approx(172 / 3)  # 57.33
    assert t["mean_days_to_settle"] == pytest.approx(24.0)
    assert c["mean_days_to_settle_ci_low"] == pytest.approx(172 / 3 - Z * math.sqrt(var_c))
    assert t["delta_days_to_settle"] == pytest.approx(24 - 172 / 3)
    half = Z * math.sqrt(var_c + var_t)
    assert t["delta_days_to_settle_ci_low"] == pytest.approx(24 - 172 / 3 - half)
    assert t["delta_days_to_settle_ci_high"] == pytest.approx(24 - 172 / 3 + half)
    assert c["delta_days_to_settle"] == 0 and c["delta_days_to_settle_ci_low"] is None
    # Recovery within 90 days: control 200 of 300, treatment 300 of 300.
    assert c["recovery_90d_pct"] == pytest.approx(200 / 3)
    assert t["delta_recovery_90d_pct"] == pytest.approx(100 - 200 / 3)
    # Linearised: residuals 100 - 2/3*100 (twice) and 0 - 2/3*100, over 300^2, x 3/2.
    res = 2 * (100 / 3) ** 2 + (200 / 3) ** 2
    var_rc = 3 / 2 * res / 300**2
    assert c["recovery_90d_ci_high_pct"] == pytest.approx(100 * (2 / 3 + Z * math.sqrt(var_rc)))

    # Involuntary churn: 1 of 3 (control) vs 0 of 3. Wilson per arm, and
    # Newcombe's hybrid interval for the difference: with no churner in the
    # treatment arm the interval still has width.
    def wilson(x: int, n: int) -> tuple[float, float]:
        p = x / n
        centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
        half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
        return centre - half, centre + half

    (lc, uc), (lt, ut) = wilson(1, 3), wilson(0, 3)
    assert c["involuntary_churn_pct"] == pytest.approx(100 / 3)
    assert c["involuntary_churn_ci_low_pct"] == pytest.approx(100 * lc)
    assert t["involuntary_churn_ci_high_pct"] == pytest.approx(100 * ut)
    diff = 0 - 1 / 3
    low = diff - math.sqrt((0 - lt) ** 2 + (uc - 1 / 3) ** 2)
    high = diff + math.sqrt((ut - 0) ** 2 + (1 / 3 - lc) ** 2)
    assert t["delta_involuntary_churn_ci_low_pct"] == pytest.approx(100 * low)
    assert t["delta_involuntary_churn_ci_high_pct"] == pytest.approx(100 * high)
    assert t["delta_involuntary_churn_ci_high_pct"] > 0  # 0 of 3 vs 1 of 3: no evidence


def test_net_value_bootstrap(wh: Warehouse) -> None:
    from arinsight.config import load_settings
    from arinsight.ladder.experiments import experiment_net_value

    s = load_settings()
    email = s.net_value.channel_cost["email"]
    clv = s.net_value.lifetime_value("s")
    ctl = [100 - email, 100 - email, -email - clv]
    trt = [100 - email] * 3
    out = experiment_net_value(wh, s, n_boot=500, seed=7)
    row = out.filter((pl.col("segment") == "s") & (pl.col("experiment_variant") == "treatment"))
    r = row.to_dicts()[0]
    assert r["net_value_per_customer_amount"] == pytest.approx(sum(trt) / 3)
    assert r["delta_net_value_per_customer_amount"] == pytest.approx(sum(trt) / 3 - sum(ctl) / 3)
    # Resampling 3 control customers: the mean is one of the few possible
    # values; the 95 % interval runs from "C3 never drawn" to "drawn thrice".
    assert r["delta_ci_low_amount"] == pytest.approx(0.0, abs=1e-6)
    assert r["delta_ci_high_amount"] == pytest.approx(clv + 100, rel=1e-6)
    again = experiment_net_value(wh, s, n_boot=500, seed=7)
    assert again.equals(out)  # a fixed seed gives the same interval


def test_no_experiment_is_empty(ledger_warehouse: Any) -> None:
    t = tables()
    for e in t["dunning_events"]:
        e["variant"] = None
    w = ledger_warehouse(**t)
    assert w.sql("select count(*) as n from marts.fct_experiment_arms")["n"][0] == 0
    from arinsight.ladder.experiments import experiment_net_value

    assert experiment_net_value(w).height == 0


def test_simulated_experiment(tmp_path: Path) -> None:
    """A world whose treatment arm is emailed at +2 instead of +10 days (strong lift).

    Per-arm restricted days to settle are recomputed here from the simulator's
    files (an independent computation), and the treatment settles faster.
    """
    import datetime as dt

    import yaml

    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.sim import simulate_to_dir
    from test_ladder_response_sim import LADDER, world

    w = world()
    w["segments"] = {"fast": w["segments"]["fast"]}
    w["segments"]["fast"]["customers"] = 800
    w["archetypes"] = {"fast": w["archetypes"]["fast"]}
    w["experiment"] = {"share": 0.5, "ladder": "early.yaml"}
    (tmp_path / "early.yaml").write_text(LADDER.replace("offset_days: 10", "offset_days: 2"))
    (tmp_path / "ladder.yaml").write_text(LADDER)
    (tmp_path / "world.yaml").write_text(yaml.safe_dump(w))
    simulate_to_dir(
        world=tmp_path / "world.yaml",
        ladder=tmp_path / "ladder.yaml",
        seed=2,
        out=tmp_path / "sim",
        formats=("parquet",),
    )
    wh = Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True)
    load_sources(
        wh.con,
        [
            tmp_path / "sim" / f"{t}.parquet"
            for t in ("customers", "invoices", "payments", "adjustments", "dunning_events")
        ],
    )
    build(wh.con, load_settings())
    arms = {
        r["experiment_variant"]: r
        for r in wh.sql("select * from marts.fct_experiment_arms where segment = 'all'").to_dicts()
    }
    as_of = wh.sql("select max(as_of_date) as d from marts.fct_invoice_lifecycle")["d"][0]
    wh.close()

    sim = tmp_path / "sim"
    inv = pl.read_parquet(sim / "invoices.parquet")
    pay = pl.read_parquet(sim / "payments.parquet")
    adj = pl.read_parquet(sim / "adjustments.parquet")
    ev = pl.read_parquet(sim / "dunning_events.parquet")
    arm_of = (
        ev.join(inv.select("invoice_id", "customer_id"), on="invoice_id")
        .group_by("customer_id")
        .agg(pl.col("variant").unique())
        .filter(pl.col("variant").list.len() == 1)
        .with_columns(pl.col("variant").list.first())
    )
    # Settled = the day payments and adjustments reach the invoice amount.
    moves = pl.concat(
        [
            pay.select(
                "invoice_id", pl.col("paid_at").alias("d"), pl.col("amount").cast(pl.Float64)
            ),
            adj.select(
                "invoice_id", pl.col("adjusted_at").alias("d"), pl.col("amount").cast(pl.Float64)
            ),
        ]
    ).sort("invoice_id", "d")
    moves = moves.with_columns(pl.col("amount").cum_sum().over("invoice_id").alias("cum"))
    settled = (
        moves.join(
            inv.select("invoice_id", pl.col("amount").cast(pl.Float64).alias("inv")),
            on="invoice_id",
        )
        .filter(pl.col("cum") >= pl.col("inv") - 0.01)
        .group_by("invoice_id")
        .agg(pl.col("d").min().alias("settled"))
    )
    frame = (
        inv.join(settled, on="invoice_id", how="left")
        .join(arm_of, on="customer_id")
        .filter(pl.col("due_date") + dt.timedelta(days=90) <= as_of)
        .with_columns(
            (
                pl.min_horizontal(
                    pl.col("settled").fill_null(as_of),
                    pl.col("due_date") + dt.timedelta(days=90),
                    pl.lit(as_of),
                )
                - pl.col("issue_date")
            )
            .dt.total_days()
            .alias("days")
        )
    )
    for arm, part in frame.group_by("variant"):
        assert arms[arm[0]]["mean_days_to_settle"] == pytest.approx(part["days"].mean())
        assert arms[arm[0]]["count_outcome_invoices"] == part.height
    t = arms["treatment"]
    # An email 8 days earlier with a 0.5/day lift settles invoices days sooner.
    assert t["delta_days_to_settle_ci_high"] < 0
    assert t["count_customers"] > 300 and arms["control"]["count_customers"] > 300


def test_cli_experiment(wh: Warehouse, ledger_warehouse: Any) -> None:
    import json
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "arinsight")
    db = str(wh.path)
    wh.close()
    r = subprocess.run(
        [exe, "ladder", "experiment", "--db", db, "--json", "--boot", "200"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    rows = {(x["segment"], x["experiment_variant"]): x for x in json.loads(r.stdout)}
    t = rows[("s", "treatment")]
    assert t["delta_days_to_settle"] == pytest.approx(24 - 172 / 3)
    assert t["delta_net_value_per_customer_amount"] is not None
    r = subprocess.run(
        [exe, "ladder", "experiment", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0 and "treatment" in r.stdout
    t2 = tables()
    for e in t2["dunning_events"]:
        e["variant"] = None
    w2 = ledger_warehouse(**t2)
    db2 = str(w2.path)
    w2.close()
    r = subprocess.run(
        [exe, "ladder", "experiment", "--db", db2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 1 and "no experiment" in r.stderr and "Traceback" not in r.stderr
