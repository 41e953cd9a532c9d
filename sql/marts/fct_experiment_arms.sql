-- model: fct_experiment_arms
-- grain: one row per segment (plus 'all') per experiment variant
-- keys: segment, experiment_variant
-- depends_on: fct_experiment_customers
-- notes: per-arm outcomes of a randomised ladder experiment and each arm's
--   effect against the control arm (the variant named 'control', else the
--   arm with the most customers), 95 % intervals, analytic over customers
--   (the randomisation unit): ratios (days to settle = sum of restricted
--   days / invoices; recovery = recovered / overdue) by linearisation,
--   var(R) = n / (n - 1) * sum((y_i - R x_i)^2) / (sum x_i)^2; shares
--   (involuntary churn) Wilson intervals per arm and Newcombe's hybrid
--   Wilson interval for the difference (honest with zero churners); a
--   ratio effect's variance is the sum of the two arms' (independent
--   arms); the control row's effect is 0 with a null interval.
--   Definitions per customer in fct_experiment_customers:
--   mean_days_to_settle is the restricted mean (open invoices count to
--   due + 90), the DSO effect in days;
--   recovery_90d_pct of the amount overdue; involuntary_churn_pct of
--   customers. Net value per arm needs the settings' costs: see
--   arinsight.ladder.experiments (bootstrap over customers). Empty when no
--   event carries a variant.

with

customers as (
    select * from fct_experiment_customers
),

params as (
    select 1.959964 as z
),

typed as (
    select * from customers
    union all
    select * replace ('all' as segment) from customers
),

ratios as (
    select
        segment,
        experiment_variant,
        count(*) as count_customers,
        sum(count_outcome_invoices) as count_outcome_invoices,
        1.0 * sum(total_restricted_days_to_settle)
        / nullif(sum(count_outcome_invoices), 0) as mean_days_to_settle,
        sum(recovered_90d_amount)
        / nullif(sum(overdue_amount), 0) as recovery_90d_ratio,
        avg(case when is_involuntary_churn then 1.0 else 0.0 end)
            as involuntary_churn_ratio,
        sum(count_outcome_invoices) as sum_invoices,
        sum(overdue_amount) as sum_overdue
    from typed
    group by segment, experiment_variant
),

residuals as (
    select
        typed.segment,
        typed.experiment_variant,
        sum(
            power(
                typed.total_restricted_days_to_settle
                - ratios.mean_days_to_settle * typed.count_outcome_invoices,
                2
            )
        ) as ss_days,
        sum(
            power(
                typed.recovered_90d_amount
                - ratios.recovery_90d_ratio * typed.overdue_amount,
                2
            )
        ) as ss_recovery
    from typed
    inner join ratios
        on
            typed.segment = ratios.segment
            and typed.experiment_variant = ratios.experiment_variant
    group by typed.segment, typed.experiment_variant
),

arms as (
    select
        ratios.*,
        case
            when ratios.count_customers > 1
                then
                    ratios.count_customers / (ratios.count_customers - 1.0)
                    * residuals.ss_days
                    / nullif(ratios.sum_invoices * ratios.sum_invoices, 0)
        end as var_days,
        case
            when ratios.count_customers > 1
                then
                    ratios.count_customers / (ratios.count_customers - 1.0)
                    * residuals.ss_recovery
                    / nullif(ratios.sum_overdue * ratios.sum_overdue, 0)
        end as var_recovery,
        (
            ratios.involuntary_churn_ratio
            + params.z * params.z / (2.0 * ratios.count_customers)
            - params.z * sqrt(
                ratios.involuntary_churn_ratio
                * (1 - ratios.involuntary_churn_ratio)
                / ratios.count_customers
                + params.z * params.z
                / (4.0 * ratios.count_customers * ratios.count_customers)
            )
        )
        / (1 + params.z * params.z / ratios.count_customers) as churn_low_ratio,
        (
            ratios.involuntary_churn_ratio
            + params.z * params.z / (2.0 * ratios.count_customers)
            + params.z * sqrt(
                ratios.involuntary_churn_ratio
                * (1 - ratios.involuntary_churn_ratio)
                / ratios.count_customers
                + params.z * params.z
                / (4.0 * ratios.count_customers * ratios.count_customers)
            )
        )
        / (1 + params.z * params.z / ratios.count_customers) as churn_high_ratio
    from ratios
    cross join params
    inner join residuals
        on
            ratios.segment = residuals.segment
            and ratios.experiment_variant = residuals.experiment_variant
),

ranked as (
    select
        segment,
        experiment_variant,
        row_number() over (
            partition by segment
            order by
                experiment_variant = 'control' desc,
                count_customers desc,
                experiment_variant asc
        ) as control_rank
    from arms
),

controls as (
    select arms.*
    from arms
    inner join ranked
        on
            arms.segment = ranked.segment
            and arms.experiment_variant = ranked.experiment_variant
    where ranked.control_rank = 1
),

effects as (
    select
        arms.*,
        controls.experiment_variant as control_variant,
        arms.mean_days_to_settle - controls.mean_days_to_settle
            as delta_days_to_settle,
        case
            when arms.experiment_variant <> controls.experiment_variant
                then sqrt(arms.var_days + controls.var_days)
        end as se_delta_days,
        arms.recovery_90d_ratio - controls.recovery_90d_ratio
            as delta_recovery_ratio,
        case
            when arms.experiment_variant <> controls.experiment_variant
                then sqrt(arms.var_recovery + controls.var_recovery)
        end as se_delta_recovery,
        arms.involuntary_churn_ratio - controls.involuntary_churn_ratio
            as delta_churn_ratio,
        case
            when arms.experiment_variant <> controls.experiment_variant
                then
                    sqrt(
                        power(
                            arms.involuntary_churn_ratio - arms.churn_low_ratio,
                            2
                        )
                        + power(
                            controls.churn_high_ratio
                            - controls.involuntary_churn_ratio,
                            2
                        )
                    )
        end as churn_delta_low_margin,
        case
            when arms.experiment_variant <> controls.experiment_variant
                then
                    sqrt(
                        power(
                            arms.churn_high_ratio
                            - arms.involuntary_churn_ratio,
                            2
                        )
                        + power(
                            controls.involuntary_churn_ratio
                            - controls.churn_low_ratio,
                            2
                        )
                    )
        end as churn_delta_high_margin
    from arms
    inner join controls on arms.segment = controls.segment
),

final as (
    select
        effects.segment,
        effects.experiment_variant,
        effects.experiment_variant = effects.control_variant as is_control,
        effects.control_variant,
        cast(effects.count_customers as bigint) as count_customers,
        cast(effects.count_outcome_invoices as bigint)
            as count_outcome_invoices,
        effects.mean_days_to_settle,
        effects.mean_days_to_settle - params.z * sqrt(effects.var_days)
            as mean_days_to_settle_ci_low,
        effects.mean_days_to_settle + params.z * sqrt(effects.var_days)
            as mean_days_to_settle_ci_high,
        effects.delta_days_to_settle,
        effects.delta_days_to_settle - params.z * effects.se_delta_days
            as delta_days_to_settle_ci_low,
        effects.delta_days_to_settle + params.z * effects.se_delta_days
            as delta_days_to_settle_ci_high,
        100 * effects.recovery_90d_ratio as recovery_90d_pct,
        100 * (
            effects.recovery_90d_ratio - params.z * sqrt(effects.var_recovery)
        ) as recovery_90d_ci_low_pct,
        100 * (
            effects.recovery_90d_ratio + params.z * sqrt(effects.var_recovery)
        ) as recovery_90d_ci_high_pct,
        100 * effects.delta_recovery_ratio as delta_recovery_90d_pct,
        100 * (
            effects.delta_recovery_ratio
            - params.z * effects.se_delta_recovery
        ) as delta_recovery_90d_ci_low_pct,
        100 * (
            effects.delta_recovery_ratio
            + params.z * effects.se_delta_recovery
        ) as delta_recovery_90d_ci_high_pct,
        100 * effects.involuntary_churn_ratio as involuntary_churn_pct,
        100 * effects.churn_low_ratio as involuntary_churn_ci_low_pct,
        100 * effects.churn_high_ratio as involuntary_churn_ci_high_pct,
        100 * effects.delta_churn_ratio as delta_involuntary_churn_pct,
        100 * (effects.delta_churn_ratio - effects.churn_delta_low_margin)
            as delta_involuntary_churn_ci_low_pct,
        100 * (effects.delta_churn_ratio + effects.churn_delta_high_margin)
            as delta_involuntary_churn_ci_high_pct
    from effects
    cross join params
)

select * from final
