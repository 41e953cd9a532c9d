-- every invoice's customer has a segment
select
    invoice_id,
    customer_id
from intermediate.int_invoices_converted
where segment is null
