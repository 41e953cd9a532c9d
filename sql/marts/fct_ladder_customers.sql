-- model: fct_ladder_customers
-- grain: one row per customer with at least one invoice
-- keys: customer_id
-- depends_on: fct_invoice_lifecycle, stg_customers,
--   int_invoices_converted, int_dunning_events, dim_customers
-- notes: the recommender's per-customer input for the churn model
--   (arinsight.ladder.fit). observed_from_date = the later of created_date
--   and the first issue date in the ledger; observed_to_date = churned_date
--   when it lies in the ledger, else the ledger's as_of_date.
--   count_stage_<k>_events = dunning events of stage k (0..5) on the
--   customer's invoices sent on or before observed_to_date (what could
--   have caused a churn). behaviour_segment = the customer's latest
--   dim_customers row. is_churned counts any churn reason: the recommender
--   separates the churn a stage causes from background churn itself.

with

lifecycle as (
    select * from fct_invoice_lifecycle
),

customers as (
    select * from stg_customers
),

invoices as (
    select * from int_invoices_converted
),

events as (
    select * from int_dunning_events
),

behaviour as (
    select * from dim_customers
),

bounds as (
    select
        min(issue_date) as first_issue_date,
        max(as_of_date) as as_of_date
    from lifecycle
),

billed as (
    select
        customer_id,
        count(*) as count_invoices,
        cast(sum(invoice_amount) as double) as total_invoiced_amount,
        min(issue_date) as first_issue_date,
        max(issue_date) as last_issue_date
    from lifecycle
    group by customer_id
),

observed as (
    select
        billed.customer_id,
        customers.segment,
        customers.customer_type,
        customers.churned_date,
        customers.churn_reason,
        billed.count_invoices,
        billed.total_invoiced_amount,
        billed.first_issue_date,
        billed.last_issue_date,
        greatest(
            coalesce(customers.created_date, bounds.first_issue_date),
            bounds.first_issue_date
        ) as observed_from_date,
        case
            when customers.churned_date <= bounds.as_of_date
                then customers.churned_date
            else bounds.as_of_date
        end as observed_to_date,
        coalesce(customers.churned_date <= bounds.as_of_date, false)
            as is_churned
    from billed
    inner join customers on billed.customer_id = customers.customer_id
    cross join bounds
),

dunned as (
    select
        invoices.customer_id,
        count(*) filter (where events.stage_number = 0)
            as count_stage_0_events,
        count(*) filter (where events.stage_number = 1)
            as count_stage_1_events,
        count(*) filter (where events.stage_number = 2)
            as count_stage_2_events,
        count(*) filter (where events.stage_number = 3)
            as count_stage_3_events,
        count(*) filter (where events.stage_number = 4)
            as count_stage_4_events,
        count(*) filter (where events.stage_number = 5)
            as count_stage_5_events,
        max(events.experiment_variant) as experiment_variant
    from events
    inner join invoices on events.invoice_key = invoices.invoice_key
    inner join observed on invoices.customer_id = observed.customer_id
    where events.sent_date <= observed.observed_to_date
    group by invoices.customer_id
),

latest_behaviour as (
    select
        customer_id,
        behaviour_segment
    from behaviour
    qualify
        row_number() over (
            partition by customer_id order by valid_from_date desc
        ) = 1
),

final as (
    select
        observed.customer_id,
        observed.segment,
        observed.customer_type,
        latest_behaviour.behaviour_segment,
        dunned.experiment_variant,
        observed.count_invoices,
        observed.total_invoiced_amount,
        observed.first_issue_date,
        observed.last_issue_date,
        observed.observed_from_date,
        observed.observed_to_date,
        observed.is_churned,
        observed.churned_date,
        observed.churn_reason,
        coalesce(dunned.count_stage_0_events, 0) as count_stage_0_events,
        coalesce(dunned.count_stage_1_events, 0) as count_stage_1_events,
        coalesce(dunned.count_stage_2_events, 0) as count_stage_2_events,
        coalesce(dunned.count_stage_3_events, 0) as count_stage_3_events,
        coalesce(dunned.count_stage_4_events, 0) as count_stage_4_events,
        coalesce(dunned.count_stage_5_events, 0) as count_stage_5_events
    from observed
    left join dunned on observed.customer_id = dunned.customer_id
    left join latest_behaviour
        on observed.customer_id = latest_behaviour.customer_id
)

select * from final
