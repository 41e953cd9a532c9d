-- model: stg_fx_rates
-- grain: one row per currency per rate date
-- keys: currency_code, rate_date
-- depends_on: raw.fx_rates

with

source as (
    select * from raw.fx_rates
),

final as (
    select
        rate_date,
        upper(currency) as currency_code,
        rate_to_reporting
    from source
)

select * from final
