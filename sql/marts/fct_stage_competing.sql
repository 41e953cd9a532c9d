-- model: fct_stage_competing
-- grain: one row per segment type per segment per dunning stage per channel
--   per number of days since the send on which a case ended or was censored
-- keys: segment_type, segment, stage_number, channel, days_since_send
-- depends_on: fct_stage_response_cases
-- notes: time to settle after a stage with the next stage as a competing
--   event (Aalen-Johansen cumulative incidence). Cases: invoices sent the
--   stage and open at the send (fct_stage_response_cases, is_sent, settled
--   on or after the send). Each case ends at the first of: settled by
--   payment ('settled'), the next higher stage sent ('next_stage'; a
--   payment on the same day counts as settled), closed by credit note or
--   write-off ('closed_other'); open at the as-of date: censored there.
--   segment_type as in fct_stage_response. count_at_risk = cases not ended
--   before the day. still_open_ratio = Kaplan-Meier of any ending;
--   <cause>_cif_ratio = sum over days <= d of still_open(previous day) x
--   ended by the cause / at risk; the three add up to 1 -
--   still_open_ratio. settled_cif interval: 95 %, delta-method variance
--   (Collett, Modelling Survival Data, 3rd ed., p. 411, as in lifelines'
--   AalenJohansenFitter) on the log(-log) scale. Between rows the curves
--   are flat; before the first row they are 0 (still_open 1).

with

cases as (
    select * from fct_stage_response_cases
),

params as (
    select 1.959964 as z
),

sent as (
    select
        segment,
        behaviour_segment,
        stage_number,
        channel,
        sent_date,
        settled_date,
        settled_by,
        as_of_date,
        case
            when next_stage_sent_date >= sent_date then next_stage_sent_date
        end as next_date
    from cases
    where is_sent and coalesce(settled_date >= sent_date, true)
),

ended as (
    select
        *,
        case
            when
                settled_date <= as_of_date
                and coalesce(settled_date <= next_date, true)
                then
                    case
                        when settled_by = 'payment' then 'settled'
                        else 'closed_other'
                    end
            when next_date <= as_of_date then 'next_stage'
            else 'censored'
        end as ending,
        date_diff(
            'day',
            sent_date,
            least(
                coalesce(settled_date, as_of_date),
                coalesce(next_date, as_of_date),
                as_of_date
            )
        ) as days_since_send
    from sent
),

-- the endings counted per group and day once (1.7M cases at 1M invoices)
-- before the three segment types repeat them
case_groups as (
    select
        segment,
        behaviour_segment,
        stage_number,
        channel,
        days_since_send,
        count(*) filter (where ending = 'settled') as count_settled,
        count(*) filter (where ending = 'next_stage') as count_next_stage,
        count(*) filter (where ending = 'closed_other') as count_closed_other,
        count(*) filter (where ending = 'censored') as count_censored,
        count(*) filter (where ending <> 'censored') as count_ended
    from ended
    group by
        segment, behaviour_segment, stage_number, channel, days_since_send
),

typed as (
    select
        'segment' as segment_type,
        segment,
        stage_number,
        channel,
        days_since_send,
        count_settled,
        count_next_stage,
        count_closed_other,
        count_censored,
        count_ended
    from case_groups
    union all
    select
        'behaviour' as segment_type,
        behaviour_segment as segment,
        stage_number,
        channel,
        days_since_send,
        count_settled,
        count_next_stage,
        count_closed_other,
        count_censored,
        count_ended
    from case_groups
    union all
    select
        'all' as segment_type,
        'all' as segment,
        stage_number,
        channel,
        days_since_send,
        count_settled,
        count_next_stage,
        count_closed_other,
        count_censored,
        count_ended
    from case_groups
),

per_day as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        days_since_send,
        cast(sum(count_settled) as bigint) as count_settled,
        cast(sum(count_next_stage) as bigint) as count_next_stage,
        cast(sum(count_closed_other) as bigint) as count_closed_other,
        cast(sum(count_censored) as bigint) as count_censored,
        cast(sum(count_ended) as bigint) as count_ended
    from typed
    group by segment_type, segment, stage_number, channel, days_since_send
),

at_risk as (
    select
        *,
        sum(count_ended + count_censored) over (
            partition by segment_type, segment, stage_number, channel
            order by days_since_send desc
            rows between unbounded preceding and current row
        ) as count_at_risk
    from per_day
),

survival as (
    select
        *,
        product(1.0 - count_ended / count_at_risk) over (
            partition by segment_type, segment, stage_number, channel
            order by days_since_send
            rows between unbounded preceding and current row
        ) as still_open_ratio
    from at_risk
),

lagged as (
    select
        *,
        coalesce(
            lag(still_open_ratio) over (
                partition by segment_type, segment, stage_number, channel
                order by days_since_send
            ),
            1.0
        ) as previous_open_ratio
    from survival
),

incidence as (
    select
        *,
        sum(previous_open_ratio * count_settled / count_at_risk) over (
            partition by segment_type, segment, stage_number, channel
            order by days_since_send
            rows between unbounded preceding and current row
        ) as settled_cif_ratio,
        sum(previous_open_ratio * count_next_stage / count_at_risk) over (
            partition by segment_type, segment, stage_number, channel
            order by days_since_send
            rows between unbounded preceding and current row
        ) as next_stage_cif_ratio,
        sum(previous_open_ratio * count_closed_other / count_at_risk) over (
            partition by segment_type, segment, stage_number, channel
            order by days_since_send
            rows between unbounded preceding and current row
        ) as closed_other_cif_ratio,
        1.0 * count_ended
        / nullif(count_at_risk * (count_at_risk - count_ended), 0) as term_a,
        previous_open_ratio * previous_open_ratio * count_settled
        * (count_at_risk - count_settled)
        / (1.0 * count_at_risk * count_at_risk * count_at_risk) as term_b,
        previous_open_ratio * count_settled
        / (1.0 * count_at_risk * count_at_risk) as term_c
    from lagged
),

variance_sums as (
    select
        *,
        sum(term_a) over w as sum_a,
        sum(term_a * settled_cif_ratio) over w as sum_a_f,
        sum(term_a * settled_cif_ratio * settled_cif_ratio) over w as sum_a_ff,
        sum(term_b) over w as sum_b,
        sum(term_c) over w as sum_c,
        sum(term_c * settled_cif_ratio) over w as sum_c_f
    from incidence
    window w as (
        partition by segment_type, segment, stage_number, channel
        order by days_since_send
        rows between unbounded preceding and current row
    )
),

variances as (
    select
        *,
        greatest(
            settled_cif_ratio * settled_cif_ratio * coalesce(sum_a, 0)
            - 2 * settled_cif_ratio * coalesce(sum_a_f, 0)
            + coalesce(sum_a_ff, 0)
            + sum_b
            - 2 * settled_cif_ratio * sum_c
            + 2 * sum_c_f,
            0
        ) as settled_cif_variance
    from variance_sums
),

transformed as (
    select
        variances.*,
        params.z,
        case
            when
                variances.settled_cif_ratio > 0
                and variances.settled_cif_ratio < 1
                then
                    sqrt(variances.settled_cif_variance)
                    / (
                        variances.settled_cif_ratio
                        * abs(ln(variances.settled_cif_ratio))
                    )
        end as log_log_se
    from variances
    cross join params
),

final as (
    select
        segment_type,
        segment,
        stage_number,
        channel,
        cast(days_since_send as integer) as days_since_send,
        cast(count_at_risk as bigint) as count_at_risk,
        cast(count_settled as bigint) as count_settled,
        cast(count_next_stage as bigint) as count_next_stage,
        cast(count_closed_other as bigint) as count_closed_other,
        cast(count_censored as bigint) as count_censored,
        still_open_ratio,
        settled_cif_ratio,
        exp(-exp(ln(-ln(settled_cif_ratio)) + z * log_log_se))
            as settled_cif_ci_low_ratio,
        exp(-exp(ln(-ln(settled_cif_ratio)) - z * log_log_se))
            as settled_cif_ci_high_ratio,
        next_stage_cif_ratio,
        closed_other_cif_ratio
    from transformed
)

select * from final
