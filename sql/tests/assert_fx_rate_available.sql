-- foreign-currency invoices have a rate (load fx_rates)
select
    invoice_id,
    currency_code,
    issue_date
from intermediate.int_invoices_converted
where fx_rate is null
