-- model: fct_aging_roll_rates
-- grain: one row per month end per segment per aging bucket at the previous
--   month end (the "from" bucket), plus segment 'all'; the first month end
--   has no row (no earlier snapshot)
-- keys: month_end_date, segment, from_aging_bucket
-- depends_on: int_ar_month_end, int_month_ends, int_aging_buckets,
--   int_invoice_facts, int_invoice_balance_intervals, stg_customers
-- notes: every invoice open at the previous month end t0 (in from bucket b)
--   has exactly one state at month end t1: rolled (still open, older
--   bucket), stayed (still open, same bucket: month lengths differ, and
--   not_due / 121+ persist), cured (no longer open, no write-off booked in
--   (t0, t1]) or written_off (no longer open, a write-off booked in
--   (t0, t1]). Counts and opening amounts (open amount at t0) per state
--   sum to the bucket's count and amount, so the four *_rate_pct (amount
--   weighted) add up to 100 (assert_roll_rates_reconcile). Invoices never
--   move to a younger bucket: the due date is fixed. Computed per segment
--   and due date (what stays open rolls or stays by its due date alone);
--   only the invoices that close in the month are looked at one by one.

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

facts as (
    select * from int_invoice_facts
),

intervals as not materialized (
    -- read twice (closing invoices, write-off months): two scans cost less
    -- than DuckDB copying 2M rows into a materialised CTE (pass 6)
    select * from int_invoice_balance_intervals
),

segments as (
    select distinct segment from stg_customers
),

transitions as (
    select
        month_ends.previous_month_end_date,
        month_ends.month_end_date
    from month_ends
    inner join month_ends as previous
        on month_ends.previous_month_end_date = previous.month_end_date
),

opening as (
    -- what was open at t0, per segment and due date
    select
        transitions.previous_month_end_date,
        transitions.month_end_date,
        ar.segment,
        ar.due_date,
        ar.aging_bucket as from_aging_bucket,
        ar.bucket_order as from_bucket_order,
        ar.open_amount,
        ar.count_open_invoices
    from transitions
    inner join ar_month_end as ar
        on transitions.previous_month_end_date = ar.month_end_date
),

write_off_months as (
    -- the month ends of the months in which an invoice had a write-off
    select distinct
        invoice_key,
        cast(last_day(valid_from_date) as date) as month_end_date
    from intervals
    where written_off_amount > 0
),

closing_invoices as (
    -- invoices open at t0 with nothing open at t1 (closed in (t0, t1]):
    -- their open amount at t0 (the interval holding t0) and whether a
    -- write-off was booked in (t0, t1], i.e. in the month of t1 (month ends
    -- are consecutive)
    select
        transitions.month_end_date,
        facts.invoice_key,
        facts.segment,
        facts.due_date,
        intervals.open_amount as opening_amount,
        write_off_months.invoice_key is not null as is_written_off
    from facts
    inner join transitions
        on
            cast(last_day(facts.closed_date) as date)
            = transitions.month_end_date
    inner join intervals
        on
            facts.invoice_key = intervals.invoice_key
            and transitions.previous_month_end_date
            >= intervals.valid_from_date
            and transitions.previous_month_end_date < intervals.valid_to_date
    left join write_off_months
        on
            facts.invoice_key = write_off_months.invoice_key
            and transitions.month_end_date = write_off_months.month_end_date
),

closing as (
    select
        month_end_date,
        segment,
        due_date,
        count(*) filter (where not is_written_off) as count_cured,
        count(*) filter (where is_written_off) as count_written_off,
        coalesce(sum(opening_amount) filter (where not is_written_off), 0)
            as cured_amount,
        coalesce(sum(opening_amount) filter (where is_written_off), 0)
            as written_off_amount
    from closing_invoices
    where opening_amount > 0
    group by month_end_date, segment, due_date
),

by_due_date as (
    -- what was not closed is still open at t1: rolled into an older bucket
    -- or stayed (the bucket follows from the due date alone)
    select
        opening.*,
        coalesce(closing.count_cured, 0) as count_cured,
        coalesce(closing.count_written_off, 0) as count_written_off,
        coalesce(closing.cured_amount, 0) as cured_amount,
        coalesce(closing.written_off_amount, 0) as written_off_amount,
        case
            when
                date_diff('day', opening.due_date, opening.month_end_date)
                <= 0
                then 1
            when
                date_diff('day', opening.due_date, opening.month_end_date)
                > 120
                then 6
            else
                2
                + (
                    date_diff(
                        'day', opening.due_date, opening.month_end_date
                    )
                    - 1
                )
                // 30
        end as to_bucket_order
    from opening
    left join closing
        on
            opening.month_end_date = closing.month_end_date
            and opening.segment = closing.segment
            and opening.due_date = closing.due_date
),

by_due_date_state as (
    select
        *,
        count_open_invoices - count_cured - count_written_off
            as count_still_open,
        open_amount - cured_amount - written_off_amount as still_open_amount,
        to_bucket_order > from_bucket_order as is_rolled
    from by_due_date
),

by_state as (
    select
        month_end_date,
        segment,
        from_aging_bucket,
        sum(count_open_invoices) as count_open_invoices,
        sum(open_amount) as open_amount,
        coalesce(sum(count_still_open) filter (where is_rolled), 0)
            as count_rolled,
        coalesce(sum(count_still_open) filter (where not is_rolled), 0)
            as count_stayed,
        sum(count_cured) as count_cured,
        sum(count_written_off) as count_written_off,
        coalesce(sum(still_open_amount) filter (where is_rolled), 0)
            as rolled_amount,
        coalesce(sum(still_open_amount) filter (where not is_rolled), 0)
            as stayed_amount,
        sum(cured_amount) as cured_amount,
        sum(written_off_amount) as written_off_amount
    from by_due_date_state
    group by month_end_date, segment, from_aging_bucket
),

grid as (
    select
        transitions.previous_month_end_date,
        transitions.month_end_date,
        segments.segment,
        buckets.aging_bucket as from_aging_bucket,
        buckets.bucket_order as from_bucket_order
    from transitions
    cross join segments
    cross join buckets
),

by_segment as (
    select
        grid.previous_month_end_date,
        grid.month_end_date,
        grid.segment,
        grid.from_aging_bucket,
        grid.from_bucket_order,
        coalesce(by_state.count_open_invoices, 0) as count_open_invoices,
        coalesce(by_state.open_amount, 0) as open_amount,
        coalesce(by_state.count_rolled, 0) as count_rolled,
        coalesce(by_state.count_stayed, 0) as count_stayed,
        coalesce(by_state.count_cured, 0) as count_cured,
        coalesce(by_state.count_written_off, 0) as count_written_off,
        coalesce(by_state.rolled_amount, 0) as rolled_amount,
        coalesce(by_state.stayed_amount, 0) as stayed_amount,
        coalesce(by_state.cured_amount, 0) as cured_amount,
        coalesce(by_state.written_off_amount, 0) as written_off_amount
    from grid
    left join by_state
        on
            grid.month_end_date = by_state.month_end_date
            and grid.segment = by_state.segment
            and grid.from_aging_bucket = by_state.from_aging_bucket
),

all_segments as (
    select
        any_value(previous_month_end_date) as previous_month_end_date,
        month_end_date,
        'all' as segment,
        from_aging_bucket,
        any_value(from_bucket_order) as from_bucket_order,
        sum(count_open_invoices) as count_open_invoices,
        sum(open_amount) as open_amount,
        sum(count_rolled) as count_rolled,
        sum(count_stayed) as count_stayed,
        sum(count_cured) as count_cured,
        sum(count_written_off) as count_written_off,
        sum(rolled_amount) as rolled_amount,
        sum(stayed_amount) as stayed_amount,
        sum(cured_amount) as cured_amount,
        sum(written_off_amount) as written_off_amount
    from by_segment
    group by month_end_date, from_aging_bucket
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
        from_aging_bucket,
        from_bucket_order,
        previous_month_end_date,
        cast(count_open_invoices as bigint) as count_open_invoices,
        cast(open_amount as decimal(18, 2)) as open_amount,
        cast(count_rolled as bigint) as count_rolled,
        cast(count_stayed as bigint) as count_stayed,
        cast(count_cured as bigint) as count_cured,
        cast(count_written_off as bigint) as count_written_off,
        cast(rolled_amount as decimal(18, 2)) as rolled_amount,
        cast(stayed_amount as decimal(18, 2)) as stayed_amount,
        cast(cured_amount as decimal(18, 2)) as cured_amount,
        cast(written_off_amount as decimal(18, 2)) as written_off_amount,
        100.0 * cast(rolled_amount as double)
        / cast(nullif(open_amount, 0) as double) as roll_rate_pct,
        100.0 * cast(stayed_amount as double)
        / cast(nullif(open_amount, 0) as double) as stay_rate_pct,
        100.0 * cast(cured_amount as double)
        / cast(nullif(open_amount, 0) as double) as cure_rate_pct,
        100.0 * cast(written_off_amount as double)
        / cast(nullif(open_amount, 0) as double) as write_off_rate_pct
    from combined
)

select * from final
