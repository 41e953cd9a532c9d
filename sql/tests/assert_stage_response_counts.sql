-- the response hazard rests on consistent counts: settled <= at risk, the
-- daily at-risk totals match the cases' windows, hazards lie in [0, 1]
with

daily as (
    select * from marts.fct_stage_response_daily
    where segment_type = 'all'
),

cases as (
    select * from marts.fct_stage_response_cases
),

case_days as (
    select
        stage_number,
        channel,
        sum(end_day - start_day + 1) as case_days,
        count(*) filter (where is_settled_in_window) as settled
    from cases
    group by stage_number, channel
),

daily_days as (
    select
        stage_number,
        channel,
        sum(count_at_risk) as case_days,
        sum(count_settled) as settled
    from daily
    group by stage_number, channel
),

bad_days as (
    select
        stage_number,
        channel,
        days_from_send,
        'settled > at risk or hazard outside [0, 1]' as problem
    from daily
    where
        count_settled > count_at_risk
        or hazard_ratio < 0
        or hazard_ratio > 1
),

bad_totals as (
    select
        c.stage_number,
        c.channel,
        null as days_from_send,
        'daily counts do not add up to the cases' as problem
    from case_days as c
    left join daily_days as d
        on c.stage_number = d.stage_number and c.channel = d.channel
    where
        coalesce(d.case_days, -1) <> c.case_days
        or coalesce(d.settled, -1) <> c.settled
)

select * from bad_days
union all
select * from bad_totals
