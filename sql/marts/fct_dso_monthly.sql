-- model: fct_dso_monthly
-- grain: one row per month end per segment, plus segment 'all' (every
--   segment together)
-- keys: month_end_date, segment
-- depends_on: int_ar_month_end, int_sales_daily, int_month_ends,
--   stg_customers
-- notes: DESIGN.md definitions. AR(t) = sum of open amounts at the end of
--   month-end day t; current AR = the part with due_date >= t.
--   S(t-D, t] = invoiced by issue date minus credit notes by date in the
--   window. DSO_D = AR / S * D (null when S = 0). dso_days uses the
--   configured window (settings dso_window_days). Best possible DSO uses
--   current AR instead of AR; ADD = DSO - BPDSO. is_window_complete is false
--   while the configured window reaches back before the first activity.

with

ar_month_end as (
    select * from int_ar_month_end
),

sales_daily as (
    select * from int_sales_daily
),

month_ends as (
    select * from int_month_ends
),

segments as (
    select distinct segment from stg_customers
),

grid as (
    select
        month_ends.month_end_date,
        month_ends.first_activity_date,
        segments.segment
    from month_ends
    cross join segments
),

ar as (
    select
        month_end_date,
        segment,
        sum(open_amount) as ar_amount,
        coalesce(
            sum(open_amount) filter (where due_date >= month_end_date), 0
        ) as current_ar_amount,
        count(*) as count_open_invoices
    from ar_month_end
    group by month_end_date, segment
),

sales as (
    select
        grid.month_end_date,
        grid.segment,
        sum(sales_daily.net_sales_amount) filter (
            where sales_daily.sales_date > grid.month_end_date - 30
        ) as sales_30d_amount,
        sum(sales_daily.net_sales_amount) filter (
            where sales_daily.sales_date > grid.month_end_date - 90
        ) as sales_90d_amount,
        sum(sales_daily.net_sales_amount) filter (
            where sales_daily.sales_date > grid.month_end_date - 365
        ) as sales_365d_amount,
        sum(sales_daily.net_sales_amount) filter (
            where
                sales_daily.sales_date
                > grid.month_end_date - getvariable('dso_window_days')
        ) as sales_window_amount
    from grid
    inner join sales_daily
        on
            grid.segment = sales_daily.segment
            and sales_daily.sales_date <= grid.month_end_date
            and sales_daily.sales_date > grid.month_end_date - greatest(
                365, getvariable('dso_window_days')
            )
    group by grid.month_end_date, grid.segment
),

by_segment as (
    select
        grid.month_end_date,
        grid.segment,
        grid.first_activity_date,
        cast(coalesce(ar.ar_amount, 0) as decimal(18, 2)) as ar_amount,
        cast(coalesce(ar.current_ar_amount, 0) as decimal(18, 2))
            as current_ar_amount,
        coalesce(ar.count_open_invoices, 0) as count_open_invoices,
        cast(coalesce(sales.sales_30d_amount, 0) as decimal(18, 2))
            as sales_30d_amount,
        cast(coalesce(sales.sales_90d_amount, 0) as decimal(18, 2))
            as sales_90d_amount,
        cast(coalesce(sales.sales_365d_amount, 0) as decimal(18, 2))
            as sales_365d_amount,
        cast(coalesce(sales.sales_window_amount, 0) as decimal(18, 2))
            as sales_window_amount
    from grid
    left join ar
        on
            grid.month_end_date = ar.month_end_date
            and grid.segment = ar.segment
    left join sales
        on
            grid.month_end_date = sales.month_end_date
            and grid.segment = sales.segment
),

all_segments as (
    select
        month_end_date,
        'all' as segment,
        any_value(first_activity_date) as first_activity_date,
        sum(ar_amount) as ar_amount,
        sum(current_ar_amount) as current_ar_amount,
        sum(count_open_invoices) as count_open_invoices,
        sum(sales_30d_amount) as sales_30d_amount,
        sum(sales_90d_amount) as sales_90d_amount,
        sum(sales_365d_amount) as sales_365d_amount,
        sum(sales_window_amount) as sales_window_amount
    from by_segment
    group by month_end_date
),

combined as (
    select * from by_segment
    union all
    select * from all_segments
),

final as (
    select
        month_end_date,
        segment,
        cast(ar_amount as decimal(18, 2)) as ar_amount,
        cast(current_ar_amount as decimal(18, 2)) as current_ar_amount,
        cast(ar_amount - current_ar_amount as decimal(18, 2))
            as overdue_ar_amount,
        cast(count_open_invoices as bigint) as count_open_invoices,
        cast(sales_30d_amount as decimal(18, 2)) as sales_30d_amount,
        cast(sales_90d_amount as decimal(18, 2)) as sales_90d_amount,
        cast(sales_365d_amount as decimal(18, 2)) as sales_365d_amount,
        getvariable('dso_window_days') as dso_window_days,
        cast(sales_window_amount as decimal(18, 2)) as sales_window_amount,
        ar_amount / nullif(sales_30d_amount, 0) * 30 as dso_30_days,
        ar_amount / nullif(sales_90d_amount, 0) * 90 as dso_90_days,
        ar_amount / nullif(sales_365d_amount, 0) * 365 as dso_365_days,
        ar_amount / nullif(sales_window_amount, 0)
        * getvariable('dso_window_days') as dso_days,
        current_ar_amount / nullif(sales_window_amount, 0)
        * getvariable('dso_window_days') as best_possible_dso_days,
        (ar_amount - current_ar_amount) / nullif(sales_window_amount, 0)
        * getvariable('dso_window_days') as add_days,
        month_end_date - getvariable('dso_window_days')
        >= first_activity_date - 1 as is_window_complete
    from combined
)

select * from final
