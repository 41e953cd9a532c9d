-- model: fct_ladder_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- keys_unique_by: construction
-- zstd_columns: invoice_id, customer_id
-- depends_on: fct_invoice_lifecycle, stg_payments, stg_invoices,
--   stg_dunning_events, stg_customers
-- notes: the recommender's per-invoice input (arinsight.ladder.fit).
--   Dates as in fct_invoice_lifecycle; first_paid_date = first payment of
--   any amount; paid_after_handover_ratio = payments dated after the
--   collection handover over the document amount (0-1, null without a
--   handover); experiment_variant = the variant of the invoice's dunning
--   events (null: no experiment or never dunned); customer_type from
--   master data.

with

lifecycle as (
    select * from fct_invoice_lifecycle
),

payments as (
    select * from stg_payments
),

invoices as (
    select * from stg_invoices
),

events as (
    select * from stg_dunning_events
),

customers as (
    select * from stg_customers
),

paid as (
    select
        payments.invoice_id,
        min(payments.paid_date) as first_paid_date,
        sum(payments.document_amount) filter (
            where payments.paid_date > lifecycle.agency_handover_date
        ) as paid_after_handover_amount
    from payments
    inner join lifecycle on payments.invoice_id = lifecycle.invoice_id
    group by payments.invoice_id
),

variants as (
    select
        invoice_id,
        max(experiment_variant) as experiment_variant
    from events
    group by invoice_id
),

final as (
    select
        lifecycle.invoice_id,
        lifecycle.customer_id,
        lifecycle.segment,
        customers.customer_type,
        lifecycle.issue_date,
        lifecycle.due_date,
        cast(lifecycle.invoice_amount as double) as invoice_amount,
        lifecycle.is_disputed,
        lifecycle.settled_date,
        lifecycle.settled_by,
        cast(lifecycle.paid_amount as double) as paid_amount,
        cast(lifecycle.written_off_amount as double) as written_off_amount,
        paid.first_paid_date,
        lifecycle.stage_0_sent_date,
        lifecycle.stage_1_sent_date,
        lifecycle.stage_2_sent_date,
        lifecycle.stage_3_sent_date,
        lifecycle.stage_4_sent_date,
        lifecycle.stage_5_sent_date,
        lifecycle.agency_handover_date,
        case
            when lifecycle.agency_handover_date is not null
                then
                    coalesce(
                        cast(paid.paid_after_handover_amount as double), 0.0
                    )
                    / nullif(cast(invoices.document_amount as double), 0.0)
        end as paid_after_handover_ratio,
        variants.experiment_variant,
        lifecycle.as_of_date
    from lifecycle
    inner join invoices on lifecycle.invoice_id = invoices.invoice_id
    left join customers on lifecycle.customer_id = customers.customer_id
    left join paid on lifecycle.invoice_id = paid.invoice_id
    left join variants on lifecycle.invoice_id = variants.invoice_id
)

select * from final
