-- AR at the last month end = open items recomputed from movements
with

movements as (
    select
        *,
        valid_from_date as movement_date
    from intermediate.int_invoice_balance_intervals
),

month_ends as (
    select month_end_date from intermediate.int_month_ends
    order by month_end_date desc
    limit 1
),

balances as (
    select
        month_ends.month_end_date,
        movements.invoice_key,
        greatest(
            sum(
                movements.invoiced_amount - movements.paid_amount
                - movements.credited_amount - movements.written_off_amount
            ),
            0
        ) as open_amount
    from movements
    inner join month_ends
        on movements.movement_date <= month_ends.month_end_date
    group by month_ends.month_end_date, movements.invoice_key
),

expected as (
    select
        month_end_date,
        sum(open_amount) as ar_amount
    from balances
    group by month_end_date
)

select
    expected.month_end_date,
    expected.ar_amount as expected_ar_amount,
    dso.ar_amount
from expected
inner join marts.fct_dso_monthly as dso
    on
        expected.month_end_date = dso.month_end_date
        and dso.segment = 'all'
where expected.ar_amount <> dso.ar_amount
