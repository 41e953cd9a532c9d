-- model: int_invoice_facts
-- grain: one row per invoice
-- keys: invoice_key
-- depends_on: int_invoices_converted, int_invoice_balance_intervals,
--   int_ledger_bounds
-- notes: the per-invoice facts every later model reads instead of
--   re-deriving them, keyed by the integer invoice_key (invoice_id kept for
--   output). settled_date = the first day on which the open amount is at
--   most 0.01 (tolerance); null while the invoice is open at the as-of date.
--   Open amounts only fall (payments and adjustments are positive), so an
--   invoice never reopens. settled_by says what closed it: write_off when a
--   write-off was booked on the settled date, else payment, else
--   credit_note (none: a zero-amount invoice). days_late =
--   max(0, settled - due); days_to_settle = settled - issue. Totals cover
--   the whole ledger; paid_amount includes an overpayment
--   (unapplied_amount). open_at_due_amount = open amount at the end of the
--   due date. closed_date = the first day on which nothing is open (open
--   amount 0, so the invoice leaves AR and the aging); it differs from
--   settled_date only for a remainder of at most 0.01. open_amount /
--   unapplied_amount = the balance after every movement (invoice amount
--   minus the totals, the last interval's balance) floored at 0 / its
--   negative part. One pass over the balance intervals.

with

invoices as not materialized (
    -- read twice (per invoice and final): two scans cost less than
    -- DuckDB copying 1M rows into a materialised CTE (pass 6)
    select * from int_invoices_converted
),

intervals as (
    select * from int_invoice_balance_intervals
),

bounds as (
    select * from int_ledger_bounds
),

per_invoice as (
    select
        intervals.invoice_key,
        min(intervals.valid_from_date) filter (
            where intervals.open_amount <= 0.01
        ) as settled_date,
        arg_min(
            case
                when intervals.written_off_amount > 0 then 1
                when intervals.paid_amount > 0 then 2
                when intervals.credited_amount > 0 then 3
                else 4
            end,
            intervals.valid_from_date
        ) filter (where intervals.open_amount <= 0.01) as settled_by_code,
        min(intervals.valid_from_date) filter (
            where intervals.open_amount = 0
        ) as closed_date,
        sum(intervals.paid_amount) as paid_amount,
        sum(intervals.credited_amount) as credited_amount,
        sum(intervals.written_off_amount) as written_off_amount,
        arg_max(intervals.open_amount, intervals.valid_from_date) filter (
            where intervals.valid_from_date <= invoices.due_date
        ) as open_at_due_amount
    from intervals
    inner join invoices on intervals.invoice_key = invoices.invoice_key
    group by intervals.invoice_key
),

final as (
    select
        invoices.invoice_key,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.segment,
        invoices.issue_date,
        invoices.due_date,
        invoices.is_disputed,
        invoices.fx_rate,
        invoices.invoice_amount,
        per_invoice.settled_date,
        per_invoice.settled_date is not null as is_settled,
        case per_invoice.settled_by_code
            when 1 then 'write_off'
            when 2 then 'payment'
            when 3 then 'credit_note'
            when 4 then 'none'
        end as settled_by,
        per_invoice.closed_date,
        date_diff('day', invoices.issue_date, per_invoice.settled_date)
            as days_to_settle,
        case
            when per_invoice.settled_date is not null
                then
                    greatest(
                        date_diff(
                            'day', invoices.due_date, per_invoice.settled_date
                        ),
                        0
                    )
        end as days_late,
        cast(per_invoice.paid_amount as decimal(18, 2)) as paid_amount,
        cast(per_invoice.credited_amount as decimal(18, 2))
            as credited_amount,
        cast(per_invoice.written_off_amount as decimal(18, 2))
            as written_off_amount,
        cast(
            greatest(
                invoices.invoice_amount - per_invoice.paid_amount
                - per_invoice.credited_amount - per_invoice.written_off_amount,
                0
            ) as decimal(18, 2)
        ) as open_amount,
        cast(
            greatest(
                per_invoice.paid_amount + per_invoice.credited_amount
                + per_invoice.written_off_amount - invoices.invoice_amount,
                0
            ) as decimal(18, 2)
        ) as unapplied_amount,
        coalesce(per_invoice.open_at_due_amount, 0) as open_at_due_amount,
        bounds.as_of_date
    from invoices
    inner join per_invoice on invoices.invoice_key = per_invoice.invoice_key
    cross join bounds
)

select * from final
