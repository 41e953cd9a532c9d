-- model: stg_customers
-- grain: one row per customer
-- keys: customer_id
-- depends_on: raw.customers
-- notes: renames and casts only; lineage columns dropped.

with

source as (
    select * from raw.customers
),

final as (
    select
        customer_id,
        segment,
        name as customer_name,
        upper(country) as country_code,
        customer_type,
        payment_terms_days,
        created_at as created_date,
        churned_at as churned_date,
        churn_reason
    from source
)

select * from final
