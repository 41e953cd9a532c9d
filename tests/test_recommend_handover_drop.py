"""Keep or drop the collection handover: two tiny simulated worlds whose answer is
known from their truth by hand, recommended on from the warehouse alone (simulation
inputs deleted first; ``tests/test_recommend_worlds.py`` builds them).

(The hand-worked answers were checked once on the true simulator, outside these
tests: 12 months, seeds 11 and 12, the ladder below with and without its handover --
the paying agency's world loses 128-159 k EUR without it, the costly agency's world
gains 268-297 k EUR.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_recommend_worlds import archetype, days, recommend_on, stage, world

LADDER = {
    "name": "with-agency",
    "default": [
        stage(1, 7, "email"),
        stage(2, 21, "letter"),
        stage(4, 60, "collection_agency"),
    ],
}


def payers(*, never: float, agency_churn: float, recovery: float) -> dict[str, Any]:
    """Forgetful payers (answer reminders) with ``never`` of invoices never paid on
    their own, an agency that recovers ``recovery`` of a case in full ~20 days after
    the handover (hardly less for older cases), and ``agency_churn`` excess churn
    hazard per handover."""
    return archetype(
        "forgetful",
        natural_pay__never_share=never,
        agency__recovery_share=recovery,
        agency__age_halving_days=3650,
        agency__recovered_fraction={"min": 1.0, "max": 1.0},
        agency__delay_days={"mean": 20, "sd": 5},
        churn__bump={
            "email": 0.0005,
            "sms": 0.001,
            "letter": 0.006,
            "phone": 0.004,
            "collection_agency": agency_churn,
        },
    )


@pytest.mark.slow
def test_an_agency_that_pays_is_kept(tmp_path: Path) -> None:
    # 40 % of invoices are never paid on their own, so reminders cannot collect them
    # and without a handover they are written off at day 365: nothing. Handed over at
    # day 60 a case of the median amount (EUR 300) brings 0.95 x 0.5^(60/3650) = 0.94
    # of it, EUR 282, less 20 % commission, EUR 226, less EUR 15 per case: ~EUR 211.
    # The agency's churn is 1 - exp(-0.005) = 0.5 % of its customers x EUR 4,000
    # lifetime value (settings, smb) = EUR 20. Keeping the handover wins ~EUR 190 a
    # case, so the proposal keeps it (its day may move; it is not dropped or replaced).
    w = world(
        {"forgetful": payers(never=0.4, agency_churn=0.005, recovery=0.95)}, {"forgetful": 1.0}
    )
    _cur, new, rec = recommend_on(tmp_path, w, LADDER)
    assert 4 in days(new)
    assert next(s for s in new.for_segment("smb") if s.stage == 4).channel == ("collection_agency")
    row = next(r for r in rec.rows if r["stage_number"] == 4)
    assert row["proposed_offset_days"] is not None
    assert not str(row["rationale"]).startswith("drop")


#: The agency still recovers 0.8 of a case but each handover adds an excess churn
#: hazard of 0.4 (the harness worlds' agencies: 0.15-0.4).
COSTLY = {"never": 0.15, "agency_churn": 0.4, "recovery": 0.8}


@pytest.fixture(scope="module")
def costly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """The costly agency's world, simulated and built once: (directory, proposal,
    recommendation)."""
    tmp = tmp_path_factory.mktemp("costly_agency")
    w = world({"forgetful": payers(**COSTLY)}, {"forgetful": 1.0})
    _cur, new, rec = recommend_on(tmp, w, LADDER)
    return tmp, new, rec


@pytest.mark.slow
def test_an_agency_whose_churn_outweighs_is_dropped(costly: tuple[Path, Any, Any]) -> None:
    # The agency recovers EUR 300 x 0.8 = 240 of a median case, less 20 % = 192, less
    # EUR 15 = EUR 177; but 1 - exp(-0.4) = 33 % of its customers leave, x EUR 4,000
    # lifetime value = EUR 1,319 a case, more than seven times what it brings. Without
    # a handover the 15 % never-payers are written off (nothing), the rest of the
    # ladder still collects the others. Dropping it wins ~EUR 1,100 a case: dropped,
    # nothing in its place (no call, no route), and fewer customers lost.
    _tmp, new, rec = costly
    assert 4 not in days(new)
    assert not [r for r in new.route if r.stage == 4]
    row = next(r for r in rec.rows if r["stage_number"] == 4)
    assert row["proposed_offset_days"] is None
    assert row["proposed_channel"] is None
    assert str(row["rationale"]).startswith("drop Stufe 4 (day 60; nothing in its place)")
    assert row["delta_net_value_amount_low"] > 0
    assert row["delta_involuntary_churn_high"] < 0
    # the route evidence says why there is no route on it
    (entry,) = [e for e in rec.fit_summary["routes"] if e["segment"] == "smb"]
    assert not entry["proposed"] and "drops the handover" in entry["rationale"]


@pytest.mark.slow
def test_a_replaced_handover_row_carries_the_replacement(costly: tuple[Path, Any, Any]) -> None:
    # The same ledger with dropping switched off: the route's break-even (recovery
    # 0.8 x 0.8 of EUR ~300 against ~30 points more churn x EUR 4,000) is at its floor,
    # so the phone call replaces the handover. The handover row must show what the
    # replacement does, not only the (unchanged) timing: the agency's churn is gone
    # (a third of the customers handed over stop leaving: fewer churns) and the
    # net value gains, as in the drop above, less EUR 4.50 a call.
    from arinsight.ladder.recommend import recommend
    from test_recommend_worlds import OPTS

    tmp, _new, _rec = costly
    rec = recommend(
        tmp / "w.duckdb",
        ladder_path=tmp / "ladder.yaml",
        options=OPTS.model_copy(update={"drop_handover": False}),
    )
    hand = next(s for s in rec.ladder.for_segment("smb") if s.stage == 4)
    assert (hand.channel, hand.fee) == ("phone", 0.0)
    row = next(r for r in rec.rows if r["stage_number"] == 4)
    assert row["proposed_channel"] == "phone"
    assert "on the fitted model the call instead of the agency" in row["rationale"]
    assert row["delta_net_value_amount_low"] > 0
    assert row["delta_involuntary_churn_high"] < 0
    whole = next(r for r in rec.rows if r["stage_number"] == -1)
    assert whole["delta_involuntary_churn_high"] < 0
    assert row["confidence"] in ("medium", "high")
