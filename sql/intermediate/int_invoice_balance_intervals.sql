-- model: int_invoice_balance_intervals
-- grain: one row per invoice per day on which its balance moved (the
--   interval of constant balance that starts that day)
-- keys: invoice_key, valid_from_date
-- keys_unique_by: construction
-- depends_on: int_invoices_converted, stg_payments, stg_adjustments
-- notes: keyed by the integer invoice_key (stg_invoices). The day's
--   movements (invoiced / paid / credited / written_off amounts, reporting
--   currency at the invoice's rate; a payment or adjustment dated before the
--   issue date counts on the issue date, AR only counts issued invoices) and
--   the balance after them, which holds until the day before valid_to_date
--   (exclusive; 9999-12-31 when nothing follows). open_amount = balance
--   floored at 0 (AR is never negative); unapplied_amount = the overpaid
--   part. open_change_amount / open_count_change = how the day moved the
--   floored open amount and the open-invoice count (1 when the invoice
--   turned open, -1 when it closed): their running sums over dates give AR
--   and the number of open invoices at any day without an interval join.
--   One window pass: no group by per invoice and day (keys proven by the
--   qualify on lead, see src/arinsight/models/keys.py).

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
        invoice_key,
        issue_date as movement_date,
        invoice_amount as invoiced_amount,
        0 as paid_amount,
        0 as credited_amount,
        0 as written_off_amount
    from invoices
),

paid as (
    select
        invoices.invoice_key,
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
        invoices.invoice_key,
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

running as (
    -- one window pass over the movements in date order per invoice: the
    -- peer frame (range current row .. current row) sums the day's
    -- movements, the running frame (range: through the day's last movement)
    -- gives the balance after the day; of a day's movements only the last
    -- in the window's order is kept (the next one falls on another day or
    -- there is none), so the rows are unique per invoice and day
    select
        invoice_key,
        movement_date,
        cast(sum(invoiced_amount) over same_day as decimal(18, 2))
            as invoiced_amount,
        cast(sum(paid_amount) over same_day as decimal(18, 2)) as paid_amount,
        cast(sum(credited_amount) over same_day as decimal(18, 2))
            as credited_amount,
        cast(sum(written_off_amount) over same_day as decimal(18, 2))
            as written_off_amount,
        cast(
            sum(
                invoiced_amount - paid_amount - credited_amount
                - written_off_amount
            ) over same_day as decimal(18, 2)
        ) as net_amount,
        sum(
            invoiced_amount - paid_amount - credited_amount
            - written_off_amount
        ) over to_day as balance_amount,
        lead(movement_date) over (
            partition by invoice_key order by movement_date
        ) as next_movement_date
    from movements
    window
        same_day as (
            partition by invoice_key
            order by movement_date
            range between current row and current row
        ),
        to_day as (
            partition by invoice_key
            order by movement_date
            range between unbounded preceding and current row
        )
    qualify
        lead(movement_date) over (
            partition by invoice_key order by movement_date
        ) is distinct from movement_date
),

final as (
    select
        invoice_key,
        movement_date as valid_from_date,
        coalesce(next_movement_date, date '9999-12-31') as valid_to_date,
        cast(greatest(balance_amount, 0) as decimal(18, 2)) as open_amount,
        cast(greatest(-balance_amount, 0) as decimal(18, 2))
            as unapplied_amount,
        invoiced_amount,
        paid_amount,
        credited_amount,
        written_off_amount,
        cast(
            greatest(balance_amount, 0)
            - greatest(balance_amount - net_amount, 0) as decimal(18, 2)
        ) as open_change_amount,
        case when balance_amount > 0 then 1 else 0 end
        - case when balance_amount - net_amount > 0 then 1 else 0 end
            as open_count_change
    from running
)

select * from final
