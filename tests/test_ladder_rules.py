"""The legal check (arinsight.ladder.rules), from a table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from arinsight.config import Ladder, load_ladder
from arinsight.ladder.rules import (
    LegalLimits,
    check_ladder,
    check_payment_terms,
    customer_types_from_rows,
    errors,
    is_lawful,
)

# Building blocks: a lawful consumer ladder, then one change per case.
PRE = {"stage": 0, "name": "pre", "offset_days": -3, "channel": "email"}
R1 = {"stage": 1, "name": "reminder", "offset_days": 7, "channel": "email"}
M1 = {"stage": 2, "name": "letter", "offset_days": 21, "channel": "letter", "fee": 2.5}
AG = {"stage": 3, "name": "agency", "offset_days": 45, "channel": "collection_agency"}


def ladder(*stages: dict[str, Any], **top: Any) -> Ladder:
    return Ladder.model_validate({"name": "t", "default": list(stages), **top})


def rules_of(lad: Ladder, types: dict[str, str]) -> set[tuple[str, int | None, str]]:
    return {(f.rule, f.stage, f.severity) for f in check_ladder(lad, types)}


CASES = [
    # The baseline: no fee before default, a small fee from the second reminder
    # on, agency at +45 (> 30) — lawful for consumers and businesses alike.
    ("lawful_b2c", ladder(PRE, R1, M1, AG), {"c": "b2c"}, set()),
    ("lawful_b2b", ladder(PRE, R1, M1, AG), {"c": "b2b"}, set()),
    # A fee on the pre-due reminder: nobody is in default before due (§286(1)).
    (
        "prefee_b2b",
        ladder({**PRE, "fee": 1.0}, R1, M1, AG),
        {"c": "b2b"},
        {("fee_before_default", 0, "error")},
    ),
    # A fee on the first reminder after due, for consumers: that reminder is what
    # puts them in default, so its cost is no damage of delay.
    (
        "r1fee_b2c",
        ladder(PRE, {**R1, "fee": 2.0}, M1, AG),
        {"c": "b2c"},
        {("consumer_first_reminder_fee", 1, "error")},
    ),
    # The same ladder against businesses: the consumer rule does not apply.
    ("r1fee_b2b", ladder(PRE, {**R1, "fee": 2.0}, M1, AG), {"c": "b2b"}, set()),
    # Without a pre-due stage the first stage is the first reminder after due.
    (
        "r1fee_no_pre_b2c",
        ladder({**R1, "stage": 0, "fee": 1.0}, M1, AG),
        {"c": "b2c"},
        {("consumer_first_reminder_fee", 0, "error")},
    ),
    # The €40 flat fee against consumers: §288(5) covers businesses only; it is
    # also far above a reminder's cost, but the error already says so.
    (
        "flat40_b2c",
        ladder(PRE, R1, {**M1, "fee": 40.0}, AG),
        {"c": "b2c"},
        {("consumer_flat_fee", 2, "error")},
    ),
    # The €40 flat fee against businesses is lawful (exactly 40: not above).
    ("flat40_b2b", ladder(PRE, R1, {**M1, "fee": 40.0}, AG), {"c": "b2b"}, set()),
    # 39.99 against consumers: below the flat fee, still above a reminder's cost.
    (
        "fee_39_b2c",
        ladder(PRE, R1, {**M1, "fee": 39.99}, AG),
        {"c": "b2c"},
        {("consumer_fee_above_cost", 2, "warning")},
    ),
    # 5.00 against consumers: exactly at the cost threshold, not above.
    ("fee_5_b2c", ladder(PRE, R1, {**M1, "fee": 5.0}, AG), {"c": "b2c"}, set()),
    # Businesses charged 25 + 20 = 45 > 40 over the ladder: the flat fee is
    # credited against further costs, so the rest must be actual cost.
    (
        "fees_45_b2b",
        ladder(PRE, R1, {**M1, "fee": 25.0}, {**AG, "fee": 20.0}),
        {"c": "b2b"},
        {("business_fees_above_flat_fee", None, "warning")},
    ),
    # Interest 5 points over base against consumers: the cap, allowed.
    ("int5_b2c", ladder(PRE, R1, M1, AG, interest_rate_pct_over_base=5), {"c": "b2c"}, set()),
    # 5.5 points against consumers: over §288(1); the ladder-level rate applies
    # to every stage, so each stage is reported.
    (
        "int55_b2c",
        ladder(PRE, R1, M1, AG, interest_rate_pct_over_base=5.5),
        {"c": "b2c"},
        {("consumer_interest_cap", k, "error") for k in (0, 1, 2, 3)},
    ),
    # 9 points against businesses: the §288(2) cap, allowed.
    ("int9_b2b", ladder(PRE, R1, M1, AG, interest_rate_pct_over_base=9), {"c": "b2b"}, set()),
    # A stage's own rate overrides the ladder's: only the agency stage is over 9.
    (
        "int_stage_b2b",
        ladder(PRE, R1, M1, {**AG, "interest_rate_pct_over_base": 9.5}),
        {"c": "b2b"},
        {("business_interest_cap", 3, "error")},
    ),
    # Consumer agency handover at +29: before the §286(3) default at 30 days.
    (
        "agency29_b2c",
        ladder(PRE, R1, M1, {**AG, "offset_days": 29}),
        {"c": "b2c"},
        {("consumer_agency_before_default", 3, "error")},
    ),
    # At +30 exactly the consumer is in default: allowed.
    ("agency30_b2c", ladder(PRE, R1, M1, {**AG, "offset_days": 30}), {"c": "b2c"}, set()),
    # The anchor is resolved: +21 (letter) + 8 days after it = +29 from due.
    (
        "agency_anchor_b2c",
        ladder(PRE, R1, M1, {**AG, "offset_days": 8, "anchor": "previous_stage"}),
        {"c": "b2c"},
        {("consumer_agency_before_default", 3, "error")},
    ),
    # Businesses may be handed over early.
    ("agency29_b2b", ladder(PRE, R1, M1, {**AG, "offset_days": 29}), {"c": "b2b"}, set()),
    # A segment with both kinds of customers is checked under both readings.
    (
        "both",
        ladder(PRE, {**R1, "fee": 2.0}, M1, {**AG, "offset_days": 29}),
        {"c": "both"},
        {
            ("consumer_first_reminder_fee", 1, "error"),
            ("consumer_agency_before_default", 3, "error"),
        },
    ),
]


@pytest.mark.parametrize(("case", "lad", "types", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_table(
    case: str, lad: Ladder, types: dict[str, str], expected: set[tuple[str, int | None, str]]
) -> None:
    assert rules_of(lad, types) == expected, case


def test_findings_name_the_segment_and_cite_the_rule() -> None:
    lad = Ladder.model_validate(
        {
            "default": [PRE, R1, M1, AG],
            "segments": {"retail": [PRE, R1, {**M1, "fee": 40.0}, AG]},
        }
    )
    found = check_ladder(lad, {"retail": "b2c", "wholesale": "b2b"})
    # wholesale uses the (lawful) default stages; retail its own 40 EUR letter.
    assert [(f.segment, f.rule) for f in found] == [("retail", "consumer_flat_fee")]
    assert "§288(5) BGB" in found[0].message
    assert "stage 2 (letter) at +21 days" in found[0].message


def test_unlisted_segments_and_default_checked_under_both() -> None:
    # No customer types known: the default stages are checked as b2b and b2c.
    lad = ladder(PRE, R1, {**AG, "stage": 2, "offset_days": 20})
    found = check_ladder(lad, {})
    assert [(f.segment, f.rule) for f in found] == [("default", "consumer_agency_before_default")]


def test_shipped_default_ladder_has_no_error() -> None:
    # The default ladder: no pre-due fee, free first reminder, 5 and 10 EUR
    # letters, agency at +60. For consumers 10 EUR > 5 EUR cost: a warning only.
    found = check_ladder(load_ladder(), {"consumer": "b2c", "smb": "b2b"})
    assert errors(found) == []
    assert [(f.segment, f.rule, f.stage) for f in found] == [
        ("consumer", "consumer_fee_above_cost", 3)
    ]
    assert is_lawful(load_ladder(), {"consumer": "b2c"})


@pytest.mark.parametrize(
    ("ctype", "terms", "flagged"),
    [
        ("b2b", 60, False),  # exactly 60 days: allowed without express agreement
        ("b2b", 61, True),  # one day over the Directive's 60
        ("b2c", 90, False),  # consumers are outside Directive 2011/7/EU
        ("both", 90, True),  # mixed segment: its business customers are covered
    ],
)
def test_payment_terms(ctype: str, terms: int, flagged: bool) -> None:
    found = check_payment_terms("s", ctype, terms, count_customers=3)
    assert bool(found) is flagged
    if flagged:
        assert found[0].rule == "business_terms_over_60_days"
        assert "3 business customer(s)" in found[0].message
        assert "2011/7/EU" in found[0].message


def test_limits_are_data() -> None:
    # A stricter consumer fee threshold turns the 2.50 letter into a warning.
    found = check_ladder(
        ladder(PRE, R1, M1, AG), {"c": "b2c"}, LegalLimits(consumer_fee_cost_eur=2)
    )
    assert [f.rule for f in found] == ["consumer_fee_above_cost"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("a", "b2b"), ("a", "b2b")], {"a": "b2b"}),  # one kind
        ([("a", "b2c"), ("a", "B2C")], {"a": "b2c"}),  # case does not matter
        ([("a", "b2b"), ("a", "b2c")], {"a": "both"}),  # both kinds
        ([("a", None)], {"a": "both"}),  # unknown: the stricter reading
    ],
)
def test_customer_types_from_rows(
    rows: list[tuple[str, str | None]], expected: dict[str, str]
) -> None:
    assert customer_types_from_rows(rows) == expected
