-- model: stg_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: raw.invoices
-- notes: amounts stay in the document currency here (document_amount);
--   a missing currency means the reporting currency. invoice_key = an
--   integer surrogate (1, 2, ... in invoice_id order) that the intermediate
--   layer joins and groups on; invoice_id stays the key people read.

with

source as (
    select * from raw.invoices
),

final as (
    select
        invoice_id,
        row_number() over (order by invoice_id) as invoice_key,
        customer_id,
        issue_date,
        due_date,
        amount as document_amount,
        coalesce(
            upper(currency), getvariable('reporting_currency')
        ) as currency_code,
        coalesce(is_disputed, false) as is_disputed
    from source
)

select * from final
