-- model: fct_churn
-- grain: one row per month end per segment, plus segment 'all'
-- keys: month_end_date, segment
-- depends_on: dim_customers, int_month_ends
-- notes: base = customers active at the month start (started before it,
--   not churned before it). churned = those of them whose churned_date
--   falls in the month; churn_rate_pct = churned / base * 100.
--   Involuntary churn (DESIGN.md): churned within
--   involuntary_churn_window_days (setting, 90) after the customer's last
--   dunning event of stage >= 1, or churn_reason = non_payment.
--   count_new_customers started in the month (not in the base).

with

change_points as (
    select * from dim_customers
),

month_ends as (
    select * from int_month_ends
),

customers as (
    -- dim_customers holds change points: the row at each month end
    select
        change_points.*,
        month_ends.month_end_date
    from change_points
    inner join month_ends
        on
            change_points.valid_from_date <= month_ends.month_end_date
            and change_points.valid_to_date > month_ends.month_end_date
),

by_segment as (
    select
        month_end_date,
        segment,
        count(*) filter (where is_active_at_month_start)
            as count_active_customers,
        count(*) filter (where not is_active_at_month_start)
            as count_new_customers,
        count(*) filter (
            where is_active_at_month_start and is_churned_in_month
        ) as count_churned,
        count(*) filter (
            where
            is_active_at_month_start
            and is_churned_in_month
            and is_involuntary_churn
        ) as count_involuntary_churned
    from customers
    group by month_end_date, segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        sum(count_active_customers) as count_active_customers,
        sum(count_new_customers) as count_new_customers,
        sum(count_churned) as count_churned,
        sum(count_involuntary_churned) as count_involuntary_churned
    from by_segment
    group by month_end_date
),

final as (
    select
        month_end_date,
        segment,
        cast(count_active_customers as bigint) as count_active_customers,
        cast(count_new_customers as bigint) as count_new_customers,
        cast(count_churned as bigint) as count_churned,
        cast(count_involuntary_churned as bigint)
            as count_involuntary_churned,
        cast(count_churned - count_involuntary_churned as bigint)
            as count_voluntary_churned,
        100.0 * count_churned / nullif(count_active_customers, 0)
            as churn_rate_pct,
        100.0 * count_involuntary_churned / nullif(count_active_customers, 0)
            as involuntary_churn_rate_pct,
        100.0 * count_involuntary_churned / nullif(count_churned, 0)
            as involuntary_share_pct
    from combined
)

select * from final
