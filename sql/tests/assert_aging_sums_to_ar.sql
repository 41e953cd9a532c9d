-- aging buckets sum to AR exactly, per month end and segment
with

aging as (
    select
        month_end_date,
        segment,
        sum(open_amount) as open_amount,
        sum(count_open_invoices) as count_open_invoices
    from marts.fct_aging_snapshots
    group by month_end_date, segment
)

select
    dso.month_end_date,
    dso.segment,
    dso.ar_amount,
    aging.open_amount as aging_amount,
    dso.count_open_invoices,
    aging.count_open_invoices as aging_count
from marts.fct_dso_monthly as dso
full outer join aging
    on
        dso.month_end_date = aging.month_end_date
        and dso.segment = aging.segment
where
    aging.open_amount is distinct from dso.ar_amount
    or aging.count_open_invoices is distinct from dso.count_open_invoices
