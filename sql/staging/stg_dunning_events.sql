-- model: stg_dunning_events
-- grain: one row per dunning event sent
-- keys: event_id
-- depends_on: raw.dunning_events
-- notes: fee in the invoice's document currency (0 when not given).

with

source as (
    select * from raw.dunning_events
),

final as (
    select
        event_id,
        invoice_id,
        stage as stage_number,
        sent_at as sent_date,
        channel,
        stage_name,
        coalesce(fee, 0) as document_fee_amount,
        variant as experiment_variant
    from source
)

select * from final
