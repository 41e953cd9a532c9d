"""Retry schedules per failure reason and channel advice (arinsight.ladder.retries).

Wilson bounds worked by hand (z = 1.96, z^2 = 3.8415): with no success in n
attempts the upper bound is z^2 / (n + z^2), e.g. 0 of 200 -> 0.0188 and
0 of 100 -> 0.0370 (both below the 5 % floor), 0 of 40 -> 0.0876 (above it).
60 of 100: centre (0.6 + 0.0192) / 1.0384 = 0.5963, half-width
1.96 * sqrt(0.0024 + 0.000096) / 1.0384 = 0.0943, lower bound 0.502 (>= 0.30).
"""

from __future__ import annotations

import pytest

from arinsight.config import RetryRule
from arinsight.ladder.retries import (
    RetryAdviceOptions,
    RetryStats,
    channel_advice,
    retry_advice,
    wilson,
)

OPTS = RetryAdviceOptions()  # min_attempts 30, floor 5 %, extend at 30 %, bounce 10 %
TWO = RetryRule(gaps_days=(3, 7))


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 200, 0.0, 3.8415 / 203.8415),
        (0, 100, 0.0, 3.8415 / 103.8415),
        (60, 100, 0.5963 - 0.0943, 0.5963 + 0.0943),
    ],
)
def test_wilson_by_hand(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=2e-4)
    assert hi == pytest.approx(high, abs=2e-4)


@pytest.mark.parametrize(
    ("rule", "stats", "expected", "why"),
    [
        # expired cards: the first retry never recovers (0 of 200) -> stop retrying
        (TWO, [RetryStats(1, 200, 0), RetryStats(2, 150, 0)], RetryRule(), "stop retrying"),
        # first retry works (50 of 200), second never (0 of 100) -> keep one
        (
            TWO,
            [RetryStats(1, 200, 50), RetryStats(2, 100, 0)],
            RetryRule(gaps_days=(3,)),
            "keep 1 retry",
        ),
        # 0 of 20 is too few attempts to judge (min 30); 0 of 40 has an upper
        # bound of 8.8 % (above the floor): keep
        (TWO, [RetryStats(1, 20, 0), RetryStats(2, 40, 0)], TWO, "keep"),
        # the last retry still recovers 60 of 100 (lower bound 50 %) -> one more, same gap
        (
            TWO,
            [RetryStats(1, 200, 90), RetryStats(2, 100, 60)],
            RetryRule(gaps_days=(3, 7, 7)),
            "add one more",
        ),
        # pay-day rule: its first retry never works -> no retries at all
        (
            RetryRule(days_of_month=(2,), count=2),
            [RetryStats(1, 100, 0)],
            RetryRule(),
            "stop retrying",
        ),
        # pay-day rule that works well -> one more pay day
        (
            RetryRule(days_of_month=(2,), count=1),
            [RetryStats(1, 100, 60)],
            RetryRule(days_of_month=(2,), count=2),
            "add one more",
        ),
        # no evidence at all: keep
        (TWO, [], TWO, "keep"),
    ],
)
def test_retry_advice(
    rule: RetryRule, stats: list[RetryStats], expected: RetryRule, why: str
) -> None:
    new, text = retry_advice(rule, stats, OPTS)
    assert new == expected
    assert why in text


@pytest.mark.parametrize(
    ("channel", "sends", "bounced", "advice"),
    [
        # 30 of 100 bounce: lower bound 21.9 % > 10 % -> letter
        ("email", 100, 30, True),
        # 12 of 100: lower bound 7.0 % -> not clearly above 10 %
        ("email", 100, 12, False),
        # too few sends to judge
        ("email", 40, 20, False),
        # letters are the fallback: never advised away from
        ("letter", 500, 200, False),
    ],
)
def test_channel_advice(channel: str, sends: int, bounced: int, advice: bool) -> None:
    text = channel_advice(channel, sends, bounced, OPTS)
    assert (text is not None) == advice
    if advice:
        assert text is not None and "letter" in text and f"{bounced:,} of {sends:,}" in text


def test_extend_on_a_simulated_ledger(tmp_path: object) -> None:
    """Cards updated 30 days after a failure: the default retries (3 and 7 days
    later) never recover an expired card, so the advice is to stop retrying it;
    the proposed ladder carries the schedule, the current one is untouched."""
    from pathlib import Path

    import yaml

    from arinsight.config import deep_merge, default_path, load_ladder, load_settings
    from arinsight.ingest import load_sources
    from arinsight.ladder.retries import extend
    from arinsight.models import build
    from arinsight.sim import simulate_to_dir
    from arinsight.warehouse import Warehouse

    d = Path(str(tmp_path))
    base = yaml.safe_load(Path(default_path("world_default.yaml")).read_text(encoding="utf-8"))
    blocks = yaml.safe_load(
        (Path(__file__).parent / "data" / "worlds" / "auto_pay_blocks.yaml").read_text()
    )
    world = deep_merge(
        deep_merge(base, blocks), {"auto_pay": {"update_days": {"mean": 30, "sd": 0}}}
    )
    (d / "world.yaml").write_text(yaml.safe_dump(world), encoding="utf-8")
    simulate_to_dir(
        world=d / "world.yaml", months=12, seed=2, scale=0.15, out=d / "ledger", formats=("csv",)
    )
    wh = Warehouse.open(d / "w.duckdb", read_only=False, create=True)
    load_sources(wh.con, [d / "ledger"])
    build(wh.con, load_settings())
    wh.close()
    current = load_ladder()
    rows = [{"segment": "consumer", "stage_number": 1, "rationale": "as fitted"}]
    proposal, summary = extend(d / "w.duckdb", current, current, rows)
    advice = {a["failure_reason"]: a for a in summary["payment_retries"]}
    assert advice["card_expired"]["proposed"]["gaps_days"] == []
    assert "update-card email" in advice["card_expired"]["rationale"]
    assert proposal.retries is not None
    assert proposal.retries.rule("card_expired").n_retries == 0
    assert current.retries is None
