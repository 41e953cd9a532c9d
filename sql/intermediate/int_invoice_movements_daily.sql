-- model: int_invoice_movements_daily
-- grain: one row per invoice per day on which its balance moved
-- keys: invoice_id, movement_date
-- depends_on: int_invoices_converted, stg_payments, stg_adjustments
-- notes: reporting-currency amounts at the invoice's rate. A payment or
--   adjustment dated before the issue date counts on the issue date (AR only
--   counts issued invoices). Amounts are positive; the balance is
--   invoiced - paid - credited - written_off.

with

invoices as (
    select * from int_invoices_converted
),

payments as (
    select * from stg_payments
),

adjustments as (
    select * from stg_adjustments
),

issued as (
    select
        invoice_id,
        issue_date as movement_date,
        invoice_amount as invoiced_amount,
        0 as paid_amount,
        0 as credited_amount,
        0 as written_off_amount
    from invoices
),

paid as (
    select
        payments.invoice_id,
        greatest(payments.paid_date, invoices.issue_date) as movement_date,
        0 as invoiced_amount,
        round(payments.document_amount * invoices.fx_rate, 2) as paid_amount,
        0 as credited_amount,
        0 as written_off_amount
    from payments
    inner join invoices on payments.invoice_id = invoices.invoice_id
),

adjusted as (
    select
        adjustments.invoice_id,
        greatest(adjustments.adjusted_date, invoices.issue_date)
            as movement_date,
        0 as invoiced_amount,
        0 as paid_amount,
        case
            when adjustments.adjustment_kind = 'credit_note'
                then round(adjustments.document_amount * invoices.fx_rate, 2)
            else 0
        end as credited_amount,
        case
            when adjustments.adjustment_kind = 'write_off'
                then round(adjustments.document_amount * invoices.fx_rate, 2)
            else 0
        end as written_off_amount
    from adjustments
    inner join invoices on adjustments.invoice_id = invoices.invoice_id
),

movements as (
    select * from issued
    union all
    select * from paid
    union all
    select * from adjusted
),

final as (
    select
        invoice_id,
        movement_date,
        cast(sum(invoiced_amount) as decimal(18, 2)) as invoiced_amount,
        cast(sum(paid_amount) as decimal(18, 2)) as paid_amount,
        cast(sum(credited_amount) as decimal(18, 2)) as credited_amount,
        cast(sum(written_off_amount) as decimal(18, 2)) as written_off_amount
    from movements
    group by invoice_id, movement_date
)

select * from final
