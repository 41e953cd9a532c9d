-- model: stg_message_events
-- grain: one row per message event (delivered, opened, ...)
-- keys: message_event_id
-- depends_on: raw.message_events
-- notes: event_id is the dunning event the message belongs to. Empty when
--   the ledger has no message_events table (the table is optional).

with

source as (
    select * from raw.message_events
),

final as (
    select
        message_event_id,
        event_id,
        occurred_at as occurred_date,
        kind as message_event_kind,
        template as template_name
    from source
)

select * from final
