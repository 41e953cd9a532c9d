-- fct_stage_channels: its behaviour 'all' x channel 'all' rows repeat
-- fct_stage_conversion's counts and amounts (same entries, split only)
select
    pinned.month_end_date,
    pinned.segment,
    pinned.stage_number,
    pinned.count_entered,
    by_channel.count_entered as split_count_entered
from marts.fct_stage_conversion as pinned
left join marts.fct_stage_channels as by_channel
    on
        pinned.month_end_date = by_channel.month_end_date
        and pinned.segment = by_channel.segment
        and pinned.stage_number = by_channel.stage_number
        and by_channel.behaviour_segment = 'all'
        and by_channel.channel = 'all'
where
    by_channel.count_entered is null
    or pinned.count_entered <> by_channel.count_entered
    or pinned.count_converted <> by_channel.count_converted
    or pinned.count_progressed <> by_channel.count_progressed
    or pinned.count_pending <> by_channel.count_pending
    or pinned.entered_amount <> by_channel.entered_amount
    or pinned.converted_amount <> by_channel.converted_amount
