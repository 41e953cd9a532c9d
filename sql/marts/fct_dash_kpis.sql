-- model: fct_dash_kpis
-- grain: one row per month end per segment (plus 'all') per headline KPI
-- keys: month_end_date, segment, kpi_name
-- depends_on: fct_dso_monthly, fct_dash_cash_monthly
-- notes: the dashboard's KPI tiles in one narrow table: each KPI's value at
--   the month end, at the previous month end and at the same month end a
--   year earlier (null when outside the data), and the changes (value -
--   earlier value, in the KPI's unit; percentage points for *_pct).
--   kpi_name is the source column: dso_days, best_possible_dso_days,
--   add_days, countback_dso_days, cei_pct, overdue_ar_pct (fct_dso_monthly)
--   and collected_amount (fct_dash_cash_monthly).

with

dso as (
    select * from fct_dso_monthly
),

cash as (
    select * from fct_dash_cash_monthly
),

long as (
    select
        month_end_date,
        segment,
        'dso_days' as kpi_name,
        dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'best_possible_dso_days' as kpi_name,
        best_possible_dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'add_days' as kpi_name,
        add_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'countback_dso_days' as kpi_name,
        countback_dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'cei_pct' as kpi_name,
        cei_pct as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'overdue_ar_pct' as kpi_name,
        overdue_ar_pct as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'collected_amount' as kpi_name,
        cast(collected_amount as double) as kpi_value
    from cash
),

final as (
    select
        cur.month_end_date,
        cur.segment,
        cur.kpi_name,
        cur.kpi_value,
        prev_month.kpi_value as prev_month_value,
        prev_year.kpi_value as prev_year_value,
        cur.kpi_value - prev_month.kpi_value as change_vs_prev_month,
        cur.kpi_value - prev_year.kpi_value as change_vs_prev_year
    from long as cur
    left join long as prev_month
        on
            cur.segment = prev_month.segment
            and cur.kpi_name = prev_month.kpi_name
            and prev_month.month_end_date
            = last_day(cur.month_end_date - interval 1 month)
    left join long as prev_year
        on
            cur.segment = prev_year.segment
            and cur.kpi_name = prev_year.kpi_name
            and prev_year.month_end_date
            = last_day(cur.month_end_date - interval 12 month)
)

select * from final
