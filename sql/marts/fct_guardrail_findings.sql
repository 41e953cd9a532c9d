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

events_joined as (
    select
        events.event_id,
        events.invoice_key,
        facts.invoice_id,
        events.stage_number,
        events.sent_date,
        events.channel,
        facts.customer_id,
        facts.segment,
        facts.settled_date,
        facts.is_disputed
    from events
    inner join facts on events.invoice_key = facts.invoice_key
),

after_settlement as (
    select
        *,
        'reminder_after_settlement' as finding_kind,
        'sent ' || date_diff('day', settled_date, sent_date)
        || ' day(s) after the invoice was settled on '
        || strftime(settled_date, '%Y-%m-%d') as finding_detail
    from events_joined
    where sent_date > settled_date
),

on_disputed as (
    select
        *,
        'reminder_on_disputed_invoice' as finding_kind,
        'the invoice is disputed' as finding_detail
    from events_joined
    where is_disputed
),

skipped_entries as (
    select
        entries.invoice_key,
        entries.stage_number,
        entries.sent_date
    from entries
    left join entries as previous
        on
            entries.invoice_key = previous.invoice_key
            and entries.stage_number - 1 = previous.stage_number
            and entries.sent_date >= previous.sent_date
    where entries.stage_number >= 2 and previous.invoice_key is null
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
            events_joined.*,
            row_number() over (
                partition by
                    events_joined.invoice_key,
                    events_joined.stage_number
                order by events_joined.sent_date, events_joined.event_id
            ) as event_rank
        from events_joined
        inner join skipped_entries
            on
                events_joined.invoice_key = skipped_entries.invoice_key
                and events_joined.stage_number = skipped_entries.stage_number
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
        event_id,
        finding_kind,
        invoice_id,
        customer_id,
        segment,
        stage_number,
        channel,
        sent_date,
        cast(last_day(sent_date) as date) as month_end_date,
        settled_date,
        finding_detail
    from findings
)

select * from final
