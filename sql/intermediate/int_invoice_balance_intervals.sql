-- model: int_invoice_balance_intervals
-- grain: one row per invoice per day on which its balance moved (the
--   interval of constant balance that starts that day)
-- keys: invoice_id, valid_from_date
-- depends_on: int_invoices_converted, stg_payments, stg_adjustments
-- notes: the day's movements (invoiced / paid / credited / written_off
--   amounts, reporting currency at the invoice's rate; a payment or
--   adjustment dated before the issue date counts on the issue date, AR only
--   counts issued invoices) and the balance after them, which holds until
--   the day before valid_to_date (exclusive; 9999-12-31 when nothing
--   follows). open_amount = balance floored at 0 (DESIGN: AR is never
--   negative); unapplied_amount = the overpaid part. valid_from_date is the
--   movement date: sales, bounds and recovery read the movements from here
--   (one model instead of a daily-movements table plus intervals: one
--   materialisation fewer). Month-end balances come from an interval join on
--   these rows, never from invoice x month-end cross joins.

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

daily as (
    select
        invoice_id,
        movement_date,
        cast(sum(invoiced_amount) as decimal(18, 2)) as invoiced_amount,
        cast(sum(paid_amount) as decimal(18, 2)) as paid_amount,
        cast(sum(credited_amount) as decimal(18, 2)) as credited_amount,
        cast(sum(written_off_amount) as decimal(18, 2)) as written_off_amount
    from movements
    group by invoice_id, movement_date
),

running as (
    select
        *,
        sum(
            invoiced_amount - paid_amount - credited_amount
            - written_off_amount
        ) over (
            partition by invoice_id
            order by movement_date
            rows between unbounded preceding and current row
        ) as balance_amount,
        lead(movement_date) over (
            partition by invoice_id order by movement_date
        ) as next_movement_date
    from daily
),

final as (
    select
        invoice_id,
        movement_date as valid_from_date,
        coalesce(next_movement_date, date '9999-12-31') as valid_to_date,
        cast(greatest(balance_amount, 0) as decimal(18, 2)) as open_amount,
        cast(greatest(-balance_amount, 0) as decimal(18, 2))
            as unapplied_amount,
        invoiced_amount,
        paid_amount,
        credited_amount,
        written_off_amount
    from running
)

select * from final
