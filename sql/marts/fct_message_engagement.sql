-- model: fct_message_engagement
-- grain: one row per month end (month of the send) per segment per dunning
--   stage per channel per template with at least one tracked send, plus
--   segment 'all'
-- keys: month_end_date, segment, stage_number, channel, template_name
-- depends_on: stg_message_events, int_dunning_events, int_stage_entries,
--   int_month_ends, int_ledger_bounds
-- notes: a tracked send = a dunning event with at least one message event,
--   sent while its invoice was open (reminders after settlement are
--   guardrail findings). template_name = the smallest template named on its
--   message events ('unknown' when none is). delivered / bounced rates are
--   over sends; opened / clicked / replied over delivered sends. engaged =
--   opened, clicked or replied. converted = the invoice settled in the
--   stage's window [send, next stage), or [send, send + H) when no higher
--   stage followed (H = conversion_horizon_days), as in
--   fct_stage_conversion but from this send's date. pending = no outcome
--   yet at the as-of date; conversion rates leave pending sends out.
--   Complete months only. Empty without message_events.

with

messages as (
    select * from stg_message_events
),

events as (
    select * from int_dunning_events
),

entries as (
    select * from int_stage_entries
),

month_ends as (
    select * from int_month_ends
),

bounds as (
    select * from int_ledger_bounds
),

per_send as (
    select
        event_id,
        coalesce(min(template_name), 'unknown') as template_name,
        bool_or(message_event_kind = 'delivered') as is_delivered,
        bool_or(message_event_kind = 'opened') as is_opened,
        bool_or(message_event_kind = 'clicked') as is_clicked,
        bool_or(message_event_kind = 'bounced') as is_bounced,
        bool_or(message_event_kind = 'replied') as is_replied
    from messages
    group by event_id
),

sends as (
    select
        per_send.*,
        events.stage_number,
        events.sent_date,
        events.channel,
        entries.segment,
        cast(last_day(events.sent_date) as date) as month_end_date,
        per_send.is_opened or per_send.is_clicked or per_send.is_replied
            as is_engaged,
        coalesce(
            entries.settled_date >= events.sent_date
            and entries.settled_date < coalesce(
                entries.next_stage_sent_date,
                cast(
                    events.sent_date
                    + getvariable('conversion_horizon_days') as date
                )
            ),
            false
        ) as is_converted,
        entries.settled_date is null
        and entries.next_stage_sent_date is null
        and events.sent_date + getvariable('conversion_horizon_days') - 1
        > bounds.as_of_date as is_pending
    from per_send
    inner join events on per_send.event_id = events.event_id
    inner join entries
        on
            events.invoice_key = entries.invoice_key
            and events.stage_number = entries.stage_number
    cross join bounds
    where coalesce(entries.settled_date >= events.sent_date, true)
),

counts_by_segment as (
    select
        sends.month_end_date,
        sends.segment,
        sends.stage_number,
        sends.channel,
        sends.template_name,
        count(*) as count_sent,
        count(*) filter (where sends.is_delivered) as count_delivered,
        count(*) filter (where sends.is_opened) as count_opened,
        count(*) filter (where sends.is_clicked) as count_clicked,
        count(*) filter (where sends.is_bounced) as count_bounced,
        count(*) filter (where sends.is_replied) as count_replied,
        count(*) filter (where sends.is_pending) as count_pending,
        count(*) filter (
            where sends.is_engaged and not sends.is_pending
        ) as count_engaged_decided,
        count(*) filter (
            where sends.is_engaged and sends.is_converted
        ) as count_engaged_converted,
        count(*) filter (
            where not sends.is_engaged and not sends.is_pending
        ) as count_not_engaged_decided,
        count(*) filter (
            where not sends.is_engaged and sends.is_converted
        ) as count_not_engaged_converted,
        count(*) filter (
            where sends.is_clicked and not sends.is_pending
        ) as count_clicked_decided,
        count(*) filter (
            where sends.is_clicked and sends.is_converted
        ) as count_clicked_converted
    from sends
    inner join month_ends on sends.month_end_date = month_ends.month_end_date
    group by
        sends.month_end_date,
        sends.segment,
        sends.stage_number,
        sends.channel,
        sends.template_name
),

counts as (
    select * from counts_by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        stage_number,
        channel,
        template_name,
        sum(count_sent) as count_sent,
        sum(count_delivered) as count_delivered,
        sum(count_opened) as count_opened,
        sum(count_clicked) as count_clicked,
        sum(count_bounced) as count_bounced,
        sum(count_replied) as count_replied,
        sum(count_pending) as count_pending,
        sum(count_engaged_decided) as count_engaged_decided,
        sum(count_engaged_converted) as count_engaged_converted,
        sum(count_not_engaged_decided) as count_not_engaged_decided,
        sum(count_not_engaged_converted) as count_not_engaged_converted,
        sum(count_clicked_decided) as count_clicked_decided,
        sum(count_clicked_converted) as count_clicked_converted
    from counts_by_segment
    group by month_end_date, stage_number, channel, template_name
),

final as (
    select
        month_end_date,
        segment,
        stage_number,
        channel,
        template_name,
        cast(count_sent as bigint) as count_sent,
        cast(count_delivered as bigint) as count_delivered,
        cast(count_opened as bigint) as count_opened,
        cast(count_clicked as bigint) as count_clicked,
        cast(count_bounced as bigint) as count_bounced,
        cast(count_replied as bigint) as count_replied,
        cast(count_pending as bigint) as count_pending,
        100.0 * count_delivered / count_sent as delivered_pct,
        100.0 * count_bounced / count_sent as bounced_pct,
        100.0 * count_opened / nullif(count_delivered, 0) as opened_pct,
        100.0 * count_clicked / nullif(count_delivered, 0) as clicked_pct,
        100.0 * count_replied / nullif(count_delivered, 0) as replied_pct,
        cast(count_engaged_decided as bigint) as count_engaged_decided,
        cast(count_engaged_converted as bigint) as count_engaged_converted,
        cast(count_not_engaged_decided as bigint)
            as count_not_engaged_decided,
        cast(count_not_engaged_converted as bigint)
            as count_not_engaged_converted,
        cast(count_clicked_decided as bigint) as count_clicked_decided,
        cast(count_clicked_converted as bigint) as count_clicked_converted,
        100.0 * count_engaged_converted / nullif(count_engaged_decided, 0)
            as conversion_engaged_pct,
        100.0 * count_not_engaged_converted
        / nullif(count_not_engaged_decided, 0) as conversion_not_engaged_pct,
        100.0 * count_clicked_converted / nullif(count_clicked_decided, 0)
            as conversion_clicked_pct
    from counts
)

select * from final
