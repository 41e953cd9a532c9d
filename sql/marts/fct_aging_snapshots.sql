-- model: fct_aging_snapshots
-- grain: one row per month end per segment per aging bucket, plus segment
--   'all'; every bucket appears for every month end and segment (zero when
--   empty)
-- keys: month_end_date, segment, aging_bucket
-- depends_on: int_ar_month_end, int_month_ends, int_aging_buckets,
--   stg_customers
-- notes: open invoices at the end of month-end day t bucketed by days past
--   due (t - due_date): not_due (<= 0), 1-30, 31-60, 61-90, 91-120, 121+.
--   open_amount sums to fct_dso_monthly.ar_amount exactly
--   (assert_aging_sums_to_ar). share_of_ar_pct = open_amount / AR * 100
--   (null when AR = 0).

with

ar_month_end as (
    select * from int_ar_month_end
),

month_ends as (
    select * from int_month_ends
),

buckets as (
    select * from int_aging_buckets
),

segments as (
    select distinct segment from stg_customers
),

grid as (
    select
        month_ends.month_end_date,
        segments.segment,
        buckets.aging_bucket,
        buckets.bucket_order,
        buckets.min_days_past_due,
        buckets.max_days_past_due
    from month_ends
    cross join segments
    cross join buckets
),

open_by_bucket as (
    select
        month_end_date,
        segment,
        aging_bucket,
        sum(open_amount) as open_amount,
        sum(count_open_invoices) as count_open_invoices
    from ar_month_end
    group by month_end_date, segment, aging_bucket
),

by_segment as (
    select
        grid.month_end_date,
        grid.segment,
        grid.aging_bucket,
        grid.bucket_order,
        grid.min_days_past_due,
        grid.max_days_past_due,
        coalesce(open_by_bucket.open_amount, 0) as open_amount,
        coalesce(open_by_bucket.count_open_invoices, 0)
            as count_open_invoices
    from grid
    left join open_by_bucket
        on
            grid.month_end_date = open_by_bucket.month_end_date
            and grid.segment = open_by_bucket.segment
            and grid.aging_bucket = open_by_bucket.aging_bucket
),

all_segments as (
    select
        month_end_date,
        'all' as segment,
        aging_bucket,
        any_value(bucket_order) as bucket_order,
        any_value(min_days_past_due) as min_days_past_due,
        any_value(max_days_past_due) as max_days_past_due,
        sum(open_amount) as open_amount,
        sum(count_open_invoices) as count_open_invoices
    from by_segment
    group by month_end_date, aging_bucket
),

combined as (
    select * from by_segment
    union all
    select * from all_segments
),

final as (
    select
        month_end_date,
        segment,
        aging_bucket,
        bucket_order,
        min_days_past_due,
        max_days_past_due,
        cast(open_amount as decimal(18, 2)) as open_amount,
        cast(count_open_invoices as bigint) as count_open_invoices,
        100.0 * cast(open_amount as double)
        / cast(
            nullif(
                sum(open_amount) over (partition by month_end_date, segment),
                0
            ) as double
        ) as share_of_ar_pct
    from combined
)

select * from final
