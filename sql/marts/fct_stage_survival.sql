-- model: fct_stage_survival
-- grain: one row per segment per dunning stage per number of days since the
--   stage was sent on which a case settled or was censored, plus segment
--   'all'
-- keys: segment, stage_number, days_since_send
-- depends_on: int_stage_entries
-- notes: Kaplan-Meier estimate of the share of stage-k entries (not settled
--   before s_k) still open d days after s_k; cases open at the as-of date
--   are censored at as_of - s_k. count_at_risk = cases observed for at
--   least d days; still_open_ratio = product over days <= d of
--   (1 - settled / at risk). Between rows the curve is flat; before the
--   first row it is 1. Built from counts per day, never an invoice x day
--   grid. All send dates (not only complete months).

with

entries as (
    select * from int_stage_entries
),

events_by_segment as (
    select
        segment,
        stage_number,
        days_observed as days_since_send,
        count(*) filter (where is_settled_observed) as count_settled,
        count(*) filter (where not is_settled_observed) as count_censored
    from entries
    where is_open_at_send
    group by segment, stage_number, days_observed
),

events as (
    select * from events_by_segment
    union all
    select
        'all' as segment,
        stage_number,
        days_since_send,
        sum(count_settled) as count_settled,
        sum(count_censored) as count_censored
    from events_by_segment
    group by stage_number, days_since_send
),

at_risk as (
    select
        *,
        sum(count_settled + count_censored) over (
            partition by segment, stage_number
            order by days_since_send desc
            rows between unbounded preceding and current row
        ) as count_at_risk
    from events
),

final as (
    select
        segment,
        stage_number,
        cast(days_since_send as integer) as days_since_send,
        cast(count_at_risk as bigint) as count_at_risk,
        cast(count_settled as bigint) as count_settled,
        cast(count_censored as bigint) as count_censored,
        product(1.0 - count_settled / count_at_risk) over (
            partition by segment, stage_number
            order by days_since_send
            rows between unbounded preceding and current row
        ) as still_open_ratio
    from at_risk
)

select * from final
