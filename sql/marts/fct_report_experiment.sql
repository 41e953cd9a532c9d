-- model: fct_report_experiment
-- grain: one row per segment per experiment arm (variant), plus segment
--   'all'; no rows when the dunning log names no variant
-- keys: segment, experiment_variant
-- depends_on: stg_dunning_events, fct_invoice_lifecycle
-- notes: outcomes of a randomised ladder experiment by arm, for the
--   dunning-effectiveness notebook. A customer's arm is the smallest
--   variant named on any of its dunning events (arms are assigned per
--   customer); customers never dunned carry no variant and are left out of
--   every arm. Invoices count when their due date lies at least 90 days
--   before the ledger's as-of date, so every invoice had 90 days to pay.
--   settled_90d_pct = settled (by any means) within 90 days after due,
--   with a 95 % normal-approximation interval (settled_90d_low_pct /
--   _high_pct, clipped to 0-100); mean_days_late_days over settled
--   invoices; fee_per_invoice_amount = fees charged / invoices.

with

events as (
    select * from stg_dunning_events
),

lifecycle as (
    select * from fct_invoice_lifecycle
),

invoice_arm as (
    select
        invoice_id,
        min(experiment_variant) as experiment_variant
    from events
    where experiment_variant is not null
    group by invoice_id
),

customer_arm as (
    select
        lifecycle.customer_id,
        min(invoice_arm.experiment_variant) as experiment_variant
    from invoice_arm
    inner join lifecycle
        on invoice_arm.invoice_id = lifecycle.invoice_id
    group by lifecycle.customer_id
),

observed as (
    select
        lifecycle.*,
        customer_arm.experiment_variant
    from lifecycle
    inner join customer_arm
        on lifecycle.customer_id = customer_arm.customer_id
    where lifecycle.due_date + 90 <= lifecycle.as_of_date
),

by_segment as (
    select
        segment,
        experiment_variant,
        count(distinct customer_id) as count_customers,
        count(*) as count_invoices,
        count(*) filter (
            where is_settled and settled_date <= due_date + 90
        ) as count_settled_90d,
        sum(days_late) filter (where is_settled) as total_days_late,
        count(*) filter (where is_settled) as count_settled,
        sum(fee_amount) as fee_amount
    from observed
    group by segment, experiment_variant
),

combined as (
    select * from by_segment
    union all
    select
        'all' as segment,
        experiment_variant,
        sum(count_customers) as count_customers,
        sum(count_invoices) as count_invoices,
        sum(count_settled_90d) as count_settled_90d,
        sum(total_days_late) as total_days_late,
        sum(count_settled) as count_settled,
        sum(fee_amount) as fee_amount
    from by_segment
    group by experiment_variant
),

ratios as (
    select
        *,
        count_settled_90d / count_invoices as settled_ratio
    from combined
),

rates as (
    select
        *,
        1.96 * sqrt(settled_ratio * (1 - settled_ratio) / count_invoices)
            as settled_margin_ratio
    from ratios
),

final as (
    select
        segment,
        experiment_variant,
        cast(count_customers as bigint) as count_customers,
        cast(count_invoices as bigint) as count_invoices,
        cast(count_settled_90d as bigint) as count_settled_90d,
        100.0 * settled_ratio as settled_90d_pct,
        greatest(0.0, 100.0 * (settled_ratio - settled_margin_ratio))
            as settled_90d_low_pct,
        least(100.0, 100.0 * (settled_ratio + settled_margin_ratio))
            as settled_90d_high_pct,
        total_days_late / nullif(count_settled, 0) as mean_days_late_days,
        cast(fee_amount as double) / count_invoices as fee_per_invoice_amount
    from rates
)

select * from final
