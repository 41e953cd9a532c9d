-- model: int_sales_daily
-- grain: one row per segment per day with sales or credit notes
-- keys: segment, sales_date
-- depends_on: int_invoice_balance_intervals, int_invoices_converted
-- notes: S(a, b] sums net_sales_amount over sales_date in (a, b]:
--   invoiced amount by issue date minus credit notes by their date.

with

movements as (
    select
        *,
        valid_from_date as movement_date
    from int_invoice_balance_intervals
),

invoices as (
    select * from int_invoices_converted
),

final as (
    select
        invoices.segment,
        movements.movement_date as sales_date,
        cast(sum(movements.invoiced_amount) as decimal(18, 2))
            as invoiced_amount,
        cast(sum(movements.credited_amount) as decimal(18, 2))
            as credited_amount,
        cast(
            sum(movements.invoiced_amount - movements.credited_amount)
            as decimal(18, 2)
        ) as net_sales_amount
    from movements
    inner join invoices on movements.invoice_key = invoices.invoice_key
    where movements.invoiced_amount <> 0 or movements.credited_amount <> 0
    group by invoices.segment, movements.movement_date
)

select * from final
