-- model: int_ledger_bounds
-- grain: one row for the whole ledger (no row when it is empty)
-- keys: as_of_date
-- depends_on: int_invoice_balance_intervals, stg_dunning_events
-- notes: first_activity_date = the first day on which a balance moved (the
--   first issue date); as_of_date = the latest day with ledger or dunning
--   activity. Everything still open is censored at as_of_date.

with

movements as (
    select
        *,
        valid_from_date as movement_date
    from int_invoice_balance_intervals
),

events as (
    select * from stg_dunning_events
),

movement_bounds as (
    select
        min(movement_date) as first_activity_date,
        max(movement_date) as last_movement_date
    from movements
),

event_bounds as (
    select max(sent_date) as last_sent_date
    from events
),

final as (
    select
        movement_bounds.first_activity_date,
        greatest(
            movement_bounds.last_movement_date,
            coalesce(event_bounds.last_sent_date, date '0001-01-01')
        ) as as_of_date
    from movement_bounds
    cross join event_bounds
    where movement_bounds.first_activity_date is not null
)

select * from final
