-- model: int_customer_history_deltas
-- grain: one row per customer per month end in which their payment history
--   changed
-- keys: customer_id, month_end_date
-- keys_unique_by: construction
-- depends_on: int_invoice_facts, int_stage_entries,
--   int_customer_lifespans
-- notes: monthly changes whose running sums give, at a month end t, the
--   customer's history up to t (no look-ahead). An invoice is scored once
--   its outcome is known: on its settled date when settled on or before
--   due (on time), else from due + 1 (late). A late invoice adds
--   amount * (min(settled, t) - due) to the weighted days late at t. That is
--   carried in two running sums: open_late_amount (amount of late invoices
--   still open) and late_weight (- amount * due when it turns late, +
--   amount * settled when it settles; epoch days from 1970-01-01), so that
--   sum(amount * days late at t) = late_weight + open_late_amount * t.
--   max_stage_number = highest dunning stage >= 1 first sent in the month
--   (on or before the churn date).

with

facts as (
    select * from int_invoice_facts
),

entries as (
    select * from int_stage_entries
),

lifespans as (
    select * from int_customer_lifespans
),

scored as (
    select
        customer_id,
        invoice_amount,
        settled_date,
        due_date,
        coalesce(settled_date <= due_date, false) as is_on_time,
        date_diff('day', date '1970-01-01', due_date) as due_epoch_days,
        case
            when settled_date <= due_date then settled_date
            else cast(due_date + 1 as date)
        end as scored_date
    from facts
),

scoring_changes as (
    select
        customer_id,
        cast(last_day(scored_date) as date) as month_end_date,
        1 as count_scored_invoices,
        invoice_amount as scored_amount,
        case when is_on_time then 0 else 1 end as count_late_invoices,
        case when is_on_time then 0 else invoice_amount end
            as open_late_amount,
        case
            when is_on_time then 0 else -invoice_amount * due_epoch_days
        end as late_weight,
        null as max_stage_number
    from scored
),

late_settlements as (
    select
        customer_id,
        cast(last_day(settled_date) as date) as month_end_date,
        0 as count_scored_invoices,
        0 as scored_amount,
        0 as count_late_invoices,
        -invoice_amount as open_late_amount,
        invoice_amount * date_diff('day', date '1970-01-01', settled_date)
            as late_weight,
        null as max_stage_number
    from scored
    where settled_date > due_date
),

stages as (
    select
        entries.customer_id,
        entries.month_end_date,
        0 as count_scored_invoices,
        0 as scored_amount,
        0 as count_late_invoices,
        0 as open_late_amount,
        0 as late_weight,
        entries.stage_number as max_stage_number
    from entries
    inner join lifespans on entries.customer_id = lifespans.customer_id
    where
        entries.stage_number >= 1
        and coalesce(entries.sent_date <= lifespans.churned_date, true)
),

changes as (
    select * from scoring_changes
    union all
    select * from late_settlements
    union all
    select * from stages
),

final as (
    select
        customer_id,
        month_end_date,
        cast(sum(count_scored_invoices) as bigint) as count_scored_invoices,
        cast(sum(scored_amount) as decimal(18, 2)) as scored_amount,
        cast(sum(count_late_invoices) as bigint) as count_late_invoices,
        cast(sum(open_late_amount) as decimal(18, 2)) as open_late_amount,
        cast(sum(late_weight) as decimal(38, 2)) as late_weight,
        max(max_stage_number) as max_stage_number
    from changes
    group by customer_id, month_end_date
)

select * from final
