-- model: fct_stage_response_cases
-- grain: one row per invoice per dunning stage planned or sent for it,
--   for invoices still open at the start of the stage's observation window
-- keys: invoice_id, stage_number
-- zstd_columns: invoice_id, customer_id
-- depends_on: int_invoice_facts, int_dunning_events, stg_ladder_stages,
--   dim_customers
-- notes: the cases of the response analysis (docs/ladder.md), an
--   intention-to-treat design: a stage's cohort is every invoice open
--   pre_days (7) before the stage's send, whether it was then sent or
--   (settled meanwhile) not, so the days before the send give an unbiased
--   baseline. The plan: the ladder version in force on the invoice's due
--   date (stg_ladder_stages: greatest effective_date <= due_date, ties the
--   greatest version; the segment's own stages, else the default '*');
--   when no version is in force, the ladder inferred from the log (per
--   segment and stage: median sent - due offset, most frequent channel, ties
--   by name). Planned cases settled before their window are dropped early
--   (they cannot be in the cohort). ladder_version, planned_* and
--   send_delay_days of a sent case come from the version in force on the
--   send date (planned offset null: that version has no such stage); of an
--   unsent case from the version in force on the due date.
--   anchor_date = the stage's first send, else due + planned offset;
--   channel = sent, else planned. Cases whose anchor is before the issue
--   date are left out. Window: start = max(anchor - 7, issue date), the
--   invoice open at its start; end = the first of settled date, the next
--   higher stage's first send (its lift starts the day after), anchor +
--   post_days (30), as-of date. is_settled_in_window: settled by payment
--   on end_date (credit notes and write-offs end the window censored).
--   start_day / end_day: days relative to the anchor. behaviour_segment:
--   the customer's score at the month end before the anchor's month
--   (the dim_customers change point holding then)
--   ('unscored' when none). next_stage_sent_date and settled_date are not
--   windowed (fct_stage_competing follows each case to the as-of date).
--   send_delay_days = sent - planned offset (null: not sent or no plan);
--   is_skipped: not sent although open on the planned day and a higher
--   stage was sent later (fct_guardrail_findings has the event view).

--   Joins on the integer invoice_key (int_invoice_facts, int_dunning_events:
--   the same invoices and events as fct_invoice_lifecycle and
--   stg_dunning_events; events on unknown invoices never reached a case:
--   the join of the cases to their invoices drops them). The first sends
--   and the cases carry only the key, the dates and the few columns the
--   windows need; the invoice's text columns (invoice_id, customer_id,
--   segment, settled_by) are joined once, to the eligible cases (sixth
--   pass, bench/README.md).
with

invoices as (
    select * from int_invoice_facts
),

events as (
    select * from int_dunning_events
),

ladder_stages as (
    select * from stg_ladder_stages
),

customers as (
    select * from dim_customers
),

-- the same two numbers are written out in `windowed` (1.7M cases: a cross
-- join with params costs about 0.15 CPU-s at 1M there); keep both in step.
-- The plan filters keep the cross join: literals there measured dearer
-- (4.00 -> 4.25 CPU-s at 1M; bench/README.md, sixth pass)
params as (
    select
        7 as pre_days,
        30 as post_days
),

ranked_events as (
    select
        invoice_key,
        stage_number,
        sent_date,
        channel,
        experiment_variant,
        row_number() over (
            partition by invoice_key, stage_number
            order by sent_date, event_id
        ) as send_rank
    from events
),

first_sends as (
    select
        invoice_key,
        stage_number,
        sent_date,
        channel,
        experiment_variant
    from ranked_events
    where send_rank = 1
),

observed_sends as (
    select
        invoices.segment,
        first_sends.stage_number,
        first_sends.channel,
        date_diff('day', invoices.due_date, first_sends.sent_date)
            as due_offset_days
    from first_sends
    inner join invoices on first_sends.invoice_key = invoices.invoice_key
),

observed_offsets as (
    select
        segment,
        stage_number,
        cast(round(median(due_offset_days)) as integer) as due_offset_days
    from observed_sends
    group by segment, stage_number
),

observed_channels as (
    select
        segment,
        stage_number,
        channel,
        row_number() over (
            partition by segment, stage_number
            order by count(*) desc, channel
        ) as channel_rank
    from observed_sends
    group by segment, stage_number, channel
),

observed_plan as (
    select
        observed_offsets.segment,
        observed_offsets.stage_number,
        observed_offsets.due_offset_days,
        observed_channels.channel
    from observed_offsets
    inner join observed_channels
        on
            observed_offsets.segment = observed_channels.segment
            and observed_offsets.stage_number = observed_channels.stage_number
    where observed_channels.channel_rank = 1
),

versions as (
    select distinct
        ladder_version,
        effective_date
    from ladder_stages
),

version_candidates as (
    select
        invoices.invoice_key,
        invoices.segment,
        invoices.due_date,
        invoices.settled_date,
        versions.ladder_version,
        row_number() over (
            partition by invoices.invoice_key
            order by versions.effective_date desc, versions.ladder_version desc
        ) as version_rank
    from invoices
    inner join versions on invoices.due_date >= versions.effective_date
),

invoice_versions as (
    select * from version_candidates
    where version_rank = 1
),

version_segments as (
    select distinct
        ladder_version,
        segment
    from ladder_stages
    where segment <> '*'
),

stored_plan as (
    select
        iv.invoice_key,
        ls.ladder_version,
        ls.stage_number,
        ls.due_offset_days,
        ls.channel
    from invoice_versions as iv
    left join version_segments as vs
        on
            iv.ladder_version = vs.ladder_version
            and iv.segment = vs.segment
    inner join ladder_stages as ls
        on
            iv.ladder_version = ls.ladder_version
            and coalesce(vs.segment, '*') = ls.segment
    cross join params
    where
        coalesce(
            iv.settled_date
            >= iv.due_date + ls.due_offset_days - params.pre_days,
            true
        )
),

inferred_plan as (
    select
        invoices.invoice_key,
        cast(null as integer) as ladder_version,
        observed_plan.stage_number,
        observed_plan.due_offset_days,
        observed_plan.channel
    from invoices
    inner join observed_plan on invoices.segment = observed_plan.segment
    left join invoice_versions as iv on invoices.invoice_key = iv.invoice_key
    cross join params
    where
        iv.invoice_key is null
        and coalesce(
            invoices.settled_date
            >= invoices.due_date
            + observed_plan.due_offset_days
            - params.pre_days,
            true
        )
),

plan as (
    select * from stored_plan
    union all
    select * from inferred_plan
),

anchored as (
    select
        coalesce(plan.invoice_key, first_sends.invoice_key) as invoice_key,
        coalesce(plan.stage_number, first_sends.stage_number) as stage_number,
        plan.ladder_version,
        plan.due_offset_days as planned_due_offset_days,
        plan.channel as planned_channel,
        first_sends.sent_date,
        first_sends.channel as sent_channel,
        first_sends.experiment_variant
    from plan
    full outer join first_sends
        on
            plan.invoice_key = first_sends.invoice_key
            and plan.stage_number = first_sends.stage_number
),

cases as (
    select
        anchored.*,
        invoices.issue_date,
        invoices.due_date,
        invoices.settled_date,
        invoices.as_of_date,
        coalesce(
            anchored.sent_date,
            invoices.due_date + anchored.planned_due_offset_days
        ) as anchor_date
    from anchored
    inner join invoices on anchored.invoice_key = invoices.invoice_key
),

windowed as (
    select
        cases.*,
        -- params.pre_days (7) and params.post_days (30) written out (see
        -- params): a cross join of every case with params costs a pass
        greatest(cases.anchor_date - 7, cases.issue_date)
            as window_start_date,
        cases.anchor_date + 30 as window_last_date
    from cases
    where cases.anchor_date >= cases.issue_date
),

eligible as (
    select * from windowed
    where
        window_start_date <= as_of_date
        and coalesce(settled_date >= window_start_date, true)
),

next_sends as (
    select
        eligible.invoice_key,
        eligible.stage_number,
        min(first_sends.sent_date) as next_stage_sent_date
    from eligible
    inner join first_sends
        on
            eligible.invoice_key = first_sends.invoice_key
            and eligible.stage_number < first_sends.stage_number
            and eligible.window_start_date <= first_sends.sent_date
    group by eligible.invoice_key, eligible.stage_number
),

ended as (
    select
        eligible.*,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.segment,
        invoices.settled_by,
        coalesce(eligible.sent_channel, eligible.planned_channel) as channel,
        next_sends.next_stage_sent_date,
        least(
            coalesce(eligible.settled_date, eligible.as_of_date),
            coalesce(next_sends.next_stage_sent_date, eligible.as_of_date),
            eligible.window_last_date,
            eligible.as_of_date
        ) as window_end_date
    from eligible
    inner join invoices on eligible.invoice_key = invoices.invoice_key
    left join next_sends
        on
            eligible.invoice_key = next_sends.invoice_key
            and eligible.stage_number = next_sends.stage_number
),

sent_versions as (
    select
        first_sends.invoice_key,
        first_sends.stage_number,
        versions.ladder_version,
        row_number() over (
            partition by first_sends.invoice_key, first_sends.stage_number
            order by versions.effective_date desc, versions.ladder_version desc
        ) as version_rank
    from first_sends
    inner join versions on first_sends.sent_date >= versions.effective_date
),

sent_plan as (
    select
        sv.invoice_key,
        sv.stage_number,
        sv.ladder_version,
        ls.due_offset_days,
        ls.channel
    from sent_versions as sv
    inner join invoices on sv.invoice_key = invoices.invoice_key
    left join version_segments as vs
        on
            sv.ladder_version = vs.ladder_version
            and invoices.segment = vs.segment
    left join ladder_stages as ls
        on
            sv.ladder_version = ls.ladder_version
            and sv.stage_number = ls.stage_number
            and coalesce(vs.segment, '*') = ls.segment
    where sv.version_rank = 1
),

planned as (
    select
        ended.*,
        coalesce(customers.behaviour_segment, 'unscored')
            as behaviour_segment,
        case
            when sent_plan.invoice_key is not null
                then sent_plan.ladder_version
            else ended.ladder_version
        end as plan_version,
        case
            when sent_plan.invoice_key is not null
                then sent_plan.due_offset_days
            else ended.planned_due_offset_days
        end as plan_offset_days,
        case
            when sent_plan.invoice_key is not null then sent_plan.channel
            else ended.planned_channel
        end as plan_channel
    from ended
    left join customers
        on
            ended.customer_id = customers.customer_id
            and customers.valid_from_date
            <= cast(date_trunc('month', ended.anchor_date) as date) - 1
            and customers.valid_to_date
            > cast(date_trunc('month', ended.anchor_date) as date) - 1
    left join sent_plan
        on
            ended.invoice_key = sent_plan.invoice_key
            and ended.stage_number = sent_plan.stage_number
),

final as (
    select
        ended.invoice_id,
        cast(ended.stage_number as integer) as stage_number,
        ended.customer_id,
        ended.segment,
        ended.behaviour_segment,
        cast(ended.plan_version as integer) as ladder_version,
        cast(ended.plan_offset_days as integer) as planned_due_offset_days,
        ended.plan_channel as planned_channel,
        ended.sent_date is not null as is_sent,
        ended.sent_date,
        cast(date_diff('day', ended.due_date, ended.sent_date) as integer)
            as sent_due_offset_days,
        cast(
            date_diff('day', ended.due_date, ended.sent_date)
            - ended.plan_offset_days
            as integer
        ) as send_delay_days,
        coalesce(
            ended.sent_date is null
            and ended.next_stage_sent_date is not null
            and coalesce(ended.settled_date > ended.anchor_date, true),
            false
        ) as is_skipped,
        ended.channel,
        ended.experiment_variant,
        ended.due_date,
        ended.anchor_date,
        ended.window_start_date,
        ended.window_end_date,
        cast(
            date_diff('day', ended.anchor_date, ended.window_start_date)
            as integer
        )
            as start_day,
        cast(
            date_diff('day', ended.anchor_date, ended.window_end_date)
            as integer
        ) as end_day,
        coalesce(
            ended.settled_by = 'payment'
            and ended.settled_date = ended.window_end_date,
            false
        ) as is_settled_in_window,
        ended.next_stage_sent_date,
        ended.settled_date,
        ended.settled_by,
        ended.as_of_date
    from planned as ended
)

select * from final
