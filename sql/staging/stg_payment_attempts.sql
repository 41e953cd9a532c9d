-- model: stg_payment_attempts
-- grain: one row per automatic charge attempt
-- keys: attempt_id
-- depends_on: raw.payment_attempts
-- notes: amounts in the invoice's document currency. Empty when the ledger
--   has no payment_attempts table (the table is optional).

with

source as (
    select * from raw.payment_attempts
),

final as (
    select
        attempt_id,
        invoice_id,
        attempted_at as attempted_date,
        amount as document_amount,
        method as payment_method,
        outcome,
        failure_reason,
        failure_code,
        retry_number
    from source
)

select * from final
