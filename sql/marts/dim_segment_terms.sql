-- model: dim_segment_terms
-- grain: one row per segment per customer type per payment terms
-- keys: segment, customer_type, payment_terms_days
-- depends_on: stg_customers
-- notes: what the legal check of a ladder needs from the master data
--   (arinsight.ladder.rules): which segments hold businesses (b2b) and
--   consumers (b2c), and their payment terms. customer_type is lowercased;
--   'unknown' when missing or not b2b/b2c. payment_terms_days = -1 when
--   not given. count_customers = customers with that combination, churned
--   ones included (their ladder was the same).

with

customers as (
    select * from stg_customers
),

typed as (
    select
        segment,
        case
            when lower(trim(customer_type)) in ('b2b', 'b2c')
                then lower(trim(customer_type))
            else 'unknown'
        end as customer_type,
        coalesce(payment_terms_days, -1) as payment_terms_days
    from customers
),

final as (
    select
        segment,
        customer_type,
        cast(payment_terms_days as integer) as payment_terms_days,
        cast(count(*) as bigint) as count_customers
    from typed
    group by segment, customer_type, payment_terms_days
)

select * from final
