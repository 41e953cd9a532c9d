"""Net value per experiment arm, with a bootstrap over customers.

``marts.fct_experiment_arms`` holds the per-arm effects on days to settle,
recovery and churn with analytic intervals. Net value needs the settings'
costs (``net_value`` in settings.yaml), which SQL does not see, so it is
computed here from ``marts.fct_experiment_customers`` (the per-customer parts,
defined in SQL):

    net value of a customer = paid_amount + fee_on_paid_amount
                              - sum over channels of events x channel cost
                              - agency commission % x agency_paid_amount
                              - (involuntary churn) x lifetime value of the segment

Undiscounted (the warehouse has no common valuation date); the effect is the
difference of the mean per customer between an arm and the control arm. The
95 % interval is a percentile bootstrap: customers resampled with replacement
within each arm (the randomisation unit), ``n_boot`` times, fixed seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arinsight.config import Settings, load_settings

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse

CHANNELS = ("email", "sms", "letter", "phone", "collection_agency")


def customer_net_value(customers: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """``customers`` (fct_experiment_customers rows) with a ``net_value_amount`` column (EUR)."""
    import polars as pl

    nv = settings.net_value
    cost = pl.lit(0.0)
    for ch in CHANNELS:
        cost = cost + pl.col(f"count_{ch}_events") * nv.channel_cost.get(ch, 0.0)  # type: ignore[call-overload]
    clv = pl.col("segment").map_elements(nv.lifetime_value, return_dtype=pl.Float64)
    return customers.with_columns(
        (
            pl.col("paid_amount")
            + pl.col("fee_on_paid_amount")
            - cost
            - pl.col("agency_paid_amount") * (nv.agency_commission_pct / 100.0)
            - pl.when(pl.col("is_involuntary_churn")).then(clv).otherwise(0.0)
        ).alias("net_value_amount")
    )


def _control(arms: dict[str, int]) -> str:
    if "control" in arms:
        return "control"
    return sorted(arms, key=lambda a: (-arms[a], a))[0]


def experiment_net_value(
    wh: Warehouse,
    settings: Settings | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> pl.DataFrame:
    """Net value per customer per segment (plus 'all') and arm, and the effect vs control.

    Returns:
        One row per segment x experiment_variant: count_customers,
        net_value_per_customer_amount, delta_net_value_per_customer_amount
        (arm minus control; 0 for the control), delta_ci_low_amount /
        delta_ci_high_amount (95 % percentile bootstrap over customers; null for
        the control), control_variant, n_boot. Empty when no experiment.
    """
    import numpy as np
    import polars as pl

    from arinsight.metrics import experiment_customers

    settings = settings or load_settings()
    frame = customer_net_value(experiment_customers(wh), settings)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    groups = [("all", frame)] + [
        (str(seg), frame.filter(pl.col("segment") == seg))
        for seg in sorted(frame["segment"].unique().to_list())
    ]
    for segment, part in groups:
        values = {
            str(arm): part.filter(pl.col("experiment_variant") == arm)[
                "net_value_amount"
            ].to_numpy()
            for arm in sorted(part["experiment_variant"].unique().to_list())
        }
        if not values:
            continue
        control = _control({a: len(v) for a, v in values.items()})
        boot = {
            arm: v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
            for arm, v in values.items()
        }
        for arm, v in values.items():
            is_control = arm == control
            diff = boot[arm] - boot[control]
            rows.append(
                {
                    "segment": segment,
                    "experiment_variant": arm,
                    "is_control": is_control,
                    "control_variant": control,
                    "count_customers": len(v),
                    "net_value_per_customer_amount": float(v.mean()),
                    "delta_net_value_per_customer_amount": float(v.mean() - values[control].mean()),
                    "delta_ci_low_amount": None if is_control else float(np.quantile(diff, 0.025)),
                    "delta_ci_high_amount": None if is_control else float(np.quantile(diff, 0.975)),
                    "n_boot": n_boot,
                }
            )
    schema = {
        "segment": pl.String,
        "experiment_variant": pl.String,
        "is_control": pl.Boolean,
        "control_variant": pl.String,
        "count_customers": pl.Int64,
        "net_value_per_customer_amount": pl.Float64,
        "delta_net_value_per_customer_amount": pl.Float64,
        "delta_ci_low_amount": pl.Float64,
        "delta_ci_high_amount": pl.Float64,
        "n_boot": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
