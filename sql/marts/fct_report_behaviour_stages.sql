-- model: fct_report_behaviour_stages
-- grain: one row per month end (the month the invoices fell due) per
--   segment per behaviour segment per dunning stage, plus segment 'all'
-- keys: month_end_date, segment, behaviour_segment, stage_number
-- depends_on: fct_invoice_lifecycle, dim_customers, fct_dso_monthly
-- notes: how far invoices of each payer behaviour got up the ladder, for
--   the dunning-effectiveness notebook. Invoices are grouped by the month
--   of their due date (complete month ends only) and by the customer's
--   behaviour segment at the month end before that month (the
--   dim_customers change point holding then; no look-ahead; 'unscored'
--   when there is none yet). count_invoices_due = invoices due
--   in the month; count_reached = those with a stage-k send (first send,
--   fct_invoice_lifecycle.stage_k_sent_date); reached_pct = reached / due *
--   100. count_settled_30d_after_send = reached invoices settled (by any
--   means) within 30 days after the stage-k send; settled_30d_after_send_pct
--   = that / reached * 100 (null when none reached). This is a response
--   share, not the pinned stage conversion of fct_stage_conversion (which
--   stops at the next stage's send).

with

lifecycle as (
    select * from fct_invoice_lifecycle
),

customers as (
    select * from dim_customers
),

dso as (
    select * from fct_dso_monthly
),

month_ends as (
    select distinct month_end_date from dso
),

stages as (
    select numbers.stage_number
    from (values (0), (1), (2), (3), (4), (5)) as numbers (stage_number)
),

invoices as (
    select
        lifecycle.invoice_id,
        lifecycle.segment,
        lifecycle.settled_date,
        lifecycle.stage_0_sent_date,
        lifecycle.stage_1_sent_date,
        lifecycle.stage_2_sent_date,
        lifecycle.stage_3_sent_date,
        lifecycle.stage_4_sent_date,
        lifecycle.stage_5_sent_date,
        cast(last_day(lifecycle.due_date) as date) as month_end_date,
        coalesce(customers.behaviour_segment, 'unscored')
            as behaviour_segment
    from lifecycle
    left join customers
        on
            lifecycle.customer_id = customers.customer_id
            and customers.valid_from_date
            <= cast(date_trunc('month', lifecycle.due_date) as date) - 1
            and customers.valid_to_date
            > cast(date_trunc('month', lifecycle.due_date) as date) - 1
),

-- counted per invoice group first, each stage in its own columns, then
-- unpivoted: the same counts as a row per invoice per stage, without the
-- 6-rows-per-invoice cross join
per_group as (
    select
        invoices.month_end_date,
        invoices.segment,
        invoices.behaviour_segment,
        count(*) as count_invoices_due,
        count(invoices.stage_0_sent_date) as count_reached_0,
        count(invoices.stage_1_sent_date) as count_reached_1,
        count(invoices.stage_2_sent_date) as count_reached_2,
        count(invoices.stage_3_sent_date) as count_reached_3,
        count(invoices.stage_4_sent_date) as count_reached_4,
        count(invoices.stage_5_sent_date) as count_reached_5,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_0_sent_date
            and invoices.settled_date <= invoices.stage_0_sent_date + 30
        ) as count_settled_0,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_1_sent_date
            and invoices.settled_date <= invoices.stage_1_sent_date + 30
        ) as count_settled_1,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_2_sent_date
            and invoices.settled_date <= invoices.stage_2_sent_date + 30
        ) as count_settled_2,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_3_sent_date
            and invoices.settled_date <= invoices.stage_3_sent_date + 30
        ) as count_settled_3,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_4_sent_date
            and invoices.settled_date <= invoices.stage_4_sent_date + 30
        ) as count_settled_4,
        count(*) filter (
            where
            invoices.settled_date >= invoices.stage_5_sent_date
            and invoices.settled_date <= invoices.stage_5_sent_date + 30
        ) as count_settled_5
    from invoices
    inner join month_ends
        on invoices.month_end_date = month_ends.month_end_date
    group by
        invoices.month_end_date, invoices.segment, invoices.behaviour_segment
),

by_segment as (
    select
        per_group.month_end_date,
        per_group.segment,
        per_group.behaviour_segment,
        stages.stage_number,
        per_group.count_invoices_due,
        case stages.stage_number
            when 0 then per_group.count_reached_0
            when 1 then per_group.count_reached_1
            when 2 then per_group.count_reached_2
            when 3 then per_group.count_reached_3
            when 4 then per_group.count_reached_4
            when 5 then per_group.count_reached_5
        end as count_reached,
        case stages.stage_number
            when 0 then per_group.count_settled_0
            when 1 then per_group.count_settled_1
            when 2 then per_group.count_settled_2
            when 3 then per_group.count_settled_3
            when 4 then per_group.count_settled_4
            when 5 then per_group.count_settled_5
        end as count_settled_30d_after_send
    from per_group
    cross join stages
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        behaviour_segment,
        stage_number,
        sum(count_invoices_due) as count_invoices_due,
        sum(count_reached) as count_reached,
        sum(count_settled_30d_after_send) as count_settled_30d_after_send
    from by_segment
    group by month_end_date, behaviour_segment, stage_number
),

final as (
    select
        month_end_date,
        segment,
        behaviour_segment,
        stage_number,
        cast(count_invoices_due as bigint) as count_invoices_due,
        cast(count_reached as bigint) as count_reached,
        cast(count_settled_30d_after_send as bigint)
            as count_settled_30d_after_send,
        100.0 * count_reached / count_invoices_due as reached_pct,
        100.0 * count_settled_30d_after_send / nullif(count_reached, 0)
            as settled_30d_after_send_pct
    from combined
    where count_reached > 0 or stage_number <= 1
)

select * from final
