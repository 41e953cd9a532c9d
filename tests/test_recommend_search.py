"""The coordinate search on a made-up objective whose best ladder is known by hand."""

from __future__ import annotations

from arinsight.ladder.options import RecommenderOptions
from arinsight.ladder.recommend import search_segment
from arinsight.ladder.replay import PlannedStage

CURRENT = (
    PlannedStage(0, -3, "email", 0.0),
    PlannedStage(1, 7, "email", 0.0),
    PlannedStage(2, 21, "letter", 5.0),
    PlannedStage(4, 60, "collection_agency", 0.0),
)
OPTS = RecommenderOptions(search_radius_days=21, min_gap_days=3)
#: The made-up optimum: pre-due at -5, stage 1 at 2, stage 2 at 12; the handover where it is
#: (it is searched too, tests/test_recommend_handover_channels.py).
TARGET = {0: -5, 1: 2, 2: 12, 4: 60}


def value(plan: tuple[PlannedStage, ...]) -> float:
    # minus the squared distance of each stage from its target day; a dropped stage
    # costs 1000, so dropping never pays here
    days = {p.stage: p.day for p in plan}
    return -sum((days[k] - d) ** 2 if k in days else 1000.0 for k, d in TARGET.items())


def test_search_reaches_the_known_optimum() -> None:
    best = search_segment(value, CURRENT, -13, OPTS, lambda _p: True)
    assert [p.day if p else None for p in best] == [-5, 2, 12, 60]


def test_the_legality_predicate_is_respected() -> None:
    # a rule (which the ladder in force satisfies) that forbids the letter before day
    # 15: its best legal day is 15 instead of 12; the other stages reach their targets
    def legal(plan: tuple[PlannedStage, ...]) -> bool:
        return all(p.channel != "letter" or p.day >= 15 for p in plan)

    best = search_segment(value, CURRENT, -13, OPTS, legal)
    assert [p.day if p else None for p in best] == [-5, 2, 15, 60]


def test_a_worthless_stage_is_dropped() -> None:
    # an objective that only pays for fewer stages: stages go in search order (0, 1,
    # 2, then the handover), and the last one left stays (a ladder keeps one stage)
    def fewer(plan: tuple[PlannedStage, ...]) -> float:
        return -float(len(plan))

    best = search_segment(fewer, CURRENT, -13, OPTS, lambda _p: True)
    kept = [p for p in best if p is not None]
    assert len(kept) == 1 and kept[0].is_handover


def test_the_handover_is_dropped_when_that_pays_and_only_then() -> None:
    # the made-up optimum of the other tests, but the handover costs 50 wherever it is:
    # dropping it (nothing in its place) beats every day of it
    def no_agency(plan: tuple[PlannedStage, ...]) -> float:
        rest = tuple(p for p in plan if not p.is_handover)
        return value((*rest, CURRENT[-1])) - (50.0 if len(rest) < len(plan) else 0.0)

    best = search_segment(no_agency, CURRENT, -13, OPTS, lambda _p: True)
    assert [p.day if p else None for p in best] == [-5, 2, 12, None]
    # switched off (drop_handover: false), it stays at its best day
    keep = OPTS.model_copy(update={"drop_handover": False})
    best = search_segment(no_agency, CURRENT, -13, keep, lambda _p: True)
    assert [p.day if p else None for p in best] == [-5, 2, 12, 60]
    # an agency worth keeping (the plain objective: dropping costs 1000) stays
    best = search_segment(value, CURRENT, -13, OPTS, lambda _p: True)
    assert best[-1] is not None and best[-1].is_handover


def test_default_legality_rejects_new_legal_findings() -> None:
    # the shipped ladder is the baseline; handing consumers to the agency 10 days after
    # due (before the 30-day default of section 286(3) BGB) adds a finding -> rejected;
    # the unchanged ladder adds none -> accepted
    from arinsight.config import load_ladder
    from arinsight.ladder.recommend import default_legality

    ladder = load_ladder(None)
    legal = default_legality(ladder, {"consumer": "b2c", "smb": "b2b"})
    early_agency = tuple(
        s.model_copy(update={"offset_days": 10}) if s.channel == "collection_agency" else s
        for s in ladder.default
    )
    assert legal(ladder)
    assert not legal(ladder.model_copy(update={"segments": {"consumer": early_agency}}))


def test_a_frozen_stage_stays_and_no_neighbour_passes_it() -> None:
    # the objective of near_optimal's failure: it would drop the letter (position 2,
    # it costs 1 wherever it is) and send stage 1 at day 34, past the letter's day 21.
    # Unfrozen, it does that as far as the search radius lets it (7 + 21 = 28), and the
    # pruning could not put the letter back alone: stage 1 now sits after its day.
    # Frozen -- the letter was sent too few times to judge -- the letter stays at 21
    # and stage 1 stops at 21 - 3 = 18.
    def wants(plan: tuple[PlannedStage, ...]) -> float:
        got = {p.stage: p.day for p in plan}
        target = {0: -3, 1: 34, 4: 60}
        letter = 1.0 if 2 in got else 0.0
        return -letter - sum((got[k] - d) ** 2 if k in got else 1000.0 for k, d in target.items())

    best = search_segment(wants, CURRENT, -13, OPTS, lambda _p: True)
    assert [p.day if p else None for p in best] == [-3, 28, None, 60]
    best = search_segment(wants, CURRENT, -13, OPTS, lambda _p: True, frozen=frozenset({2}))
    assert [p.day if p else None for p in best] == [-3, 18, 21, 60]


def test_a_dropped_handover_is_put_back_after_the_last_stage() -> None:
    from arinsight.ladder.recommend import _handover_back

    letter = CURRENT[2]
    # the plain case: back at its current day (60)
    best = [CURRENT[0], CURRENT[1], letter, None]
    got = _handover_back(best, CURRENT, 3, OPTS)
    assert got is not None and got[3] == CURRENT[3]
    # the letter moved to day 64, past day 60: back at 64 + min_gap 3 = 67
    moved = PlannedStage(2, 64, "letter", 0.0)
    got = _handover_back([CURRENT[0], CURRENT[1], moved, None], CURRENT, 3, OPTS)
    assert got is not None and got[3] is not None
    assert (got[3].day, got[3].channel) == (67, "collection_agency")
    # a ladder whose handover is not its last stage: no place to put it back
    odd = (CURRENT[3], PlannedStage(5, 90, "letter", 0.0))
    assert _handover_back([None, PlannedStage(5, 50, "letter", 0.0)], odd, 0, OPTS) is None
