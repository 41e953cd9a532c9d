"""The canonical ledger: the input contract, declared once.

Every source (simulator output, canonical CSV/Parquet, mapped ERP exports) is
turned into these tables. The loader types and checks rows against them, the
simulator writes them, and ``docs/contract.md`` is generated from them
(``python -m arinsight.contract > docs/contract.md``; a test keeps it current).

Amounts are ``DECIMAL(18,2)`` so that sums (aging buckets, AR) are exact.
Only the standard library is imported here: the CLI's start-up path uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LogicalType = Literal["str", "date", "amount", "int", "bool", "rate"]

#: DuckDB type for each logical type.
DUCKDB_TYPES: dict[str, str] = {
    "str": "VARCHAR",
    "date": "DATE",
    "amount": "DECIMAL(18,2)",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "rate": "DECIMAL(18,8)",
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Attributes:
        name: snake_case column name.
        type: logical type (see ``DUCKDB_TYPES``).
        required: a row without a value here is quarantined.
        doc: one line for the generated docs.
        allowed: closed set of permitted values (strings), if any.
        non_negative: numeric values below zero are quarantined.
    """

    name: str
    type: LogicalType
    required: bool = False
    doc: str = ""
    allowed: tuple[str, ...] = ()
    non_negative: bool = False

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """A canonical table: ordered columns, primary key, and references."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    #: column -> (table, column) it must reference (checked on load).
    references: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def ddl(self, schema: str = "raw", *, lineage: bool = True) -> str:
        """``CREATE TABLE`` statement; lineage adds ``_load_id`` and ``_source_line``."""
        cols = [f"{c.name} {c.duckdb_type}" for c in self.columns]
        if lineage:
            cols += ["_load_id BIGINT", "_source_line BIGINT"]
        body = ",\n    ".join(cols)
        return f"create table if not exists {schema}.{self.name} (\n    {body}\n)"


CHANNELS = ("email", "letter", "sms", "phone", "collection_agency")
ADJUSTMENT_KINDS = ("credit_note", "write_off")
CUSTOMER_TYPES = ("b2b", "b2c")

CUSTOMERS = Table(
    name="customers",
    doc="One row per customer (debtor).",
    key=("customer_id",),
    columns=(
        Column("customer_id", "str", True, "Debtor number, unique."),
        Column("segment", "str", True, "Master-data segment, e.g. enterprise / smb / consumer."),
        Column("name", "str", doc="Display name."),
        Column("country", "str", doc="ISO 3166 alpha-2 country code."),
        Column("customer_type", "str", doc="b2b or b2c.", allowed=CUSTOMER_TYPES),
        Column("payment_terms_days", "int", doc="Agreed payment terms in days.", non_negative=True),
        Column("created_at", "date", doc="Customer since."),
        Column("churned_at", "date", doc="Date the customer left, if they did."),
        Column("churn_reason", "str", doc="Why they left, e.g. non_payment, voluntary."),
    ),
)

INVOICES = Table(
    name="invoices",
    doc="One row per invoice. Credit notes are adjustments, not negative invoices.",
    key=("invoice_id",),
    references={"customer_id": ("customers", "customer_id")},
    columns=(
        Column("invoice_id", "str", True, "Invoice number, unique."),
        Column("customer_id", "str", True, "The debtor billed."),
        Column("issue_date", "date", True, "Invoice date."),
        Column("due_date", "date", True, "Due date; on or after issue_date."),
        Column("amount", "amount", True, "Gross invoice amount (>= 0).", non_negative=True),
        Column("currency", "str", doc="ISO 4217 code; the reporting currency when empty."),
        Column("is_disputed", "bool", doc="The debtor disputes the invoice."),
    ),
)

PAYMENTS = Table(
    name="payments",
    doc="One row per payment applied to an invoice.",
    key=("payment_id",),
    references={"invoice_id": ("invoices", "invoice_id")},
    columns=(
        Column("payment_id", "str", True, "Payment (clearing) number, unique."),
        Column("invoice_id", "str", True, "The invoice it settles (in part or whole)."),
        Column("paid_at", "date", True, "Value date of the payment."),
        Column(
            "amount",
            "amount",
            True,
            "Amount applied, in invoice currency (> 0).",
            non_negative=True,
        ),
        Column("method", "str", doc="e.g. transfer, direct_debit, card, agency."),
    ),
)

ADJUSTMENTS = Table(
    name="adjustments",
    doc="Credit notes and write-offs that reduce an invoice's open amount.",
    key=("adjustment_id",),
    references={"invoice_id": ("invoices", "invoice_id")},
    columns=(
        Column("adjustment_id", "str", True, "Adjustment number, unique."),
        Column("invoice_id", "str", True, "The invoice it reduces."),
        Column("adjusted_at", "date", True, "Booking date."),
        Column(
            "amount",
            "amount",
            True,
            "Amount by which the open item is reduced (> 0).",
            non_negative=True,
        ),
        Column("kind", "str", True, "credit_note or write_off.", allowed=ADJUSTMENT_KINDS),
    ),
)

DUNNING_EVENTS = Table(
    name="dunning_events",
    doc="Every reminder, dunning letter, SMS, call and collection handover sent.",
    key=("event_id",),
    references={"invoice_id": ("invoices", "invoice_id")},
    columns=(
        Column("event_id", "str", True, "Event number, unique."),
        Column("invoice_id", "str", True, "The invoice being dunned."),
        Column("stage", "int", True, "Ladder stage; 0 = pre-due reminder.", non_negative=True),
        Column("sent_at", "date", True, "Date sent."),
        Column(
            "channel",
            "str",
            True,
            "email, letter, sms, phone or collection_agency.",
            allowed=CHANNELS,
        ),
        Column("stage_name", "str", doc="e.g. Zahlungserinnerung, 1. Mahnung, Inkasso."),
        Column("fee", "amount", doc="Dunning fee charged with this event.", non_negative=True),
        Column("variant", "str", doc="Experiment arm, when a ladder experiment ran."),
    ),
)

FX_RATES = Table(
    name="fx_rates",
    doc="Daily rates into the reporting currency.",
    key=("rate_date", "currency"),
    columns=(
        Column("rate_date", "date", True, "Rate date."),
        Column("currency", "str", True, "ISO 4217 code."),
        Column(
            "rate_to_reporting",
            "rate",
            True,
            "1 unit of currency in reporting currency.",
            non_negative=True,
        ),
    ),
)

#: Outcomes of an automatic charge (``payment_attempts.outcome``).
ATTEMPT_OUTCOMES = ("succeeded", "failed")
#: Why a charge failed: the vocabulary processor decline codes are mapped onto
#: (a profile's ``value_maps.failure_reason``); the processor's own code stays
#: in ``failure_code``.
FAILURE_REASONS = (
    "card_expired",
    "card_cancelled",
    "insufficient_funds",
    "fraud_suspected",
    "account_changed",
    "other",
)
#: What happened to a sent message (``message_events.kind``).
MESSAGE_KINDS = ("delivered", "opened", "clicked", "bounced", "replied")

PAYMENT_ATTEMPTS = Table(
    name="payment_attempts",
    doc="Optional. Every automatic charge (card, direct debit) of an invoice, "
    "successful or not, with the retries after a failure.",
    key=("attempt_id",),
    references={"invoice_id": ("invoices", "invoice_id")},
    columns=(
        Column("attempt_id", "str", True, "Attempt (charge) number, unique."),
        Column("invoice_id", "str", True, "The invoice charged."),
        Column("attempted_at", "date", True, "Date of the charge."),
        Column("amount", "amount", True, "Amount charged, in invoice currency.", non_negative=True),
        Column("method", "str", doc="e.g. card, direct_debit."),
        Column("outcome", "str", True, "succeeded or failed.", allowed=ATTEMPT_OUTCOMES),
        Column(
            "failure_reason",
            "str",
            doc="Why a failed charge failed (empty when it succeeded; "
            "empty on a failed one counts as other).",
            allowed=FAILURE_REASONS,
        ),
        Column("failure_code", "str", doc="The processor's own decline code, kept as given."),
        Column(
            "retry_number",
            "int",
            doc="0 = the first charge of the invoice, 1 = the first retry, ... "
            "(derived from the order of attempted_at when empty).",
            non_negative=True,
        ),
    ),
)

MESSAGE_EVENTS = Table(
    name="message_events",
    doc="Optional. What happened to a sent reminder: delivered, opened, clicked, "
    "bounced, replied (from the mail / SMS provider's log).",
    key=("message_event_id",),
    references={"event_id": ("dunning_events", "event_id")},
    columns=(
        Column("message_event_id", "str", True, "Provider event number, unique."),
        Column("event_id", "str", True, "The dunning event (reminder) it belongs to."),
        Column("occurred_at", "date", True, "Date it happened."),
        Column(
            "kind",
            "str",
            True,
            "delivered, opened, clicked, bounced or replied.",
            allowed=MESSAGE_KINDS,
        ),
        Column("template", "str", doc="Template (text variant) of the message sent."),
    ),
)

#: Tables in load order (referenced tables first).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CUSTOMERS,
        INVOICES,
        PAYMENTS,
        ADJUSTMENTS,
        DUNNING_EVENTS,
        FX_RATES,
        PAYMENT_ATTEMPTS,
        MESSAGE_EVENTS,
    )
}
#: Tables a ledger must contain; the rest are optional.
REQUIRED_TABLES = ("customers", "invoices")


def markdown() -> str:
    """The contract as Markdown (for ``docs/contract.md``)."""
    out = [
        "# The canonical ledger",
        "",
        "Generated from `src/arinsight/contract.py` by "
        "`python -m arinsight.contract > docs/contract.md`. Do not edit by hand.",
        "",
        "Required tables: "
        + ", ".join(f"`{t}`" for t in REQUIRED_TABLES)
        + ". Amounts are DECIMAL(18,2); dates are ISO `YYYY-MM-DD`.",
        "",
    ]
    for t in TABLES.values():
        out += [f"## {t.name}", "", t.doc, "", f"Key: `{', '.join(t.key)}`", ""]
        if t.references:
            refs = ", ".join(f"`{c}` → `{rt}.{rc}`" for c, (rt, rc) in t.references.items())
            out += [f"References: {refs}", ""]
        out += ["| column | type | required | meaning |", "|---|---|---|---|"]
        for c in t.columns:
            extra = f" Allowed: {', '.join(c.allowed)}." if c.allowed else ""
            req = "yes" if c.required else ""
            out.append(f"| `{c.name}` | {c.duckdb_type} | {req} | {c.doc}{extra} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
