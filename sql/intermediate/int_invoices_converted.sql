-- model: int_invoices_converted
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: stg_invoices, stg_customers, stg_fx_rates
-- notes: adds the customer's segment and converts into the reporting
--   currency at the latest rate on or before the issue date. Payments and
--   adjustments of the invoice use the same rate, so FX moves never leave a
--   phantom open balance. fx_rate is null when a foreign-currency invoice has
--   no rate; assert_fx_rate_available then fails the build.

with

invoices as (
    select * from stg_invoices
),

customers as (
    select * from stg_customers
),

fx_rates as (
    select * from stg_fx_rates
),

rate_intervals as (
    -- each rate holds from its date until the next rate of the currency
    select
        currency_code,
        rate_to_reporting,
        rate_date as valid_from_date,
        coalesce(
            lead(rate_date) over (
                partition by currency_code order by rate_date
            ),
            date '9999-12-31'
        ) as valid_to_date
    from fx_rates
),

with_rate as (
    select
        invoices.*,
        case
            when invoices.currency_code = getvariable('reporting_currency')
                then 1.0
            else rate_intervals.rate_to_reporting
        end as fx_rate
    from invoices
    left join rate_intervals
        on
            invoices.currency_code = rate_intervals.currency_code
            and invoices.issue_date >= rate_intervals.valid_from_date
            and invoices.issue_date < rate_intervals.valid_to_date
),

final as (
    select
        with_rate.invoice_id,
        with_rate.invoice_key,
        with_rate.customer_id,
        customers.segment,
        with_rate.issue_date,
        with_rate.due_date,
        with_rate.currency_code,
        with_rate.fx_rate,
        with_rate.is_disputed,
        with_rate.document_amount,
        cast(
            round(with_rate.document_amount * with_rate.fx_rate, 2)
            as decimal(18, 2)
        ) as invoice_amount
    from with_rate
    left join customers on with_rate.customer_id = customers.customer_id
)

select * from final
