-- model: fct_payment_retries
-- grain: one row per segment per failure reason per retry number with at
--   least one attempt, plus segment 'all'
-- keys: segment, failure_reason, retry_number
-- depends_on: int_payment_attempts, int_invoice_facts
-- notes: retry_number 0 counts the invoices' first failed charge, by its
--   reason (count_attempts = failed invoices, none recovered there). Row
--   n >= 1 counts the attempts numbered n that followed a failed attempt on
--   the same invoice, by the reason of that previous failure; recovered =
--   the attempt succeeded. recovery_pct = recovered / attempts x 100.
--   avg_days_to_recovery = mean days from the invoice's first failed charge
--   to the successful attempt (null without one). The invoice columns
--   (count_failed_invoices, ...) are per segment and reason of the first
--   failure and repeat on every retry row of that reason: recovered by
--   retry = a later attempt succeeded; by reminder = no attempt succeeded
--   but the invoice was settled by a payment (the debtor paid otherwise,
--   after the reminders); not recovered = the rest (open at the as-of date,
--   written off or credited). Empty without payment_attempts.

with

attempts as (
    select * from int_payment_attempts
),

facts as (
    select * from int_invoice_facts
),

first_failures as (
    select
        invoice_key,
        segment,
        failure_reason,
        attempted_date
    from attempts
    where outcome = 'failed' and attempted_date = first_failed_date
    qualify row_number() over (
        partition by invoice_key order by retry_number, attempt_id
    ) = 1
),

failed_invoices as (
    select
        first_failures.invoice_key,
        first_failures.segment,
        first_failures.failure_reason,
        coalesce(bool_or(attempts.outcome = 'succeeded'), false)
            as is_recovered_by_retry,
        coalesce(any_value(facts.settled_by) = 'payment', false)
            as is_settled_by_payment
    from first_failures
    inner join facts on first_failures.invoice_key = facts.invoice_key
    left join attempts
        on
            first_failures.invoice_key = attempts.invoice_key
            and first_failures.attempted_date <= attempts.attempted_date
    group by
        first_failures.invoice_key,
        first_failures.segment,
        first_failures.failure_reason
),

invoice_outcomes_by_segment as (
    select
        segment,
        failure_reason,
        count(*) as count_failed_invoices,
        count(*) filter (where is_recovered_by_retry)
            as count_recovered_by_retry,
        count(*) filter (
            where not is_recovered_by_retry and is_settled_by_payment
        ) as count_recovered_by_reminder
    from failed_invoices
    group by segment, failure_reason
),

invoice_outcomes as (
    select * from invoice_outcomes_by_segment
    union all
    select
        'all' as segment,
        failure_reason,
        sum(count_failed_invoices) as count_failed_invoices,
        sum(count_recovered_by_retry) as count_recovered_by_retry,
        sum(count_recovered_by_reminder) as count_recovered_by_reminder
    from invoice_outcomes_by_segment
    group by failure_reason
),

retry_attempts as (
    select
        segment,
        previous_failure_reason as failure_reason,
        retry_number,
        outcome = 'succeeded' as is_recovered,
        case
            when outcome = 'succeeded'
                then date_diff('day', first_failed_date, attempted_date)
        end as days_to_recovery
    from attempts
    where previous_outcome = 'failed' and retry_number >= 1
    union all
    select
        segment,
        failure_reason,
        0 as retry_number,
        false as is_recovered,
        null as days_to_recovery
    from first_failures
),

retries_by_segment as (
    select
        segment,
        failure_reason,
        retry_number,
        count(*) as count_attempts,
        count(*) filter (where is_recovered) as count_recovered,
        sum(days_to_recovery) as total_days_to_recovery
    from retry_attempts
    group by segment, failure_reason, retry_number
),

retries as (
    select * from retries_by_segment
    union all
    select
        'all' as segment,
        failure_reason,
        retry_number,
        sum(count_attempts) as count_attempts,
        sum(count_recovered) as count_recovered,
        sum(total_days_to_recovery) as total_days_to_recovery
    from retries_by_segment
    group by failure_reason, retry_number
),

final as (
    select
        retries.segment,
        retries.failure_reason,
        cast(retries.retry_number as bigint) as retry_number,
        cast(retries.count_attempts as bigint) as count_attempts,
        cast(retries.count_recovered as bigint) as count_recovered,
        100.0 * retries.count_recovered / retries.count_attempts
            as recovery_pct,
        cast(retries.total_days_to_recovery as double)
        / nullif(retries.count_recovered, 0) as avg_days_to_recovery,
        cast(coalesce(outcomes.count_failed_invoices, 0) as bigint)
            as count_failed_invoices,
        cast(coalesce(outcomes.count_recovered_by_retry, 0) as bigint)
            as count_recovered_by_retry,
        cast(coalesce(outcomes.count_recovered_by_reminder, 0) as bigint)
            as count_recovered_by_reminder,
        cast(
            coalesce(
                outcomes.count_failed_invoices
                - outcomes.count_recovered_by_retry
                - outcomes.count_recovered_by_reminder,
                0
            ) as bigint
        ) as count_not_recovered,
        100.0 * outcomes.count_recovered_by_retry
        / nullif(outcomes.count_failed_invoices, 0)
            as recovered_by_retry_pct,
        100.0 * outcomes.count_recovered_by_reminder
        / nullif(outcomes.count_failed_invoices, 0)
            as recovered_by_reminder_pct,
        100.0 * (
            outcomes.count_failed_invoices
            - outcomes.count_recovered_by_retry
            - outcomes.count_recovered_by_reminder
        ) / nullif(outcomes.count_failed_invoices, 0) as not_recovered_pct
    from retries
    left join invoice_outcomes as outcomes
        on
            retries.segment = outcomes.segment
            and retries.failure_reason = outcomes.failure_reason
)

select * from final
