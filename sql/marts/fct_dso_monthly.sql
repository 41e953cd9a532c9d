-- model: fct_dso_monthly
-- grain: one row per month end per segment, plus segment 'all' (every
--   segment together)
-- keys: month_end_date, segment
-- depends_on: int_ar_month_end, int_sales_daily, int_month_ends,
--   int_invoice_facts, stg_customers
-- notes: DESIGN.md definitions. AR(t) = sum of open amounts at the end of
--   month-end day t; current AR = the part with due_date >= t.
--   S(t-D, t] = invoiced by issue date minus credit notes by date in the
--   window. DSO_D = AR / S * D (null when S = 0). dso_days uses the
--   configured window (settings dso_window_days). Best possible DSO uses
--   current AR instead of AR; ADD = DSO - BPDSO. is_window_complete is false
--   while the configured window reaches back before the first activity.
--   Countback DSO walks back calendar months from t's month: a month whose
--   net sales the remaining AR covers adds its calendar days, the first one
--   it does not cover adds remaining / sales * days and ends the walk.
--   Countback is 0 when AR is 0, and null when AR > 0 is not covered by all
--   the sales since the first activity (the walk runs out of history, so
--   the days outstanding are unknown rather than the history's length).
--   CEI = (AR(begin) + S(month) - AR(end)) / (AR(begin) + S(month) -
--   currentAR(end)) * 100 with AR(begin) = AR at the previous month end (0
--   before the first activity); null when the denominator is 0.
--   weighted_dbt_days = sum(invoice amount * days late) / sum(invoice
--   amount) over invoices settled (by any means) in the month.

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

facts as (
    select * from int_invoice_facts
),

segments as (
    select distinct segment from stg_customers
),

grid as (
    select
        month_ends.month_end_date,
        month_ends.month_start_date,
        month_ends.days_in_month,
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
        sum(count_open_invoices) as count_open_invoices
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
        ) as sales_window_amount,
        sum(sales_daily.net_sales_amount) filter (
            where sales_daily.sales_date >= grid.month_start_date
        ) as sales_month_amount
    from grid
    inner join sales_daily
        on
            grid.segment = sales_daily.segment
            and grid.month_end_date >= sales_daily.sales_date
            and grid.month_end_date - greatest(
                365, getvariable('dso_window_days')
            ) < sales_daily.sales_date
    group by grid.month_end_date, grid.segment
),

settled as (
    select
        segment,
        cast(last_day(settled_date) as date) as month_end_date,
        count(*) as count_settled_invoices,
        sum(invoice_amount) as settled_invoice_amount,
        sum(invoice_amount * days_late) as settled_days_late_weight
    from facts
    where settled_date is not null
    group by all
),

by_segment as (
    select
        grid.month_end_date,
        grid.segment,
        grid.days_in_month,
        grid.first_activity_date,
        coalesce(ar.ar_amount, 0) as ar_amount,
        coalesce(ar.current_ar_amount, 0) as current_ar_amount,
        coalesce(ar.count_open_invoices, 0) as count_open_invoices,
        coalesce(sales.sales_30d_amount, 0) as sales_30d_amount,
        coalesce(sales.sales_90d_amount, 0) as sales_90d_amount,
        coalesce(sales.sales_365d_amount, 0) as sales_365d_amount,
        coalesce(sales.sales_window_amount, 0) as sales_window_amount,
        coalesce(sales.sales_month_amount, 0) as sales_month_amount,
        coalesce(settled.count_settled_invoices, 0)
            as count_settled_invoices,
        coalesce(settled.settled_invoice_amount, 0)
            as settled_invoice_amount,
        coalesce(settled.settled_days_late_weight, 0)
            as settled_days_late_weight
    from grid
    left join ar
        on
            grid.month_end_date = ar.month_end_date
            and grid.segment = ar.segment
    left join sales
        on
            grid.month_end_date = sales.month_end_date
            and grid.segment = sales.segment
    left join settled
        on
            grid.month_end_date = settled.month_end_date
            and grid.segment = settled.segment
),

all_segments as (
    select
        month_end_date,
        'all' as segment,
        any_value(days_in_month) as days_in_month,
        any_value(first_activity_date) as first_activity_date,
        sum(ar_amount) as ar_amount,
        sum(current_ar_amount) as current_ar_amount,
        sum(count_open_invoices) as count_open_invoices,
        sum(sales_30d_amount) as sales_30d_amount,
        sum(sales_90d_amount) as sales_90d_amount,
        sum(sales_365d_amount) as sales_365d_amount,
        sum(sales_window_amount) as sales_window_amount,
        sum(sales_month_amount) as sales_month_amount,
        sum(count_settled_invoices) as count_settled_invoices,
        sum(settled_invoice_amount) as settled_invoice_amount,
        sum(settled_days_late_weight) as settled_days_late_weight
    from by_segment
    group by month_end_date
),

combined as (
    select
        *,
        coalesce(
            lag(ar_amount) over (
                partition by segment order by month_end_date
            ),
            0
        ) as ar_begin_amount
    from (
        select * from by_segment
        union all
        select * from all_segments
    ) as unioned
),

countback_walk as (
    select
        closing.month_end_date,
        closing.segment,
        closing.ar_amount,
        history.month_end_date as sales_month_end_date,
        history.sales_month_amount,
        history.days_in_month,
        sum(history.sales_month_amount) over (
            partition by closing.month_end_date, closing.segment
            order by history.month_end_date desc
            rows between unbounded preceding and current row
        ) as cumulative_sales_amount
    from combined as closing
    inner join combined as history
        on
            closing.segment = history.segment
            and closing.month_end_date >= history.month_end_date
),

countback_stop as (
    select
        month_end_date,
        segment,
        max(sales_month_end_date) filter (
            where cumulative_sales_amount > ar_amount
        ) as stop_month_end_date
    from countback_walk
    group by month_end_date, segment
),

countback as (
    select
        countback_walk.month_end_date,
        countback_walk.segment,
        any_value(countback_stop.stop_month_end_date) as stop_month_end_date,
        sum(
            case
                when
                    countback_walk.sales_month_end_date
                    > countback_stop.stop_month_end_date
                    then countback_walk.days_in_month
                when
                    countback_walk.sales_month_end_date
                    = countback_stop.stop_month_end_date
                    then
                        cast(
                            countback_walk.ar_amount
                            - countback_walk.cumulative_sales_amount
                            + countback_walk.sales_month_amount as double
                        )
                        / cast(countback_walk.sales_month_amount as double)
                        * countback_walk.days_in_month
                else 0
            end
        ) as countback_dso_days
    from countback_walk
    inner join countback_stop
        on
            countback_walk.month_end_date = countback_stop.month_end_date
            and countback_walk.segment = countback_stop.segment
    group by countback_walk.month_end_date, countback_walk.segment
),

final as (
    select
        combined.month_end_date,
        combined.segment,
        cast(combined.ar_amount as decimal(18, 2)) as ar_amount,
        cast(combined.current_ar_amount as decimal(18, 2))
            as current_ar_amount,
        cast(combined.ar_amount - combined.current_ar_amount as decimal(18, 2))
            as overdue_ar_amount,
        100.0
        * cast(combined.ar_amount - combined.current_ar_amount as double)
        / cast(nullif(combined.ar_amount, 0) as double) as overdue_ar_pct,
        cast(combined.count_open_invoices as bigint) as count_open_invoices,
        cast(combined.sales_30d_amount as decimal(18, 2)) as sales_30d_amount,
        cast(combined.sales_90d_amount as decimal(18, 2)) as sales_90d_amount,
        cast(combined.sales_365d_amount as decimal(18, 2))
            as sales_365d_amount,
        getvariable('dso_window_days') as dso_window_days,
        cast(combined.sales_window_amount as decimal(18, 2))
            as sales_window_amount,
        combined.ar_amount / nullif(combined.sales_30d_amount, 0) * 30
            as dso_30_days,
        combined.ar_amount / nullif(combined.sales_90d_amount, 0) * 90
            as dso_90_days,
        combined.ar_amount / nullif(combined.sales_365d_amount, 0) * 365
            as dso_365_days,
        combined.ar_amount / nullif(combined.sales_window_amount, 0)
        * getvariable('dso_window_days') as dso_days,
        -- month ends are consecutive per segment, so lag = previous month
        combined.ar_amount / nullif(combined.sales_window_amount, 0)
        * getvariable('dso_window_days')
        - lag(
            combined.ar_amount / nullif(combined.sales_window_amount, 0)
            * getvariable('dso_window_days')
        ) over (
            partition by combined.segment order by combined.month_end_date
        ) as dso_change_days,
        combined.current_ar_amount / nullif(combined.sales_window_amount, 0)
        * getvariable('dso_window_days') as best_possible_dso_days,
        (combined.ar_amount - combined.current_ar_amount)
        / nullif(combined.sales_window_amount, 0)
        * getvariable('dso_window_days') as add_days,
        combined.month_end_date - getvariable('dso_window_days')
        >= combined.first_activity_date - 1 as is_window_complete,
        case
            -- nothing owed: no days outstanding
            when combined.ar_amount = 0 then cast(0 as double)
            -- AR that all the sales since the first activity do not cover
            when countback.stop_month_end_date is null then cast(null as double)
            else countback.countback_dso_days
        end as countback_dso_days,
        cast(combined.ar_begin_amount as decimal(18, 2)) as ar_begin_amount,
        cast(combined.sales_month_amount as decimal(18, 2))
            as sales_month_amount,
        100.0
        * cast(
            combined.ar_begin_amount + combined.sales_month_amount
            - combined.ar_amount as double
        )
        / cast(
            nullif(
                combined.ar_begin_amount + combined.sales_month_amount
                - combined.current_ar_amount,
                0
            ) as double
        ) as cei_pct,
        cast(combined.count_settled_invoices as bigint)
            as count_settled_invoices,
        cast(combined.settled_invoice_amount as decimal(18, 2))
            as settled_invoice_amount,
        cast(combined.settled_days_late_weight as double)
        / cast(nullif(combined.settled_invoice_amount, 0) as double)
            as weighted_dbt_days
    from combined
    inner join countback
        on
            combined.month_end_date = countback.month_end_date
            and combined.segment = countback.segment
)

select * from final
