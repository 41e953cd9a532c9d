-- every mart row names a known segment or 'all'
with

known as (
    select distinct segment from staging.stg_customers
    union all
    select 'all'
),

mart_segments as (
    select
        'fct_dso_monthly' as mart,
        segment
    from marts.fct_dso_monthly
    union all
    select
        'fct_aging_snapshots' as mart,
        segment
    from marts.fct_aging_snapshots
    union all
    select
        'fct_aging_roll_rates' as mart,
        segment
    from marts.fct_aging_roll_rates
    union all
    select
        'fct_invoice_lifecycle' as mart,
        segment
    from marts.fct_invoice_lifecycle
    union all
    select
        'fct_stage_conversion' as mart,
        segment
    from marts.fct_stage_conversion
    union all
    select
        'fct_stage_survival' as mart,
        segment
    from marts.fct_stage_survival
    union all
    select
        'fct_recovery' as mart,
        segment
    from marts.fct_recovery
    union all
    select
        'fct_churn' as mart,
        segment
    from marts.fct_churn
    union all
    select
        'fct_churn_by_stage' as mart,
        segment
    from marts.fct_churn_by_stage
    union all
    select
        'dim_customers' as mart,
        segment
    from marts.dim_customers
    union all
    select
        'fct_guardrails' as mart,
        segment
    from marts.fct_guardrails
    union all
    select
        'fct_guardrail_findings' as mart,
        segment
    from marts.fct_guardrail_findings
)

select
    mart,
    segment,
    count(*) as count_rows
from mart_segments
where segment is null or segment not in (select known.segment from known)
group by mart, segment
