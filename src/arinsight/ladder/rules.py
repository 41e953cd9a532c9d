"""The legal check of a dunning ladder against German / EU rules.

Pure functions over a :class:`~arinsight.config.Ladder`: no warehouse, no I/O.
``arinsight ladder check`` and ``ladder apply`` print the findings; the
recommender calls :func:`check_ladder` and never proposes a ladder with an
``error`` finding.

Rules (each finding's ``message`` cites its source):

========================================  ========  ==========================================
rule                                      severity  what
========================================  ========  ==========================================
``fee_before_default``                    error     a fee on a stage sent on or before the due
                                                    date: nobody is in default yet (§286(1) BGB)
``consumer_first_reminder_fee``           error     a fee on a consumer's first reminder after
                                                    due: it only puts the consumer in default,
                                                    its cost is no damage of delay (§286(1),
                                                    §280(2) BGB)
``consumer_flat_fee``                     error     a fee of the €40 flat amount or more against
                                                    a consumer (§288(5) BGB: businesses only)
``consumer_fee_above_cost``               warning   a consumer fee above the plausible actual
                                                    cost of a reminder (§249, §280(2) BGB)
``business_fees_above_flat_fee``          warning   a business ladder's fees add up to more than
                                                    €40; the flat fee is credited against further
                                                    collection costs (§288(5) sentence 3 BGB)
``consumer_interest_cap``                 error     interest over 5 points above the base rate
                                                    against a consumer (§288(1) BGB)
``business_interest_cap``                 error     interest over 9 points above the base rate
                                                    against a business (§288(2) BGB)
``consumer_agency_before_default``        error     a consumer handed to a collection agency
                                                    before 30 days after due (§286(3) BGB)
``business_terms_over_60_days``           warning   B2B payment terms over 60 days need express
                                                    agreement (Directive 2011/7/EU art. 3(5),
                                                    §271a(1) BGB) — :func:`check_payment_terms`
========================================  ========  ==========================================

Customer types: ``customer_types`` maps a master-data segment to ``"b2b"``,
``"b2c"`` or ``"both"`` (a segment holding both kinds is checked under both);
:func:`customer_types_from_rows` derives it from ``customers.customer_type``.
A segment of unknown type is checked under both (the stricter reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arinsight.config import Ladder, Stage, resolve_offsets

Severity = Literal["error", "warning"]
CustomerType = Literal["b2b", "b2c"]


class LegalLimits(BaseModel):
    """The statutory numbers the rules use (config as data; one place to change them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: §288(5) BGB: flat fee a business debtor owes on default (EUR).
    flat_fee_eur: float = Field(default=40.0, gt=0)
    #: A consumer reminder fee above this is unlikely to be the actual cost (EUR).
    consumer_fee_cost_eur: float = Field(default=5.0, ge=0)
    #: §288(1) BGB: default interest against consumers, points over the base rate.
    consumer_interest_points: float = Field(default=5.0, ge=0)
    #: §288(2) BGB: default interest against businesses, points over the base rate.
    business_interest_points: float = Field(default=9.0, ge=0)
    #: §286(3) BGB: a consumer is in default this many days after due and receipt.
    consumer_default_days: int = Field(default=30, ge=0)
    #: Directive 2011/7/EU art. 3(5), §271a(1) BGB: longer B2B terms need express agreement.
    business_max_terms_days: int = Field(default=60, ge=0)


DEFAULT_LIMITS = LegalLimits()


@dataclass(frozen=True)
class Finding:
    """One breach (``error``) or risk (``warning``) found in a ladder.

    Attributes:
        rule: rule id (see the module docstring).
        segment: the master-data segment checked (``"default"`` when no segment was named).
        stage: the stage number, or ``None`` for a ladder- or terms-level finding.
        severity: ``"error"`` (unlawful as written) or ``"warning"`` (needs a reason).
        message: one line that names the stage and cites the rule.
    """

    rule: str
    segment: str
    stage: int | None
    severity: Severity
    message: str


def _types(value: str | None) -> tuple[CustomerType, ...]:
    v = (value or "").strip().lower()
    if v == "b2b":
        return ("b2b",)
    if v == "b2c":
        return ("b2c",)
    return ("b2b", "b2c")


def customer_types_from_rows(rows: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """``{segment: "b2b" | "b2c" | "both"}`` from ``(segment, customer_type)`` pairs.

    A segment whose customers are of both types, or whose type is missing or not
    b2b/b2c, maps to ``"both"`` (checked under both readings).
    """
    seen: dict[str, set[str]] = {}
    for segment, ctype in rows:
        t = (ctype or "").strip().lower()
        seen.setdefault(segment, set()).add(t if t in ("b2b", "b2c") else "unknown")
    out: dict[str, str] = {}
    for segment, kinds in seen.items():
        out[segment] = next(iter(kinds)) if len(kinds) == 1 and "unknown" not in kinds else "both"
    return out


def _stage_label(s: Stage) -> str:
    return f"stage {s.stage} ({s.name})"


def _check_stages(
    segment: str,
    ctype: CustomerType,
    stages: tuple[Stage, ...],
    ladder_interest: float | None,
    limits: LegalLimits,
) -> list[Finding]:
    out: list[Finding] = []
    offsets = resolve_offsets(stages)
    first_after_due = next((i for i, off in enumerate(offsets) if off > 0), None)
    for i, (s, off) in enumerate(zip(stages, offsets, strict=True)):
        where = f"{_stage_label(s)} at {off:+d} days from due"
        if s.fee > 0 and off <= 0:
            out.append(
                Finding(
                    "fee_before_default",
                    segment,
                    s.stage,
                    "error",
                    f"{where} charges {s.fee:.2f} EUR before the invoice is even overdue: "
                    "no default, no damage of delay (§286(1) BGB) — set its fee to 0",
                )
            )
        elif ctype == "b2c" and s.fee > 0 and i == first_after_due:
            out.append(
                Finding(
                    "consumer_first_reminder_fee",
                    segment,
                    s.stage,
                    "error",
                    f"{where} is the consumer's first reminder after due and charges "
                    f"{s.fee:.2f} EUR: the reminder that puts a consumer in default is no "
                    "damage of delay (§286(1), §280(2) BGB) — charge from the next stage on",
                )
            )
        if ctype == "b2c" and s.fee >= limits.flat_fee_eur:
            out.append(
                Finding(
                    "consumer_flat_fee",
                    segment,
                    s.stage,
                    "error",
                    f"{where} charges {s.fee:.2f} EUR to consumers: the "
                    f"{limits.flat_fee_eur:.0f} EUR flat fee is owed only by businesses "
                    "(§288(5) BGB) — charge consumers the actual cost of the reminder",
                )
            )
        elif ctype == "b2c" and s.fee > limits.consumer_fee_cost_eur and off > 0:
            out.append(
                Finding(
                    "consumer_fee_above_cost",
                    segment,
                    s.stage,
                    "warning",
                    f"{where} charges {s.fee:.2f} EUR to consumers, more than the "
                    f"{limits.consumer_fee_cost_eur:.2f} EUR a reminder plausibly costs: "
                    "only the actual cost is recoverable (§249, §280(2) BGB)",
                )
            )
        rate = s.interest_rate_pct_over_base
        rate = ladder_interest if rate is None else rate
        cap = limits.consumer_interest_points if ctype == "b2c" else limits.business_interest_points
        if rate is not None and rate > cap:
            rule = "consumer_interest_cap" if ctype == "b2c" else "business_interest_cap"
            para = "§288(1) BGB" if ctype == "b2c" else "§288(2) BGB"
            who = "consumers" if ctype == "b2c" else "businesses"
            out.append(
                Finding(
                    rule,
                    segment,
                    s.stage,
                    "error",
                    f"{where} charges {who} default interest of {rate:g} points over the "
                    f"base rate; at most {cap:g} points are allowed ({para})",
                )
            )
        if (
            ctype == "b2c"
            and s.channel == "collection_agency"
            and off < limits.consumer_default_days
        ):
            out.append(
                Finding(
                    "consumer_agency_before_default",
                    segment,
                    s.stage,
                    "error",
                    f"{where} hands consumers to a collection agency before "
                    f"{limits.consumer_default_days} days after due, when a consumer is in "
                    "default at the latest (§286(3) BGB) — move the handover to "
                    f"+{limits.consumer_default_days} days or later",
                )
            )
    total_fee = sum(s.fee for s in stages)
    if ctype == "b2b" and total_fee > limits.flat_fee_eur:
        out.append(
            Finding(
                "business_fees_above_flat_fee",
                segment,
                None,
                "warning",
                f"the ladder charges businesses {total_fee:.2f} EUR in fees per invoice; the "
                f"{limits.flat_fee_eur:.0f} EUR flat fee is credited against further "
                "collection costs (§288(5) sentence 3 BGB), so more must be actual cost",
            )
        )
    return out


def check_ladder(
    ladder: Ladder,
    customer_types: Mapping[str, str],
    limits: LegalLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Check every segment's stages under its customer type(s).

    Args:
        ladder: the ladder to check.
        customer_types: ``{segment: "b2b" | "b2c" | "both"}``. Segments listed here
            are checked with the stages that apply to them (their own, else the
            default); ladder segments not listed, and the default stages when no
            listed segment uses them, are checked under both types.
        limits: the statutory numbers (defaults: German law as of 2026).

    Returns:
        Findings ordered by segment, stage and rule, without duplicates (a segment
        checked under both types reports a shared rule once).
    """
    plan: list[tuple[str, tuple[Stage, ...], tuple[CustomerType, ...]]] = []
    for segment, value in customer_types.items():
        plan.append((segment, ladder.for_segment(segment), _types(value)))
    for segment, stages in ladder.segments.items():
        if segment not in customer_types:
            plan.append((segment, stages, ("b2b", "b2c")))
    uses_default = any(seg not in ladder.segments for seg in customer_types)
    if not uses_default:
        plan.append(("default", ladder.default, ("b2b", "b2c")))
    found: dict[tuple[str, str, int | None], Finding] = {}
    for segment, stages, kinds in plan:
        for ctype in kinds:
            for f in _check_stages(
                segment, ctype, stages, ladder.interest_rate_pct_over_base, limits
            ):
                found.setdefault((f.segment, f.rule, f.stage), f)
    return sorted(
        found.values(),
        key=lambda f: (f.segment, -1 if f.stage is None else f.stage, f.rule),
    )


def check_payment_terms(
    segment: str,
    customer_type: str,
    payment_terms_days: int,
    count_customers: int = 1,
    limits: LegalLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Flag B2B payment terms longer than 60 days (Directive 2011/7/EU art. 3(5)).

    Args:
        segment: master-data segment of the customers.
        customer_type: ``"b2b"``, ``"b2c"`` or ``"both"``; consumers are not covered.
        payment_terms_days: the agreed terms (``customers.payment_terms_days``).
        count_customers: how many customers have these terms (for the message).

    Returns:
        One ``business_terms_over_60_days`` warning, or nothing.
    """
    if "b2b" not in _types(customer_type) or payment_terms_days <= limits.business_max_terms_days:
        return []
    return [
        Finding(
            "business_terms_over_60_days",
            segment,
            None,
            "warning",
            f"{count_customers} business customer(s) have {payment_terms_days}-day payment "
            f"terms: over {limits.business_max_terms_days} days they are valid only if "
            "expressly agreed and not grossly unfair to the creditor (Directive 2011/7/EU "
            "art. 3(5), §271a(1) BGB) — keep the agreement on file",
        )
    ]


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """Only the findings of severity ``error``."""
    return [f for f in findings if f.severity == "error"]


def is_lawful(ladder: Ladder, customer_types: Mapping[str, str]) -> bool:
    """True when :func:`check_ladder` finds no error (warnings allowed)."""
    return not errors(check_ladder(ladder, customer_types))
