-- model: stg_payments
-- grain: one row per payment
-- keys: payment_id
-- depends_on: raw.payments
-- notes: amounts in the invoice's document currency.

with

source as (
    select * from raw.payments
),

final as (
    select
        payment_id,
        invoice_id,
        paid_at as paid_date,
        amount as document_amount,
        method as payment_method
    from source
)

select * from final
