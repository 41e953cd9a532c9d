-- model: fct_aging_roll_rates
-- grain: one row per month end per segment per aging bucket at the previous
--   month end (the "from" bucket), plus segment 'all'; the first month end
--   has no row (no earlier snapshot)
-- keys: month_end_date, segment, from_aging_bucket
-- depends_on: int_ar_month_end, int_month_ends, int_aging_buckets,
--   int_invoice_balance_intervals, stg_customers
-- notes: every invoice open at the previous month end t0 (in from bucket b)
--   has exactly one state at month end t1: rolled (still open, older
--   bucket), stayed (still open, same bucket: month lengths differ, and
--   not_due / 121+ persist), cured (no longer open, no write-off booked in
--   (t0, t1]) or written_off (no longer open, a write-off booked in
--   (t0, t1]). Counts and opening amounts (open amount at t0) per state
--   sum to the bucket's count and amount, so the four *_rate_pct (amount
--   weighted) add up to 100 (assert_roll_rates_reconcile). Invoices never
--   move to a younger bucket: the due date is fixed.

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

movements as (
    select
        *,
        valid_from_date as movement_date
    from int_invoice_balance_intervals
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

write_off_months as (
    select distinct
        invoice_id,
        cast(last_day(movement_date) as date) as month_end_date
    from movements
    where written_off_amount > 0
),

states as (
    select
        transitions.month_end_date,
        opening.segment,
        opening.aging_bucket as from_aging_bucket,
        opening.open_amount as opening_amount,
        case
            when
                closing.invoice_id is null and write_off_months.invoice_id
                is not null
                then 'written_off'
            when closing.invoice_id is null then 'cured'
            when closing.bucket_order > opening.bucket_order then 'rolled'
            else 'stayed'
        end as transition_state
    from transitions
    inner join ar_month_end as opening
        on transitions.previous_month_end_date = opening.month_end_date
    left join ar_month_end as closing
        on
            transitions.month_end_date = closing.month_end_date
            and opening.invoice_id = closing.invoice_id
    left join write_off_months
        on
            opening.invoice_id = write_off_months.invoice_id
            and transitions.month_end_date = write_off_months.month_end_date
),

by_state as (
    select
        month_end_date,
        segment,
        from_aging_bucket,
        count(*) as count_open_invoices,
        sum(opening_amount) as open_amount,
        count(*) filter (where transition_state = 'rolled')
            as count_rolled,
        count(*) filter (where transition_state = 'stayed')
            as count_stayed,
        count(*) filter (where transition_state = 'cured') as count_cured,
        count(*) filter (where transition_state = 'written_off')
            as count_written_off,
        coalesce(
            sum(opening_amount) filter (where transition_state = 'rolled'), 0
        ) as rolled_amount,
        coalesce(
            sum(opening_amount) filter (where transition_state = 'stayed'), 0
        ) as stayed_amount,
        coalesce(
            sum(opening_amount) filter (where transition_state = 'cured'), 0
        ) as cured_amount,
        coalesce(
            sum(opening_amount) filter (
                where transition_state = 'written_off'
            ),
            0
        ) as written_off_amount
    from states
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
