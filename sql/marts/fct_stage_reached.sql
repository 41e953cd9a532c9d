-- model: fct_stage_reached
-- grain: one row per segment (plus 'all') per highest dunning stage reached
--   (0 = never dunned)
-- keys: segment, highest_stage_number
-- depends_on: fct_invoice_lifecycle, dim_customers
-- notes: fee yield and churn by how far dunning went, pooled over the whole
--   ledger with 95 % intervals; extends fct_recovery (fee yield per due
--   month) and fct_churn_by_stage (churn per month) with the stage view.
--   Invoice part (invoice_*): invoices by their highest stage (0 = no
--   event of stage >= 1; pre-due reminders are not dunning), overdue ones
--   only (open after the due date); fee_yield_pct = fees on invoices
--   settled by payment / fees charged * 100. Customer part (customer_*):
--   customers by the highest stage any of their invoices reached by their
--   last month end (dim_customers, events after a churn ignored);
--   involuntary churn share with a Wilson interval and the relative risk
--   vs never-dunned customers of the segment (interval on the log scale,
--   null when a count is 0).

with

invoices as (
    select * from fct_invoice_lifecycle
),

customers as (
    select * from dim_customers
),

params as (
    select 1.959964 as z
),

overdue as (
    select
        segment,
        case
            when highest_stage_number >= 1 then highest_stage_number
            else 0
        end as highest_stage_number,
        fee_amount,
        settled_by
    from invoices
    where
        due_date < as_of_date
        and coalesce(settled_date > due_date, true)
),

overdue_typed as (
    select * from overdue
    union all
    select * replace ('all' as segment) from overdue
),

invoice_part as (
    select
        segment,
        highest_stage_number,
        count(*) as invoice_count,
        count(*) filter (where settled_by = 'payment') as invoice_count_paid,
        coalesce(sum(fee_amount), 0) as invoice_fee_charged_amount,
        coalesce(sum(fee_amount) filter (where settled_by = 'payment'), 0)
            as invoice_fee_on_paid_amount
    from overdue_typed
    group by segment, highest_stage_number
),

last_rows as (
    select
        customer_id,
        segment,
        highest_stage_number,
        is_involuntary_churn,
        row_number() over (
            partition by customer_id order by valid_from_date desc
        ) as recency_rank
    from customers
),

customer_rows as (
    select * from last_rows
    where recency_rank = 1
),

customer_typed as (
    select
        segment,
        highest_stage_number,
        coalesce(is_involuntary_churn, false) as is_involuntary_churn
    from customer_rows
    union all
    select
        'all' as segment,
        highest_stage_number,
        coalesce(is_involuntary_churn, false) as is_involuntary_churn
    from customer_rows
),

customer_part as (
    select
        segment,
        highest_stage_number,
        count(*) as customer_count,
        count(*) filter (where is_involuntary_churn)
            as customer_count_involuntary_churned
    from customer_typed
    group by segment, highest_stage_number
),

combined as (
    select
        coalesce(i.segment, c.segment) as segment,
        coalesce(i.highest_stage_number, c.highest_stage_number)
            as highest_stage_number,
        coalesce(i.invoice_count, 0) as invoice_count,
        coalesce(i.invoice_count_paid, 0) as invoice_count_paid,
        coalesce(i.invoice_fee_charged_amount, 0)
            as invoice_fee_charged_amount,
        coalesce(i.invoice_fee_on_paid_amount, 0)
            as invoice_fee_on_paid_amount,
        coalesce(c.customer_count, 0) as customer_count,
        coalesce(c.customer_count_involuntary_churned, 0)
            as customer_count_involuntary_churned
    from invoice_part as i
    full outer join customer_part as c
        on
            i.segment = c.segment
            and i.highest_stage_number = c.highest_stage_number
),

rates as (
    select
        combined.*,
        params.z,
        1.0 * combined.customer_count_involuntary_churned
        / nullif(combined.customer_count, 0) as churn_ratio
    from combined
    cross join params
),

with_base as (
    select
        rates.*,
        never.churn_ratio as never_churn_ratio,
        never.customer_count as never_customer_count,
        never.customer_count_involuntary_churned as never_churned
    from rates
    left join rates as never
        on
            rates.segment = never.segment
            and never.highest_stage_number = 0
),

final as (
    select
        segment,
        cast(highest_stage_number as integer) as highest_stage_number,
        cast(invoice_count as bigint) as count_overdue_invoices,
        cast(invoice_count_paid as bigint) as count_paid_invoices,
        cast(invoice_fee_charged_amount as decimal(18, 2))
            as fee_charged_amount,
        cast(invoice_fee_on_paid_amount as decimal(18, 2))
            as fee_on_paid_amount,
        100.0 * cast(invoice_fee_on_paid_amount as double)
        / nullif(cast(invoice_fee_charged_amount as double), 0)
            as fee_yield_pct,
        cast(customer_count as bigint) as count_customers,
        cast(customer_count_involuntary_churned as bigint)
            as count_involuntary_churned,
        100 * churn_ratio as involuntary_churn_pct,
        100 * (
            churn_ratio + z * z / (2.0 * customer_count)
            - z * sqrt(
                churn_ratio * (1 - churn_ratio) / customer_count
                + z * z / (4.0 * customer_count * customer_count)
            )
        ) / (1 + z * z / customer_count) as involuntary_churn_ci_low_pct,
        100 * (
            churn_ratio + z * z / (2.0 * customer_count)
            + z * sqrt(
                churn_ratio * (1 - churn_ratio) / customer_count
                + z * z / (4.0 * customer_count * customer_count)
            )
        ) / (1 + z * z / customer_count) as involuntary_churn_ci_high_pct,
        churn_ratio / nullif(never_churn_ratio, 0) as churn_relative_risk_ratio,
        case
            when customer_count_involuntary_churned > 0 and never_churned > 0
                then
                    churn_ratio / never_churn_ratio * exp(-z * sqrt(
                        1.0 / customer_count_involuntary_churned
                        - 1.0 / customer_count
                        + 1.0 / never_churned - 1.0 / never_customer_count
                    ))
        end as churn_relative_risk_ci_low_ratio,
        case
            when customer_count_involuntary_churned > 0 and never_churned > 0
                then
                    churn_ratio / never_churn_ratio * exp(z * sqrt(
                        1.0 / customer_count_involuntary_churned
                        - 1.0 / customer_count
                        + 1.0 / never_churned - 1.0 / never_customer_count
                    ))
        end as churn_relative_risk_ci_high_ratio
    from with_base
)

select * from final
