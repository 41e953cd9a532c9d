"""The simulator's automatic charges, retries and message engagement (issue 16).

The default world plus the blocks of ``tests/data/worlds/auto_pay_blocks.yaml``.
Rates the world sets (retry success, update delay, pay days, lift multipliers)
are checked against what the run realises, with binomial margins of four
standard errors; the marts are checked against the raw files and truth.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from arinsight.config import default_path, load_ladder, load_settings
from arinsight.contract import FAILURE_REASONS
from arinsight.sim import engine, output
from arinsight.sim.world import World, world_from_dict

REPO = Path(__file__).resolve().parents[1]
BLOCKS = REPO / "tests" / "data" / "worlds" / "auto_pay_blocks.yaml"
SCALE, MONTHS, SEED = 0.15, 12, 7


def _world_dict(**over: Any) -> dict[str, Any]:
    from arinsight.config import deep_merge

    base = yaml.safe_load(Path(default_path("world_default.yaml")).read_text(encoding="utf-8"))
    blocks = yaml.safe_load(BLOCKS.read_text(encoding="utf-8"))
    return deep_merge(deep_merge(base, blocks), over)


def _world(**over: Any) -> World:
    return world_from_dict(_world_dict(**over))


def _frames(world: World, ladder: Any = None, seed: int = SEED) -> dict[str, pl.DataFrame]:
    r = engine.run(world, ladder or load_ladder(), months=MONTHS, seed=seed, scale=SCALE)
    return output.frames(r)


def _margin(p: float, n: int) -> float:
    return 4 * math.sqrt(max(p * (1 - p), 0.01) / max(n, 1))


def _retries(att: pl.DataFrame) -> pl.DataFrame:
    """Retries (retry_number >= 1) with the reason of their invoice's first failure."""
    first = att.filter((pl.col("retry_number") == 0) & (pl.col("outcome") == "failed")).select(
        "invoice_id", pl.col("failure_reason").alias("first_reason")
    )
    return att.filter(pl.col("retry_number") >= 1).join(first, on="invoice_id")


def test_same_seed_same_files_and_other_seed_differs() -> None:
    w = _world()
    a, b = _frames(w), _frames(w)
    for name in ("payment_attempts", "message_events", "payments"):
        assert a[name].equals(b[name]), name
    c = _frames(w, seed=SEED + 1)
    assert not a["payment_attempts"].equals(c["payment_attempts"])


def test_only_card_and_direct_debit_customers_are_charged() -> None:
    fr = _frames(_world())
    att = fr["payment_attempts"]
    assert att.height > 0
    assert set(att["method"].unique()) <= {"card", "direct_debit"}
    # every charged invoice's first attempt is on its due date
    first = att.filter(pl.col("retry_number") == 0).join(
        fr["invoices"].select("invoice_id", "due_date"), on="invoice_id"
    )
    assert (first["attempted_at"] == first["due_date"]).all()
    # a failed attempt always has a reason and the configured processor code
    failed = att.filter(pl.col("outcome") == "failed")
    assert failed["failure_reason"].null_count() == 0
    codes = yaml.safe_load(BLOCKS.read_text())["auto_pay"]["failure_codes"]
    assert (failed["failure_code"] == failed["failure_reason"].replace_strict(codes)).all()


def test_expired_card_never_succeeds_before_the_update() -> None:
    # retries 3 and 7 days after a failure (the default schedule): with the card
    # updated 30 days after the failure, none can succeed; updated after 1 day,
    # a retry succeeds with the card_expired retry_success of 0.95
    late = _frames(_world(auto_pay={"update_days": {"mean": 30, "sd": 0}}))
    r = _retries(late["payment_attempts"]).filter(pl.col("first_reason") == "card_expired")
    assert r.height > 30
    assert (r["outcome"] == "failed").all()
    early = _frames(_world(auto_pay={"update_days": {"mean": 1, "sd": 0}}))
    r = _retries(early["payment_attempts"]).filter(pl.col("first_reason") == "card_expired")
    rate = (r["outcome"] == "succeeded").mean()
    assert isinstance(rate, float)
    assert abs(rate - 0.95) < _margin(0.95, r.height), (rate, r.height)


def _ladder_with(retries: dict[str, Any]) -> Any:
    from arinsight.config import Ladder

    data = load_ladder().model_dump()
    data["retries"] = retries
    return Ladder.model_validate(data)


def test_insufficient_funds_recover_around_pay_day() -> None:
    # pay day on the 1st, window 3 days: retries on the 2nd succeed with 0.75,
    # retries on the 15th with the plain insufficient_funds retry_success of 0.15
    w = _world()
    rates = {}
    for dom in (2, 15):
        lad = _ladder_with(
            {"by_reason": {"insufficient_funds": {"days_of_month": [dom], "count": 1}}}
        )
        att = _frames(w, lad)["payment_attempts"]
        r = _retries(att).filter(pl.col("first_reason") == "insufficient_funds")
        assert r.height > 50
        assert (r["attempted_at"].dt.day() == dom).all()
        rates[dom] = ((r["outcome"] == "succeeded").mean(), r.height)
    (p2, n2), (p15, n15) = rates[2], rates[15]
    assert abs(p2 - 0.75) < _margin(0.75, n2), rates
    assert abs(p15 - 0.15) < _margin(0.15, n15), rates


def test_no_retry_schedule_means_no_retries() -> None:
    lad = _ladder_with({"default": {"gaps_days": []}})
    att = _frames(_world(), lad)["payment_attempts"]
    assert att.height > 0
    assert (att["retry_number"] == 0).all()


def test_a_click_raises_the_payment_hazard_more_than_an_open() -> None:
    # Clicks are drawn independently of the archetype once a message is opened,
    # so opened-and-clicked vs opened-only sends differ only by the lift
    # multiplier (2.5 vs 1.2): the share paid within 7 days of the send must be
    # higher after a click.
    fr = _frames(_world())
    msg = fr["message_events"]
    ev = fr["dunning_events"].select("event_id", "invoice_id", "sent_at", "channel")
    kinds = msg.group_by("event_id").agg(
        pl.col("kind").eq("opened").any().alias("opened"),
        pl.col("kind").eq("clicked").any().alias("clicked"),
    )
    paid = fr["payments"].group_by("invoice_id").agg(pl.col("paid_at").max().alias("last_paid"))
    settled = (
        fr["invoices"]
        .select("invoice_id", "amount")
        .join(
            fr["payments"].group_by("invoice_id").agg(pl.col("amount").sum().alias("paid")),
            on="invoice_id",
            how="left",
        )
        .join(paid, on="invoice_id", how="left")
        .filter(pl.col("paid") >= pl.col("amount"))
    )
    sends = (
        kinds.join(ev, on="event_id")
        .filter(pl.col("channel") == "email", pl.col("opened"))
        .join(settled.select("invoice_id", "last_paid"), on="invoice_id", how="left")
        .with_columns(
            (
                pl.col("last_paid").is_not_null()
                & (pl.col("last_paid") >= pl.col("sent_at"))
                & ((pl.col("last_paid") - pl.col("sent_at")).dt.total_days() < 7)
            ).alias("paid7")
        )
    )
    clicked = sends.filter(pl.col("clicked"))["paid7"]
    opened_only = sends.filter(~pl.col("clicked"))["paid7"]
    p_c, p_o = clicked.mean(), opened_only.mean()
    assert isinstance(p_c, float) and isinstance(p_o, float)
    se = math.sqrt(p_c * (1 - p_c) / clicked.len() + p_o * (1 - p_o) / opened_only.len())
    assert p_c - p_o > 3 * se, (p_c, clicked.len(), p_o, opened_only.len())


def test_engagement_rates_follow_the_world() -> None:
    fr = _frames(_world())
    msg = fr["message_events"].join(
        fr["dunning_events"].select("event_id", "channel"), on="event_id"
    )
    email = msg.filter(pl.col("channel") == "email")
    sends = email["event_id"].n_unique()
    bounced = email.filter(pl.col("kind") == "bounced").height
    delivered = email.filter(pl.col("kind") == "delivered").height
    assert bounced + delivered == sends  # every tracked send is one or the other
    assert abs(bounced / sends - 0.05) < _margin(0.05, sends)
    # no phone or agency events: those channels are not tracked
    assert set(msg["channel"].unique()) <= {"email", "sms", "letter"}
    # letters are never opened
    assert msg.filter(pl.col("channel") == "letter", pl.col("kind") == "opened").height == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Any]:
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.sim import simulate_to_dir
    from arinsight.warehouse import Warehouse

    d = tmp_path_factory.mktemp("autopay")
    wpath = d / "world.yaml"
    wpath.write_text(yaml.safe_dump(_world_dict()), encoding="utf-8")
    out = d / "ledger"
    simulate_to_dir(world=wpath, months=MONTHS, seed=SEED, scale=SCALE, out=out, formats=("csv",))
    tr = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    wh = Warehouse.open(d / "w.duckdb", read_only=False, create=True)
    load_sources(wh.con, [out])
    build(wh.con, load_settings())
    yield out, tr, wh
    wh.close()


def test_retry_recovery_per_reason_matches_truth_and_files(
    built: tuple[Path, dict[str, Any], Any],
) -> None:
    out, tr, wh = built
    att = pl.read_csv(
        out / "payment_attempts.csv",
        try_parse_dates=True,
        schema_overrides={"failure_code": pl.String},
    )
    # independent: the reason of each invoice's first failure, its retries and
    # how many of them succeeded, straight from the file
    files = (
        _retries(att)
        .group_by("first_reason")
        .agg(
            pl.len().alias("retries"),
            (pl.col("outcome") == "succeeded").sum().alias("won"),
        )
    )
    files_d = {r["first_reason"]: (r["retries"], r["won"]) for r in files.to_dicts()}
    failed = att.filter((pl.col("retry_number") == 0) & (pl.col("outcome") == "failed"))
    failed_d = dict(failed.group_by("failure_reason").len().rows())
    mart = wh.sql(
        "select failure_reason, sum(count_attempts) filter (where retry_number >= 1), "
        "sum(count_recovered), sum(count_attempts) filter (where retry_number = 0) "
        "from marts.fct_payment_retries where segment = 'all' group by 1"
    ).rows()
    mart_d = {r: (int(a or 0), int(w), int(f or 0)) for r, a, w, f in mart}
    checked = 0
    for reason in FAILURE_REASONS:
        t = tr["payment_retries"]["by_reason"][reason]
        if not t["failed_invoices"]:
            continue
        checked += 1
        retries, won = files_d.get(reason, (0, 0))
        assert (t["retry_attempts"], t["retries_succeeded"]) == (retries, won), reason
        assert mart_d[reason] == (retries, won, failed_d[reason]), reason
        assert t["failed_invoices"] == failed_d[reason]
        # the mart's rate per retry number adds up to the realised rate
        if retries:
            assert t["retry_recovery"] == pytest.approx(won / retries, abs=1e-6)
    assert checked >= 5
    assert tr["rows"]["payment_attempts"] == att.height


def test_engagement_mart_matches_the_files(built: tuple[Path, dict[str, Any], Any]) -> None:
    out, tr, wh = built
    msg = pl.read_csv(out / "message_events.csv", try_parse_dates=True)
    # truth counts every message event of the horizon
    assert tr["rows"]["message_events"] == msg.height
    email = tr["message_engagement"]["by_channel"]["email"]
    assert (
        email["bounced"]
        == msg.filter(
            pl.col("kind") == "bounced",
            pl.col("event_id").is_in(
                pl.read_csv(out / "dunning_events.csv")
                .filter(pl.col("channel") == "email")["event_id"]
                .implode()
            ),
        ).height
    )
    # the mart: delivered + bounced = sent on every row
    bad = wh.sql(
        "select count(*) from marts.fct_message_engagement "
        "where count_delivered + count_bounced <> count_sent"
    ).rows()
    assert bad == [(0,)]
    # clicked sends convert more often than opened ones overall (lift 2.5 vs 1.2)
    conv = wh.sql(
        "select sum(count_clicked_converted) / sum(count_clicked_decided), "
        "sum(count_not_engaged_converted) / sum(count_not_engaged_decided) "
        "from marts.fct_message_engagement where segment = 'all' and channel = 'email'"
    ).rows()[0]
    assert conv[0] > conv[1]
