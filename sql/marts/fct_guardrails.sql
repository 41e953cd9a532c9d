-- model: fct_guardrails
-- grain: one row per month end (of the send) per segment per finding kind,
--   plus segment 'all'; every kind appears for every month end and segment
-- keys: month_end_date, segment, finding_kind
-- depends_on: fct_guardrail_findings, int_dunning_events,
--   int_invoices_converted, int_month_ends, stg_customers
-- notes: counts of fct_guardrail_findings; count_events_sent = all dunning
--   events sent in the month and segment; finding_pct = findings / events
--   sent * 100. Complete months only.

with

findings as (
    select * from fct_guardrail_findings
),

events as (
    select * from int_dunning_events
),

invoices as (
    select * from int_invoices_converted
),

month_ends as (
    select * from int_month_ends
),

segments as (
    select distinct segment from stg_customers
),

kinds as (
    select t.finding_kind
    from (
        values
        ('reminder_after_settlement'),
        ('reminder_on_disputed_invoice'),
        ('skipped_stage')
    ) as t (finding_kind)
),

grid as (
    select
        month_ends.month_end_date,
        segments.segment,
        kinds.finding_kind
    from month_ends
    cross join segments
    cross join kinds
),

events_sent as (
    select
        cast(last_day(events.sent_date) as date) as month_end_date,
        invoices.segment,
        count(*) as count_events_sent
    from events
    inner join invoices on events.invoice_key = invoices.invoice_key
    group by all
),

finding_counts as (
    select
        month_end_date,
        segment,
        finding_kind,
        count(*) as count_findings,
        count(distinct invoice_id) as count_invoices
    from findings
    group by month_end_date, segment, finding_kind
),

by_segment as (
    select
        grid.month_end_date,
        grid.segment,
        grid.finding_kind,
        coalesce(finding_counts.count_findings, 0) as count_findings,
        coalesce(finding_counts.count_invoices, 0) as count_invoices,
        coalesce(events_sent.count_events_sent, 0) as count_events_sent
    from grid
    left join finding_counts
        on
            grid.month_end_date = finding_counts.month_end_date
            and grid.segment = finding_counts.segment
            and grid.finding_kind = finding_counts.finding_kind
    left join events_sent
        on
            grid.month_end_date = events_sent.month_end_date
            and grid.segment = events_sent.segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        finding_kind,
        sum(count_findings) as count_findings,
        sum(count_invoices) as count_invoices,
        sum(count_events_sent) as count_events_sent
    from by_segment
    group by month_end_date, finding_kind
),

final as (
    select
        month_end_date,
        segment,
        finding_kind,
        cast(count_findings as bigint) as count_findings,
        cast(count_invoices as bigint) as count_invoices,
        cast(count_events_sent as bigint) as count_events_sent,
        100.0 * count_findings / nullif(count_events_sent, 0) as finding_pct
    from combined
)

select * from final
