-- fct_dso_monthly 'all' = sum of the segments (AR, sales)
with

segments as (
    select
        month_end_date,
        sum(ar_amount) as ar_amount,
        sum(sales_window_amount) as sales_window_amount
    from marts.fct_dso_monthly
    where segment <> 'all'
    group by month_end_date
)

select
    total.month_end_date,
    total.ar_amount,
    segments.ar_amount as segments_ar_amount
from marts.fct_dso_monthly as total
inner join segments on total.month_end_date = segments.month_end_date
where
    total.segment = 'all'
    and (
        total.ar_amount <> segments.ar_amount
        or total.sales_window_amount <> segments.sales_window_amount
    )
