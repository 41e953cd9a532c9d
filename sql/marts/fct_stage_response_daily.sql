-- model: fct_stage_response_daily
-- grain: one row per segment type per segment per dunning stage per channel
--   per day relative to the send (-7 to +30) with cases at risk
-- keys: segment_type, segment, stage_number, channel, days_from_send
-- depends_on: fct_stage_response_cases
-- notes: the daily settlement hazard around a stage's send
--   (fct_stage_response_cases: intention-to-treat cohort, day 0 = the
--   send, or the planned send when the invoice settled first).
--   segment_type: 'segment' (master data), 'behaviour' (behaviour segment
--   at the month end before the send) or 'all'. count_at_risk = cases
--   open at the start of the day and still in their window;
--   count_settled = settled by payment that day. hazard_ratio =
--   settled / at risk, with a 95 % Wilson interval. baseline_hazard_ratio
--   = the pooled hazard over days -7 to -1 of the same group; lift_ratio
--   = hazard / baseline (relative risk), 95 % interval on the log scale
--   (se = sqrt(1/x - 1/n + 1/x0 - 1/n0); null when a count is 0).
--   excess_rate = (-ln(1 - hazard)) - (-ln(1 - baseline)): the daily
--   hazard rate the send added (what fct_stage_response fits its decay
--   to). Computed from per-case start and end days (no case x day grid).

with

cases as (
    select * from fct_stage_response_cases
),

params as (
    select
        -7 as first_day,
        30 as last_day,
        1.959964 as z
),

-- cases with the same group, start, end and outcome add up the same: count
-- them once (1.7M cases at 1M invoices, ~3k such groups) before the
-- per-type and per-day expansions
case_groups as (
    select
        segment,
        behaviour_segment,
        stage_number,
        channel,
        start_day,
        end_day,
        is_settled_in_window,
        count(*) as count_cases
    from cases
    group by
        segment,
        behaviour_segment,
        stage_number,
        channel,
        start_day,
        end_day,
        is_settled_in_window
),

typed as (
    select
        'segment' as segment_type,
        segment,
        stage_number,
        channel,
        start_day,
        end_day,
        is_settled_in_window,
        count_cases
    from case_groups
    union all
    select
        'behaviour' as segment_type,
        behaviour_segment as segment,
        stage_number,
        channel,
        start_day,
        end_day,
        is_settled_in_window,
        count_cases
    from case_groups
    union all
    select
        'all' as segment_type,
        'all' as segment,
        stage_number,
        channel,
        start_day,
        end_day,
        is_settled_in_window,
        count_cases
    from case_groups
),

changes as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        start_day as days_from_send,
        count_cases as delta_at_risk,
        0 as settled
    from typed
    union all
    select
        segment_type,
        segment,
        stage_number,
        channel,
        end_day + 1 as days_from_send,
        -count_cases as delta_at_risk,
        0 as settled
    from typed
    union all
    select
        segment_type,
        segment,
        stage_number,
        channel,
        end_day as days_from_send,
        0 as delta_at_risk,
        count_cases as settled
    from typed
    where is_settled_in_window
),

per_day as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        days_from_send,
        sum(delta_at_risk) as delta_at_risk,
        sum(settled) as count_settled
    from changes
    group by segment_type, segment, stage_number, channel, days_from_send
),

groups as (
    select distinct
        segment_type,
        segment,
        stage_number,
        channel
    from per_day
),

days as (
    select
        unnest(generate_series(params.first_day, params.last_day))
            as days_from_send
    from params
),

grid as (
    select
        groups.*,
        days.days_from_send
    from groups
    cross join days
),

filled as (
    select
        grid.*,
        coalesce(per_day.delta_at_risk, 0) as delta_at_risk,
        coalesce(per_day.count_settled, 0) as count_settled
    from grid
    left join per_day
        on
            grid.segment_type = per_day.segment_type
            and grid.segment = per_day.segment
            and grid.stage_number = per_day.stage_number
            and grid.channel = per_day.channel
            and grid.days_from_send = per_day.days_from_send
),

at_risk as (
    select
        *,
        sum(delta_at_risk) over (
            partition by segment_type, segment, stage_number, channel
            order by days_from_send
            rows between unbounded preceding and current row
        ) as count_at_risk
    from filled
),

baseline as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        sum(count_at_risk) as baseline_case_days,
        sum(count_settled) as baseline_settled
    from at_risk
    where days_from_send < 0
    group by segment_type, segment, stage_number, channel
),

rates as (
    select
        at_risk.segment_type,
        at_risk.segment,
        at_risk.stage_number,
        at_risk.channel,
        at_risk.days_from_send,
        at_risk.count_at_risk,
        at_risk.count_settled,
        baseline.baseline_case_days,
        baseline.baseline_settled,
        1.0 * at_risk.count_settled / at_risk.count_at_risk as hazard_ratio,
        1.0 * baseline.baseline_settled
        / nullif(baseline.baseline_case_days, 0) as baseline_hazard_ratio,
        params.z
    from at_risk
    cross join params
    left join baseline
        on
            at_risk.segment_type = baseline.segment_type
            and at_risk.segment = baseline.segment
            and at_risk.stage_number = baseline.stage_number
            and at_risk.channel = baseline.channel
    where at_risk.count_at_risk > 0
),

intervals as (
    select
        *,
        (
            hazard_ratio + z * z / (2.0 * count_at_risk)
            - z * sqrt(
                hazard_ratio * (1 - hazard_ratio) / count_at_risk
                + z * z / (4.0 * count_at_risk * count_at_risk)
            )
        ) / (1 + z * z / count_at_risk) as hazard_ci_low_ratio,
        (
            hazard_ratio + z * z / (2.0 * count_at_risk)
            + z * sqrt(
                hazard_ratio * (1 - hazard_ratio) / count_at_risk
                + z * z / (4.0 * count_at_risk * count_at_risk)
            )
        ) / (1 + z * z / count_at_risk) as hazard_ci_high_ratio,
        hazard_ratio / nullif(baseline_hazard_ratio, 0) as lift_ratio,
        case
            when count_settled > 0 and baseline_settled > 0
                then sqrt(
                    1.0 / count_settled - 1.0 / count_at_risk
                    + 1.0 / baseline_settled - 1.0 / baseline_case_days
                )
        end as log_lift_se,
        case
            when hazard_ratio < 1 and baseline_hazard_ratio < 1
                then ln(1 - baseline_hazard_ratio) - ln(1 - hazard_ratio)
        end as excess_rate
    from rates
),

final as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        cast(days_from_send as integer) as days_from_send,
        cast(count_at_risk as bigint) as count_at_risk,
        cast(count_settled as bigint) as count_settled,
        hazard_ratio,
        hazard_ci_low_ratio,
        hazard_ci_high_ratio,
        cast(baseline_case_days as bigint) as baseline_case_days,
        cast(baseline_settled as bigint) as baseline_settled,
        baseline_hazard_ratio,
        lift_ratio,
        lift_ratio * exp(-z * log_lift_se) as lift_ci_low_ratio,
        lift_ratio * exp(z * log_lift_se) as lift_ci_high_ratio,
        excess_rate
    from intervals
)

select * from final
