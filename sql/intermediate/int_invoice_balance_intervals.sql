-- model: int_invoice_balance_intervals
-- grain: one row per invoice per interval of constant balance
-- keys: invoice_id, valid_from_date
-- depends_on: int_invoice_movements_daily
-- notes: the balance after all movements of valid_from_date holds until the
--   day before valid_to_date (exclusive; 9999-12-31 when nothing follows).
--   open_amount = balance floored at 0 (DESIGN: AR is never negative);
--   unapplied_amount = the overpaid part. Month-end balances come from an
--   interval join on these rows, never from invoice x month-end cross joins.

with

movements as (
    select * from int_invoice_movements_daily
),

running as (
    select
        invoice_id,
        movement_date,
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
    from movements
),

final as (
    select
        invoice_id,
        movement_date as valid_from_date,
        coalesce(next_movement_date, date '9999-12-31') as valid_to_date,
        cast(greatest(balance_amount, 0) as decimal(18, 2)) as open_amount,
        cast(greatest(-balance_amount, 0) as decimal(18, 2))
            as unapplied_amount
    from running
)

select * from final
