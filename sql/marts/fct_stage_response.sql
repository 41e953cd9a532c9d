-- model: fct_stage_response
-- grain: one row per segment type per segment per dunning stage per channel
-- keys: segment_type, segment, stage_number, channel
-- depends_on: fct_stage_response_daily, fct_stage_response_cases
-- notes: a stage's response in one row (docs/ladder.md), from
--   fct_stage_response_daily. count_cases / count_sent: cases in the
--   intention-to-treat cohort and how many were sent the stage.
--   baseline_hazard_ratio: pooled daily settlement hazard on days -7..-1
--   (95 % Wilson interval). response_lift_ratio: pooled hazard on days 1-3
--   / baseline, 95 % interval on the log scale. Decay: weighted least
--   squares of ln(excess_rate) on the day over days 1 to the day before
--   first_day_at_baseline (days 1..30 when the lift never returns to
--   baseline in the window), using days with excess_rate > 0 and at least
--   one settlement (weight = inverse delta-method variance
--   n(1 - h) excess^2 / h), needs 3 such days; stopping at the baseline
--   keeps noise days (kept when positive, dropped when not) from
--   flattening the fit;
--   decay_half_life_days = ln 2 / -slope with the interval from slope +-
--   1.96 se (upper bound null when the slope's interval reaches 0).
--   died_out_day = the day the fitted excess has fallen to 10 % of its
--   day-1 level (1 + ln 10 / -slope), same interval method.
--   first_day_at_baseline = the first day >= 1 whose lift interval
--   reaches 1 (or with no settlement that day), i.e.
--   the observed "back at baseline" (depends on n). median_next_stage_days
--   = median days from this stage's send to the next stage's among cases
--   that got one; is_died_out_before_next_stage compares died_out_day
--   with it. Rows with too few data keep their counts and null estimates.

with

daily as (
    select * from fct_stage_response_daily
),

cases as (
    select * from fct_stage_response_cases
),

params as (
    select
        1.959964 as z,
        0.1 as died_out_share
),

keys as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        max(baseline_case_days) as baseline_case_days,
        max(baseline_settled) as baseline_settled,
        max(baseline_hazard_ratio) as baseline_hazard_ratio,
        max(count_at_risk) filter (where days_from_send = 0)
            as count_at_risk_at_send
    from daily
    group by segment_type, segment, stage_number, channel
),

typed_cases as (
    select
        'segment' as segment_type,
        segment,
        stage_number,
        channel,
        is_sent,
        date_diff('day', sent_date, next_stage_sent_date) as next_stage_days
    from cases
    union all
    select
        'behaviour' as segment_type,
        behaviour_segment as segment,
        stage_number,
        channel,
        is_sent,
        date_diff('day', sent_date, next_stage_sent_date) as next_stage_days
    from cases
    union all
    select
        'all' as segment_type,
        'all' as segment,
        stage_number,
        channel,
        is_sent,
        date_diff('day', sent_date, next_stage_sent_date) as next_stage_days
    from cases
),

case_counts as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        count(*) as count_cases,
        count(*) filter (where is_sent) as count_sent,
        median(next_stage_days) as median_next_stage_days
    from typed_cases
    group by segment_type, segment, stage_number, channel
),

early as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        sum(count_at_risk) as response_case_days,
        sum(count_settled) as response_settled
    from daily
    where days_from_send between 1 and 3
    group by segment_type, segment, stage_number, channel
),

at_baseline as (
    select
        daily.segment_type,
        daily.segment,
        daily.stage_number,
        daily.channel,
        min(daily.days_from_send) as first_day_at_baseline
    from daily
    where
        daily.days_from_send >= 1
        and (daily.count_settled = 0 or daily.lift_ci_low_ratio <= 1)
    group by
        daily.segment_type, daily.segment, daily.stage_number, daily.channel
),

fit_points as (
    select
        daily.segment_type,
        daily.segment,
        daily.stage_number,
        daily.channel,
        1.0 * daily.days_from_send as x,
        ln(daily.excess_rate) as y,
        daily.count_at_risk * (1 - daily.hazard_ratio) * daily.excess_rate
        * daily.excess_rate / daily.hazard_ratio as w
    from daily
    left join at_baseline
        on
            daily.segment_type = at_baseline.segment_type
            and daily.segment = at_baseline.segment
            and daily.stage_number = at_baseline.stage_number
            and daily.channel = at_baseline.channel
    where
        daily.days_from_send >= 1
        and daily.days_from_send
        < coalesce(at_baseline.first_day_at_baseline, 31)
        and daily.excess_rate > 0
        and daily.count_settled > 0
        and daily.hazard_ratio < 1
),

fit_sums as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        count(*) as count_fit_days,
        sum(w) as sw,
        sum(w * x) as swx,
        sum(w * y) as swy,
        sum(w * x * x) as swxx,
        sum(w * x * y) as swxy
    from fit_points
    group by segment_type, segment, stage_number, channel
),

fit as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        count_fit_days,
        case
            when count_fit_days >= 3 and sw * swxx - swx * swx > 0
                then (sw * swxy - swx * swy) / (sw * swxx - swx * swx)
        end as decay_slope,
        case
            when count_fit_days >= 3 and sw * swxx - swx * swx > 0
                then sqrt(sw / (sw * swxx - swx * swx))
        end as decay_slope_se
    from fit_sums
),

joined as (
    select
        keys.*,
        case_counts.count_cases,
        case_counts.count_sent,
        case_counts.median_next_stage_days,
        early.response_case_days,
        early.response_settled,
        1.0 * early.response_settled
        / nullif(early.response_case_days, 0) as response_hazard_ratio,
        fit.count_fit_days,
        fit.decay_slope,
        fit.decay_slope_se,
        at_baseline.first_day_at_baseline,
        params.z,
        params.died_out_share
    from keys
    cross join params
    left join case_counts
        on
            keys.segment_type = case_counts.segment_type
            and keys.segment = case_counts.segment
            and keys.stage_number = case_counts.stage_number
            and keys.channel = case_counts.channel
    left join early
        on
            keys.segment_type = early.segment_type
            and keys.segment = early.segment
            and keys.stage_number = early.stage_number
            and keys.channel = early.channel
    left join fit
        on
            keys.segment_type = fit.segment_type
            and keys.segment = fit.segment
            and keys.stage_number = fit.stage_number
            and keys.channel = fit.channel
    left join at_baseline
        on
            keys.segment_type = at_baseline.segment_type
            and keys.segment = at_baseline.segment
            and keys.stage_number = at_baseline.stage_number
            and keys.channel = at_baseline.channel
),

estimates as (
    select
        *,
        case
            when response_settled > 0 and baseline_settled > 0
                then sqrt(
                    1.0 / response_settled - 1.0 / response_case_days
                    + 1.0 / baseline_settled - 1.0 / baseline_case_days
                )
        end as log_lift_se,
        response_hazard_ratio / nullif(baseline_hazard_ratio, 0)
            as response_lift_ratio,
        case
            when decay_slope < 0 then ln(2) / -decay_slope
        end as decay_half_life_days,
        case
            when decay_slope + z * decay_slope_se < 0
                then ln(2) / -(decay_slope + z * decay_slope_se)
        end as decay_half_life_high_days,
        case
            when decay_slope - z * decay_slope_se < 0
                then ln(2) / -(decay_slope - z * decay_slope_se)
        end as decay_half_life_low_days,
        case
            when decay_slope < 0
                then 1 + ln(1 / died_out_share) / -decay_slope
        end as died_out_day,
        case
            when decay_slope - z * decay_slope_se < 0
                then
                    1
                    + ln(1 / died_out_share)
                    / -(decay_slope - z * decay_slope_se)
        end as died_out_low_day,
        case
            when decay_slope + z * decay_slope_se < 0
                then
                    1
                    + ln(1 / died_out_share)
                    / -(decay_slope + z * decay_slope_se)
        end as died_out_high_day
    from joined
),

final as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        cast(count_cases as bigint) as count_cases,
        cast(count_sent as bigint) as count_sent,
        cast(count_at_risk_at_send as bigint) as count_at_risk_at_send,
        cast(baseline_case_days as bigint) as baseline_case_days,
        cast(baseline_settled as bigint) as baseline_settled,
        baseline_hazard_ratio,
        cast(response_case_days as bigint) as response_case_days,
        cast(response_settled as bigint) as response_settled,
        response_hazard_ratio,
        response_lift_ratio,
        response_lift_ratio * exp(-z * log_lift_se)
            as response_lift_ci_low_ratio,
        response_lift_ratio * exp(z * log_lift_se)
            as response_lift_ci_high_ratio,
        cast(coalesce(count_fit_days, 0) as integer) as count_fit_days,
        decay_half_life_days,
        decay_half_life_low_days,
        decay_half_life_high_days,
        died_out_day,
        died_out_low_day,
        died_out_high_day,
        cast(first_day_at_baseline as integer) as first_day_at_baseline,
        median_next_stage_days,
        died_out_day <= median_next_stage_days
            as is_died_out_before_next_stage
    from estimates
)

select * from final
