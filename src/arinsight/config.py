"""Typed configuration: settings and dunning ladders (frozen pydantic models).

Config is data: thresholds and costs live in YAML, never as literals in code.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arinsight.errors import ConfigError

Channel = Literal["email", "letter", "sms", "phone", "collection_agency"]
#: Channels a ``route`` may send instead of a stage (never the agency itself).
GentleChannel = Literal["email", "letter", "sms", "phone"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NetValue(_Frozen):
    """Parameters of the ladder objective (see settings.yaml)."""

    cost_of_capital_pct: float = Field(ge=0)
    channel_cost: dict[Channel, float]
    agency_commission_pct: float = Field(ge=0, le=100)
    customer_lifetime_value: dict[str, float]

    def lifetime_value(self, segment: str) -> float:
        clv = self.customer_lifetime_value
        return clv.get(segment, clv.get("default", 0.0))


class BehaviourScoring(_Frozen):
    """Thresholds that score customers reliable / occasional / chronic (see settings.yaml)."""

    min_scored_invoices: int = Field(default=1, ge=1)
    reliable_max_late_ratio: float = Field(default=0.10, ge=0, le=1)
    reliable_max_weighted_days_late: float = Field(default=3.0, ge=0)
    reliable_max_stage: int = Field(default=1, ge=0)
    chronic_min_late_ratio: float = Field(default=0.50, ge=0, le=1)
    chronic_min_weighted_days_late: float = Field(default=30.0, ge=0)
    chronic_min_stage: int = Field(default=3, ge=0)


class DashboardSettings(_Frozen):
    """How ``arinsight dashboard`` presents the marts (see settings.yaml)."""

    language: Literal["en", "de"] = "en"
    dso_target_days: float | None = Field(default=None, gt=0)
    show_customer_names: bool = False
    top_customers: int = Field(default=20, ge=1, le=500)


class Settings(_Frozen):
    """Project settings; see ``defaults/settings.yaml`` for each field's meaning."""

    reporting_currency: str = "EUR"
    dso_window_days: int = Field(90, gt=0)
    conversion_horizon_days: int = Field(30, gt=0)
    involuntary_churn_window_days: int = Field(90, ge=0)
    behaviour_scoring: BehaviourScoring = BehaviourScoring()
    max_quarantine_pct: float = Field(1.0, ge=0, le=100)
    duckdb_memory_limit: str | None = Field(
        "auto", pattern=r"^(auto|\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB))$"
    )
    net_value: NetValue
    dashboard: DashboardSettings = DashboardSettings()


class Stage(_Frozen):
    """One rung of a dunning ladder."""

    stage: int = Field(ge=0)
    name: str
    offset_days: int
    anchor: Literal["due_date", "previous_stage"] = "due_date"
    channel: Channel
    fee: float = Field(0.0, ge=0)
    #: Default interest charged from this stage on, in percentage points over the
    #: base rate (§247 BGB); ``None``: not stated (the ladder's value applies).
    interest_rate_pct_over_base: float | None = Field(None, ge=0)


FailureReason = Literal[
    "card_expired",
    "card_cancelled",
    "insufficient_funds",
    "fraud_suspected",
    "account_changed",
    "other",
]


class RetryRule(_Frozen):
    """When a failed automatic charge is retried (``retries:`` of a ladder).

    ``gaps_days``: one retry per entry, that many days after the previous
    attempt (``[]`` = no retry). ``days_of_month``: retry on the next of these
    days of the month (at least one day after the previous attempt), ``count``
    times -- e.g. after the usual pay days for insufficient funds.
    """

    gaps_days: tuple[int, ...] = ()
    days_of_month: tuple[int, ...] = ()
    count: int = Field(default=0, ge=0, le=20)

    @model_validator(mode="after")
    def _one_form(self) -> RetryRule:
        if any(g < 1 for g in self.gaps_days):
            raise ValueError("gaps_days must be >= 1")
        if any(not 1 <= x <= 28 for x in self.days_of_month):
            raise ValueError("days_of_month must lie in 1..28")
        if self.gaps_days and self.days_of_month:
            raise ValueError("give either gaps_days or days_of_month (with count), not both")
        if self.days_of_month and not self.count:
            raise ValueError("days_of_month needs count >= 1")
        return self

    @property
    def n_retries(self) -> int:
        return self.count if self.days_of_month else len(self.gaps_days)


class RetrySchedule(_Frozen):
    """Retries of failed automatic charges: a default rule and rules per failure reason."""

    default: RetryRule = RetryRule(gaps_days=(3, 7))
    by_reason: dict[FailureReason, RetryRule] = Field(default_factory=dict)

    def rule(self, reason: str) -> RetryRule:
        return typing.cast(dict[str, RetryRule], self.by_reason).get(reason, self.default)


class RouteStep(_Frozen):
    """The gentler step a ``route`` sends instead of the stage it replaces."""

    name: str = Field(min_length=1)
    channel: GentleChannel
    fee: float = Field(0.0, ge=0)


class Route(_Frozen):
    """Send a gentler step instead of ``stage`` to invoices likely paid without it.

    On the day ``stage`` is due, the payment model (:mod:`arinsight.propensity`)
    scores the invoice as it stands; if P(paid within ``within_days`` days) is at
    least ``min_paid_ratio``, ``instead`` goes out (with the replaced stage's
    number) and, if the invoice is still open ``fallback_after_days`` later, the
    replaced stage follows then (null: never — the invoice runs into write-off).
    """

    stage: int = Field(ge=0)
    segments: tuple[str, ...] | None = None
    min_paid_ratio: float = Field(gt=0, lt=1)
    within_days: int = Field(30, ge=1, le=365)
    instead: RouteStep
    fallback_after_days: int | None = Field(30, ge=1, le=365)

    def applies_to(self, segment: str) -> bool:
        return self.segments is None or segment in self.segments


class Ladder(_Frozen):
    """A dunning ladder: default stages plus optional per-segment overrides."""

    name: str = "ladder"
    default: tuple[Stage, ...]
    segments: dict[str, tuple[Stage, ...]] = Field(default_factory=dict)
    #: Default interest in points over the base rate for every stage that states none.
    interest_rate_pct_over_base: float | None = Field(None, ge=0)
    #: Retry schedule of failed automatic charges (optional; None: the default
    #: ``RetrySchedule()``, retries 3 and 7 days after a failure).
    retries: RetrySchedule | None = None
    #: Optional gentler path for likely payers (:class:`Route`); empty: no routing.
    route: tuple[Route, ...] = ()

    @model_validator(mode="after")
    def _check_routes(self) -> Ladder:
        seen: set[tuple[str, int]] = set()
        for i, r in enumerate(self.route):
            lists = {"default": self.default, **self.segments}
            if r.segments is not None:
                lists = {s: self.for_segment(s) for s in r.segments}
            for seg, stages in lists.items():
                numbers = [s.stage for s in stages]
                if r.stage not in numbers:
                    raise ValueError(
                        f"route.{i}.stage: stage {r.stage} is not in the {seg!r} stages "
                        f"{numbers}; name a stage of that list"
                    )
                if (seg, r.stage) in seen:
                    raise ValueError(
                        f"route.{i}: a second route for segment {seg!r} stage {r.stage}; "
                        "keep one route per stage and segment"
                    )
                seen.add((seg, r.stage))
        return self

    def route_for(self, segment: str, stage: int) -> Route | None:
        """The route replacing ``stage`` for ``segment`` (None: no route)."""
        for r in self.route:
            if r.stage == stage and r.applies_to(segment):
                return r
        return None

    @model_validator(mode="after")
    def _check_order(self) -> Ladder:
        for seg, stages in [("default", self.default), *self.segments.items()]:
            numbers = [s.stage for s in stages]
            if numbers != sorted(set(numbers)):
                raise ValueError(f"ladder {seg!r}: stage numbers must ascend without repeats")
            if stages and stages[0].anchor == "previous_stage":
                raise ValueError(f"ladder {seg!r}: the first stage cannot anchor on a previous one")
            due = resolve_offsets(stages)
            if due != sorted(due):
                raise ValueError(f"ladder {seg!r}: stages must go out in stage order, got {due}")
        return self

    def for_segment(self, segment: str) -> tuple[Stage, ...]:
        return self.segments.get(segment, self.default)

    def due_offsets(self, segment: str) -> list[int]:
        """Days after due date at which each stage goes out (anchors resolved)."""
        return resolve_offsets(self.for_segment(segment))


def resolve_offsets(stages: tuple[Stage, ...]) -> list[int]:
    """Resolve ``previous_stage`` anchors into offsets from the due date."""
    out: list[int] = []
    for s in stages:
        base = out[-1] if (s.anchor == "previous_stage" and out) else 0
        out.append(base + s.offset_days)
    return out


def _read_yaml(path: Path | str, what: str) -> Any:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} file not found: {p}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}{where}: not valid YAML: {problem}") from None


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the pydantic model found at ``loc`` inside ``model`` ([] if none)."""
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            if field is None:
                return []
            model = field.annotation
        else:  # dict[str, X] / tuple[X, ...] → X
            args = typing.get_args(model)
            model = args[-1] if args and args[-1] is not Ellipsis else (args[0] if args else None)
        while isinstance(model, types.UnionType) or typing.get_origin(model) is typing.Union:
            model = next(a for a in typing.get_args(model) if a is not type(None))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    """Validate ``data``; every problem is reported at once, one line each.

    Raises:
        ConfigError: ``<source>: invalid <model> (n problems):`` then one line per
            problem naming the key; unknown keys get a did-you-mean and the allowed keys.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        lines = [f"{source}: invalid {model.__name__.lower()} ({len(errors)} problems):"]
        for err in errors:
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                allowed = _fields_at(model, tuple(err["loc"][:-1]))
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                lines.append(
                    f"  {loc}: unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}"
                )
            else:
                msg = err["msg"].removeprefix("Value error, ")
                # a ladder-level check that names its own key (route.0.stage: ...)
                named = not err["loc"] and msg.startswith("route.")
                lines.append(f"  {msg}" if named else f"  {loc}: {msg}")
        if len(lines) == 2:  # one problem: one line
            raise ConfigError(f"{source}: {lines[1].strip()}") from None
        raise ConfigError("\n".join(lines)) from None


def default_path(name: str) -> Path:
    """Path of a file shipped in ``arinsight/defaults``."""
    return Path(str(resources.files("arinsight") / "defaults" / name))


def load_ladder(path: Path | str | None = None) -> Ladder:
    """Load a ladder YAML (the shipped default ladder when ``path`` is None)."""
    p = Path(path) if path else default_path("ladder_default.yaml")
    ladder: Ladder = _validate(Ladder, _read_yaml(p, "ladder"), str(p))
    return ladder


def dump_ladder(ladder: Ladder) -> str:
    """Ladder as YAML text (round-trips through ``load_ladder``; unset optional keys left out)."""
    data = ladder.model_dump(mode="json", exclude_none=True)
    if not data.get("route"):
        data.pop("route", None)
    for out, route in zip(data.get("route", []), ladder.route, strict=True):
        # null means "never hand over" and the default is 30 days: always written
        out["fallback_after_days"] = route.fallback_after_days
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``: nested mappings merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


#: The settings file chosen on the command line (``--settings`` / ``ARINSIGHT_SETTINGS``).
_selected: str | None = None


def select_settings(path: str | None) -> None:
    """Make ``path`` this process's settings file (None: the usual lookup).

    The CLI calls it with the value of ``--settings`` (which falls back to
    ``$ARINSIGHT_SETTINGS``), so every later :func:`load_settings` call uses it.
    """
    global _selected
    _selected = path
    load_settings.cache_clear()


@cache
def load_settings(path: str | None = None) -> Settings:
    """Settings from ``path``, ``--settings``, ``$ARINSIGHT_SETTINGS``, ``./arinsight.yaml``.

    The chosen file is merged deeply over the shipped defaults: a file holding
    only ``net_value: {channel_cost: {letter: 1.5}}`` changes that one cost and
    keeps every other setting. Unknown keys are an error with a did-you-mean.

    Raises:
        ConfigError: missing file, invalid YAML, unknown keys or invalid values
            (all problems listed at once).
    """
    data: dict[str, Any] = _read_yaml(default_path("settings.yaml"), "settings")
    chosen = path or _selected or os.environ.get("ARINSIGHT_SETTINGS")
    if not chosen and Path("arinsight.yaml").exists():
        chosen = "arinsight.yaml"
    source = "defaults/settings.yaml"
    if chosen:
        user = _read_yaml(chosen, "settings") or {}
        if not isinstance(user, dict):
            raise ConfigError(f"{chosen}: settings are a YAML mapping (key: value lines)")
        data = deep_merge(data, user)
        source = chosen
    settings: Settings = _validate(Settings, data, source)
    return settings
