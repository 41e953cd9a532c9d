-- model: fct_invoice_lifecycle
-- grain: one row per invoice
-- keys: invoice_id
-- keys_unique_by: construction
-- zstd_columns: invoice_id, customer_id
-- depends_on: int_invoice_facts, int_stage_entries
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
--   (the same events as fct_guardrail_findings kind
--   reminder_after_settlement). A projection of int_invoice_facts and the
--   stage entries: nothing is re-derived here.

with

facts as (
    select * from int_invoice_facts
),

entries as (
    select * from int_stage_entries
),

dunning as (
    select
        invoice_key,
        max(stage_number) as highest_stage_number,
        sum(count_events_after_settlement)
            as count_reminders_after_settlement,
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
    group by invoice_key
),

final as (
    select
        facts.invoice_id,
        facts.customer_id,
        facts.segment,
        facts.issue_date,
        facts.due_date,
        facts.is_disputed,
        facts.invoice_amount,
        facts.is_settled,
        facts.settled_date,
        facts.settled_by,
        facts.days_to_settle,
        facts.days_late,
        facts.paid_amount,
        facts.credited_amount,
        facts.written_off_amount,
        facts.unapplied_amount,
        facts.open_amount,
        facts.open_at_due_amount,
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
        cast(coalesce(dunning.count_reminders_after_settlement, 0) as bigint)
            as count_reminders_after_settlement,
        coalesce(dunning.count_reminders_after_settlement, 0) > 0
            as has_reminder_after_settlement,
        facts.as_of_date
    from facts
    left join dunning on facts.invoice_key = dunning.invoice_key
)

select * from final
