-- model: int_ar_month_end
-- grain: one row per month end per segment per due date with invoices open
--   at that month end
-- keys: month_end_date, segment, due_date
-- depends_on: int_invoice_balance_intervals, int_invoice_facts,
--   int_month_ends, int_aging_buckets
-- notes: AR(t) at the end of month-end day t from dated running sums, not
--   an interval join: each balance movement's change of the open amount
--   (and of the open-invoice count) is summed per segment, due date and the
--   month end it falls in; the running sum over month ends is what is open
--   at each month end. Only groups with open invoices (open amount > 0).
--   days_past_due = t - due_date (<= 0: not yet due); aging_bucket /
--   bucket_order from int_aging_buckets (bucket_order is computed from the
--   regular 30-day steps and joined on equality; assert_aging_buckets_match
--   checks that every row lies within its bucket's bounds).

with

intervals as (
    select * from int_invoice_balance_intervals
),

facts as (
    select * from int_invoice_facts
),

month_ends as (
    select * from int_month_ends
),

buckets as (
    select * from int_aging_buckets
),

changes as (
    select
        facts.segment,
        facts.due_date,
        cast(last_day(intervals.valid_from_date) as date) as month_end_date,
        sum(intervals.open_change_amount) as open_change_amount,
        sum(intervals.open_count_change) as open_count_change
    from intervals
    inner join facts on intervals.invoice_key = facts.invoice_key
    where
        intervals.open_change_amount <> 0
        or intervals.open_count_change <> 0
    group by facts.segment, facts.due_date, last_day(intervals.valid_from_date)
),

groups as (
    select
        segment,
        due_date,
        min(month_end_date) as first_month_end_date
    from changes
    group by segment, due_date
),

grid as (
    select
        month_ends.month_end_date,
        groups.segment,
        groups.due_date
    from groups
    inner join month_ends
        on groups.first_month_end_date <= month_ends.month_end_date
),

running as (
    select
        grid.month_end_date,
        grid.segment,
        grid.due_date,
        sum(coalesce(changes.open_change_amount, 0)) over by_group
            as open_amount,
        sum(coalesce(changes.open_count_change, 0)) over by_group
            as count_open_invoices
    from grid
    left join changes
        on
            grid.month_end_date = changes.month_end_date
            and grid.segment = changes.segment
            and grid.due_date = changes.due_date
    window by_group as (
        partition by grid.segment, grid.due_date
        order by grid.month_end_date
        rows between unbounded preceding and current row
    )
),

with_days as (
    select
        month_end_date,
        segment,
        due_date,
        cast(open_amount as decimal(18, 2)) as open_amount,
        cast(count_open_invoices as bigint) as count_open_invoices,
        date_diff('day', due_date, month_end_date) as days_past_due
    from running
    where count_open_invoices > 0
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
