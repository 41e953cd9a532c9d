-- model: fct_dash_overdue_customers
-- grain: one row per customer with at least one overdue open invoice at the
--   as-of date (the end of the ledger)
-- keys: customer_id
-- depends_on: fct_invoice_lifecycle, dim_customers, stg_customers
-- notes: overdue = open amount > 0 and due date before the as-of date.
--   overdue_amount = sum of those open amounts (reporting currency);
--   max_days_past_due = as-of date - the oldest such due date. Behaviour
--   segment, late ratio and weighted days late are the customer's latest
--   dim_customers row (is_current). customer_name comes from master data;
--   the dashboard shows it only when a setting allows names.

with

lifecycle as (
    select * from fct_invoice_lifecycle
),

customers as (
    select * from dim_customers
),

master as (
    select * from stg_customers
),

overdue as (
    select
        customer_id,
        any_value(segment) as segment,
        max(as_of_date) as as_of_date,
        count(*) as count_overdue_invoices,
        sum(open_amount) as overdue_amount,
        max(date_diff('day', due_date, as_of_date)) as max_days_past_due,
        max(highest_stage_number) as highest_stage_number
    from lifecycle
    where open_amount > 0 and due_date < as_of_date
    group by customer_id
),

latest as (
    select
        customer_id,
        behaviour_segment,
        late_ratio,
        weighted_days_late
    from customers
    qualify
        row_number() over (
            partition by customer_id order by valid_from_date desc
        ) = 1
),

final as (
    select
        overdue.customer_id,
        master.customer_name,
        overdue.segment,
        overdue.as_of_date,
        cast(overdue.count_overdue_invoices as bigint)
            as count_overdue_invoices,
        cast(overdue.overdue_amount as decimal(18, 2)) as overdue_amount,
        cast(overdue.max_days_past_due as integer) as max_days_past_due,
        overdue.highest_stage_number,
        coalesce(latest.behaviour_segment, 'unscored') as behaviour_segment,
        latest.late_ratio,
        latest.weighted_days_late
    from overdue
    left join latest on overdue.customer_id = latest.customer_id
    left join master on overdue.customer_id = master.customer_id
)

select * from final
