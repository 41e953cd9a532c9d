-- model: dim_customers
-- grain: one row per customer per change point: a run of month ends over
--   which the customer's behaviour segment, highest stage reached and
--   month flags stay the same
-- keys: customer_id, valid_from_date
-- depends_on: int_customer_lifespans, int_customer_history_deltas,
--   int_month_ends
-- notes: the row holds at every month end t with valid_from_date <= t <
--   valid_to_date (both month ends; valid_to_date is 9999-12-31 while the
--   row is current, else the month end after the run). Join by date: the
--   state at any day d is the row holding at the last month end on or
--   before d (arinsight.metrics.customers does this). A customer has rows
--   from the month of start_date (or the first month end) to the month of
--   churned_date (or the last month end). Master-data segment is today's;
--   behaviour is scored from history up to each month end only (no
--   look-ahead). Scored invoices = settled on or before due (on time), or
--   past due at t (late, paid since or not). late_ratio = late / scored
--   (0-1); weighted_days_late = sum(amount * (min(settled, t) - due)) over
--   late invoices / sum(amount) over scored ones; highest_stage_number =
--   highest dunning stage >= 1 reached by t (0 = never dunned; pre-due
--   reminders are not dunning). count_scored_invoices,
--   count_late_invoices, late_ratio and weighted_days_late are the figures
--   at valid_from_date (they move month by month without changing the
--   segment). behaviour_segment: unscored (fewer than
--   behaviour_scoring.min_scored_invoices), chronic (any chronic_min_*
--   reached), reliable (every reliable_max_* held), else occasional; the
--   thresholds are settings. is_active_at_month_start: started before the
--   month and not churned before it. is_churned_in_month: churned in the
--   month (the customer's last row). is_involuntary_churn is the
--   customer's rule, null unless churned. is_current: the row holds at the
--   last complete month end. A new row starts whenever behaviour_segment,
--   highest_stage_number, is_active_at_month_start or is_churned_in_month
--   changes.

with

lifespans as (
    select * from int_customer_lifespans
),

deltas as (
    select * from int_customer_history_deltas
),

month_ends as (
    select * from int_month_ends
),

calendar as (
    select
        min(month_start_date) as first_month_start_date,
        max(month_start_date) as last_month_start_date,
        max(month_end_date) as last_month_end_date
    from month_ends
),

spans as (
    select
        lifespans.customer_id,
        greatest(
            date_trunc('month', lifespans.start_date),
            calendar.first_month_start_date
        ) as span_start_date,
        least(
            date_trunc(
                'month', coalesce(lifespans.churned_date, date '9999-12-01')
            ),
            calendar.last_month_start_date
        ) as span_end_date
    from lifespans
    cross join calendar
    -- no complete month yet: no rows (least/greatest would skip the nulls)
    where calendar.first_month_start_date is not null
),

running as (
    select
        customer_id,
        date_trunc('month', month_end_date) as state_start_date,
        lead(date_trunc('month', month_end_date)) over by_customer
            as next_state_start_date,
        sum(count_scored_invoices) over by_customer as count_scored_invoices,
        sum(scored_amount) over by_customer as scored_amount,
        sum(count_late_invoices) over by_customer as count_late_invoices,
        sum(open_late_amount) over by_customer as open_late_amount,
        sum(late_weight) over by_customer as late_weight,
        coalesce(max(max_stage_number) over by_customer, 0)
            as highest_stage_number
    from deltas
    window by_customer as (
        partition by customer_id
        order by month_end_date
        rows between unbounded preceding and current row
    )
),

first_changes as (
    select
        customer_id,
        min(state_start_date) as first_state_start_date
    from running
    group by customer_id
),

states as (
    select * from running
    union all
    -- the empty history before a customer's first change
    select
        spans.customer_id,
        spans.span_start_date as state_start_date,
        coalesce(
            first_changes.first_state_start_date, date '9999-12-01'
        ) as next_state_start_date,
        0 as count_scored_invoices,
        0 as scored_amount,
        0 as count_late_invoices,
        0 as open_late_amount,
        0 as late_weight,
        0 as highest_stage_number
    from spans
    left join first_changes
        on spans.customer_id = first_changes.customer_id
    where
        first_changes.first_state_start_date is null
        or first_changes.first_state_start_date > spans.span_start_date
),

expanded as (
    select
        states.*,
        cast(
            last_day(
                unnest(
                    generate_series(
                        greatest(
                            states.state_start_date, spans.span_start_date
                        ),
                        least(
                            coalesce(
                                states.next_state_start_date,
                                date '9999-12-01'
                            ) - interval 1 month,
                            spans.span_end_date
                        ),
                        interval 1 month
                    )
                )
            ) as date
        ) as month_end_date
    from states
    inner join spans on states.customer_id = spans.customer_id
),

measures as (
    select
        expanded.*,
        cast(expanded.count_late_invoices as double)
        / nullif(expanded.count_scored_invoices, 0) as late_ratio,
        cast(
            expanded.late_weight
            + expanded.open_late_amount
            * date_diff('day', date '1970-01-01', expanded.month_end_date)
            as double
        )
        / cast(nullif(expanded.scored_amount, 0) as double)
            as weighted_days_late
    from expanded
),

monthly as (
    select
        measures.customer_id,
        measures.month_end_date,
        lifespans.segment,
        case
            when
                measures.count_scored_invoices
                < getvariable('behaviour_min_scored_invoices')
                then 'unscored'
            when
                measures.late_ratio
                >= getvariable('behaviour_chronic_min_late_ratio')
                or coalesce(measures.weighted_days_late, 0)
                >= getvariable('behaviour_chronic_min_weighted_days_late')
                or measures.highest_stage_number
                >= getvariable('behaviour_chronic_min_stage')
                then 'chronic'
            when
                measures.late_ratio
                <= getvariable('behaviour_reliable_max_late_ratio')
                and coalesce(measures.weighted_days_late, 0)
                <= getvariable('behaviour_reliable_max_weighted_days_late')
                and measures.highest_stage_number
                <= getvariable('behaviour_reliable_max_stage')
                then 'reliable'
            else 'occasional'
        end as behaviour_segment,
        lifespans.start_date < date_trunc('month', measures.month_end_date)
        and coalesce(
            lifespans.churned_date
            >= date_trunc('month', measures.month_end_date),
            true
        ) as is_active_at_month_start,
        coalesce(
            last_day(lifespans.churned_date) = measures.month_end_date, false
        ) as is_churned_in_month,
        lifespans.is_involuntary_churn,
        cast(measures.count_scored_invoices as bigint)
            as count_scored_invoices,
        cast(measures.count_late_invoices as bigint) as count_late_invoices,
        measures.late_ratio,
        measures.weighted_days_late,
        cast(measures.highest_stage_number as integer)
            as highest_stage_number,
        measures.month_end_date = calendar.last_month_end_date as is_current,
        calendar.last_month_end_date
    from measures
    inner join lifespans on measures.customer_id = lifespans.customer_id
    cross join calendar
),

flagged as (
    select
        *,
        coalesce(
            lag(behaviour_segment) over by_customer <> behaviour_segment
            or lag(highest_stage_number) over by_customer
            <> highest_stage_number
            or lag(is_active_at_month_start) over by_customer
            <> is_active_at_month_start
            or lag(is_churned_in_month) over by_customer
            <> is_churned_in_month,
            true
        ) as is_change_point,
        max(month_end_date) over (partition by customer_id)
            as last_row_month_end_date
    from monthly
    window by_customer as (partition by customer_id order by month_end_date)
),

change_points as (
    select
        *,
        lead(month_end_date) over (
            partition by customer_id order by month_end_date
        ) as next_change_date
    from flagged
    where is_change_point
),

final as (
    select
        customer_id,
        month_end_date as valid_from_date,
        case
            when next_change_date is not null then next_change_date
            when last_row_month_end_date = last_month_end_date
                then date '9999-12-31'
            else cast(last_day(last_row_month_end_date + 1) as date)
        end as valid_to_date,
        segment,
        behaviour_segment,
        is_active_at_month_start,
        is_churned_in_month,
        is_involuntary_churn,
        count_scored_invoices,
        count_late_invoices,
        late_ratio,
        weighted_days_late,
        highest_stage_number,
        next_change_date is null
        and last_row_month_end_date = last_month_end_date as is_current
    from change_points
)

select * from final
