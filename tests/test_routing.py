"""Ladder ``route`` rules: schema, `ladder check` / `ladder show`, the simulator executing them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from arinsight.config import dump_ladder, load_ladder
from arinsight.ladder.store import parse_ladder_text
from arinsight.sim import engine, load_world, output

REPO = Path(__file__).resolve().parents[1]
ARINSIGHT = [str(Path(sys.executable).parent / "arinsight")]

STAGES = """\
name: routed
default:
  - {stage: 1, name: reminder, offset_days: 7, channel: email}
  - {stage: 2, name: letter, offset_days: 21, channel: letter}
  - {stage: 3, name: agency, offset_days: 45, channel: collection_agency}
"""
ROUTE = """\
route:
  - stage: 3
    min_paid_ratio: 0.4
    within_days: 30
    instead: {name: call first, channel: phone}
    fallback_after_days: 20
"""
GOOD = STAGES + ROUTE


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # rich tables unwrapped
    return subprocess.run(
        [*ARINSIGHT, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env=env,
    )


def test_route_parses_and_round_trips() -> None:
    lad = parse_ladder_text(GOOD, "good.yaml")
    (r,) = lad.route
    assert (r.stage, r.min_paid_ratio, r.within_days, r.fallback_after_days) == (3, 0.4, 30, 20)
    assert lad.route_for("any segment", 3) is r
    assert lad.route_for("any segment", 2) is None
    assert parse_ladder_text(dump_ladder(lad), "again") == lad
    # "never hand over" (null) survives the round trip: it is not the default 30 days
    never = parse_ladder_text(
        GOOD.replace("fallback_after_days: 20", "fallback_after_days: null"), "never.yaml"
    )
    assert never.route[0].fallback_after_days is None
    assert parse_ladder_text(dump_ladder(never), "again").route[0].fallback_after_days is None
    # backward compatible: a ladder without routes dumps no route key
    assert "route" not in dump_ladder(load_ladder())


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        # a stage the ladder does not have
        (("stage: 3\n    min", "stage: 9\n    min"), "route.0.stage"),
        # probabilities are strictly between 0 and 1
        (("min_paid_ratio: 0.4", "min_paid_ratio: 1.2"), "route.0.min_paid_ratio"),
        # the gentler step can never be the agency itself
        (("channel: phone", "channel: collection_agency"), "route.0.instead.channel"),
        # a typo gets a did-you-mean
        (("within_days", "within_dayz"), "route.0.within_dayz"),
        # the fallback is days, at least one
        (("fallback_after_days: 20", "fallback_after_days: 0"), "route.0.fallback_after_days"),
        # one route per stage and segment
        (("fallback_after_days: 20\n", "fallback_after_days: 20\n" + ROUTE[7:]), "route.1"),
    ],
)
def test_bad_route_fails_loudly_through_the_cli(
    tmp_path: Path, edit: tuple[str, str], key: str
) -> None:
    bad = GOOD.replace(*edit)
    assert bad != GOOD
    f = tmp_path / "bad.yaml"
    f.write_text(bad, encoding="utf-8")
    r = run("ladder", "check", str(f), "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert key in r.stderr, r.stderr
    assert str(f) in r.stderr


def test_ladder_check_checks_the_gentler_step(tmp_path: Path) -> None:
    # a 45 EUR fee on the phone call: consumers never owe the 40 EUR flat fee (error);
    # no fallback on a handover: routed invoices are never handed over (warning)
    text = GOOD.replace("channel: phone}", "channel: phone, fee: 45}").replace(
        "fallback_after_days: 20", "fallback_after_days: null"
    )
    f = tmp_path / "l.yaml"
    f.write_text(text, encoding="utf-8")
    r = run("ladder", "check", str(f), "--db", str(tmp_path / "none.duckdb"), "--json")
    assert r.returncode == 1
    rules = {x["rule"]: x["severity"] for x in json.loads(r.stdout)["findings"]}
    assert rules["route_consumer_flat_fee"] == "error"
    assert rules["route_never_hands_over"] == "warning"
    f.write_text(GOOD, encoding="utf-8")
    r = run("ladder", "check", str(f), "--db", str(tmp_path / "none.duckdb"), "--json")
    assert r.returncode == 0, r.stderr
    assert not [x for x in json.loads(r.stdout)["findings"] if x["rule"].startswith("route")]


def test_ladder_show_lists_routes(tmp_path: Path) -> None:
    f = tmp_path / "l.yaml"
    f.write_text(GOOD, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    from arinsight.warehouse import Warehouse

    Warehouse.open(Path(db), read_only=False, create=True).close()
    assert run("ladder", "apply", str(f), "--effective", "2025-01-01", "--db", db).returncode == 0
    r = run("ladder", "show", "--db", db, "--as-of", "2025-02-01", "--json")
    assert r.returncode == 0, r.stderr
    (route,) = json.loads(r.stdout)["route"]
    assert (route["stage"], route["instead_channel"], route["fallback_after_days"]) == (
        3,
        "phone",
        20,
    )
    r = run("ladder", "show", "--db", db, "--as-of", "2025-02-01")
    assert "route: gentler path" in r.stdout and "call first (phone)" in r.stdout


# ---------------------------------------------------------------- the engine


class FixedRouter(engine.Router):
    """Routes every candidate from ``start_day`` on (or none), recording what it was asked."""

    def __init__(self, start_day: int, take: bool) -> None:
        self.start_day, self.take = start_day, take
        self.asked: list[tuple[int, int]] = []

    def start(self, state: dict[str, Any]) -> None:
        self.routed = np.zeros(state["inv_cust"].size, dtype=bool)

    def choose(self, day: int, idx: Any, live: Any, lid: Any, k: Any) -> Any:
        g = live["g"][idx]
        self.asked += [(day, int(x)) for x in g]
        out = np.full(idx.size, self.take and day >= self.start_day) & ~self.routed[g]
        self.routed[g[out]] = True
        return out


@pytest.fixture(scope="module")
def world() -> Any:
    return load_world()


def _frames(res: engine.SimResult) -> dict[str, pl.DataFrame]:
    return output.frames(res)


def test_no_routing_changes_nothing(world: Any) -> None:
    plain = load_ladder()
    routed = parse_ladder_text(dump_ladder(plain) + ROUTE.replace("stage: 3", "stage: 4"), "routed")
    a = _frames(engine.run(world, plain, 4, 3, 0.05))
    router = FixedRouter(0, take=False)
    b = _frames(engine.run(world, routed, 4, 3, 0.05, router=router))
    assert router.asked  # the router was consulted ...
    for name in a:  # ... and declining every time leaves every file as without routes
        assert a[name].equals(b[name]), name


def test_routed_invoices_get_the_step_then_the_fallback(world: Any) -> None:
    plain = load_ladder()  # stage 4 = agency at +60
    routed = parse_ladder_text(dump_ladder(plain) + ROUTE.replace("stage: 3", "stage: 4"), "routed")
    res = engine.run(world, routed, 6, 3, 0.05, router=FixedRouter(120, take=True))
    ev = _frames(res)["dunning_events"]
    calls = ev.filter(pl.col("stage_name") == "call first")
    agency = ev.filter(pl.col("channel") == "collection_agency")
    assert calls.height > 0
    # the step goes out under the replaced stage's number, on the phone, once per invoice
    assert set(calls["stage"]) == {4} and set(calls["channel"]) == {"phone"}
    assert calls["invoice_id"].n_unique() == calls.height
    start = world.start_date
    assert (calls["sent_at"] >= start + dt.timedelta(days=120)).all()
    # a routed invoice reaches the agency only after the 20-day fallback wait
    both = calls.join(agency, on="invoice_id", suffix="_agency")
    gap = (both["sent_at_agency"] - both["sent_at"]).dt.total_days()
    assert both.height > 0
    assert gap.min() >= 20
    assert (gap == 20).mean() > 0.9  # later only when a dispute held the dunning run
    # before day 120 the handover went out as written
    early = agency.filter(pl.col("sent_at") < start + dt.timedelta(days=120))
    assert early.height > 0


class RecordingRouter(engine.Router):
    """Routes nothing; on the first call on or after ``day`` it records the features
    the model router computes for every open invoice of the run."""

    def __init__(self, day: int) -> None:
        from arinsight.sim.routing import ModelRouter

        self.day = day
        self.inner = ModelRouter(model=None, active_from=10**9)  # type: ignore[arg-type]
        self.seen: tuple[int, pl.DataFrame, Any] | None = None

    def start(self, state: dict[str, Any]) -> None:
        self.inner.start(state)
        self.state = state

    def choose(self, day: int, idx: Any, live: Any, lid: Any, k: Any) -> Any:
        if self.seen is None and day >= self.day:
            open_ = np.flatnonzero(live["state"] <= engine.DISPUTE)
            g = live["g"][open_].astype(np.int64)
            self.seen = (day, self.inner.features(day, g, live, open_), g)
        return np.zeros(idx.size, dtype=bool)


def test_router_features_equal_the_warehouse_features(world: Any, tmp_path: Path) -> None:
    """The router rebuilds point_in_time's features from the run's own state: on the same
    day, for the same invoices, the warehouse built from the ledger files gives the same."""
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.propensity.features import point_in_time
    from arinsight.warehouse import Warehouse

    ladder = parse_ladder_text(
        dump_ladder(load_ladder()) + ROUTE.replace("stage: 3", "stage: 1"), "r"
    )
    router = RecordingRouter(200)
    res = engine.run(world, ladder, 9, 5, 0.05, router=router)
    assert router.seen is not None
    day, feats, g = router.seen
    issued = router.state["issued"]
    rank = np.cumsum(issued) - 1
    width = output._width(res.i_issue.size, 7)
    ids = output._ids("INV", rank[g], width)
    folder = tmp_path / "ledger"
    output.write(res, folder, ("parquet",))
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [folder])
        build(wh.con, load_settings())
        origin = world.start_date + dt.timedelta(days=day)
        ref = point_in_time(wh, [origin])
    ours = feats.with_columns(invoice_id=ids)
    # today's sends are not yet out when the router decides (the warehouse at the end
    # of the day has them): compare invoices of customers without a send today
    sent_today = (
        _frames(res)["dunning_events"]
        .filter(pl.col("sent_at") == origin)
        .join(_frames(res)["invoices"], on="invoice_id")["customer_id"]
    )
    ref = ref.filter(~pl.col("customer_id").is_in(sent_today.implode()))
    both = ours.join(ref, on="invoice_id", suffix="_wh")
    assert both.height > 100
    assert both.height == ref.height  # every open invoice the warehouse sees, the router sees
    for col in (
        "days_past_due",
        "stage_at_origin",
        "days_since_stage",
        "count_paid_before",
        "count_customer_overdue",
    ):
        a, b = both[col].cast(pl.Int64), both[f"{col}_wh"].cast(pl.Int64)
        assert (a.fill_null(-99) == b.fill_null(-99)).all(), col
    for col in ("invoice_amount", "late_ratio", "weighted_days_late", "median_days_late"):
        a, b = both[col].fill_null(-99.0), both[f"{col}_wh"].cast(pl.Float64).fill_null(-99.0)
        assert ((a - b).abs() < 1e-6).all(), col
    # highest stage of the customer's paid invoices: the warehouse counts reminders sent
    # after a payment it had not yet booked (posting delay) up to the data end; the
    # router only up to the day — equal for all but a few
    a = both["max_stage_before"].fill_null(-1)
    b = both["max_stage_before_wh"].fill_null(-1)
    assert (a == b).mean() > 0.97
    assert (a <= b).all()
