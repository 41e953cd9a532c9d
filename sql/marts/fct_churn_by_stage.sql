-- model: fct_churn_by_stage
-- grain: one row per month end per segment per highest dunning stage
--   reached (0 = never dunned), plus segment 'all'; only groups with
--   customers active at the month start
-- keys: month_end_date, segment, highest_stage_number
-- depends_on: dim_customers, int_month_ends
-- notes: customers active at the month start, grouped by the highest stage
--   >= 1 any of their invoices reached by the month end (events after a
--   churn date ignored; 0 = never dunned, pre-due reminders only or none).
--   churn_rate_pct = churned in the month / customers * 100;
--   relative_risk_ratio = the group's churn rate / the never-dunned
--   group's in the same month and segment (null when that rate is 0 or
--   the group is missing).

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

active as (
    select *
    from customers
    where is_active_at_month_start
),

by_segment as (
    select
        month_end_date,
        segment,
        highest_stage_number,
        count(*) as count_customers,
        count(*) filter (where is_churned_in_month) as count_churned,
        count(*) filter (
            where is_churned_in_month and is_involuntary_churn
        ) as count_involuntary_churned
    from active
    group by month_end_date, segment, highest_stage_number
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        highest_stage_number,
        sum(count_customers) as count_customers,
        sum(count_churned) as count_churned,
        sum(count_involuntary_churned) as count_involuntary_churned
    from by_segment
    group by month_end_date, highest_stage_number
),

rates as (
    select
        *,
        100.0 * count_churned / count_customers as churn_rate_pct
    from combined
),

final as (
    select
        rates.month_end_date,
        rates.segment,
        cast(rates.highest_stage_number as integer) as highest_stage_number,
        rates.highest_stage_number = 0 as is_never_dunned,
        cast(rates.count_customers as bigint) as count_customers,
        cast(rates.count_churned as bigint) as count_churned,
        cast(rates.count_involuntary_churned as bigint)
            as count_involuntary_churned,
        rates.churn_rate_pct,
        rates.churn_rate_pct / nullif(never.churn_rate_pct, 0)
            as relative_risk_ratio
    from rates
    left join rates as never
        on
            rates.month_end_date = never.month_end_date
            and rates.segment = never.segment
            and never.highest_stage_number = 0
)

select * from final
