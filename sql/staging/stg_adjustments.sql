-- model: stg_adjustments
-- grain: one row per adjustment (credit note or write-off)
-- keys: adjustment_id
-- depends_on: raw.adjustments
-- notes: amounts in the invoice's document currency, positive = reduces the
--   open item.

with

source as (
    select * from raw.adjustments
),

final as (
    select
        adjustment_id,
        invoice_id,
        adjusted_at as adjusted_date,
        amount as document_amount,
        kind as adjustment_kind
    from source
)

select * from final
