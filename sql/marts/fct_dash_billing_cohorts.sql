-- model: fct_dash_billing_cohorts
-- grain: one row per month end of the issue date (the billing cohort) per
--   segment, plus segment 'all'
-- keys: month_end_date, segment
-- depends_on: fct_invoice_lifecycle
-- notes: invoices issued in the month; paid_within_<h>d_amount = invoice
--   amount of those settled by payment (settled_by = payment) at most h
--   days after the issue date; paid_within_<h>d_pct = that / invoiced
--   amount * 100, null until the horizon is fully observed for the whole
--   cohort (month end + h after the as-of date) or when nothing was
--   invoiced. Credit notes and write-offs do not count as paid.

with

lifecycle as (
    select * from fct_invoice_lifecycle
),

invoices as (
    select
        last_day(issue_date) as month_end_date,
        segment,
        invoice_amount,
        as_of_date,
        coalesce(settled_by = 'payment', false) as is_paid,
        days_to_settle
    from lifecycle
),

by_segment as (
    select
        month_end_date,
        segment,
        max(as_of_date) as as_of_date,
        count(*) as count_invoices,
        sum(invoice_amount) as invoiced_amount,
        coalesce(
            sum(invoice_amount) filter (where is_paid and days_to_settle <= 30),
            0
        ) as paid_within_30d_amount,
        coalesce(
            sum(invoice_amount) filter (where is_paid and days_to_settle <= 60),
            0
        ) as paid_within_60d_amount,
        coalesce(
            sum(invoice_amount) filter (where is_paid and days_to_settle <= 90),
            0
        ) as paid_within_90d_amount
    from invoices
    group by month_end_date, segment
),

combined as (
    select * from by_segment
    union all
    select
        month_end_date,
        'all' as segment,
        max(as_of_date) as as_of_date,
        sum(count_invoices) as count_invoices,
        sum(invoiced_amount) as invoiced_amount,
        sum(paid_within_30d_amount) as paid_within_30d_amount,
        sum(paid_within_60d_amount) as paid_within_60d_amount,
        sum(paid_within_90d_amount) as paid_within_90d_amount
    from by_segment
    group by month_end_date
),

final as (
    select
        month_end_date,
        segment,
        cast(count_invoices as bigint) as count_invoices,
        cast(invoiced_amount as decimal(18, 2)) as invoiced_amount,
        cast(paid_within_30d_amount as decimal(18, 2))
            as paid_within_30d_amount,
        cast(paid_within_60d_amount as decimal(18, 2))
            as paid_within_60d_amount,
        cast(paid_within_90d_amount as decimal(18, 2))
            as paid_within_90d_amount,
        case
            when month_end_date + 30 <= as_of_date
                then
                    100.0 * paid_within_30d_amount
                    / nullif(invoiced_amount, 0)
        end as paid_within_30d_pct,
        case
            when month_end_date + 60 <= as_of_date
                then
                    100.0 * paid_within_60d_amount
                    / nullif(invoiced_amount, 0)
        end as paid_within_60d_pct,
        case
            when month_end_date + 90 <= as_of_date
                then
                    100.0 * paid_within_90d_amount
                    / nullif(invoiced_amount, 0)
        end as paid_within_90d_pct
    from combined
)

select * from final
