-- every invoice belongs to a customer with a segment (no mart row without a segment)
select
    invoice_id,
    customer_id
from intermediate.int_invoices_converted
where segment is null
