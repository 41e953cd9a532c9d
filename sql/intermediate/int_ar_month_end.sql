-- model: int_ar_month_end
-- grain: one row per month end per invoice open at that month end
-- keys: month_end_date, invoice_id
-- depends_on: int_invoice_balance_intervals, int_month_ends,
--   int_invoices_converted, int_aging_buckets
-- notes: open_i(t) at the end of month-end day t: the balance interval with
--   valid_from_date <= t < valid_to_date (an interval join). Only invoices
--   with open_amount > 0. days_past_due = t - due_date (<= 0: not yet due);
--   aging_bucket / bucket_order from int_aging_buckets (bucket_order is
--   computed from the regular 30-day steps and joined on equality, which is
--   far cheaper than a range join; assert_aging_buckets_match checks that
--   every row lies within its bucket's bounds).

with

intervals as (
    select * from int_invoice_balance_intervals
),

month_ends as (
    select * from int_month_ends
),

invoices as (
    select * from int_invoices_converted
),

buckets as (
    select * from int_aging_buckets
),

open_at_month_end as (
    select
        month_ends.month_end_date,
        intervals.invoice_id,
        intervals.open_amount
    from intervals
    inner join month_ends
        on
            intervals.valid_from_date <= month_ends.month_end_date
            and intervals.valid_to_date > month_ends.month_end_date
    where intervals.open_amount > 0
),

with_days as (
    select
        open_at_month_end.month_end_date,
        open_at_month_end.invoice_id,
        invoices.customer_id,
        invoices.segment,
        invoices.issue_date,
        invoices.due_date,
        open_at_month_end.open_amount,
        date_diff(
            'day', invoices.due_date, open_at_month_end.month_end_date
        ) as days_past_due
    from open_at_month_end
    inner join invoices on open_at_month_end.invoice_id = invoices.invoice_id
),

with_order as (
    select
        *,
        case
            when days_past_due <= 0 then 1
            when days_past_due > 120 then 6
            else 2 + (days_past_due - 1) // 30
        end as bucket_order
    from with_days
),

final as (
    select
        with_order.*,
        buckets.aging_bucket
    from with_order
    inner join buckets on with_order.bucket_order = buckets.bucket_order
)

select * from final
