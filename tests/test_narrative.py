"""The "what changed" narrative from hand-made month pairs (arinsight.reports.narrative).

Every expected number is worked out by hand in the comments: DSO = AR / S * D
with D = 90, the buckets sum to AR, and the attribution splits the change into
D * dA[s, b] / S1 per segment x bucket plus -D * A0 * dS[s] / (S0 * S1) per
segment (sales).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arinsight.reports.narrative import (
    MonthFigures,
    NarrativeRules,
    RollRate,
    attribute_dso_change,
    fmt_number,
    what_changed,
)

JAN, FEB = dt.date(2025, 1, 31), dt.date(2025, 2, 28)
D = 90
SALES = {"smb": 90_000.0, "enterprise": 90_000.0}  # S = 180,000 in both months


def month(
    end: dt.date,
    open_by_bucket: dict[tuple[str, str], float],
    sales: dict[str, float] = SALES,
    rolls: dict[tuple[str, str], RollRate] | None = None,
) -> MonthFigures:
    return MonthFigures(end, D, sales, open_by_bucket, rolls or {})


# January: AR = 20,000 + 10,000 + 30,000 = 60,000 → DSO = 60,000 / 180,000 * 90 = 30.0.
BEFORE = month(
    JAN,
    {("smb", "not_due"): 20_000, ("smb", "31-60"): 10_000, ("enterprise", "not_due"): 30_000},
)
# February: smb 31-60 grows by 6,000, enterprise not-due shrinks by 1,000:
# AR = 65,000 → DSO = 65,000 / 180,000 * 90 = 32.5, a rise of 2.5 days made of
# smb 31-60: 90 * 6,000 / 180,000 = +3.0 and enterprise not-due: 90 * -1,000 / 180,000 = -0.5.
AFTER = month(
    FEB,
    {("smb", "not_due"): 20_000, ("smb", "31-60"): 16_000, ("enterprise", "not_due"): 29_000},
)


def test_attribution_names_the_bucket_that_moved() -> None:
    a = attribute_dso_change(BEFORE, AFTER)
    assert a is not None
    assert a.dso_before_days == pytest.approx(30.0)
    assert a.dso_after_days == pytest.approx(32.5)
    assert a.change_days == pytest.approx(2.5)
    first, second, third = a.receivables
    assert (first.segment, first.bucket, first.days) == ("smb", "31-60", pytest.approx(3.0))
    assert (second.segment, second.bucket, second.days) == (
        "enterprise",
        "not_due",
        pytest.approx(-0.5),
    )
    assert third.days == pytest.approx(0.0)  # smb not-due did not move
    assert a.sales_days == pytest.approx(0.0)  # same sales in both months


def test_sentences_in_english() -> None:
    assert what_changed(BEFORE, AFTER, "en") == [
        "DSO rose 2.5 days, from 30.0 to 32.5.",
        "3.0 of them come from smb's 31–60 days bucket.",
        "Pulling the other way: enterprise's not-yet-due bucket (−0.5 days).",
    ]


def test_sentences_in_german_use_decimal_commas() -> None:
    assert what_changed(BEFORE, AFTER, "de") == [
        "Die DSO stieg um 2,5 Tage von 30,0 auf 32,5.",
        "3,0 davon kommen aus dem Bucket 31–60 Tage von smb.",
        "Gegenläufig: Bucket noch nicht fällig von enterprise (−0,5 Tage).",
    ]


def test_fall_names_the_buckets_in_its_direction() -> None:
    # Reverse the pair: DSO falls 2.5 days; at S1 = 180,000 the contributions are
    # smb 31-60: 90 * -6,000 / 180,000 = -3.0 and enterprise not-due +0.5.
    assert what_changed(AFTER, BEFORE, "en")[:3] == [
        "DSO fell 2.5 days, from 32.5 to 30.0.",
        "3.0 of them come from smb's 31–60 days bucket.",
        "Pulling the other way: enterprise's not-yet-due bucket (+0.5 days).",
    ]


def test_lower_sales_raise_dso_at_the_same_receivables() -> None:
    # Same AR (60,000); smb's window sales fall 90,000 → 60,000, so S = 150,000
    # and DSO = 60,000 / 150,000 * 90 = 36.0 (+6.0). The sales effect of smb is
    # -90 * 60,000 * (60,000 - 90,000) / (180,000 * 150,000) = +6.0; no bucket moved.
    after = month(FEB, dict(BEFORE.open_by_bucket), {"smb": 60_000, "enterprise": 90_000})
    a = attribute_dso_change(BEFORE, after)
    assert a is not None
    assert a.change_days == pytest.approx(6.0)
    assert {c.segment: c.days for c in a.sales} == {
        "smb": pytest.approx(6.0),
        "enterprise": pytest.approx(0.0),
    }
    assert all(c.days == pytest.approx(0.0) for c in a.receivables)
    assert what_changed(BEFORE, after, "en") == [
        "DSO rose 6.0 days, from 30.0 to 36.0.",
        "Lower sales in the 90-day window added 6.0 days at the same receivables.",
    ]


def test_flat_dso_still_shows_what_moved_underneath() -> None:
    # smb 31-60 +1,800 and enterprise not-due -1,800: AR unchanged, DSO 30.0 both
    # months; each bucket moved 90 * 1,800 / 180,000 = 0.9 days (a tie: segments
    # in alphabetical order).
    after = month(
        FEB,
        {("smb", "not_due"): 20_000, ("smb", "31-60"): 11_800, ("enterprise", "not_due"): 28_200},
    )
    assert what_changed(BEFORE, after, "en") == [
        "DSO held at 30.0 days (previous month 30.0).",
        "Underneath: enterprise's not-yet-due bucket −0.9; smb's 31–60 days bucket +0.9.",
    ]


def test_no_sales_in_a_window_means_no_comparison() -> None:
    empty = month(FEB, dict(AFTER.open_by_bucket), {"smb": 0.0, "enterprise": 0.0})
    assert attribute_dso_change(BEFORE, empty) is None
    assert what_changed(BEFORE, empty, "en") == [
        "DSO cannot be compared: a month without sales in its 90-day window."
    ]


def test_different_windows_are_refused() -> None:
    other = MonthFigures(FEB, 30, SALES, dict(AFTER.open_by_bucket))
    with pytest.raises(ValueError, match="DSO windows differ"):
        attribute_dso_change(BEFORE, other)


@pytest.mark.parametrize(
    ("jan", "feb", "expected"),
    [
        # enterprise's 1-30 cure rate 62 % → 71 % on 120 / 130 invoices: +9 points,
        # above the 5-point threshold, n = 130 (this month's count).
        (
            RollRate(120, 62.0, 30.0),
            RollRate(130, 71.0, 29.0),
            [
                "Faster cures in enterprise: 71 % of its 1–30 days amount was collected in "
                "the month, up from 62 % (n = 130 invoices)."
            ],
        ),
        # The same move resting on 20 invoices in January (< 30): not mentioned.
        (RollRate(20, 62.0, 30.0), RollRate(130, 71.0, 29.0), []),
        # A 3-point move (< 5): not mentioned.
        (RollRate(120, 62.0, 30.0), RollRate(130, 65.0, 29.0), []),
        # Roll rate 20 % → 28 %: +8 points, said with n; cure moved 1 point only.
        (
            RollRate(300, 50.0, 20.0),
            RollRate(340, 49.0, 28.0),
            [
                "28 % of enterprise's 1–30 days amount rolled into the next bucket, up from "
                "20 % (n = 340 invoices)."
            ],
        ),
    ],
)
def test_cure_and_roll_sentences_need_size_and_n(
    jan: RollRate, feb: RollRate, expected: list[str]
) -> None:
    before = month(JAN, dict(BEFORE.open_by_bucket), rolls={("enterprise", "1-30"): jan})
    after = month(FEB, dict(BEFORE.open_by_bucket), rolls={("enterprise", "1-30"): feb})
    sentences = what_changed(before, after, "en", NarrativeRules())
    assert sentences[0] == "DSO held at 30.0 days (previous month 30.0)."
    assert sentences[1:] == expected


def test_fmt_number() -> None:
    assert fmt_number(1234.56, 1, "en") == "1,234.6"
    assert fmt_number(1234.56, 1, "de") == "1.234,6"
    assert fmt_number(-0.04, 0, "de") == "-0"


amounts = st.floats(min_value=0, max_value=1e7, allow_nan=False)
positive = st.floats(min_value=1.0, max_value=1e7, allow_nan=False)
KEYS = [(s, b) for s in ("a", "b") for b in ("not_due", "1-30", "121+")]


@settings(max_examples=200, deadline=None)
@given(
    a0=st.lists(amounts, min_size=6, max_size=6),
    a1=st.lists(amounts, min_size=6, max_size=6),
    s0=st.lists(positive, min_size=2, max_size=2),
    s1=st.lists(positive, min_size=2, max_size=2),
)
def test_contributions_add_up_to_the_change(
    a0: list[float], a1: list[float], s0: list[float], s1: list[float]
) -> None:
    before = MonthFigures(
        JAN, D, dict(zip("ab", s0, strict=True)), dict(zip(KEYS, a0, strict=True))
    )
    after = MonthFigures(FEB, D, dict(zip("ab", s1, strict=True)), dict(zip(KEYS, a1, strict=True)))
    a = attribute_dso_change(before, after)
    assert a is not None
    # DSO recomputed independently from the raw inputs.
    expected = sum(a1) / sum(s1) * D - sum(a0) / sum(s0) * D
    total = sum(c.days for c in a.receivables) + a.sales_days
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-6)
