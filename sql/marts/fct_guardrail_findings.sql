-- model: fct_guardrail_findings
-- grain: one row per dunning event per finding about it
-- keys: event_id, finding_kind
-- depends_on: int_dunning_events, int_invoice_facts, int_stage_entries
-- notes: finding_kind: reminder_after_settlement (sent after the settled
--   date; the same day is not flagged - order within a day is unknown),
--   reminder_on_disputed_invoice (any event on an invoice flagged
--   is_disputed), skipped_stage (the first event of a stage k >= 2 when no
--   event of stage k - 1 went out on or before it; stage 0 is optional).
--   month_end_date = month end of the send.

with

events as (
    select * from int_dunning_events
),

facts as (
    select * from int_invoice_facts
),

entries as (
    select * from int_stage_entries
),

-- int_invoice_facts again, for the text columns of the ~120k findings: a
-- CTE read twice is materialised whole by DuckDB, and carrying the strings
-- through the 1M-event join costs more than this second join
labels as (
    select * from int_invoice_facts
),

skipped_entries as (
    select
        entries.invoice_key,
        entries.stage_number
    from entries
    left join entries as previous
        on
            entries.invoice_key = previous.invoice_key
            and entries.stage_number - 1 = previous.stage_number
            and entries.sent_date >= previous.sent_date
    where entries.stage_number >= 2 and previous.invoice_key is null
),

-- every event that may make a finding, in one pass over the events: the
-- 1M-row join is filtered at once, not materialised for three readers
candidates as (
    select
        events.event_id,
        events.invoice_key,
        events.stage_number,
        events.sent_date,
        events.channel,
        facts.settled_date,
        facts.is_disputed,
        skipped_entries.invoice_key is not null as is_skipped_stage
    from events
    inner join facts on events.invoice_key = facts.invoice_key
    left join skipped_entries
        on
            events.invoice_key = skipped_entries.invoice_key
            and events.stage_number = skipped_entries.stage_number
    where
        events.sent_date > facts.settled_date
        or facts.is_disputed
        or skipped_entries.invoice_key is not null
),

after_settlement as (
    select
        * exclude (is_skipped_stage),
        'reminder_after_settlement' as finding_kind,
        'sent ' || date_diff('day', settled_date, sent_date)
        || ' day(s) after the invoice was settled on '
        || strftime(settled_date, '%Y-%m-%d') as finding_detail
    from candidates
    where sent_date > settled_date
),

on_disputed as (
    select
        * exclude (is_skipped_stage),
        'reminder_on_disputed_invoice' as finding_kind,
        'the invoice is disputed' as finding_detail
    from candidates
    where is_disputed
),

skipped as (
    select
        first_events.*,
        'skipped_stage' as finding_kind,
        'stage ' || (first_events.stage_number - 1)
        || ' was not sent before stage ' || first_events.stage_number
            as finding_detail
    from (
        select
            * exclude (is_skipped_stage),
            row_number() over (
                partition by invoice_key, stage_number
                order by sent_date, event_id
            ) as event_rank
        from candidates
        where is_skipped_stage
    ) as first_events
    where first_events.event_rank = 1
),

findings as (
    select * from after_settlement
    union all
    select * from on_disputed
    union all
    select * exclude (event_rank) from skipped
),

final as (
    select
        findings.event_id,
        findings.finding_kind,
        labels.invoice_id,
        labels.customer_id,
        labels.segment,
        findings.stage_number,
        findings.channel,
        findings.sent_date,
        cast(last_day(findings.sent_date) as date) as month_end_date,
        findings.settled_date,
        findings.finding_detail
    from findings
    inner join labels on findings.invoice_key = labels.invoice_key
)

select * from final
