-- model: fct_dash_behaviour_mix
-- grain: one row per month end per segment per behaviour segment (reliable /
--   occasional / chronic / unscored), plus segment 'all'; only behaviour
--   segments with customers
-- keys: month_end_date, segment, behaviour_segment
-- depends_on: dim_customers, fct_dso_monthly
-- notes: customers active at the month start, by the behaviour segment
--   dim_customers scored for them at that month end (history up to the
--   month end only). share_of_customers_pct = customers / all active
--   customers of the segment that month * 100. count_churned = of them,
--   churned in the month. dim_customers holds change points: each is
--   expanded to the month ends it holds at (valid_from_date <= month end <
--   valid_to_date; the month ends are those of fct_dso_monthly).

with

month_ends as (
    select distinct month_end_date from fct_dso_monthly
),

customers as (
    select
        month_ends.month_end_date,
        dim_customers.segment,
        dim_customers.behaviour_segment,
        dim_customers.is_active_at_month_start,
        dim_customers.is_churned_in_month
    from dim_customers
    inner join month_ends
        on
            dim_customers.valid_from_date <= month_ends.month_end_date
            and dim_customers.valid_to_date > month_ends.month_end_date
),

by_segment as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        count(*) as count_customers,
        count(*) filter (where is_churned_in_month) as count_churned
    from customers
    where is_active_at_month_start
    group by month_end_date, segment, behaviour_segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        behaviour_segment,
        sum(count_customers) as count_customers,
        sum(count_churned) as count_churned
    from by_segment
    group by month_end_date, behaviour_segment
),

final as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        cast(count_customers as bigint) as count_customers,
        cast(count_churned as bigint) as count_churned,
        100.0 * count_customers / sum(count_customers) over (
            partition by month_end_date, segment
        ) as share_of_customers_pct
    from combined
)

select * from final
