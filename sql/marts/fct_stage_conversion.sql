-- model: fct_stage_conversion
-- grain: one row per month end (month of the stage send) per segment per
--   dunning stage with at least one entry, plus segment 'all'
-- keys: month_end_date, segment, stage_number
-- depends_on: int_stage_entries, int_month_ends
-- notes: entered = invoices whose first stage-k event s_k fell in the month
--   and that were not settled before s_k. converted = settled in
--   [s_k, s_(k+1)), or in [s_k, s_k + H) when no higher stage followed
--   (H = conversion_horizon_days); a write-off that closes the case counts
--   (DESIGN.md: settled by any means) and is also shown in
--   count_converted_by_write_off. progressed = a higher stage followed
--   (k+1, or higher when one was skipped). pending = no outcome yet at the
--   as-of date. Amounts = open amount at the start of s_k. Median / p75
--   days to settle after s_k come from the Kaplan-Meier curve of the
--   month's entries (open cases censored at the as-of date): the first day
--   on which the share still open is <= 50 % / <= 25 %; null when the curve
--   never gets there. Complete months only.

with

entries as (
    select * from int_stage_entries
),

month_ends as (
    select * from int_month_ends
),

entered as (
    select entries.*
    from entries
    inner join month_ends on entries.month_end_date = month_ends.month_end_date
    where entries.is_open_at_send
),

counts_by_segment as (
    select
        month_end_date,
        segment,
        stage_number,
        count(*) as count_entered,
        sum(open_at_send_amount) as entered_amount,
        count(*) filter (where is_converted) as count_converted,
        coalesce(
            sum(open_at_send_amount) filter (where is_converted), 0
        ) as converted_amount,
        count(*) filter (
            where is_converted and is_closed_by_write_off
        ) as count_converted_by_write_off,
        count(*) filter (where is_progressed) as count_progressed,
        count(*) filter (where is_pending) as count_pending
    from entered
    group by month_end_date, segment, stage_number
),

counts as (
    select * from counts_by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        stage_number,
        sum(count_entered) as count_entered,
        sum(entered_amount) as entered_amount,
        sum(count_converted) as count_converted,
        sum(converted_amount) as converted_amount,
        sum(count_converted_by_write_off) as count_converted_by_write_off,
        sum(count_progressed) as count_progressed,
        sum(count_pending) as count_pending
    from counts_by_segment
    group by month_end_date, stage_number
),

km_events_by_segment as (
    select
        month_end_date,
        segment,
        stage_number,
        days_observed,
        count(*) filter (where is_settled_observed) as count_settled,
        count(*) filter (where not is_settled_observed) as count_censored
    from entered
    group by month_end_date, segment, stage_number, days_observed
),

km_events as (
    select * from km_events_by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        stage_number,
        days_observed,
        sum(count_settled) as count_settled,
        sum(count_censored) as count_censored
    from km_events_by_segment
    group by month_end_date, stage_number, days_observed
),

km_at_risk as (
    select
        *,
        sum(count_settled + count_censored) over (
            partition by month_end_date, segment, stage_number
            order by days_observed desc
            rows between unbounded preceding and current row
        ) as count_at_risk
    from km_events
),

km_curve as (
    select
        *,
        product(1.0 - count_settled / count_at_risk) over (
            partition by month_end_date, segment, stage_number
            order by days_observed
            rows between unbounded preceding and current row
        ) as still_open_ratio
    from km_at_risk
),

km_quantiles as (
    select
        month_end_date,
        segment,
        stage_number,
        min(days_observed) filter (where still_open_ratio <= 0.5 + 1e-9)
            as median_days_to_settle,
        min(days_observed) filter (where still_open_ratio <= 0.25 + 1e-9)
            as p75_days_to_settle
    from km_curve
    group by month_end_date, segment, stage_number
),

final as (
    select
        counts.month_end_date,
        counts.segment,
        counts.stage_number,
        cast(counts.count_entered as bigint) as count_entered,
        cast(counts.entered_amount as decimal(18, 2)) as entered_amount,
        cast(counts.count_converted as bigint) as count_converted,
        cast(counts.converted_amount as decimal(18, 2)) as converted_amount,
        cast(counts.count_converted_by_write_off as bigint)
            as count_converted_by_write_off,
        cast(counts.count_progressed as bigint) as count_progressed,
        cast(counts.count_pending as bigint) as count_pending,
        100.0 * counts.count_converted / counts.count_entered
            as conversion_pct,
        100.0 * cast(counts.converted_amount as double)
        / cast(nullif(counts.entered_amount, 0) as double)
            as conversion_amount_pct,
        100.0 * counts.count_progressed / counts.count_entered
            as progression_pct,
        cast(km_quantiles.median_days_to_settle as integer)
            as median_days_to_settle,
        cast(km_quantiles.p75_days_to_settle as integer)
            as p75_days_to_settle
    from counts
    inner join km_quantiles
        on
            counts.month_end_date = km_quantiles.month_end_date
            and counts.segment = km_quantiles.segment
            and counts.stage_number = km_quantiles.stage_number
)

select * from final
