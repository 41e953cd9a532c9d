"""Decision rules of the recommender (arinsight.ladder.decide), from tables of cases."""

from __future__ import annotations

import math

import pytest

from arinsight.ladder import decide


@pytest.mark.parametrize(
    ("samples", "lo_pct", "hi_pct", "expected"),
    [
        # 0..10: the 10th percentile sits at position 1.0, the 90th at 9.0
        (list(range(11)), 10, 90, (1.0, 9.0)),
        # 0..4, 25 % -> position 1.0; 75 % -> 3.0
        ([4, 0, 3, 1, 2], 25, 75, (1.0, 3.0)),
        # two draws: 10 % of the way from 0 to 10 is 1.0, 90 % is 9.0
        ([0.0, 10.0], 10, 90, (1.0, 9.0)),
        # a single draw is its own interval
        ([5.0], 10, 90, (5.0, 5.0)),
    ],
)
def test_interval_percentiles(
    samples: list[float], lo_pct: float, hi_pct: float, expected: tuple[float, float]
) -> None:
    assert decide.interval(samples, lo_pct, hi_pct) == pytest.approx(expected)


def test_interval_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        decide.interval([], 10, 90)


@pytest.mark.parametrize(
    ("n_events", "min_events", "delta_low", "verdict"),
    [
        (1000, 200, 50.0, "change"),  # enough sends, interval above 0
        (1000, 200, 0.0, "no_change_evidence"),  # interval touches 0: cannot tell apart
        (1000, 200, -10.0, "no_change_evidence"),  # interval includes 0
        (199, 200, 5000.0, "no_change_small_n"),  # too few sends, however large the gain
        (200, 200, 1.0, "change"),  # exactly the minimum is enough
    ],
)
def test_stage_verdict(n_events: int, min_events: int, delta_low: float, verdict: str) -> None:
    assert decide.stage_verdict(n_events, min_events, delta_low) == verdict


@pytest.mark.parametrize(
    ("n_events", "min_events", "share_better", "keep"),
    [
        (500, 200, 0.9, True),  # helps in 90 % of draws
        (500, 200, 0.5, False),  # a coin flip is not evidence
        (500, 200, 0.2, False),  # undoing it is better in most draws
        (100, 200, 1.0, False),  # too few sends
    ],
)
def test_stage_keep(n_events: int, min_events: int, share_better: float, keep: bool) -> None:
    assert decide.stage_keep(n_events, min_events, share_better) is keep


@pytest.mark.parametrize(
    ("delta_low", "keep"),
    [(0.01, True), (0.0, False), (-500.0, False)],  # the 80 % interval must lie above 0
)
def test_segment_keep(delta_low: float, keep: bool) -> None:
    assert decide.segment_keep(delta_low) is keep


@pytest.mark.parametrize(
    ("low", "high", "n", "min_n", "flag"),
    [
        (10.0, 90.0, 1000, 200, "high"),  # above 0 and n >= 5 x 200
        (10.0, 90.0, 999, 200, "medium"),  # above 0 but fewer than 1000 sends
        (-10.0, 90.0, 5000, 200, "low"),  # includes 0
        (-90.0, -10.0, 5000, 200, "medium"),  # clearly negative is also clear evidence
        (10.0, 90.0, 150, 200, "none"),  # below the minimum n
    ],
)
def test_confidence_flag(low: float, high: float, n: int, min_n: int, flag: str) -> None:
    assert decide.confidence_flag(low, high, n, min_n) == flag


INF = math.inf


@pytest.mark.parametrize(
    ("sends", "now", "first", "first_now", "inside"),
    [
        # reach 1,200 vs 1,000 now: 1,200 <= 1.25 x 1,000 + 50, inside whatever the day
        ([1200.0], [1000.0], [7.0], [21.0], True),
        # a letter moved from day 21 to day 7 reaching 1,400 > 1,300: outside
        ([1400.0], [1000.0], [7.0], [21.0], False),
        # the same reach with the first send on its observed day (the handover after the
        # letters before it were dropped): invoices as old as it saw, inside
        ([1400.0], [1000.0], [75.0], [75.0], True),
        # ... or later than observed: inside
        ([1400.0], [1000.0], [80.0], [75.0], True),
        # a channel the ladder in force never used (first day inf) may not appear at scale
        ([400.0], [0.0], [10.0], [INF], False),
        # an unused channel stays unused: inside (0 <= 50)
        ([0.0], [0.0], [INF], [INF], True),
        # two channels: email inside, letter moved earlier and over the cap: outside
        ([900.0, 1400.0], [1000.0, 1000.0], [-5.0, 7.0], [-3.0, 21.0], False),
        # without first days every channel is capped (the older rule)
        ([1400.0], [1000.0], None, None, False),
    ],
)
def test_within_trust_region(
    sends: list[float],
    now: list[float],
    first: list[float] | None,
    first_now: list[float] | None,
    inside: bool,
) -> None:
    got = decide.within_trust_region(sends, now, 1.25, 50.0, first, first_now)
    assert got is inside


@pytest.mark.parametrize(
    ("amplitude", "half_life", "floor", "days"),
    [
        # 0.4 halves to 0.2, 0.1, 0.05: three half-lives of 2 days = 6 days
        (0.4, 2.0, 0.05, 6.0),
        # 0.8 -> 0.01 is log2(80) = 6.32 half-lives of 3 days
        (0.8, 3.0, 0.01, 3.0 * math.log2(80.0)),
        # a lift that starts below the floor has died out at once
        (0.005, 3.0, 0.01, 0.0),
    ],
)
def test_response_fade_days(amplitude: float, half_life: float, floor: float, days: float) -> None:
    assert decide.response_fade_days(amplitude, half_life, floor) == pytest.approx(days)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        (dict(current_day=21, proposed_day=14, verdict="change"), "earlier (day 21 → 14)"),
        (dict(current_day=7, proposed_day=12, verdict="change"), "later (day 7 → 12)"),
        (dict(current_day=35, proposed_day=None, verdict="change"), "drop"),
        (dict(current_day=7, proposed_day=7, verdict="no_change_small_n"), "only 120 times"),
        (dict(current_day=7, proposed_day=7, verdict="no_change_evidence"), "no change"),
    ],
)
def test_rationale_says_what_and_why(kw: dict[str, object], needle: str) -> None:
    text = decide.rationale(
        stage_name="1. Mahnung",
        n_events=120,
        min_events=200,
        delta_low=-5.0,
        delta_high=40.0,
        fade_days=6.0,
        next_gap_days=14,
        **kw,  # type: ignore[arg-type]
    )
    assert needle in text


@pytest.mark.parametrize(
    ("n_handovers", "min_handovers", "delta_low", "keep"),
    [
        (948, 200, 1_631_488.0, True),  # many handovers, the drop's interval above 0
        (948, 200, 0.0, False),  # an interval that touches 0: the handover stays
        (948, 200, -12_000.0, False),  # the drop would lose
        (44, 200, 50_000.0, False),  # too few handovers to weigh the agency: stays
        (200, 200, 1.0, True),  # exactly the minimum is enough
    ],
)
def test_handover_drop_keep(
    n_handovers: int, min_handovers: int, delta_low: float, keep: bool
) -> None:
    assert decide.handover_drop_keep(n_handovers, min_handovers, delta_low) is keep


def test_handover_drop_rationale_says_what_it_weighs() -> None:
    text = decide.handover_drop_rationale(
        stage_name="Inkasso-Übergabe",
        current_day=75,
        recovery_share=0.36,
        churn_per_case=0.171,
        cost_per_case=15.0,
        commission_pct=20.0,
        lifetime_value=4000.0,
        write_off_day=365,
        delta_low=1_631_488.0,
        delta_high=2_270_064.0,
    )
    assert text.startswith("drop Inkasso-Übergabe (day 75; nothing in its place)")
    for needle in (
        "~36 %",
        "20 % commission",
        "EUR 15.00 per case",
        "17.1 %",
        "EUR 4,000",
        "written off at day 365",
        "gain 1,631,488 to 2,270,064 EUR (80 %)",
    ):
        assert needle in text


def test_min_handovers_is_the_stricter_of_the_two_rules() -> None:
    from arinsight.ladder.options import RecommenderOptions
    from arinsight.ladder.recommend import min_handovers
    from arinsight.ladder.route_threshold import MIN_HANDED_OVER

    assert MIN_HANDED_OVER == 100
    assert min_handovers(RecommenderOptions(min_stage_events=200)) == 200
    assert min_handovers(RecommenderOptions(min_stage_events=30)) == 100
