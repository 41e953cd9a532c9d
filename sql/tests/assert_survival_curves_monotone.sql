-- survival curves stay in [0, 1] and never rise
select
    segment,
    stage_number,
    days_since_send,
    still_open_ratio,
    count_at_risk
from (
    select
        *,
        lag(still_open_ratio) over by_curve as previous_ratio,
        lag(count_at_risk) over by_curve as previous_at_risk
    from marts.fct_stage_survival
    window by_curve as (
        partition by segment, stage_number order by days_since_send
    )
) as curves
where
    still_open_ratio < 0
    or still_open_ratio > 1
    or still_open_ratio > previous_ratio + 1e-12
    or count_at_risk > previous_at_risk
