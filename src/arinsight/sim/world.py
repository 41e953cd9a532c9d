"""The world a simulation runs in: segments, payer archetypes, dunning practice.

A world is YAML (``defaults/world_default.yaml`` documents every key in its
comments) loaded into frozen pydantic models. Unknown keys, out-of-range values
and archetype mixes that do not sum to 1 are rejected with a
:class:`~arinsight.errors.ConfigError` that names the file and the key.

Units: days are calendar days, amounts EUR, shares/probabilities 0-1,
hazards per day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arinsight.config import Channel, FailureReason, Ladder, default_path, load_ladder
from arinsight.errors import ConfigError

_Share = Field(ge=0.0, le=1.0)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Normal(_Frozen):
    """A normal distribution (days, unless stated otherwise)."""

    mean: float
    sd: float = Field(0.0, ge=0.0)


class LogNormal(_Frozen):
    """A log-normal distribution given by its median and log-scale sigma."""

    median: float = Field(gt=0.0)
    sigma: float = Field(0.0, ge=0.0)


class Uniform(_Frozen):
    """A uniform distribution on ``[min, max]``."""

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


class Subscription(_Frozen):
    """Monthly recurring invoices of a segment."""

    share: float = _Share
    amount: LogNormal
    variation: float = Field(0.0, ge=0.0, le=0.9)


class OneOff(_Frozen):
    """Ad-hoc invoices of a segment (a Poisson process per customer)."""

    per_month: float = Field(ge=0.0)
    amount: LogNormal


class Segment(_Frozen):
    """A master-data segment: its customers, billing and payer mix."""

    customers: int = Field(ge=0)
    customer_type: Literal["b2b", "b2c"]
    payment_terms_days: int = Field(ge=0, le=365)
    new_customer_share: float = _Share
    voluntary_churn_per_year: float = Field(ge=0.0, le=1.0)
    churn_sensitivity: float = Field(1.0, ge=0.0)
    subscription: Subscription
    one_off: OneOff
    payment_methods: dict[str, float]
    archetypes: dict[str, float]

    @model_validator(mode="after")
    def _mixes(self) -> Segment:
        for label, mix in (
            ("archetypes", self.archetypes),
            ("payment_methods", self.payment_methods),
        ):
            _check_mix(mix, label)
        if "agency" in self.payment_methods:
            raise ValueError("payment_methods: 'agency' is reserved for agency recoveries")
        return self


class NaturalPay(_Frozen):
    """When a payer pays without being reminded."""

    never_share: float = _Share
    days_after_due: Normal


class ReminderResponse(_Frozen):
    """Lift in the daily payment hazard after a dunning event."""

    lift: dict[Channel, float]
    half_life_days: float = Field(gt=0.0)
    fatigue: float = Field(1.0, ge=0.0, le=1.0)
    responsiveness_days: float = Field(gt=0.0)
    fee_lift_per_eur: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _non_negative(self) -> ReminderResponse:
        if any(v < 0 for v in self.lift.values()):
            raise ValueError("lift values must be >= 0")
        return self


class PartialPayments(_Frozen):
    """Instalments: a payment covers only part of the open amount."""

    share: float = _Share
    fraction: Uniform
    max_count: int = Field(2, ge=0, le=10)
    gap_days: Normal

    @model_validator(mode="after")
    def _fraction(self) -> PartialPayments:
        if not (0.0 < self.fraction.min <= self.fraction.max < 1.0):
            raise ValueError("fraction must lie strictly between 0 and 1")
        return self


class Disputes(_Frozen):
    """Disputed invoices and how they are resolved."""

    share: float = _Share
    raised_after_days: Normal
    resolution_days: Normal
    credit_note_share: float = _Share
    full_credit_share: float = _Share
    partial_credit: Uniform
    pay_after_resolution_days: Normal

    @model_validator(mode="after")
    def _partial(self) -> Disputes:
        if not (0.0 < self.partial_credit.min <= self.partial_credit.max < 1.0):
            raise ValueError("partial_credit must lie strictly between 0 and 1")
        return self


class Agency(_Frozen):
    """What the collection agency recovers after a handover."""

    recovery_share: float = _Share
    age_halving_days: float = Field(gt=0.0)
    recovered_fraction: Uniform
    delay_days: Normal

    @model_validator(mode="after")
    def _fraction(self) -> Agency:
        if not (0.0 < self.recovered_fraction.min <= self.recovered_fraction.max <= 1.0):
            raise ValueError("recovered_fraction must lie in (0, 1]")
        return self


class Churn(_Frozen):
    """Involuntary churn: hazard bumps after dunning events."""

    bump: dict[Channel, float]
    fee_bump_per_eur: float = Field(0.0, ge=0.0)
    half_life_days: float = Field(gt=0.0)

    @model_validator(mode="after")
    def _non_negative(self) -> Churn:
        if any(v < 0 for v in self.bump.values()):
            raise ValueError("bump values must be >= 0")
        return self


class Archetype(_Frozen):
    """A payer archetype: how a customer pays and responds to dunning."""

    natural_pay: NaturalPay
    reminder_response: ReminderResponse
    partial_payments: PartialPayments
    disputes: Disputes
    agency: Agency
    churn: Churn


class PostingDelay(_Frozen):
    """Days between a payment's value date and the dunning system seeing it."""

    min_days: int = Field(ge=0, le=30)
    max_days: int = Field(ge=0, le=30)

    @model_validator(mode="after")
    def _ordered(self) -> PostingDelay:
        if self.max_days < self.min_days:
            raise ValueError("max_days must be >= min_days")
        return self


class Dunning(_Frozen):
    """How the company runs dunning, independent of the ladder's timing."""

    posting_delay: PostingDelay
    block_on_dispute_share: float = _Share
    resume_after_dispute_days: int = Field(ge=0)
    write_off_after_handover_days: int = Field(gt=0)
    write_off_after_overdue_days: int = Field(gt=0)
    fee_collection_share: float = _Share
    paid_reminder_churn_multiplier: float = Field(1.0, ge=0.0)
    disputed_reminder_churn_multiplier: float = Field(1.0, ge=0.0)


class Objective(_Frozen):
    """How the ladder objective (net value) is measured."""

    runout_days: int = Field(ge=0, le=3650)


class Experiment(_Frozen):
    """A randomised ladder experiment: a share of customers on another ladder."""

    share: float = _Share
    ladder: Ladder
    control: str = "control"
    treatment: str = "treatment"


class PayDays(_Frozen):
    """Insufficient funds recover around pay days (``auto_pay.pay_days``)."""

    days_of_month: tuple[int, ...] = (1,)
    window_days: int = Field(default=3, ge=0, le=27)
    retry_success: float = _Share

    @model_validator(mode="after")
    def _days(self) -> PayDays:
        if not self.days_of_month or any(not 1 <= x <= 28 for x in self.days_of_month):
            raise ValueError("days_of_month: one or more days in 1..28")
        return self


class AutoPay(_Frozen):
    """Automatic charges (card, direct debit) on the due date, with failures and retries.

    Customers whose payment method is in ``methods`` are charged on the due
    date. A charge fails with reason r with probability ``failure[r]`` (times
    the archetype's ``archetype_failure_multiplier``; one reason per invoice).
    A retry succeeds with ``retry_success[r]``; for reasons in
    ``update_reasons`` only once the customer has updated the card or account
    (``update_days`` after the first failure; earlier retries fail again);
    insufficient funds succeed with ``pay_days.retry_success`` within
    ``pay_days.window_days`` after a pay day. After a failure the invoice is
    open and the customer pays like any other (natural payment day counted
    from the failure, reminders). ``failure_codes``: the processor code
    written to ``payment_attempts.failure_code`` per reason.
    """

    methods: tuple[str, ...] = ("card", "direct_debit")
    failure: dict[FailureReason, float]
    archetype_failure_multiplier: dict[str, float] = Field(default_factory=dict)
    retry_success: dict[FailureReason, float] = Field(default_factory=dict)
    update_reasons: tuple[FailureReason, ...] = (
        "card_expired",
        "card_cancelled",
        "account_changed",
    )
    update_days: Normal = Normal(mean=10.0, sd=4.0)
    pay_days: PayDays = PayDays(retry_success=0.7)
    failure_codes: dict[FailureReason, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares(self) -> AutoPay:
        for label, mix in (("failure", self.failure), ("retry_success", self.retry_success)):
            if any(not 0.0 <= v <= 1.0 for v in mix.values()):
                raise ValueError(f"{label}: probabilities must lie in 0..1")
        if sum(self.failure.values()) > 1.0 + 1e-9:
            raise ValueError("failure: the probabilities must sum to at most 1")
        if any(v < 0 for v in self.archetype_failure_multiplier.values()):
            raise ValueError("archetype_failure_multiplier: values must be >= 0")
        return self


class ChannelEngagement(_Frozen):
    """What happens to a reminder sent on one channel (probabilities)."""

    bounce: float = _Share
    open: float = Field(0.0, ge=0.0, le=1.0)
    click: float = Field(0.0, ge=0.0, le=1.0)
    reply: float = Field(0.0, ge=0.0, le=1.0)


class Engagement(_Frozen):
    """Message events of reminders and their effect on the payment hazard.

    Per tracked channel: a send bounces with ``bounce``, else it is delivered;
    a delivered message is opened with ``open`` x the archetype's
    ``archetype_multiplier``; an opened one is clicked with ``click`` (on a
    channel without opens, e.g. sms, a delivered one is clicked with
    ``click``); a delivered one is replied to with ``reply`` x the
    multiplier. The reminder's lift in the payment hazard is multiplied by
    ``lift_multiplier`` of the outcome (bounced, delivered, opened, clicked;
    the highest applies). Channels not listed produce no message events.
    """

    channels: dict[Channel, ChannelEngagement]
    archetype_multiplier: dict[str, float] = Field(default_factory=dict)
    lift_multiplier: dict[str, float] = Field(
        default_factory=lambda: {"bounced": 0.0, "delivered": 0.7, "opened": 1.2, "clicked": 2.0}
    )

    @model_validator(mode="after")
    def _positive(self) -> Engagement:
        if any(v < 0 for v in self.archetype_multiplier.values()):
            raise ValueError("archetype_multiplier: values must be >= 0")
        if any(v < 0 for v in self.lift_multiplier.values()):
            raise ValueError("lift_multiplier: values must be >= 0")
        unknown = sorted(set(self.lift_multiplier) - {"bounced", "delivered", "opened", "clicked"})
        if unknown:
            raise ValueError(
                f"lift_multiplier: unknown outcome(s) {unknown}; use bounced, delivered, "
                "opened, clicked"
            )
        return self


class World(_Frozen):
    """A simulated company and its customers (see ``world_default.yaml``)."""

    name: str = "world"
    start_date: dt.date
    months: int = Field(gt=0, le=240)
    currency: str = "EUR"
    countries: dict[str, float]
    dunning: Dunning
    objective: Objective
    segments: dict[str, Segment]
    archetypes: dict[str, Archetype]
    experiment: Experiment | None = None
    #: optional: automatic charges with failures and retries (payment_attempts)
    auto_pay: AutoPay | None = None
    #: optional: message events of reminders (message_events)
    engagement: Engagement | None = None

    @model_validator(mode="after")
    def _refs(self) -> World:
        _check_mix(self.countries, "countries")
        if not self.segments:
            raise ValueError("segments: at least one segment is required")
        for seg_name, seg in self.segments.items():
            unknown = sorted(set(seg.archetypes) - set(self.archetypes))
            if unknown:
                raise ValueError(
                    f"segments.{seg_name}.archetypes: unknown archetype(s) {unknown}; "
                    f"defined: {sorted(self.archetypes)}"
                )
        named = [
            (
                "auto_pay.archetype_failure_multiplier",
                self.auto_pay,
                "archetype_failure_multiplier",
            ),
            ("engagement.archetype_multiplier", self.engagement, "archetype_multiplier"),
        ]
        for label, block, attr in named:
            unknown = sorted(set(getattr(block, attr, {}) or {}) - set(self.archetypes))
            if unknown:
                raise ValueError(f"{label}: unknown archetype(s) {unknown}")
        return self


def _check_mix(mix: dict[str, float], label: str) -> None:
    if not mix:
        raise ValueError(f"{label}: needs at least one entry")
    if any(v < 0 for v in mix.values()):
        raise ValueError(f"{label}: shares must be >= 0")
    total = sum(mix.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{label}: shares must sum to 1, got {total:g}")


def _resolve_experiment_ladder(data: Any, base: Path, source: str) -> Any:
    """Replace ``experiment.ladder: <path>`` by the loaded ladder (path relative to the world)."""
    if not isinstance(data, dict):
        return data
    exp = data.get("experiment")
    if isinstance(exp, dict) and isinstance(exp.get("ladder"), str):
        p = Path(exp["ladder"])
        if not p.is_absolute():
            p = base / p
        try:
            ladder = load_ladder(p)
        except ConfigError as exc:
            raise ConfigError(f"{source}: experiment.ladder: {exc}") from None
        data = {**data, "experiment": {**exp, "ladder": ladder.model_dump()}}
    return data


def world_from_dict(data: Any, source: str = "<world>", base: Path | None = None) -> World:
    """Validate a world given as plain data (as parsed from YAML).

    Args:
        data: the parsed YAML mapping.
        source: file name used in error messages.
        base: directory that relative ``experiment.ladder`` paths are resolved against
            (default: the current directory).

    Raises:
        ConfigError: naming ``source`` and the offending key.
    """
    data = _resolve_experiment_ladder(data, base or Path.cwd(), source)
    try:
        return World.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid world:"]
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_world(path: Path | str | None = None) -> World:
    """Load a world YAML (the shipped default world when ``path`` is None).

    Raises:
        ConfigError: the file is missing, not YAML, or a key is unknown or invalid
            (the message names the file and the key).
    """
    p = Path(path) if path else default_path("world_default.yaml")
    if not p.exists():
        raise ConfigError(f"world file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    return world_from_dict(data, str(p), p.parent)


def with_experiment(
    world: World,
    ladder: Ladder,
    share: float,
    control: str = "control",
    treatment: str = "treatment",
) -> World:
    """A copy of ``world`` that randomises ``share`` of customers onto ``ladder``."""
    exp = Experiment(share=share, ladder=ladder, control=control, treatment=treatment)
    return world.model_copy(update={"experiment": exp})
