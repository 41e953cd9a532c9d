-- model: int_stage_entries
-- grain: one row per invoice per dunning stage it reached
-- keys: invoice_key, stage_number
-- depends_on: int_dunning_events, int_invoice_facts,
--   int_invoice_balance_intervals
-- notes: sent_date = s_k, the first event of the stage (a repeated reminder
--   of the same stage counts once; count_events counts them all).
--   next_stage_sent_date = s_(k+1), the first send of any higher stage (a
--   skipped stage is simply absent). is_open_at_send: not settled before s_k
--   (reminders after settlement are guardrail findings, not entries).
--   Conversion window = [s_k, s_(k+1)), or [s_k, s_k + H) when no higher
--   stage followed (H = setting conversion_horizon_days). is_pending: no
--   outcome yet (open, no higher stage, window still running at the as-of
--   date). Survival: days_observed = settled (or as-of) - s_k, with
--   is_settled_observed false for censored open cases.
--   open_at_send_amount = open amount at the start of s_k (end of the day
--   before; the full invoice amount when sent on or before the issue date).
--   fee_amount = the stage's fees in the reporting currency (invoice rate).
--   is_closed_by_write_off: the invoice's settlement was a write-off.
--   experiment_variant = the smallest arm named on the stage's events (arms
--   are assigned per customer, so there is one).
--   count_events_after_settlement = the stage's events sent after the
--   settled date.

with

events as (
    select * from int_dunning_events
),

facts as not materialized (
    -- read twice (by stage and joined): two scans cost less than
    -- DuckDB copying 1M rows into a materialised CTE (pass 6)
    select * from int_invoice_facts
),

intervals as (
    select * from int_invoice_balance_intervals
),

by_stage as (
    select
        events.invoice_key,
        events.stage_number,
        min(events.sent_date) as sent_date,
        max(events.sent_date) as last_sent_date,
        count(*) as count_events,
        count(*) filter (where events.sent_date > facts.settled_date)
            as count_events_after_settlement,
        sum(events.document_fee_amount) as document_fee_amount,
        min(events.sent_date) filter (
            where events.channel = 'collection_agency'
        ) as first_agency_sent_date,
        min(events.experiment_variant) as experiment_variant
    from events
    inner join facts on events.invoice_key = facts.invoice_key
    group by events.invoice_key, events.stage_number
),

sequenced as (
    select
        *,
        lead(stage_number) over by_invoice as next_stage_number,
        min(sent_date) over (
            partition by invoice_key
            order by stage_number
            rows between 1 following and unbounded following
        ) as next_stage_sent_date,
        lag(sent_date) over by_invoice as previous_stage_sent_date
    from by_stage
    window by_invoice as (partition by invoice_key order by stage_number)
),

joined as (
    select
        sequenced.*,
        facts.customer_id,
        facts.segment,
        facts.invoice_amount,
        facts.settled_date,
        coalesce(facts.settled_by = 'write_off', false)
            as is_closed_by_write_off,
        facts.as_of_date,
        cast(
            round(sequenced.document_fee_amount * facts.fx_rate, 2)
            as decimal(18, 2)
        ) as fee_amount,
        coalesce(facts.settled_date >= sequenced.sent_date, true)
            as is_open_at_send,
        coalesce(
            sequenced.next_stage_sent_date,
            cast(
                sequenced.sent_date + getvariable('conversion_horizon_days')
                as date
            )
        ) as conversion_end_date
    from sequenced
    inner join facts on sequenced.invoice_key = facts.invoice_key
),

with_open_amount as (
    select
        joined.*,
        coalesce(intervals.open_amount, joined.invoice_amount)
            as open_at_send_amount
    from joined
    left join intervals
        on
            joined.invoice_key = intervals.invoice_key
            and joined.sent_date > intervals.valid_from_date
            and joined.sent_date <= intervals.valid_to_date
),

final as (
    select
        invoice_key,
        stage_number,
        customer_id,
        segment,
        cast(last_day(sent_date) as date) as month_end_date,
        sent_date,
        last_sent_date,
        count_events,
        count_events_after_settlement,
        experiment_variant,
        fee_amount,
        first_agency_sent_date,
        previous_stage_sent_date,
        next_stage_number,
        next_stage_sent_date,
        settled_date,
        is_closed_by_write_off,
        open_at_send_amount,
        is_open_at_send,
        is_open_at_send
        and coalesce(
            settled_date >= sent_date and settled_date < conversion_end_date,
            false
        ) as is_converted,
        next_stage_number is not null as is_progressed,
        is_open_at_send
        and settled_date is null
        and next_stage_sent_date is null
        and sent_date + getvariable('conversion_horizon_days') - 1
        > as_of_date as is_pending,
        case
            when is_open_at_send
                then
                    date_diff(
                        'day', sent_date, coalesce(settled_date, as_of_date)
                    )
        end as days_observed,
        is_open_at_send and settled_date is not null as is_settled_observed
    from with_open_amount
)

select * from final
