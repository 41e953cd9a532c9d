-- model: int_dunning_events
-- grain: one row per dunning event sent
-- keys: event_id
-- keys_unique_by: construction
-- depends_on: stg_dunning_events, int_invoices_converted
-- notes: stg_dunning_events with the invoice's integer invoice_key (the one
--   join on the text invoice_id; every later model joins on the key) and
--   the fee in the reporting currency at the invoice's rate.

with

events as (
    select * from stg_dunning_events
),

invoices as (
    select * from int_invoices_converted
),

final as (
    select
        events.event_id,
        invoices.invoice_key,
        events.stage_number,
        events.sent_date,
        events.channel,
        events.document_fee_amount,
        events.experiment_variant
    from events
    inner join invoices on events.invoice_id = invoices.invoice_id
)

select * from final
