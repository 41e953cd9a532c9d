-- a higher dunning stage is never first sent before a lower one
select
    invoice_key,
    previous_stage_sent_date,
    stage_number,
    sent_date
from intermediate.int_stage_entries
where sent_date < previous_stage_sent_date
