"""Failed payments with their retries, and message engagement, on hand-built logs.

Every invoice is issued 2024-02-01 for 100.00 and due 2024-03-01; C1 is smb,
C2 consumer. Automatic charges (payment_attempts):

  A (smb)      03-01 failed insufficient_funds, 03-04 retry 1 failed
               insufficient_funds, 03-08 retry 2 succeeded (paid 03-08)
  B (smb)      03-01 failed insufficient_funds, 03-04 retry 1 succeeded
  C (smb)      03-01 failed card_expired, 03-04 retry 1 failed card_expired;
               paid by transfer 03-20 after the reminders
  D (smb)      03-01 failed card_expired, 03-04 retry 1 failed card_expired;
               still open
  E (smb)      03-01 succeeded (never failed: not in the mart)
  F (consumer) 03-01 failed without a reason (counts as other; the processor
               code is kept), 03-05 retry with no retry_number (derived: 1)
               succeeded
  G (consumer) 03-01, 03-04, 03-11 failed insufficient_funds; written off 04-30

Reminders (dunning_events, stage 1 sent 03-05) with their message events:

  M1 email friendly  delivered, opened, clicked   paid 03-07 (converted)
  M2 email friendly  delivered, opened            paid 04-20 (after 03-05 + H
                                                  = 04-04: not converted)
  M3 email friendly  delivered                    paid 03-10 (converted)
  M4 email friendly  bounced; stage 2 letter 03-20 (untracked); never paid
  M5 email firm      delivered, replied           paid 03-06 (converted)
  M6 sms (no template) delivered                  never paid
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arinsight.warehouse import Warehouse
from conftest import write_ledger

ISSUE, DUE, AMOUNT = "2024-02-01", "2024-03-01", "100.00"
SEGMENT = {"A": "smb", "B": "smb", "C": "smb", "D": "smb", "E": "smb", "F": "consumer"}
SEGMENT |= {"G": "consumer"} | {f"M{i}": "smb" for i in range(1, 7)}
CUSTOMER = {"smb": "C1", "consumer": "C2"}

# (attempt_id, invoice, date, outcome, failure_reason, failure_code, retry_number)
ATTEMPTS = [
    ("A0", "A", "2024-03-01", "failed", "insufficient_funds", "51", 0),
    ("A1", "A", "2024-03-04", "failed", "insufficient_funds", "51", 1),
    ("A2", "A", "2024-03-08", "succeeded", None, None, 2),
    ("B0", "B", "2024-03-01", "failed", "insufficient_funds", "51", 0),
    ("B1", "B", "2024-03-04", "succeeded", None, None, 1),
    ("C0", "C", "2024-03-01", "failed", "card_expired", "54", 0),
    ("C1", "C", "2024-03-04", "failed", "card_expired", "54", 1),
    ("D0", "D", "2024-03-01", "failed", "card_expired", "54", 0),
    ("D1", "D", "2024-03-04", "failed", "card_expired", "54", 1),
    ("E0", "E", "2024-03-01", "succeeded", None, None, 0),
    ("F0", "F", "2024-03-01", "failed", None, "R99", 0),
    ("F1", "F", "2024-03-05", "succeeded", None, None, None),
    ("G0", "G", "2024-03-01", "failed", "insufficient_funds", "51", 0),
    ("G1", "G", "2024-03-04", "failed", "insufficient_funds", "51", 1),
    ("G2", "G", "2024-03-11", "failed", "insufficient_funds", "51", 2),
]
BAD_ATTEMPTS = [
    # not in the vocabulary: quarantined (a profile's value_maps maps such codes)
    ("X1", "A", "2024-03-02", "failed", "expired", "54", 1),
    # unknown invoice: held until it arrives
    ("X2", "NOPE", "2024-03-02", "failed", "other", "05", 0),
]
PAYMENTS = [
    ("A", "2024-03-08"),
    ("B", "2024-03-04"),
    ("C", "2024-03-20"),
    ("E", "2024-03-01"),
    ("F", "2024-03-05"),
    ("M1", "2024-03-07"),
    ("M2", "2024-04-20"),
    ("M3", "2024-03-10"),
    ("M5", "2024-03-06"),
]
# (event_id, invoice, stage, sent_at, channel)
EVENTS = [(f"E{k}", k, 1, "2024-03-05", "email") for k in ("M1", "M2", "M3", "M4", "M5")]
EVENTS += [("EM6", "M6", 1, "2024-03-05", "sms"), ("EM4b", "M4", 2, "2024-03-20", "letter")]
# (event_id, kinds, template)
MESSAGES = [
    ("EM1", ("delivered", "opened", "clicked"), "friendly"),
    ("EM2", ("delivered", "opened"), "friendly"),
    ("EM3", ("delivered",), "friendly"),
    ("EM4", ("bounced",), "friendly"),
    ("EM5", ("delivered", "replied"), "firm"),
    ("EM6", ("delivered",), None),
]
BAD_MESSAGES = [("EM1", ("spam",), "friendly"), ("E_UNKNOWN", ("opened",), "friendly")]


def _ledger(bad: bool = True) -> dict[str, Any]:
    attempts = ATTEMPTS + (BAD_ATTEMPTS if bad else [])
    messages = MESSAGES + (BAD_MESSAGES if bad else [])
    return {
        "customers": [{"customer_id": c, "segment": s} for s, c in CUSTOMER.items()],
        "invoices": [
            {
                "invoice_id": k,
                "customer_id": CUSTOMER[s],
                "issue_date": ISSUE,
                "due_date": DUE,
                "amount": AMOUNT,
            }
            for k, s in SEGMENT.items()
        ],
        "payments": [
            {"payment_id": f"P{k}", "invoice_id": k, "paid_at": d, "amount": AMOUNT}
            for k, d in PAYMENTS
        ],
        "adjustments": [
            {
                "adjustment_id": "WG",
                "invoice_id": "G",
                "adjusted_at": "2024-04-30",
                "amount": AMOUNT,
                "kind": "write_off",
            }
        ],
        "dunning_events": [
            {"event_id": e, "invoice_id": k, "stage": s, "sent_at": t, "channel": c}
            for e, k, s, t, c in EVENTS
        ],
        "payment_attempts": [
            {
                "attempt_id": a,
                "invoice_id": k,
                "attempted_at": t,
                "amount": AMOUNT,
                "method": "card",
                "outcome": o,
                "failure_reason": r,
                "failure_code": code,
                "retry_number": n,
            }
            for a, k, t, o, r, code, n in attempts
        ],
        "message_events": [
            {
                "message_event_id": f"{e}-{kind}-{i}",
                "event_id": e,
                "occurred_at": "2024-03-06",
                "kind": kind,
                "template": template,
            }
            for i, (e, kinds, template) in enumerate(messages)
            for kind in kinds
        ],
    }


def _build(directory: Path, tables: dict[str, Any]) -> Warehouse:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build

    write_ledger(directory / "ledger", tables)
    w = Warehouse.open(directory / "w.duckdb", read_only=False, create=True)
    load_sources(w.con, [directory / "ledger"])
    build(w.con, load_settings())
    return w


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    w = _build(tmp_path_factory.mktemp("payments"), _ledger())
    yield w
    w.close()


def _retry(wh: Warehouse, segment: str, reason: str, n: int) -> dict[str, Any]:
    rows = wh.sql(
        "select * from marts.fct_payment_retries where segment = ? and failure_reason = ? "
        "and retry_number = ?",
        [segment, reason, n],
    ).to_dicts()
    assert len(rows) == 1, (segment, reason, n, rows)
    return rows[0]


# (segment, reason, retry number, attempts, recovered, mean days from the first
# failure to the successful retry)
RETRY_ROWS = [
    # first failures: A, B (smb); no recovery counted at the first charge
    ("smb", "insufficient_funds", 0, 2, 0, None),
    # A's retry 1 failed, B's succeeded 3 days after 03-01
    ("smb", "insufficient_funds", 1, 2, 1, 3.0),
    # A's retry 2 succeeded 7 days after 03-01
    ("smb", "insufficient_funds", 2, 1, 1, 7.0),
    ("smb", "card_expired", 0, 2, 0, None),
    # expired cards: both retries failed
    ("smb", "card_expired", 1, 2, 0, None),
    # F's failure had no reason (other); its retry (number derived as 1) succeeded after 4 days
    ("consumer", "other", 0, 1, 0, None),
    ("consumer", "other", 1, 1, 1, 4.0),
    ("consumer", "insufficient_funds", 1, 1, 0, None),
    ("consumer", "insufficient_funds", 2, 1, 0, None),
    # all segments: A, B, G failed first; retries 1: A (fail), B (ok), G (fail)
    ("all", "insufficient_funds", 0, 3, 0, None),
    ("all", "insufficient_funds", 1, 3, 1, 3.0),
    ("all", "insufficient_funds", 2, 2, 1, 7.0),
]


@pytest.mark.parametrize(("segment", "reason", "n", "attempts", "recovered", "days"), RETRY_ROWS)
def test_retry_recovery(
    wh: Warehouse,
    segment: str,
    reason: str,
    n: int,
    attempts: int,
    recovered: int,
    days: float | None,
) -> None:
    row = _retry(wh, segment, reason, n)
    assert row["count_attempts"] == attempts
    assert row["count_recovered"] == recovered
    assert row["recovery_pct"] == pytest.approx(100.0 * recovered / attempts)
    assert row["avg_days_to_recovery"] == (None if days is None else pytest.approx(days))


# (segment, reason, failed invoices, by retry, by reminder, not recovered)
INVOICE_ROWS = [
    ("smb", "insufficient_funds", 2, 2, 0, 0),  # A and B recovered by retries
    ("smb", "card_expired", 2, 0, 1, 1),  # C paid by transfer, D still open
    ("consumer", "other", 1, 1, 0, 0),  # F
    ("consumer", "insufficient_funds", 1, 0, 0, 1),  # G written off: not recovered
    ("all", "insufficient_funds", 3, 2, 0, 1),
]


@pytest.mark.parametrize(("segment", "reason", "failed", "retry", "reminder", "lost"), INVOICE_ROWS)
def test_failed_invoice_outcomes(
    wh: Warehouse, segment: str, reason: str, failed: int, retry: int, reminder: int, lost: int
) -> None:
    rows = wh.sql(
        "select distinct count_failed_invoices, count_recovered_by_retry, "
        "count_recovered_by_reminder, count_not_recovered, recovered_by_retry_pct, "
        "recovered_by_reminder_pct, not_recovered_pct from marts.fct_payment_retries "
        "where segment = ? and failure_reason = ?",
        [segment, reason],
    ).rows()
    assert rows == [
        (
            failed,
            retry,
            reminder,
            lost,
            pytest.approx(100.0 * retry / failed),
            pytest.approx(100.0 * reminder / failed),
            pytest.approx(100.0 * lost / failed),
        )
    ]


def test_retry_mart_has_exactly_the_expected_rows(wh: Warehouse) -> None:
    # smb: 5 rows, consumer: other 0/1 + insufficient_funds 0/1/2 = 5, all: the union
    # of keys = insufficient_funds 0/1/2, card_expired 0/1, other 0/1 = 7
    n = wh.sql("select segment, count(*) from marts.fct_payment_retries group by 1").rows()
    assert dict(n) == {"smb": 5, "consumer": 5, "all": 7}


def test_processor_code_kept(wh: Warehouse) -> None:
    codes = wh.sql(
        "select failure_code, failure_reason from raw.payment_attempts where attempt_id = 'F0'"
    ).rows()
    assert codes == [("R99", None)]


def test_bad_rows_are_quarantined_with_reasons(wh: Warehouse) -> None:
    rows = wh.sql(
        "select table_name, field, reason from meta.quarantine order by table_name, reason"
    ).rows()
    by_table: dict[str, list[tuple[str, str]]] = {}
    for t, f, r in rows:
        by_table.setdefault(t, []).append((f, r))
    attempts = by_table["payment_attempts"]
    assert len(attempts) == 2
    fields = {f for f, _ in attempts}
    assert fields == {"failure_reason", "invoice_id"}
    reason_text = next(r for f, r in attempts if f == "failure_reason")
    assert "expired" in reason_text and "card_expired" in reason_text
    messages = by_table["message_events"]
    assert {f for f, _ in messages} == {"kind", "event_id"}
    ref = next(r for f, r in messages if f == "event_id")
    assert "E_UNKNOWN" in ref and "dunning_events" in ref


def _engagement(wh: Warehouse, segment: str, channel: str, template: str) -> dict[str, Any]:
    rows = wh.sql(
        "select * from marts.fct_message_engagement where month_end_date = ? and segment = ? "
        "and stage_number = 1 and channel = ? and template_name = ?",
        [dt.date(2024, 3, 31), segment, channel, template],
    ).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_engagement_email_friendly(wh: Warehouse) -> None:
    row = _engagement(wh, "smb", "email", "friendly")
    # M1-M4: four sends, three delivered, M4 bounced; opened M1, M2; clicked M1
    assert (row["count_sent"], row["count_delivered"], row["count_bounced"]) == (4, 3, 1)
    assert (row["count_opened"], row["count_clicked"], row["count_replied"]) == (2, 1, 0)
    assert row["delivered_pct"] == pytest.approx(75.0)
    assert row["bounced_pct"] == pytest.approx(25.0)
    assert row["opened_pct"] == pytest.approx(100 * 2 / 3)
    assert row["clicked_pct"] == pytest.approx(100 * 1 / 3)
    assert row["replied_pct"] == pytest.approx(0.0)
    # engaged M1 (paid 03-07: converted), M2 (paid 04-20 > 04-04: not) -> 50 %
    assert (row["count_engaged_decided"], row["count_engaged_converted"]) == (2, 1)
    assert row["conversion_engaged_pct"] == pytest.approx(50.0)
    # not engaged: M3 (paid 03-10: converted), M4 (never paid) -> 50 %
    assert (row["count_not_engaged_decided"], row["count_not_engaged_converted"]) == (2, 1)
    assert row["conversion_not_engaged_pct"] == pytest.approx(50.0)
    # the one click (M1) converted
    assert row["conversion_clicked_pct"] == pytest.approx(100.0)
    assert row["count_pending"] == 0


def test_engagement_firm_and_sms(wh: Warehouse) -> None:
    firm = _engagement(wh, "smb", "email", "firm")
    # M5 delivered and replied, paid the next day
    assert (firm["count_sent"], firm["count_replied"], firm["replied_pct"]) == (1, 1, 100.0)
    assert firm["conversion_engaged_pct"] == pytest.approx(100.0)
    assert firm["conversion_not_engaged_pct"] is None  # no send without engagement
    sms = _engagement(wh, "smb", "sms", "unknown")
    # M6 delivered, never read or paid
    assert (sms["count_sent"], sms["count_delivered"], sms["count_engaged_decided"]) == (1, 1, 0)
    assert sms["conversion_not_engaged_pct"] == pytest.approx(0.0)


def test_engagement_rows(wh: Warehouse) -> None:
    # the stage-2 letter to M4 has no message events: untracked, no row
    keys = wh.sql(
        "select segment, stage_number, channel, template_name from marts.fct_message_engagement"
    ).rows()
    assert sorted(keys) == sorted(
        (seg, 1, ch, t)
        for seg in ("smb", "all")
        for ch, t in (("email", "friendly"), ("email", "firm"), ("sms", "unknown"))
    )


def test_ledger_without_the_tables_builds_empty_marts(tmp_path: Path) -> None:
    tables = {k: v for k, v in _ledger().items() if k not in ("payment_attempts", "message_events")}
    w = _build(tmp_path, tables)
    try:
        for mart in ("fct_payment_retries", "fct_message_engagement"):
            assert w.sql(f"select count(*) from marts.{mart}").rows() == [(0,)]
        # the rest is built as before: the stage-1 entries are there
        n = w.sql(
            "select count_entered from marts.fct_stage_conversion where segment = 'smb' "
            "and stage_number = 1"
        ).rows()
        assert n == [(6,)]
    finally:
        w.close()


STRIPE_PROFILE = """
name: charges
tables:
  payment_attempts:
    files: ["charges*.csv"]
    rename:
      id: attempt_id
      invoice: invoice_id
      created: attempted_at
      amount: amount
      status: outcome
      decline_code: [failure_code, failure_reason]
    value_maps:
      outcome: {paid: succeeded, failed: failed}
      failure_reason: {expired_card: card_expired, lost_card: card_cancelled,
                       insufficient_funds: insufficient_funds, fraudulent: fraud_suspected,
                       generic_decline: other}
"""


def test_a_profile_maps_processor_codes(tmp_path: Path) -> None:
    """The profile of docs/payments.md: decline codes mapped onto the vocabulary,
    the code itself kept; an unmapped code is quarantined naming the allowed values."""
    from arinsight.ingest import load_sources

    w = _build(
        tmp_path / "w", {k: v for k, v in _ledger(bad=False).items() if k != "payment_attempts"}
    )
    try:
        src = tmp_path / "export"
        src.mkdir()
        (src / "charges_2024.csv").write_text(
            "id,invoice,created,amount,status,decline_code\n"
            "ch1,A,2024-03-01,100.00,failed,expired_card\n"
            "ch2,A,2024-03-05,100.00,paid,\n"
            "ch3,B,2024-03-01,100.00,failed,do_not_honor\n",
            encoding="utf-8",
        )
        (tmp_path / "charges.yaml").write_text(STRIPE_PROFILE, encoding="utf-8")
        load_sources(w.con, [src], str(tmp_path / "charges.yaml"))
        rows = w.sql(
            "select attempt_id, outcome, failure_reason, failure_code from raw.payment_attempts "
            "order by 1"
        ).rows()
        assert rows == [
            ("ch1", "failed", "card_expired", "expired_card"),
            ("ch2", "succeeded", None, None),
        ]
        reason = w.sql(
            "select reason from meta.quarantine where table_name = 'payment_attempts'"
        ).item()
        assert "do_not_honor" in reason and "card_expired" in reason
    finally:
        w.close()


def test_cli_load_and_build_are_loud_about_bad_attempts(tmp_path: Path) -> None:
    """Through the real entry point: the load reports the quarantined attempt and
    message rows; the build refuses (2 of 17 attempts = 11.8 % > max_quarantine_pct
    1 %) until the quarantine is accepted, and then builds the marts."""
    from dashboard_support import ARINSIGHT

    assert ARINSIGHT
    ledger = write_ledger(tmp_path / "ledger", _ledger())
    db = str(tmp_path / "w.duckdb")
    load = subprocess.run(
        [ARINSIGHT, "load", str(ledger), "--db", db], capture_output=True, text=True
    )
    out = load.stdout + load.stderr
    assert "payment_attempts" in out and "message_events" in out
    assert "quarantine" in out.lower()
    build = subprocess.run([ARINSIGHT, "build", "--db", db], capture_output=True, text=True)
    assert build.returncode != 0
    assert "payment_attempts" in build.stderr + build.stdout
    ok = subprocess.run(
        [ARINSIGHT, "build", "--db", db, "--accept-quarantine"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
