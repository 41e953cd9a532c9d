-- cumulative incidences of settled, next stage and other closure add up to
-- one minus the share still open, and never fall
select
    segment_type,
    segment,
    stage_number,
    channel,
    days_since_send,
    still_open_ratio,
    settled_cif_ratio,
    next_stage_cif_ratio,
    closed_other_cif_ratio
from (
    select
        *,
        lag(settled_cif_ratio) over by_curve as previous_settled_ratio
    from marts.fct_stage_competing
    window by_curve as (
        partition by segment_type, segment, stage_number, channel
        order by days_since_send
    )
) as curves
where
    abs(
        settled_cif_ratio + next_stage_cif_ratio + closed_other_cif_ratio
        + still_open_ratio - 1
    ) > 1e-9
    or settled_cif_ratio < previous_settled_ratio - 1e-12
    or settled_cif_ratio < 0
    or still_open_ratio < 0
