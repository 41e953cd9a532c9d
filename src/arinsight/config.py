"""Typed configuration: settings and dunning ladders (frozen pydantic models).

Config is data: thresholds and costs live in YAML, never as literals in code.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arinsight.errors import ConfigError

Channel = Literal["email", "letter", "sms", "phone", "collection_agency"]


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
        "3GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
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


class Ladder(_Frozen):
    """A dunning ladder: default stages plus optional per-segment overrides."""

    name: str = "ladder"
    default: tuple[Stage, ...]
    segments: dict[str, tuple[Stage, ...]] = Field(default_factory=dict)

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
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid {model.__name__}:"]
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
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
    """Ladder as YAML text (round-trips through ``load_ladder``)."""
    return yaml.safe_dump(ladder.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


@cache
def load_settings(path: str | None = None) -> Settings:
    """Settings from ``path``, ``$ARINSIGHT_SETTINGS``, ``./arinsight.yaml`` or the defaults.

    A user file is merged over the shipped defaults (top-level keys replace).
    """
    data: dict[str, Any] = _read_yaml(default_path("settings.yaml"), "settings")
    chosen = path or os.environ.get("ARINSIGHT_SETTINGS")
    if not chosen and Path("arinsight.yaml").exists():
        chosen = "arinsight.yaml"
    source = "defaults/settings.yaml"
    if chosen:
        user = _read_yaml(chosen, "settings") or {}
        data = {**data, **user}
        source = chosen
    settings: Settings = _validate(Settings, data, source)
    return settings
