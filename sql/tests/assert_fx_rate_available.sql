-- every invoice in a foreign currency has a rate into the reporting currency (load fx_rates)
select
    invoice_id,
    currency_code,
    issue_date
from intermediate.int_invoices_converted
where fx_rate is null
