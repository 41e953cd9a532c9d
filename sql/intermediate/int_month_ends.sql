-- model: int_month_ends
-- grain: one row per month end
-- keys: month_end_date
-- depends_on: int_ledger_bounds
-- notes: every month end from the first activity's month to the last month
--   end on or before the as-of date (the latest ledger or dunning activity),
--   i.e. complete months only. previous_month_end_date is the month end
--   before (also when that lies before the first activity).

with

bounds as (
    select * from int_ledger_bounds
),

months as (
    select
        bounds.first_activity_date,
        bounds.as_of_date,
        cast(month_start.generate_series as date) as month_start_date
    from bounds,
        generate_series(
            date_trunc('month', bounds.first_activity_date),
            date_trunc('month', bounds.as_of_date),
            interval 1 month
        ) as month_start
),

final as (
    select
        cast(last_day(month_start_date) as date) as month_end_date,
        month_start_date,
        cast(month_start_date - 1 as date) as previous_month_end_date,
        day(last_day(month_start_date)) as days_in_month,
        first_activity_date,
        as_of_date
    from months
    where last_day(month_start_date) <= as_of_date
)

select * from final
