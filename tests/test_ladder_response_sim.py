"""Response marts on a simulated world with a known, strong reminder effect.

Two segments, one payer archetype each, identical except for how fast a
reminder's lift decays (half-life 2 days in "fast", 6 days in "slow"). The
natural payment day is spread widely (sd 60 days) so the hazard without a
reminder is nearly flat around the send, partial payments and disputes are
off, the lift does not weaken with the age of the debt. The ladder sends one
email at +10 days and a letter at +50, so the 30 days after the email are free
of other sends.

Expectations come from the world file alone (docs/simulator.md): the lift adds
a daily hazard L x 0.5^(t / half_life), so ln(excess rate) falls by ln 2 per
half-life; the died-out day (excess down to 10 % of day 1) is 1 + half_life x
log2(10).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from arinsight.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
HALF_LIVES = {"fast": 2.0, "slow": 6.0}
LIFT = 0.5  # hazard per day right after the email (a very strong response)
DIED_OUT_SHARE = 0.1  # fct_stage_response: excess down to 10 % of day 1
LADDER = """\
name: one_email
default:
  - {stage: 1, name: Erinnerung, offset_days: 10, channel: email}
  - {stage: 2, name: Mahnung, offset_days: 50, channel: letter}
"""


def world() -> dict[str, Any]:
    base = yaml.safe_load(
        (REPO / "src/arinsight/defaults/world_default.yaml").read_text(encoding="utf-8")
    )
    template = copy.deepcopy(base["archetypes"]["forgetful"])
    template["natural_pay"] = {"never_share": 0.6, "days_after_due": {"mean": 20, "sd": 60}}
    template["partial_payments"]["share"] = 0.0
    template["disputes"]["share"] = 0.0
    archetypes, segments = {}, {}
    for name, half_life in HALF_LIVES.items():
        arch = copy.deepcopy(template)
        arch["reminder_response"] = {
            "lift": {
                "email": LIFT,
                "sms": LIFT,
                "letter": LIFT,
                "phone": LIFT,
                "collection_agency": 0.0,
            },
            "half_life_days": half_life,
            "fatigue": 1.0,
            "responsiveness_days": 100000,
            "fee_lift_per_eur": 0.0,
        }
        archetypes[name] = arch
        seg = copy.deepcopy(base["segments"]["consumer"])
        seg.update(customers=1500, archetypes={name: 1.0})
        seg["subscription"]["share"] = 1.0
        segments[name] = seg
    return {
        **base,
        "name": "strong_reminders",
        "months": 6,
        "archetypes": archetypes,
        "segments": segments,
    }


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.sim import simulate_to_dir

    tmp = tmp_path_factory.mktemp("strong")
    (tmp / "world.yaml").write_text(yaml.safe_dump(world()), encoding="utf-8")
    (tmp / "ladder.yaml").write_text(LADDER, encoding="utf-8")
    simulate_to_dir(
        world=tmp / "world.yaml",
        ladder=tmp / "ladder.yaml",
        seed=1,
        out=tmp / "sim",
        formats=("parquet",),
    )
    w = Warehouse.open(tmp / "w.duckdb", read_only=False, create=True)
    load_sources(
        w.con,
        [
            tmp / "sim" / f"{t}.parquet"
            for t in ("customers", "invoices", "payments", "adjustments", "dunning_events")
        ],
    )
    build(w.con, load_settings())
    yield w
    w.close()


@pytest.mark.parametrize("segment", sorted(HALF_LIVES))
def test_lift_decay_and_died_out_day(wh: Warehouse, segment: str) -> None:
    (r,) = wh.sql(
        "select * from marts.fct_stage_response where segment_type = 'segment' "
        "and segment = ? and stage_number = 1",
        [segment],
    ).to_dicts()
    half_life = HALF_LIVES[segment]
    expected_died_out = 1 + half_life * math.log2(1 / DIED_OUT_SHARE)  # 7.6 / 20.9 days
    assert r["count_sent"] > 2000  # plenty of evidence
    # A strong reminder: the days 1-3 hazard is many times the baseline, and
    # the whole interval is above 1.
    assert r["response_lift_ci_low_ratio"] > 5
    # The fitted half-life recovers the world's within 15 %, and so does the
    # died-out day; the faster world's response dies out earlier.
    assert r["decay_half_life_days"] == pytest.approx(half_life, rel=0.15)
    assert r["died_out_day"] == pytest.approx(expected_died_out, rel=0.15)
    assert r["decay_half_life_low_days"] < r["decay_half_life_days"]
    assert r["decay_half_life_days"] < r["decay_half_life_high_days"]
    # The email at +10 is followed by the letter 40 days later: died out before.
    assert r["median_next_stage_days"] == 40
    assert r["is_died_out_before_next_stage"] is True


@pytest.mark.parametrize("segment", sorted(HALF_LIVES))
def test_decay_fit_matches_an_independent_fit(wh: Warehouse, segment: str) -> None:
    """The mart's weighted least squares, redone with numpy from the daily rows."""
    import numpy as np

    (r,) = wh.sql(
        "select * from marts.fct_stage_response where segment_type = 'segment' "
        "and segment = ? and stage_number = 1",
        [segment],
    ).to_dicts()
    daily = wh.sql(
        "select * from marts.fct_stage_response_daily where segment_type = 'segment' "
        "and segment = ? and stage_number = 1 and days_from_send >= 1 order by days_from_send",
        [segment],
    )
    end = r["first_day_at_baseline"] or 31
    x, y, w = [], [], []
    for d in daily.to_dicts():
        h, b, n = d["hazard_ratio"], d["baseline_hazard_ratio"], d["count_at_risk"]
        excess = -np.log(1 - h) + np.log(1 - b)
        if d["days_from_send"] < end and d["count_settled"] > 0 and excess > 0:
            x.append(d["days_from_send"])
            y.append(np.log(excess))
            w.append(n * (1 - h) * excess**2 / h)
    slope, _ = np.polyfit(np.array(x, float), np.array(y), 1, w=np.sqrt(np.array(w)))
    assert r["count_fit_days"] == len(x) >= 3
    assert r["decay_half_life_days"] == pytest.approx(math.log(2) / -slope)
    assert r["died_out_day"] == pytest.approx(1 + math.log(1 / DIED_OUT_SHARE) / -slope)


def test_fast_dies_out_before_slow(wh: Warehouse) -> None:
    rows = {
        r["segment"]: r
        for r in wh.sql(
            "select * from marts.fct_stage_response where segment_type = 'segment' "
            "and stage_number = 1"
        ).to_dicts()
    }
    assert rows["fast"]["died_out_high_day"] < rows["slow"]["died_out_low_day"]
    # The observed day the lift's interval first reaches 1 is later for slow.
    assert rows["fast"]["first_day_at_baseline"] < rows["slow"]["first_day_at_baseline"]
