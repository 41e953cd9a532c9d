-- model: int_customer_lifespans
-- grain: one row per customer
-- keys: customer_id
-- depends_on: stg_customers, int_dunning_events, int_invoices_converted,
--   int_ledger_bounds
-- notes: start_date = the earlier of created_date and the first invoice's
--   issue date (the ledger's first activity when neither is known).
--   last_dunning_before_churn_date = the last event of stage >= 1 sent on or
--   before churned_date. is_involuntary_churn (DESIGN.md): churned within
--   involuntary_churn_window_days (setting) after that event, or
--   churn_reason = non_payment; null when the customer has not churned.

with

customers as (
    select * from stg_customers
),

events as (
    select * from int_dunning_events
),

invoices as (
    select * from int_invoices_converted
),

bounds as (
    select * from int_ledger_bounds
),

first_invoices as (
    select
        customer_id,
        min(issue_date) as first_issue_date
    from invoices
    group by customer_id
),

churned as (
    select
        customer_id,
        churned_date
    from customers
    where churned_date is not null
),

last_dunning as (
    select
        churned.customer_id,
        max(events.sent_date) as last_dunning_before_churn_date
    from events
    inner join invoices on events.invoice_key = invoices.invoice_key
    inner join churned on invoices.customer_id = churned.customer_id
    where
        events.stage_number >= 1
        and events.sent_date <= churned.churned_date
    group by churned.customer_id
),

final as (
    select
        customers.customer_id,
        customers.segment,
        customers.customer_name,
        customers.customer_type,
        customers.country_code,
        customers.payment_terms_days,
        customers.created_date,
        first_invoices.first_issue_date,
        coalesce(
            least(customers.created_date, first_invoices.first_issue_date),
            bounds.first_activity_date,
            date '0001-01-01'
        ) as start_date,
        customers.churned_date,
        customers.churn_reason,
        last_dunning.last_dunning_before_churn_date,
        case
            when customers.churned_date is null then null
            else
                coalesce(customers.churn_reason = 'non_payment', false)
                or coalesce(
                    date_diff(
                        'day',
                        last_dunning.last_dunning_before_churn_date,
                        customers.churned_date
                    ) <= getvariable('involuntary_churn_window_days'),
                    false
                )
        end as is_involuntary_churn
    from customers
    left join first_invoices
        on customers.customer_id = first_invoices.customer_id
    left join last_dunning on customers.customer_id = last_dunning.customer_id
    left join bounds on true
)

select * from final
