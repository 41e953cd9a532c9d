-- stage conversion: converted/progressed/pending <= entered
select
    month_end_date,
    segment,
    stage_number,
    count_entered,
    count_converted,
    count_progressed,
    count_pending
from marts.fct_stage_conversion
where
    count_converted > count_entered
    or count_progressed > count_entered
    or count_pending > count_entered
    or converted_amount > entered_amount
