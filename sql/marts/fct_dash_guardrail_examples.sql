-- model: fct_dash_guardrail_examples
-- grain: one row per month end (of the send) per segment per finding kind
--   per example rank (1 = the latest finding), at most 5 per group, plus
--   segment 'all'
-- keys: month_end_date, segment, finding_kind, example_rank
-- depends_on: fct_guardrail_findings
-- notes: the latest findings of each kind sent in the month (by sent date,
--   then event id), so a dashboard can show examples beside the counts of
--   fct_guardrails without scanning every finding.

with

findings as (
    select * from fct_guardrail_findings
),

by_segment as (
    select
        *,
        row_number() over (
            partition by month_end_date, segment, finding_kind
            order by sent_date desc, event_id asc
        ) as example_rank
    from findings
),

across as (
    select
        month_end_date,
        finding_kind,
        event_id,
        invoice_id,
        customer_id,
        stage_number,
        channel,
        sent_date,
        settled_date,
        finding_detail,
        'all' as segment,
        row_number() over (
            partition by month_end_date, finding_kind
            order by sent_date desc, event_id asc
        ) as example_rank
    from findings
),

final as (
    select
        month_end_date,
        segment,
        finding_kind,
        example_rank,
        event_id,
        invoice_id,
        customer_id,
        stage_number,
        channel,
        sent_date,
        settled_date,
        finding_detail
    from by_segment
    where example_rank <= 5
    union all
    select
        month_end_date,
        segment,
        finding_kind,
        example_rank,
        event_id,
        invoice_id,
        customer_id,
        stage_number,
        channel,
        sent_date,
        settled_date,
        finding_detail
    from across
    where example_rank <= 5
)

select * from final
