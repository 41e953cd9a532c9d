-- fct_invoice_lifecycle: one row per invoice, settled = open <= 0.01
select
    invoices.invoice_id,
    lifecycle.invoice_id as lifecycle_invoice_id,
    lifecycle.open_amount,
    lifecycle.is_settled
from staging.stg_invoices as invoices
full outer join marts.fct_invoice_lifecycle as lifecycle
    on invoices.invoice_id = lifecycle.invoice_id
where
    invoices.invoice_id is null
    or lifecycle.invoice_id is null
    or (lifecycle.is_settled and lifecycle.open_amount > 0.01)
    or (not lifecycle.is_settled and lifecycle.open_amount <= 0.01)
