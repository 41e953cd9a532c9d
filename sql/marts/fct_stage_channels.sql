-- model: fct_stage_channels
-- grain: one row per month end (month of the stage send) per segment per
--   behaviour segment per dunning stage per channel, with the rollups
--   segment 'all', behaviour_segment 'all' and channel 'all'
-- keys: month_end_date, segment, behaviour_segment, stage_number, channel
-- depends_on: int_stage_entries, int_dunning_events, int_month_ends,
--   dim_customers
-- notes: the stage entries of fct_stage_conversion (first stage-k send in a
--   complete month, invoice open at the send) split by the channel of that
--   first send (several events of the stage on that day: the smallest
--   channel name) and by the customer's behaviour segment at the month end
--   before the send's month (the dim_customers change point holding then,
--   no look-ahead; 'unscored' when none). entered / converted / progressed
--   / pending and amounts as in fct_stage_conversion, so the rows with
--   behaviour_segment 'all' and channel 'all' repeat its counts
--   (sql/tests/assert_stage_channels_match_conversion.sql). conversion_pct
--   = converted / entered * 100 (count), conversion_amount_pct by amount.
--   No time-to-settle quantiles here (fct_stage_conversion has them).

with

entries as (
    select * from int_stage_entries
),

events as (
    select * from int_dunning_events
),

month_ends as (
    select * from int_month_ends
),

customers as (
    select * from dim_customers
),

-- the smallest channel per stage and day, joined to the entry on its
-- first send day (one aggregate of the events, one join, and `entries`
-- read once)
channel_by_day as (
    select
        invoice_key,
        stage_number,
        sent_date,
        min(channel) as channel
    from events
    group by invoice_key, stage_number, sent_date
),

entered as (
    select
        entries.month_end_date,
        entries.segment,
        entries.stage_number,
        entries.open_at_send_amount,
        entries.is_converted,
        entries.is_progressed,
        entries.is_pending,
        coalesce(channel_by_day.channel, 'unknown') as channel,
        coalesce(customers.behaviour_segment, 'unscored')
            as behaviour_segment
    from entries
    inner join month_ends
        on entries.month_end_date = month_ends.month_end_date
    left join channel_by_day
        on
            entries.invoice_key = channel_by_day.invoice_key
            and entries.stage_number = channel_by_day.stage_number
            and entries.sent_date = channel_by_day.sent_date
    left join customers
        on
            entries.customer_id = customers.customer_id
            and customers.valid_from_date
            <= cast(date_trunc('month', entries.sent_date) as date) - 1
            and customers.valid_to_date
            > cast(date_trunc('month', entries.sent_date) as date) - 1
    where entries.is_open_at_send
),

base as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        stage_number,
        channel,
        count(*) as count_entered,
        sum(open_at_send_amount) as entered_amount,
        count(*) filter (where is_converted) as count_converted,
        coalesce(
            sum(open_at_send_amount) filter (where is_converted), 0
        ) as converted_amount,
        count(*) filter (where is_progressed) as count_progressed,
        count(*) filter (where is_pending) as count_pending
    from entered
    group by
        month_end_date, segment, behaviour_segment, stage_number, channel
),

rollups as (
    select
        flags.is_all_segments,
        flags.is_all_behaviours,
        flags.is_all_channels
    from (
        values
        (false, false, false),
        (false, false, true),
        (false, true, false),
        (false, true, true),
        (true, false, false),
        (true, false, true),
        (true, true, false),
        (true, true, true)
    ) as flags (is_all_segments, is_all_behaviours, is_all_channels)
),

expanded as (
    select
        base.month_end_date,
        base.stage_number,
        base.count_entered,
        base.entered_amount,
        base.count_converted,
        base.converted_amount,
        base.count_progressed,
        base.count_pending,
        case
            when rollups.is_all_segments then 'all' else base.segment
        end as segment,
        case
            when rollups.is_all_behaviours then 'all'
            else base.behaviour_segment
        end as behaviour_segment,
        case
            when rollups.is_all_channels then 'all' else base.channel
        end as channel
    from base
    cross join rollups
),

combined as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        stage_number,
        channel,
        sum(count_entered) as count_entered,
        sum(entered_amount) as entered_amount,
        sum(count_converted) as count_converted,
        sum(converted_amount) as converted_amount,
        sum(count_progressed) as count_progressed,
        sum(count_pending) as count_pending
    from expanded
    group by
        month_end_date, segment, behaviour_segment, stage_number, channel
),

final as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        stage_number,
        channel,
        cast(count_entered as bigint) as count_entered,
        cast(entered_amount as decimal(18, 2)) as entered_amount,
        cast(count_converted as bigint) as count_converted,
        cast(converted_amount as decimal(18, 2)) as converted_amount,
        cast(count_progressed as bigint) as count_progressed,
        cast(count_pending as bigint) as count_pending,
        100.0 * count_converted / count_entered as conversion_pct,
        100.0 * cast(converted_amount as double)
        / cast(nullif(entered_amount, 0) as double)
            as conversion_amount_pct,
        100.0 * count_progressed / count_entered as progression_pct
    from combined
)

select * from final
