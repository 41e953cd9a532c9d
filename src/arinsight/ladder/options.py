"""Settings of the recommender (``defaults/recommender.yaml``), as a frozen model."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arinsight.config import _read_yaml, _validate, default_path


class RecommenderOptions(BaseModel):
    """Knobs of ``arinsight recommend``; each is explained in ``recommender.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_group_invoices: int = Field(1500, ge=1)
    min_segment_invoices: int = Field(300, ge=1)
    min_stage_events: int = Field(200, ge=0)
    responsiveness_days_prior: float = Field(45.0, gt=0)
    responsiveness_log_sd: float = Field(0.35, gt=0)
    fee_collection_share: float = Field(0.6, ge=0, le=1)
    lost_invoicing_share: float = Field(0.5, ge=0, le=1)
    search_radius_days: int = Field(21, ge=0)
    min_gap_days: int = Field(3, ge=1)
    search_rounds: int = Field(5, ge=1)
    bootstrap_draws: int = Field(200, ge=20)
    interval_low_pct: float = Field(10.0, gt=0, lt=50)
    interval_high_pct: float = Field(90.0, gt=50, lt=100)
    churn_half_life_days: float = Field(45.0, gt=0)
    pre_due_reminder_churn: bool = False
    paid_reminder_churn_log_sd: float = Field(0.5, gt=0)
    max_send_ratio: float = Field(1.25, ge=1.0)
    replay_max_customers: int = Field(100_000, ge=0)
    agency_age_halving_days_prior: float = Field(365.0, gt=0)
    agency_age_halving_log_sd: float = Field(0.7, gt=0)
    search_handover: bool = True
    drop_handover: bool = True
    agency_only: bool = True
    channel_fallback: str = "letter"
    channel_min_sends: int = Field(50, ge=1)


def load_options(path: Path | str | None = None) -> RecommenderOptions:
    """Options from ``path`` (default: the shipped ``recommender.yaml``).

    Raises:
        ConfigError: missing file, bad YAML, or an unknown/invalid key (named).
    """
    p = Path(path) if path else default_path("recommender.yaml")
    opts: RecommenderOptions = _validate(RecommenderOptions, _read_yaml(p, "recommender"), str(p))
    return opts
