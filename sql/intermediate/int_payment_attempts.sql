-- model: int_payment_attempts
-- grain: one row per automatic charge attempt on a known invoice
-- keys: attempt_id
-- depends_on: stg_payment_attempts, int_invoice_facts
-- notes: attempts in order per invoice (attempted_date, then retry_number,
--   then attempt_id). retry_number as given, or the attempt's position in
--   that order minus one when the file leaves it empty (0 = first charge).
--   A failed attempt without a reason counts as 'other'; a successful one
--   has none. previous_outcome / previous_failure_reason: the attempt
--   before it on the same invoice (null for the first).
--   first_failed_date: the invoice's first failed attempt (null when none).

with

attempts as (
    select * from stg_payment_attempts
),

facts as (
    select * from int_invoice_facts
),

joined as (
    select
        attempts.attempt_id,
        facts.invoice_key,
        facts.segment,
        attempts.attempted_date,
        attempts.outcome,
        attempts.retry_number as given_retry_number,
        case
            when attempts.outcome = 'failed'
                then coalesce(attempts.failure_reason, 'other')
        end as failure_reason,
        attempts.failure_code
    from attempts
    inner join facts on attempts.invoice_id = facts.invoice_id
),

sequenced as (
    select
        *,
        row_number() over by_invoice - 1 as position_number,
        lag(outcome) over by_invoice as previous_outcome,
        lag(failure_reason) over by_invoice as previous_failure_reason,
        min(case when outcome = 'failed' then attempted_date end) over (
            partition by invoice_key
        ) as first_failed_date
    from joined
    window by_invoice as (
        partition by invoice_key
        order by attempted_date, given_retry_number, attempt_id
    )
),

final as (
    select
        attempt_id,
        invoice_key,
        segment,
        attempted_date,
        outcome,
        failure_reason,
        failure_code,
        coalesce(given_retry_number, position_number) as retry_number,
        previous_outcome,
        previous_failure_reason,
        first_failed_date
    from sequenced
)

select * from final
