-- model: fct_report_kpis
-- grain: one row per month end per segment per headline figure (kpi_name),
--   plus segment 'all'
-- keys: month_end_date, segment, kpi_name
-- depends_on: fct_dso_monthly, fct_churn, fct_guardrails
-- notes: the monthly review's KPI table, selected from the marts that
--   define each figure (nothing is recomputed): this month's value, the
--   previous month end's and the same month end a year earlier, and the
--   changes (this minus that; null when the earlier month is not built or
--   the figure is null there). kpi_unit says how to read kpi_value: days, pct
--   (0-100), amount (reporting currency) or count. kpi_order is the order of
--   the report's table. Guardrail findings count every finding kind sent in
--   the month.

with

dso as (
    select * from fct_dso_monthly
),

churn as (
    select * from fct_churn
),

guardrails as (
    select * from fct_guardrails
),

findings as (
    select
        month_end_date,
        segment,
        sum(count_findings) as count_findings
    from guardrails
    group by month_end_date, segment
),

long as (
    select
        month_end_date,
        segment,
        'dso_days' as kpi_name,
        1 as kpi_order,
        'days' as kpi_unit,
        dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'countback_dso_days' as kpi_name,
        2 as kpi_order,
        'days' as kpi_unit,
        countback_dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'best_possible_dso_days' as kpi_name,
        3 as kpi_order,
        'days' as kpi_unit,
        best_possible_dso_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'add_days' as kpi_name,
        4 as kpi_order,
        'days' as kpi_unit,
        add_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'cei_pct' as kpi_name,
        5 as kpi_order,
        'pct' as kpi_unit,
        cei_pct as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'ar_amount' as kpi_name,
        6 as kpi_order,
        'amount' as kpi_unit,
        cast(ar_amount as double) as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'overdue_ar_pct' as kpi_name,
        7 as kpi_order,
        'pct' as kpi_unit,
        overdue_ar_pct as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'weighted_dbt_days' as kpi_name,
        8 as kpi_order,
        'days' as kpi_unit,
        weighted_dbt_days as kpi_value
    from dso
    union all
    select
        month_end_date,
        segment,
        'churn_rate_pct' as kpi_name,
        9 as kpi_order,
        'pct' as kpi_unit,
        churn_rate_pct as kpi_value
    from churn
    union all
    select
        month_end_date,
        segment,
        'involuntary_churn_rate_pct' as kpi_name,
        10 as kpi_order,
        'pct' as kpi_unit,
        involuntary_churn_rate_pct as kpi_value
    from churn
    union all
    select
        month_end_date,
        segment,
        'count_guardrail_findings' as kpi_name,
        11 as kpi_order,
        'count' as kpi_unit,
        cast(count_findings as double) as kpi_value
    from findings
),

final as (
    select
        cur.month_end_date,
        cur.segment,
        cur.kpi_name,
        cur.kpi_order,
        cur.kpi_unit,
        cur.kpi_value,
        prev.kpi_value as previous_month_value,
        cur.kpi_value - prev.kpi_value as change_vs_previous_month,
        year_ago.kpi_value as year_ago_value,
        cur.kpi_value - year_ago.kpi_value as change_vs_year_ago
    from long as cur
    left join long as prev
        on
            cur.segment = prev.segment
            and cur.kpi_name = prev.kpi_name
            and prev.month_end_date
            = cast(last_day(cur.month_end_date - interval 1 month) as date)
    left join long as year_ago
        on
            cur.segment = year_ago.segment
            and cur.kpi_name = year_ago.kpi_name
            and year_ago.month_end_date
            = cast(last_day(cur.month_end_date - interval 1 year) as date)
)

select * from final
