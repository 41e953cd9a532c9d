-- model: fct_experiment_customers
-- grain: one row per customer with dunning events of exactly one
--   experiment variant
-- keys: customer_id
-- depends_on: fct_invoice_lifecycle, stg_dunning_events, stg_payments,
--   stg_invoices, dim_customers
-- notes: the randomisation unit of a ladder experiment
--   (dunning_events.variant) with its outcomes, for fct_experiment_arms and
--   the net-value bootstrap (arinsight.ladder.experiments). A customer's
--   arm is the variant of its events; customers whose events carry two
--   variants are left out (count in fct_experiment_arms), customers never
--   dunned have no known arm and are missing (docs/ladder.md: unbiased only
--   when both arms send every customer a first event, e.g. a pre-due
--   reminder). Outcome invoices: due at least 90 days before the as-of
--   date. restricted_days_to_settle = min(settled, due + 90, as-of) -
--   issue (open invoices count to due + 90: a restricted mean, no
--   censoring). Overdue = open after the due date; recovered_90d_amount =
--   payments dated in (due, due + 90], in the reporting currency at the
--   invoice's rate, capped at the open amount at due. Net-value parts over
--   every invoice of the customer: paid_amount (reporting currency),
--   agency_paid_amount (payment method agency), fee_on_paid_amount (fees on
--   invoices settled by payment), count_<channel>_events.
--   is_involuntary_churn: dim_customers' label (false when not churned).

with

invoices as (
    select * from fct_invoice_lifecycle
),

events as (
    select * from stg_dunning_events
),

-- imported again, filtered, rather than read twice through `invoices` and
-- `events`: DuckDB materialises a CTE read twice (every column of 1M rows)
-- before it can push a filter into it; read once, each import stays a plain
-- scan. On a ledger without an experiment no row passes variant_events and
-- the model finishes without joining the ledger.
variant_events as (
    select * from stg_dunning_events
    where experiment_variant is not null
),

invoice_customers as (
    select * from fct_invoice_lifecycle
),

payments as (
    select * from stg_payments
),

documents as (
    select * from stg_invoices
),

customers as (
    select * from dim_customers
),

params as (
    select 90 as horizon_days
),

variant_customers as (
    select distinct invoice_customers.customer_id
    from variant_events
    inner join invoice_customers
        on variant_events.invoice_id = invoice_customers.invoice_id
),

scoped as (
    select invoices.*
    from invoices
    inner join variant_customers
        on invoices.customer_id = variant_customers.customer_id
),

event_customers as (
    select
        scoped.customer_id,
        events.channel,
        events.experiment_variant
    from events
    inner join scoped on events.invoice_id = scoped.invoice_id
),

arms as (
    select
        customer_id,
        min(experiment_variant) as experiment_variant,
        count(*) filter (where channel = 'email') as count_email_events,
        count(*) filter (where channel = 'sms') as count_sms_events,
        count(*) filter (where channel = 'letter') as count_letter_events,
        count(*) filter (where channel = 'phone') as count_phone_events,
        count(*) filter (
            where channel = 'collection_agency'
        ) as count_collection_agency_events
    from event_customers
    group by customer_id
    having
        count(distinct experiment_variant) = 1
        and count(experiment_variant) = count(*)
),

rates as (
    select
        scoped.invoice_id,
        scoped.invoice_amount
        / nullif(cast(documents.document_amount as double), 0)
            as rate_to_reporting
    from scoped
    inner join documents on scoped.invoice_id = documents.invoice_id
    -- the semi join hashes the scoped invoices (none without an experiment)
    -- rather than every document; with an experiment it costs a little
    -- (bench/README.md, sixth pass)
    where
        documents.invoice_id in (
            select in_scope.invoice_id from scoped as in_scope
        )
),

paid as (
    select
        scoped.invoice_id,
        sum(payments.document_amount * rates.rate_to_reporting)
            as paid_amount,
        sum(payments.document_amount * rates.rate_to_reporting) filter (
            where payments.payment_method = 'agency'
        ) as agency_paid_amount,
        sum(payments.document_amount * rates.rate_to_reporting) filter (
            where
            payments.paid_date > scoped.due_date
            and payments.paid_date <= scoped.due_date + params.horizon_days
        ) as paid_90d_amount
    from payments
    inner join scoped on payments.invoice_id = scoped.invoice_id
    inner join rates on payments.invoice_id = rates.invoice_id
    cross join params
    group by scoped.invoice_id
),

per_invoice as (
    select
        scoped.customer_id,
        scoped.due_date + params.horizon_days <= scoped.as_of_date
            as is_outcome_observed,
        date_diff(
            'day',
            scoped.issue_date,
            least(
                coalesce(scoped.settled_date, scoped.as_of_date),
                scoped.due_date + params.horizon_days,
                scoped.as_of_date
            )
        ) as restricted_days_to_settle,
        case
            when coalesce(scoped.settled_date > scoped.due_date, true)
                then scoped.open_at_due_amount
            else 0
        end as overdue_amount,
        case
            when coalesce(scoped.settled_date > scoped.due_date, true)
                then
                    least(
                        coalesce(paid.paid_90d_amount, 0),
                        scoped.open_at_due_amount
                    )
            else 0
        end as recovered_90d_amount,
        coalesce(paid.paid_amount, 0) as paid_amount,
        coalesce(paid.agency_paid_amount, 0) as agency_paid_amount,
        case
            when scoped.settled_by = 'payment' then scoped.fee_amount
            else 0
        end as fee_on_paid_amount
    from scoped
    cross join params
    left join paid on scoped.invoice_id = paid.invoice_id
),

per_customer as (
    select
        customer_id,
        count(*) filter (where is_outcome_observed) as count_outcome_invoices,
        coalesce(
            sum(restricted_days_to_settle) filter (where is_outcome_observed),
            0
        ) as total_restricted_days_to_settle,
        coalesce(
            sum(overdue_amount) filter (where is_outcome_observed), 0
        ) as overdue_amount,
        coalesce(
            sum(recovered_90d_amount) filter (where is_outcome_observed), 0
        ) as recovered_90d_amount,
        sum(paid_amount) as paid_amount,
        sum(agency_paid_amount) as agency_paid_amount,
        sum(coalesce(fee_on_paid_amount, 0)) as fee_on_paid_amount
    from per_invoice
    group by customer_id
),

last_state as (
    select
        customer_id,
        segment,
        coalesce(bool_or(is_involuntary_churn), false) as is_involuntary_churn
    from customers
    group by customer_id, segment
),

final as (
    select
        arms.customer_id,
        last_state.segment,
        arms.experiment_variant,
        cast(per_customer.count_outcome_invoices as bigint)
            as count_outcome_invoices,
        cast(per_customer.total_restricted_days_to_settle as bigint)
            as total_restricted_days_to_settle,
        cast(per_customer.overdue_amount as double) as overdue_amount,
        cast(per_customer.recovered_90d_amount as double)
            as recovered_90d_amount,
        cast(per_customer.paid_amount as double) as paid_amount,
        cast(per_customer.agency_paid_amount as double) as agency_paid_amount,
        cast(per_customer.fee_on_paid_amount as double) as fee_on_paid_amount,
        cast(arms.count_email_events as bigint) as count_email_events,
        cast(arms.count_sms_events as bigint) as count_sms_events,
        cast(arms.count_letter_events as bigint) as count_letter_events,
        cast(arms.count_phone_events as bigint) as count_phone_events,
        cast(arms.count_collection_agency_events as bigint)
            as count_collection_agency_events,
        last_state.is_involuntary_churn
    from arms
    inner join per_customer on arms.customer_id = per_customer.customer_id
    inner join last_state on arms.customer_id = last_state.customer_id
)

select * from final
