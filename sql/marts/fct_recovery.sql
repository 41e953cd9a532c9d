-- model: fct_recovery
-- grain: one row per month end of the due date (the cohort) per segment,
--   plus segment 'all'
-- keys: month_end_date, segment
-- depends_on: int_invoice_facts, int_invoice_balance_intervals,
--   int_stage_entries, int_month_ends, stg_customers
-- notes: overdue case = invoice still open the day after its due date
--   (not settled on or before due), with due_date in the cohort month and
--   before the as-of date. overdue_amount = open amount at the end of the
--   due date. recovered_<h>d_amount = payments dated in (due, due + h],
--   capped per case at what was still owed: overdue amount minus credit
--   notes in (due, due + h] (an overpayment is not recovery, a credit note
--   reduces the claim); null unless the horizon is fully observed for the
--   whole cohort (month end + h <= as-of date). Closed cases (settled by
--   the as-of date): closed_case_recovery_pct = recovered / (recovered +
--   written off) * 100, with recovered = payments after due capped as
--   above, written off = write-offs after due capped at the rest; credit
--   notes are neither. Agency: handover = first collection_agency event;
--   handed_over_amount = open amount at the start of that day (the
--   invoice amount when handed over on the issue date);
--   agency_recovered_amount = payments on or after it, capped at that.
--   Fee yield = dunning fees charged on cases later settled by payment /
--   fees charged on all overdue cases * 100.

with

facts as (
    select * from int_invoice_facts
),

movements as (
    select
        *,
        valid_from_date as movement_date
    from int_invoice_balance_intervals
),

intervals as (
    select * from int_invoice_balance_intervals
),

entries as (
    select * from int_stage_entries
),

month_ends as (
    select * from int_month_ends
),

segments as (
    select distinct segment from stg_customers
),

cases as (
    select
        facts.invoice_key,
        facts.segment,
        cast(last_day(facts.due_date) as date) as month_end_date,
        facts.due_date,
        facts.settled_date,
        facts.settled_by,
        facts.invoice_amount,
        facts.open_at_due_amount as overdue_amount
    from facts
    where
        facts.due_date < facts.as_of_date
        and coalesce(facts.settled_date > facts.due_date, true)
),

dunning as (
    select
        entries.invoice_key,
        min(entries.first_agency_sent_date) as handover_date,
        sum(entries.fee_amount) as fee_amount
    from entries
    inner join cases on entries.invoice_key = cases.invoice_key
    group by entries.invoice_key
),

case_movements as (
    select
        cases.invoice_key,
        coalesce(sum(movements.paid_amount) filter (
            where movements.movement_date <= cases.due_date + 30
        ), 0) as paid_30d_amount,
        coalesce(sum(movements.paid_amount) filter (
            where movements.movement_date <= cases.due_date + 60
        ), 0) as paid_60d_amount,
        coalesce(sum(movements.paid_amount) filter (
            where movements.movement_date <= cases.due_date + 90
        ), 0) as paid_90d_amount,
        coalesce(sum(movements.paid_amount) filter (
            where movements.movement_date <= cases.due_date + 180
        ), 0) as paid_180d_amount,
        coalesce(sum(movements.credited_amount) filter (
            where movements.movement_date <= cases.due_date + 30
        ), 0) as credited_30d_amount,
        coalesce(sum(movements.credited_amount) filter (
            where movements.movement_date <= cases.due_date + 60
        ), 0) as credited_60d_amount,
        coalesce(sum(movements.credited_amount) filter (
            where movements.movement_date <= cases.due_date + 90
        ), 0) as credited_90d_amount,
        coalesce(sum(movements.credited_amount) filter (
            where movements.movement_date <= cases.due_date + 180
        ), 0) as credited_180d_amount,
        coalesce(sum(movements.credited_amount), 0)
            as credited_after_due_amount,
        coalesce(sum(movements.paid_amount), 0) as paid_after_due_amount,
        coalesce(sum(movements.written_off_amount), 0)
            as written_off_after_due_amount,
        coalesce(sum(movements.paid_amount) filter (
            where movements.movement_date >= dunning.handover_date
        ), 0) as paid_after_handover_amount
    from cases
    inner join movements
        on
            cases.invoice_key = movements.invoice_key
            and cases.due_date < movements.movement_date
    left join dunning on cases.invoice_key = dunning.invoice_key
    group by cases.invoice_key
),

handed_over as (
    select
        cases.invoice_key,
        coalesce(intervals.open_amount, cases.invoice_amount)
            as handed_over_amount
    from cases
    inner join dunning on cases.invoice_key = dunning.invoice_key
    left join intervals
        on
            cases.invoice_key = intervals.invoice_key
            and dunning.handover_date > intervals.valid_from_date
            and dunning.handover_date <= intervals.valid_to_date
    where dunning.handover_date is not null
),

per_case as (
    select
        cases.*,
        coalesce(dunning.fee_amount, 0) as fee_amount,
        least(
            coalesce(m.paid_30d_amount, 0),
            greatest(
                cases.overdue_amount - coalesce(m.credited_30d_amount, 0), 0
            )
        ) as recovered_30d_amount,
        least(
            coalesce(m.paid_60d_amount, 0),
            greatest(
                cases.overdue_amount - coalesce(m.credited_60d_amount, 0), 0
            )
        ) as recovered_60d_amount,
        least(
            coalesce(m.paid_90d_amount, 0),
            greatest(
                cases.overdue_amount - coalesce(m.credited_90d_amount, 0), 0
            )
        ) as recovered_90d_amount,
        least(
            coalesce(m.paid_180d_amount, 0),
            greatest(
                cases.overdue_amount - coalesce(m.credited_180d_amount, 0), 0
            )
        ) as recovered_180d_amount,
        least(
            coalesce(m.paid_after_due_amount, 0),
            greatest(
                cases.overdue_amount
                - coalesce(m.credited_after_due_amount, 0),
                0
            )
        ) as recovered_amount,
        coalesce(m.credited_after_due_amount, 0)
            as credited_after_due_amount,
        coalesce(m.written_off_after_due_amount, 0)
            as written_off_after_due_amount,
        coalesce(handed_over.handed_over_amount, 0) as handed_over_amount,
        least(
            coalesce(m.paid_after_handover_amount, 0),
            coalesce(handed_over.handed_over_amount, 0)
        ) as agency_recovered_amount
    from cases
    left join case_movements as m on cases.invoice_key = m.invoice_key
    left join dunning on cases.invoice_key = dunning.invoice_key
    left join handed_over on cases.invoice_key = handed_over.invoice_key
),

by_segment_cases as (
    select
        month_end_date,
        segment,
        count(*) as count_overdue_cases,
        sum(overdue_amount) as overdue_amount,
        sum(recovered_30d_amount) as recovered_30d_amount,
        sum(recovered_60d_amount) as recovered_60d_amount,
        sum(recovered_90d_amount) as recovered_90d_amount,
        sum(recovered_180d_amount) as recovered_180d_amount,
        count(*) filter (where settled_date is not null)
            as count_closed_cases,
        coalesce(
            sum(recovered_amount) filter (where settled_date is not null), 0
        ) as closed_recovered_amount,
        coalesce(
            sum(
                least(
                    written_off_after_due_amount,
                    greatest(
                        overdue_amount - credited_after_due_amount
                        - recovered_amount,
                        0
                    )
                )
            ) filter (where settled_date is not null),
            0
        ) as closed_written_off_amount,
        count(*) filter (where handed_over_amount > 0)
            as count_handed_over,
        sum(handed_over_amount) as handed_over_amount,
        sum(agency_recovered_amount) as agency_recovered_amount,
        sum(fee_amount) as fee_charged_amount,
        coalesce(
            sum(fee_amount) filter (where settled_by = 'payment'), 0
        ) as fee_on_paid_cases_amount
    from per_case
    group by month_end_date, segment
),

grid as (
    select
        month_ends.month_end_date,
        month_ends.as_of_date,
        segments.segment
    from month_ends
    cross join segments
),

by_segment as (
    select
        grid.month_end_date,
        grid.segment,
        grid.as_of_date,
        coalesce(c.count_overdue_cases, 0) as count_overdue_cases,
        coalesce(c.overdue_amount, 0) as overdue_amount,
        coalesce(c.recovered_30d_amount, 0) as recovered_30d_amount,
        coalesce(c.recovered_60d_amount, 0) as recovered_60d_amount,
        coalesce(c.recovered_90d_amount, 0) as recovered_90d_amount,
        coalesce(c.recovered_180d_amount, 0) as recovered_180d_amount,
        coalesce(c.count_closed_cases, 0) as count_closed_cases,
        coalesce(c.closed_recovered_amount, 0) as closed_recovered_amount,
        coalesce(c.closed_written_off_amount, 0)
            as closed_written_off_amount,
        coalesce(c.count_handed_over, 0) as count_handed_over,
        coalesce(c.handed_over_amount, 0) as handed_over_amount,
        coalesce(c.agency_recovered_amount, 0) as agency_recovered_amount,
        coalesce(c.fee_charged_amount, 0) as fee_charged_amount,
        coalesce(c.fee_on_paid_cases_amount, 0) as fee_on_paid_cases_amount
    from grid
    left join by_segment_cases as c
        on
            grid.month_end_date = c.month_end_date
            and grid.segment = c.segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        any_value(as_of_date) as as_of_date,
        sum(count_overdue_cases) as count_overdue_cases,
        sum(overdue_amount) as overdue_amount,
        sum(recovered_30d_amount) as recovered_30d_amount,
        sum(recovered_60d_amount) as recovered_60d_amount,
        sum(recovered_90d_amount) as recovered_90d_amount,
        sum(recovered_180d_amount) as recovered_180d_amount,
        sum(count_closed_cases) as count_closed_cases,
        sum(closed_recovered_amount) as closed_recovered_amount,
        sum(closed_written_off_amount) as closed_written_off_amount,
        sum(count_handed_over) as count_handed_over,
        sum(handed_over_amount) as handed_over_amount,
        sum(agency_recovered_amount) as agency_recovered_amount,
        sum(fee_charged_amount) as fee_charged_amount,
        sum(fee_on_paid_cases_amount) as fee_on_paid_cases_amount
    from by_segment
    group by month_end_date
),

observed as (
    select
        *,
        month_end_date + 30 <= as_of_date as is_30d_observed,
        month_end_date + 60 <= as_of_date as is_60d_observed,
        month_end_date + 90 <= as_of_date as is_90d_observed,
        month_end_date + 180 <= as_of_date as is_180d_observed
    from combined
),

final as (
    select
        month_end_date,
        segment,
        cast(count_overdue_cases as bigint) as count_overdue_cases,
        cast(overdue_amount as decimal(18, 2)) as overdue_amount,
        case
            when is_30d_observed
                then cast(recovered_30d_amount as decimal(18, 2))
        end as recovered_30d_amount,
        case
            when is_60d_observed
                then cast(recovered_60d_amount as decimal(18, 2))
        end as recovered_60d_amount,
        case
            when is_90d_observed
                then cast(recovered_90d_amount as decimal(18, 2))
        end as recovered_90d_amount,
        case
            when is_180d_observed
                then cast(recovered_180d_amount as decimal(18, 2))
        end as recovered_180d_amount,
        case
            when is_30d_observed
                then
                    100.0 * cast(recovered_30d_amount as double)
                    / cast(nullif(overdue_amount, 0) as double)
        end as recovery_30d_pct,
        case
            when is_60d_observed
                then
                    100.0 * cast(recovered_60d_amount as double)
                    / cast(nullif(overdue_amount, 0) as double)
        end as recovery_60d_pct,
        case
            when is_90d_observed
                then
                    100.0 * cast(recovered_90d_amount as double)
                    / cast(nullif(overdue_amount, 0) as double)
        end as recovery_90d_pct,
        case
            when is_180d_observed
                then
                    100.0 * cast(recovered_180d_amount as double)
                    / cast(nullif(overdue_amount, 0) as double)
        end as recovery_180d_pct,
        cast(count_closed_cases as bigint) as count_closed_cases,
        cast(closed_recovered_amount as decimal(18, 2))
            as closed_recovered_amount,
        cast(closed_written_off_amount as decimal(18, 2))
            as closed_written_off_amount,
        100.0 * cast(closed_recovered_amount as double)
        / cast(
            nullif(closed_recovered_amount + closed_written_off_amount, 0)
            as double
        ) as closed_case_recovery_pct,
        cast(count_handed_over as bigint) as count_handed_over,
        cast(handed_over_amount as decimal(18, 2)) as handed_over_amount,
        cast(agency_recovered_amount as decimal(18, 2))
            as agency_recovered_amount,
        100.0 * cast(agency_recovered_amount as double)
        / cast(nullif(handed_over_amount, 0) as double)
            as agency_recovery_pct,
        cast(fee_charged_amount as decimal(18, 2)) as fee_charged_amount,
        cast(fee_on_paid_cases_amount as decimal(18, 2))
            as fee_on_paid_cases_amount,
        100.0 * cast(fee_on_paid_cases_amount as double)
        / cast(nullif(fee_charged_amount, 0) as double) as fee_yield_pct
    from observed
)

select * from final
