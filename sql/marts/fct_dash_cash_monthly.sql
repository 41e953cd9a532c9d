-- model: fct_dash_cash_monthly
-- grain: one row per month end per segment, plus segment 'all' (the month
--   ends and segments of fct_dso_monthly)
-- keys: month_end_date, segment
-- depends_on: fct_dso_monthly, fct_invoice_lifecycle, stg_invoices,
--   stg_payments
-- notes: collected_amount = payments dated in the month (a payment before
--   its invoice's issue date counts on the issue date), converted at the
--   invoice's rate like every other movement of the invoice (rate =
--   reporting amount / document amount of the invoice), overpayments
--   included. billed_amount = net sales of the month (fct_dso_monthly
--   sales_month_amount: invoiced minus credit notes).

with

dso as (
    select * from fct_dso_monthly
),

lifecycle as (
    select * from fct_invoice_lifecycle
),

invoices as (
    select * from stg_invoices
),

payments as (
    select * from stg_payments
),

converted as (
    select
        lifecycle.segment,
        last_day(greatest(payments.paid_date, lifecycle.issue_date))
            as month_end_date,
        round(
            payments.document_amount
            * lifecycle.invoice_amount
            / nullif(invoices.document_amount, 0),
            2
        ) as paid_amount
    from payments
    inner join lifecycle on payments.invoice_id = lifecycle.invoice_id
    inner join invoices on payments.invoice_id = invoices.invoice_id
),

by_segment as (
    select
        month_end_date,
        segment,
        sum(paid_amount) as collected_amount
    from converted
    group by month_end_date, segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        sum(collected_amount) as collected_amount
    from by_segment
    group by month_end_date
),

final as (
    select
        dso.month_end_date,
        dso.segment,
        cast(coalesce(combined.collected_amount, 0) as decimal(18, 2))
            as collected_amount,
        dso.sales_month_amount as billed_amount
    from dso
    left join combined
        on
            dso.month_end_date = combined.month_end_date
            and dso.segment = combined.segment
)

select * from final
