-- open invoices lie within their aging bucket's bounds
select
    ar.month_end_date,
    ar.segment,
    ar.due_date,
    ar.days_past_due,
    ar.aging_bucket
from intermediate.int_ar_month_end as ar
inner join intermediate.int_aging_buckets as buckets
    on ar.aging_bucket = buckets.aging_bucket
where
    ar.days_past_due < coalesce(buckets.min_days_past_due, ar.days_past_due)
    or ar.days_past_due > coalesce(buckets.max_days_past_due, ar.days_past_due)
