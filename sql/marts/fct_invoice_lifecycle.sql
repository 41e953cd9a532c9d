-- model: fct_invoice_lifecycle
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: int_invoice_outcomes, int_stage_entries,
--   fct_guardrail_findings
-- notes: settled_date = first day the open amount is at most 0.01 (null:
--   open at as_of_date); days_to_settle = settled - issue; days_late =
--   max(0, settled - due); settled_by = write_off / payment / credit_note
--   (what was booked on the settled date; write-off first). Amounts in the
--   reporting currency over the whole ledger; paid_amount includes an
--   overpayment, shown again as unapplied_amount. highest_stage_number =
--   the highest stage of any event (null: never reminded);
--   stage_<k>_sent_date = first send of stage k for k = 0..5 (higher stages
--   only via highest_stage_number and marts.fct_stage_conversion).
--   count_reminders_after_settlement: events sent after the settled date
--   (fct_guardrail_findings kind reminder_after_settlement).

with

outcomes as (
    select * from int_invoice_outcomes
),

entries as (
    select * from int_stage_entries
),

findings as (
    select * from fct_guardrail_findings
),

after_settlement as (
    select
        invoice_id,
        count(*) as count_reminders_after_settlement
    from findings
    where finding_kind = 'reminder_after_settlement'
    group by invoice_id
),

dunning as (
    select
        invoice_id,
        max(stage_number) as highest_stage_number,
        sum(count_events) as count_dunning_events,
        min(sent_date) as first_dunning_date,
        max(last_sent_date) as last_dunning_date,
        sum(fee_amount) as fee_amount,
        min(first_agency_sent_date) as agency_handover_date,
        min(sent_date) filter (where stage_number = 0) as stage_0_sent_date,
        min(sent_date) filter (where stage_number = 1) as stage_1_sent_date,
        min(sent_date) filter (where stage_number = 2) as stage_2_sent_date,
        min(sent_date) filter (where stage_number = 3) as stage_3_sent_date,
        min(sent_date) filter (where stage_number = 4) as stage_4_sent_date,
        min(sent_date) filter (where stage_number = 5) as stage_5_sent_date
    from entries
    group by invoice_id
),

final as (
    select
        outcomes.invoice_id,
        outcomes.customer_id,
        outcomes.segment,
        outcomes.issue_date,
        outcomes.due_date,
        outcomes.is_disputed,
        outcomes.invoice_amount,
        outcomes.is_settled,
        outcomes.settled_date,
        outcomes.settled_by,
        outcomes.days_to_settle,
        outcomes.days_late,
        outcomes.paid_amount,
        outcomes.credited_amount,
        outcomes.written_off_amount,
        outcomes.unapplied_amount,
        outcomes.open_amount,
        outcomes.open_at_due_amount,
        dunning.highest_stage_number,
        coalesce(dunning.count_dunning_events, 0) as count_dunning_events,
        dunning.first_dunning_date,
        dunning.last_dunning_date,
        dunning.stage_0_sent_date,
        dunning.stage_1_sent_date,
        dunning.stage_2_sent_date,
        dunning.stage_3_sent_date,
        dunning.stage_4_sent_date,
        dunning.stage_5_sent_date,
        dunning.agency_handover_date,
        cast(coalesce(dunning.fee_amount, 0) as decimal(18, 2))
            as fee_amount,
        coalesce(after_settlement.count_reminders_after_settlement, 0)
            as count_reminders_after_settlement,
        after_settlement.invoice_id is not null
            as has_reminder_after_settlement,
        outcomes.as_of_date
    from outcomes
    left join dunning on outcomes.invoice_id = dunning.invoice_id
    left join after_settlement
        on outcomes.invoice_id = after_settlement.invoice_id
)

select * from final
