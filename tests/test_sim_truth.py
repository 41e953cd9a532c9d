"""truth.json against an independent recomputation from the files; determinism; the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from arinsight.config import load_ladder
from arinsight.sim import LEDGER_TABLES, load_world, simulate, simulate_to_dir, simulate_truth

SCALE = 0.03  # 600 customers
MONTHS = 9
SEED = 5
DSO_WINDOW = 90  # days (settings default)
TOLERANCE_DAYS = 1e-3  # truth rounds DSO to 4 decimals


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("truth")
    summary = simulate_to_dir(out=out, scale=SCALE, months=MONTHS, seed=SEED)
    return out, summary


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _dso_from_files(out: Path, t: dt.date, segment: str | None) -> float | None:
    """DSO(t) = AR(t) / S(t - 90, t] * 90, straight from the definition, per invoice."""
    inv = pl.read_csv(out / "invoices.csv", try_parse_dates=True)
    cust = pl.read_csv(out / "customers.csv", try_parse_dates=True)
    pay = pl.read_csv(out / "payments.csv", try_parse_dates=True)
    adj = pl.read_csv(out / "adjustments.csv", try_parse_dates=True)
    if segment is not None:
        ids = cust.filter(pl.col("segment") == segment)["customer_id"].implode()
        inv = inv.filter(pl.col("customer_id").is_in(ids))
    paid = (
        pay.filter(pl.col("paid_at") <= t)
        .group_by("invoice_id")
        .agg(pl.col("amount").sum().alias("paid"))
    )
    adjusted = (
        adj.filter(pl.col("adjusted_at") <= t)
        .group_by("invoice_id")
        .agg(pl.col("amount").sum().alias("adjusted"))
    )
    open_ = (
        inv.filter(pl.col("issue_date") <= t)
        .join(paid, on="invoice_id", how="left")
        .join(adjusted, on="invoice_id", how="left")
        .select(
            (pl.col("amount") - pl.col("paid").fill_null(0) - pl.col("adjusted").fill_null(0))
            .clip(lower_bound=0)
            .alias("open")
        )
    )
    ar = open_["open"].sum()
    lo = t - dt.timedelta(days=DSO_WINDOW)
    sales = inv.filter((pl.col("issue_date") > lo) & (pl.col("issue_date") <= t))["amount"].sum()
    credits = adj.filter(
        (pl.col("kind") == "credit_note")
        & (pl.col("adjusted_at") > lo)
        & (pl.col("adjusted_at") <= t)
        & pl.col("invoice_id").is_in(inv["invoice_id"].implode())
    )["amount"].sum()
    s = sales - credits
    return ar / s * DSO_WINDOW if s > 0 else None


def test_truth_dso_matches_recomputation_from_files(written: tuple[Path, dict[str, Any]]) -> None:
    out, _ = written
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    dso = truth["dso"]
    assert dso["window_days"] == DSO_WINDOW
    assert len(dso["overall"]) == MONTHS
    checked = 0
    for key, value in dso["overall"].items():
        t = dt.date.fromisoformat(key)
        expected = _dso_from_files(out, t, None)
        assert value == pytest.approx(expected, abs=TOLERANCE_DAYS), key
        checked += 1
    for seg in ("enterprise", "consumer"):
        for key in list(dso["by_segment"][seg])[-3:]:
            expected = _dso_from_files(out, dt.date.fromisoformat(key), seg)
            assert dso["by_segment"][seg][key] == pytest.approx(expected, abs=TOLERANCE_DAYS)
    assert checked == MONTHS


def test_truth_rows_and_ledger_totals_match_files(written: tuple[Path, dict[str, Any]]) -> None:
    out, summary = written
    truth = summary["truth"]
    for t in LEDGER_TABLES:
        assert truth["rows"][t] == pl.read_csv(out / f"{t}.csv").height
    inv = pl.read_csv(out / "invoices.csv")
    adj = pl.read_csv(out / "adjustments.csv")
    assert truth["ledger"]["invoiced"] == pytest.approx(inv["amount"].sum(), abs=0.01)
    wo = adj.filter(pl.col("kind") == "write_off")["amount"].sum()
    assert truth["ledger"]["write_offs"] == pytest.approx(wo, abs=0.01)
    ev = pl.read_csv(out / "dunning_events.csv")
    fees = ev["fee"].sum()
    assert truth["fees"]["charged"] == pytest.approx(fees, abs=0.01)
    n_letters = ev.filter(pl.col("channel") == "letter").height
    assert truth["dunning_cost"]["by_channel"]["letter"]["events"] == n_letters


def test_truth_objective_adds_up(written: tuple[Path, dict[str, Any]]) -> None:
    obj = written[1]["truth"]["objective"]
    parts = (
        obj["cash_collected_pv"]
        + obj["fees_collected_pv"]
        - obj["channel_cost_pv"]
        - obj["agency_commission_pv"]
        - obj["churn_cost_pv"]
    )
    assert obj["net_value"] == pytest.approx(parts, abs=0.05)
    seg_sum = sum(b["net_value"] for b in obj["by_segment"].values())
    assert obj["net_value"] == pytest.approx(seg_sum, abs=0.05)
    assert obj["runout_days"] == load_world().objective.runout_days


def test_same_seed_gives_identical_files(
    written: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = written
    again = tmp_path / "again"
    simulate_to_dir(out=again, scale=SCALE, months=MONTHS, seed=SEED)
    first, second = _digests(out), _digests(again)
    assert "invoices.parquet" in first and "truth.json" in first
    assert first == second


def test_other_seed_gives_other_files(written: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    other = tmp_path / "other"
    simulate_to_dir(out=other, scale=SCALE, months=MONTHS, seed=SEED + 1)
    first, second = _digests(written[0]), _digests(other)
    for name in ("invoices.csv", "payments.csv", "dunning_events.parquet", "truth.json"):
        assert first[name] != second[name], name


def test_summary_shape(written: tuple[Path, dict[str, Any]]) -> None:
    out, summary = written
    assert summary["out"] == str(out)
    assert summary["seconds"] > 0
    assert set(LEDGER_TABLES) <= set(summary["rows"])
    assert summary["truth"]["months"] == MONTHS
    assert summary["truth"]["end_date"] == "2024-09-30"


def test_in_memory_simulate_equals_files(written: tuple[Path, dict[str, Any]]) -> None:
    out, summary = written
    frames, truth = simulate(None, None, MONTHS, SEED, SCALE)
    for t in LEDGER_TABLES:
        assert frames[t].equals(pl.read_parquet(out / f"{t}.parquet")), t
    assert truth == summary["truth"]
    assert simulate_truth(load_world(), load_ladder(), MONTHS, SEED, SCALE) == truth


def test_formats_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    simulate_to_dir(
        out=tmp_path,
        scale=0.01,
        months=2,
        formats=("csv",),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert (tmp_path / "invoices.csv").exists()
    assert not (tmp_path / "invoices.parquet").exists()
    total = calls[-1][1]
    assert calls[-1] == (total, total)
    assert [c[0] for c in calls] == list(range(1, total + 1))
    with pytest.raises(ValueError, match="format"):
        simulate_to_dir(out=tmp_path, scale=0.01, months=1, formats=("xlsx",))


def test_tiny_scale_gives_empty_but_well_formed_tables() -> None:
    frames, truth = simulate(None, None, 1, 0, 0.00001)
    assert all(f.height == 0 for f in frames.values())
    assert frames["invoices"].columns[0] == "invoice_id"
    assert truth["rows"]["invoices"] == 0
    assert truth["objective"]["net_value"] == 0.0
