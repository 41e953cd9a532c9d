"""The quality suites, as code: what ``arinsight check`` asserts, declared once.

A :class:`Suite` is a relation (a raw table, a mart, or a query across marts)
and a list of :class:`Rule` objects. Each rule knows two things:

* the SQL predicate of a *bad row*, so DuckDB counts violations exactly over
  the whole relation (1M rows in a few hundred milliseconds), and
* the great-expectations expectation that asserts the same thing, which runs
  on a pandas frame of a reproducible sample plus every offending row
  (capped), so Data Docs show real failing values.

Raw suites are generated from :mod:`arinsight.contract` (keys, required
columns, allowed values, non-negative amounts, references) plus the
column-pair rule due_date >= issue_date. Mart suites cover the marts people
read; every other mart gets its keys checked from its model header. A mart
suite whose table or columns do not exist yet is skipped with a note.

No third-party import here: great-expectations is imported only by
:mod:`arinsight.quality.runner`, inside ``arinsight check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from arinsight.contract import TABLES, Table

Kind = Literal[
    "not_null", "unique", "in_set", "between", "pair_ge", "pair_equal", "reference", "row_count"
]
AGING_BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")


@dataclass(frozen=True)
class Rule:
    """One expectation.

    Attributes:
        kind: what is asserted (see ``Kind``).
        columns: the column(s) it reads.
        doc: one line for the summary ("due_date >= issue_date").
        values: allowed values (``in_set``).
        min_value / max_value: bounds (``between``, ``row_count``).
        ref: (table, column) a ``reference`` points at, e.g. ("raw.customers", "customer_id").
        label: a column whose values name the bad rows in examples (default: the
            rule's first column).
    """

    kind: Kind
    columns: tuple[str, ...]
    doc: str
    values: tuple[Any, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    ref: tuple[str, str] | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{'+'.join(self.columns)}"

    def helper(self) -> str | None:
        """A helper column the frame carries for this rule (references, computed pairs)."""
        if self.kind == "reference":
            return f"_{self.columns[0]}_known"
        return None


@dataclass(frozen=True)
class Suite:
    """Expectations on one relation.

    ``sql`` (optional) defines the relation as a query over existing tables;
    otherwise it is the table ``relation``. ``needs`` lists relations and
    columns that must exist (mart suites skip with a note otherwise).
    """

    name: str
    relation: str
    rules: tuple[Rule, ...]
    layer: Literal["raw", "marts", "meta"]
    sql: str | None = None
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    doc: str = ""


#: The latest load of each (file, table) with its quarantined share in percent:
#: the one definition ``arinsight build``'s gate and ``arinsight check`` share.
LATEST_LOADS_SQL = (
    "select load_id, file, coalesce(table_name, '') as table_name, rows_read, "
    "rows_quarantined, 100.0 * rows_quarantined / rows_read as quarantined_pct "
    "from meta.loads where rows_read > 0 "
    "qualify load_id = max(load_id) over (partition by file, table_name)"
)


def quarantine_suite(max_pct: float) -> Suite:
    """The latest load of every file quarantined at most ``max_pct`` % of its rows."""
    return Suite(
        name="meta.quarantine",
        relation="meta.loads",
        layer="meta",
        doc="Quarantined share of the latest load of each file (settings: max_quarantine_pct).",
        needs={"meta.loads": ("file", "table_name", "rows_read", "rows_quarantined")},
        sql="select file || ' (' || table_name || '): ' || round(quarantined_pct, 1) || ' %' "
        f"as load, quarantined_pct from ({LATEST_LOADS_SQL})",
        rules=(
            Rule(
                "between",
                ("quarantined_pct",),
                f"quarantined share of each file's latest load <= {max_pct:g} % "
                "(max_quarantine_pct)",
                min_value=0,
                max_value=max_pct,
                label="load",
            ),
        ),
    )


def _raw_suite(t: Table) -> Suite:
    from arinsight.contract import REQUIRED_TABLES

    rules: list[Rule] = []
    if t.name in REQUIRED_TABLES:
        rules.append(Rule("row_count", (), "has rows", min_value=1))
    rules.append(Rule("unique", t.key, f"{'+'.join(t.key)} unique"))
    for c in t.columns:
        if c.required:
            name_by = t.key[0] if c.name not in t.key else None  # examples name the row
            rules.append(Rule("not_null", (c.name,), f"{c.name} not null", label=name_by))
        if c.allowed:
            rules.append(
                Rule("in_set", (c.name,), f"{c.name} in {', '.join(c.allowed)}", values=c.allowed)
            )
        if c.non_negative:
            rules.append(Rule("between", (c.name,), f"{c.name} >= 0", min_value=0))
    for col, (rt, rc) in t.references.items():
        rules.append(Rule("reference", (col,), f"{col} in {rt}", ref=(f"raw.{rt}", rc)))
    if t.name == "invoices":
        rules.append(Rule("pair_ge", ("due_date", "issue_date"), "due_date >= issue_date"))
    return Suite(
        name=f"raw.{t.name}", relation=f"raw.{t.name}", rules=tuple(rules), layer="raw", doc=t.doc
    )


def raw_suites() -> list[Suite]:
    """One suite per canonical table, generated from the contract."""
    return [_raw_suite(t) for t in TABLES.values()]


def mart_suites() -> list[Suite]:
    """The marts people read, with their business rules."""
    dso = Suite(
        name="marts.fct_dso_monthly",
        relation="marts.fct_dso_monthly",
        layer="marts",
        doc="DSO per month end and segment (plus 'all').",
        needs={
            "marts.fct_dso_monthly": (
                "month_end_date",
                "segment",
                "ar_amount",
                "current_ar_amount",
                "overdue_ar_amount",
                "sales_window_amount",
                "dso_days",
            )
        },
        sql="select *, ar_amount - current_ar_amount as _ar_minus_current "
        "from marts.fct_dso_monthly",
        rules=(
            Rule("row_count", (), "has rows", min_value=1),
            Rule("unique", ("month_end_date", "segment"), "month_end_date+segment unique"),
            Rule("not_null", ("month_end_date",), "month_end_date not null"),
            Rule("not_null", ("segment",), "segment not null"),
            Rule("between", ("ar_amount",), "ar_amount >= 0", min_value=0),
            Rule("between", ("current_ar_amount",), "current_ar_amount >= 0", min_value=0),
            Rule("pair_ge", ("ar_amount", "current_ar_amount"), "ar_amount >= current_ar_amount"),
            Rule(
                "pair_equal",
                ("overdue_ar_amount", "_ar_minus_current"),
                "overdue_ar_amount = ar_amount - current_ar_amount",
            ),
            Rule(
                "between",
                ("dso_days",),
                "dso_days between 0 and 3650 (when defined)",
                min_value=0,
                max_value=3650,
            ),
        ),
    )
    aging_sum = Suite(
        name="marts.aging_sums_to_ar",
        relation="marts.fct_aging_snapshots",
        layer="marts",
        doc="Aging buckets sum to AR (fct_dso_monthly) per month end and segment.",
        needs={
            "marts.fct_aging_snapshots": ("month_end_date", "segment", "open_amount"),
            "marts.fct_dso_monthly": ("month_end_date", "segment", "ar_amount"),
        },
        sql="select d.month_end_date, d.segment, d.ar_amount, "
        "coalesce(a.aging_total_amount, 0) as aging_total_amount "
        "from marts.fct_dso_monthly d left join (select month_end_date, segment, "
        "sum(open_amount) as aging_total_amount from marts.fct_aging_snapshots "
        "group by all) a using (month_end_date, segment)",
        rules=(
            Rule("pair_equal", ("aging_total_amount", "ar_amount"), "sum of aging buckets = AR"),
        ),
    )
    aging = Suite(
        name="marts.fct_aging_snapshots",
        relation="marts.fct_aging_snapshots",
        layer="marts",
        doc="Open AR per month end, segment and aging bucket.",
        needs={
            "marts.fct_aging_snapshots": (
                "month_end_date",
                "segment",
                "aging_bucket",
                "open_amount",
                "count_open_invoices",
            )
        },
        rules=(
            Rule(
                "unique",
                ("month_end_date", "segment", "aging_bucket"),
                "month_end_date+segment+aging_bucket unique",
            ),
            Rule(
                "in_set",
                ("aging_bucket",),
                f"aging_bucket in {', '.join(AGING_BUCKETS)}",
                values=AGING_BUCKETS,
            ),
            Rule("between", ("open_amount",), "open_amount >= 0", min_value=0),
            Rule("between", ("count_open_invoices",), "count_open_invoices >= 0", min_value=0),
        ),
    )
    lifecycle = Suite(
        name="marts.fct_invoice_lifecycle",
        relation="marts.fct_invoice_lifecycle",
        layer="marts",
        doc="One row per invoice: settlement, lateness, dunning reached.",
        needs={
            "marts.fct_invoice_lifecycle": (
                "invoice_id",
                "issue_date",
                "due_date",
                "settled_date",
                "days_to_settle",
                "days_late",
                "open_amount",
            )
        },
        sql="select *, case when settled_date is not null then "
        "greatest(0, settled_date - due_date) end as _expected_days_late, "
        "case when settled_date is not null then settled_date - issue_date end "
        "as _expected_days_to_settle from marts.fct_invoice_lifecycle",
        rules=(
            Rule("unique", ("invoice_id",), "invoice_id unique"),
            Rule("not_null", ("invoice_id",), "invoice_id not null"),
            Rule("pair_ge", ("settled_date", "issue_date"), "settled_date >= issue_date"),
            Rule("between", ("days_late",), "days_late >= 0", min_value=0),
            Rule(
                "pair_equal",
                ("days_late", "_expected_days_late"),
                "days_late = max(0, settled_date - due_date)",
            ),
            Rule(
                "pair_equal",
                ("days_to_settle", "_expected_days_to_settle"),
                "days_to_settle = settled_date - issue_date",
            ),
            Rule("between", ("open_amount",), "open_amount >= 0", min_value=0),
        ),
    )
    return [dso, aging, aging_sum, lifecycle]


def key_suites(existing_marts: list[str], specific: set[str]) -> list[Suite]:
    """Keys unique and not null for every other built mart, from its model header."""
    from arinsight.models import discover_models

    out = []
    for m in discover_models():
        if m.layer != "marts" or m.relation in specific or m.name not in existing_marts:
            continue
        rules = [Rule("unique", m.keys, f"{'+'.join(m.keys)} unique")]
        rules += [Rule("not_null", (k,), f"{k} not null") for k in m.keys]
        out.append(
            Suite(
                name=m.relation,
                relation=m.relation,
                rules=tuple(rules),
                layer="marts",
                needs={m.relation: m.keys},
                doc=m.grain,
            )
        )
    return out
