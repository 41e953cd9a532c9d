-- model: int_aging_buckets
-- grain: one row per aging bucket
-- keys: aging_bucket
-- depends_on:
-- notes: the DESIGN.md buckets of days past due (t - due_date) at a
--   snapshot t: not_due (<= 0), 1-30, 31-60, 61-90, 91-120, 121+.
--   min_days_past_due / max_days_past_due bound each bucket (inclusive;
--   null = unbounded). bucket_order sorts them youngest first.

with

buckets as (
    select
        t.bucket_order,
        t.aging_bucket,
        t.min_days_past_due,
        t.max_days_past_due
    from (
        values
        (1, 'not_due', null, 0),
        (2, '1-30', 1, 30),
        (3, '31-60', 31, 60),
        (4, '61-90', 61, 90),
        (5, '91-120', 91, 120),
        (6, '121+', 121, null)
    ) as t (bucket_order, aging_bucket, min_days_past_due, max_days_past_due)
),

final as (
    select
        cast(bucket_order as integer) as bucket_order,
        cast(aging_bucket as varchar) as aging_bucket,
        cast(min_days_past_due as integer) as min_days_past_due,
        cast(max_days_past_due as integer) as max_days_past_due
    from buckets
)

select * from final
