"""Issue 13 item 6: every hint a load message gives is tested by applying it.

Each case is a small export that fails (a whole-file error or quarantined
rows), the hint its message must contain, and the profile that results from
doing exactly what the hint says; loaded again with that profile, every row
loads and nothing is quarantined. (Hints applied elsewhere: csv.encoding
cp1252/auto and %y in test_ingest_bad_inputs.py, loading fx_rates in
test_load_reliability.py, load the missing invoices in test_load_retry.py,
on_conflict in test_ingest_conflicts.py, plausibility.max_payment_terms_days
and --export-date in test_ingest_plausibility.py, currency: in
test_load_quarantine_share.py, build --accept-quarantine in both.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from arinsight.errors import InputError
from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse

CUSTOMERS = "customer_id,segment\nC1,smb\n"
INVOICE_HEAD = "invoice_id,customer_id,issue_date,due_date,amount"


@dataclass(frozen=True)
class Case:
    files: dict[str, str | bytes]
    before: str  # a built-in profile name, or YAML text
    hint: str
    after: str  # YAML text: the hint applied
    loaded: dict[str, int]  # table → rows loaded with the fixed profile
    sources: tuple[str, ...] = ()  # load these names instead of the folder
    strict: bool = False
    extra: dict[str, object] = field(default_factory=dict)


def _yaml(name: str, base: str, body: str = "") -> str:
    return f"name: {name}\nextends: {base}\n{body}"


CASES: dict[str, Case] = {
    # one header column containing semicolons
    "delimiter": Case(
        files={"customers.csv": "customer_id;segment\nC1;smb\n"},
        before="canonical",
        hint="set csv.delimiter: ';' in profile canonical",
        after=_yaml("fixed", "canonical", "csv:\n  delimiter: ';'\n"),
        loaded={"customers": 1},
    ),
    # "12,50" with the decimal point convention
    "decimal comma": Case(
        files={
            "customers.csv": "customer_id;segment\nC1;smb\n",
            "invoices.csv": INVOICE_HEAD.replace(",", ";")
            + "\nI1;C1;2024-01-05;2024-02-04;12,50\n",
        },
        before=_yaml("semi", "canonical", "csv:\n  delimiter: ';'\n"),
        hint="it looks like a decimal comma number: check csv.decimal / csv.thousands",
        after=_yaml("fixed", "canonical", "csv:\n  delimiter: ';'\n  decimal: ','\n"),
        loaded={"customers": 1, "invoices": 1},
    ),
    # Excel serial day numbers in a text file: 45296 = 2024-01-05, 45326 = 2024-02-04
    "excel serials": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,45296,45326,10.00\n",
        },
        before="canonical",
        hint="it looks like an Excel serial day number: add 'excel' to date_formats",
        after=_yaml("fixed", "canonical", 'date_formats: ["excel"]\n'),
        loaded={"customers": 1, "invoices": 1},
    ),
    # 03/04/2024 fits d/m and m/d with different dates
    "day-month order": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,03/04/2024,05/04/2024,10.00\n",
        },
        before=_yaml("both", "canonical", 'date_formats: ["%d/%m/%Y", "%m/%d/%Y"]\n'),
        hint="keep only the right one in date_formats of profile both",
        after=_yaml("fixed", "canonical", 'date_formats: ["%d/%m/%Y"]\n'),
        loaded={"customers": 1, "invoices": 1},
    ),
    # a credit note exported as a negative invoice, naming its invoice in credit_for
    "negative invoice": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD},credit_for\nI1,C1,2024-01-05,2024-02-04,100.00,\n"
            "G1,C1,2024-01-10,2024-01-10,-20.00,I1\n",
        },
        before="canonical",
        hint="Set tables.invoices.negative_amounts: credit_note in profile canonical (with a "
        "column renamed to reference_invoice_id",
        after=_yaml(
            "fixed",
            "canonical",
            "tables:\n  invoices:\n    negative_amounts: credit_note\n"
            "    rename: {credit_for: reference_invoice_id}\n",
        ),
        loaded={"customers": 1, "invoices": 1, "adjustments": 1},
    ),
    # receipts booked negative in a payments file
    "negative payments": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,2024-01-05,2024-02-04,100.00\n",
            "payments.csv": "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-01-20,-100.00\n",
        },
        before="canonical",
        hint="set tables.payments.amount_sign: negate in profile canonical",
        after=_yaml("fixed", "canonical", "tables:\n  payments:\n    amount_sign: negate\n"),
        loaded={"customers": 1, "invoices": 1, "payments": 1},
    ),
    # the case: a cleared-items list whose cleared amounts are negative
    "negative cleared amounts": Case(
        files={
            "cleared_items.csv": "Document Number,Customer,Document Date,Net Due Date,Amount,"
            "Clearing Date,Cleared Amount\nA1,K1,2024-01-05,2024-02-04,100.00,2024-02-01,-100.00\n"
        },
        before="cleared_items",
        hint="set tables.invoices.derive.payments.amount_sign: negate in profile cleared_items",
        after=_yaml(
            "fixed",
            "cleared_items",
            "tables:\n  invoices:\n    derive:\n      payments:\n        amount_sign: negate\n",
        ),
        loaded={"customers": 1, "invoices": 1, "payments": 1},
    ),
    # a channel spelled the ERP's way
    "value map": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,2024-01-05,2024-02-04,100.00\n",
            "dunning_events.csv": "event_id,invoice_id,stage,sent_at,channel\n"
            "E1,I1,1,2024-02-10,Mail\n",
        },
        before="canonical",
        hint="map other spellings with tables.dunning_events.value_maps.channel in profile "
        "canonical",
        after=_yaml(
            "fixed",
            "canonical",
            "tables:\n  dunning_events:\n    value_maps:\n      channel: {Mail: email}\n",
        ),
        loaded={"customers": 1, "invoices": 1, "dunning_events": 1},
    ),
    # a yes/no word the profile does not know
    "yes/no word": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD},is_disputed\nI1,C1,2024-01-05,2024-02-04,1.00,oui\n",
        },
        before="canonical",
        hint="profile keys true_values / false_values, or tables.invoices.value_maps.is_disputed",
        after=_yaml("fixed", "canonical", 'true_values: ["true", "oui"]\n'),
        loaded={"customers": 1, "invoices": 1},
    ),
    # two headers match a rename when case is ignored
    "spell it exactly": Case(
        files={"customers.csv": "ID,id,segment\nC1,x,smb\n"},
        before=_yaml("ci", "canonical", "tables:\n  customers:\n    rename: {Id: customer_id}\n"),
        hint="spell it exactly",
        after=_yaml("fixed", "canonical", "tables:\n  customers:\n    rename: {ID: customer_id}\n"),
        loaded={"customers": 1},
    ),
    # two columns renamed to one target
    "keep one": Case(
        files={"customers.csv": "Kunde,Debitor,segment\nC1,D1,smb\n"},
        before=_yaml(
            "two",
            "canonical",
            "tables:\n  customers:\n    rename: {Kunde: customer_id, Debitor: customer_id}\n",
        ),
        hint="keep one of them in the profile",
        after=_yaml(
            "fixed", "canonical", "tables:\n  customers:\n    rename: {Kunde: customer_id}\n"
        ),
        loaded={"customers": 1},
    ),
    # a derived column's source under another header
    "derived rename": Case(
        files={
            "cleared_items.csv": "Document Number,Customer,Document Date,Net Due Date,Amount,"
            "Cleared On\nA1,K1,2024-01-05,2024-02-04,100.00,2024-02-01\n"
        },
        before="cleared_items",
        hint="rename a column to it in tables.invoices.rename",
        after=_yaml(
            "fixed", "cleared_items", "tables:\n  invoices:\n    rename: {Cleared On: cleared_at}\n"
        ),
        loaded={"customers": 1, "invoices": 1, "payments": 1},
    ),
    # a file named outside the profile's patterns, given by name
    "file pattern": Case(
        files={"kunden_2024.csv": CUSTOMERS},
        before="canonical",
        hint="maps no table to this file name (profile key tables.<table>.files:",
        after=_yaml("fixed", "canonical", 'tables:\n  customers:\n    files: ["kunden_*.csv"]\n'),
        loaded={"customers": 1},
        sources=("kunden_2024.csv",),
    ),
    # --strict and a file in the folder that no pattern takes
    "strict": Case(
        files={"customers.csv": CUSTOMERS, "kunden_2024.csv": "customer_id,segment\nC2,smb\n"},
        before="canonical",
        hint="Add a pattern to tables.<table>.files of profile canonical",
        after=_yaml(
            "fixed",
            "canonical",
            'tables:\n  customers:\n    files: ["customers.csv", "kunden_*.csv"]\n',
        ),
        loaded={"customers": 1},  # per file: one row each
        strict=True,
    ),
    # a name quoted with single quotes holds the delimiter
    "quote character": Case(
        files={"customers.csv": "customer_id,segment,name\nC1,smb,'Müller, Hans'\n"},
        before="canonical",
        hint="keys csv.delimiter, csv.quote",
        after=_yaml("fixed", "canonical", 'csv:\n  quote: "\'"\n'),
        loaded={"customers": 1},
    ),
    # UTF-8 umlauts under a cp1252 profile
    "utf-8 under cp1252": Case(
        files={"customers.csv": "customer_id,segment,name\nC1,smb,Jürgen\n".encode()},
        before=_yaml("win", "canonical", "csv:\n  encoding: cp1252\n"),
        hint="Set csv.encoding: utf-8 (or auto)",
        after=_yaml("fixed", "canonical", "csv:\n  encoding: utf-8\n"),
        loaded={"customers": 1},
    ),
    # the export really was taken in 2031 (a 7-year gap the loader took for a typo)
    "export date": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,2024-01-05,2024-02-04,1.00\n"
            "I2,C1,2031-01-05,2031-02-04,1.00\nI3,C1,2024-02-05,2024-03-04,1.00\n",
        },
        before="canonical",
        hint="set plausibility.export_date in profile canonical (or pass --export-date) if the "
        "export really is that recent",
        after=_yaml("fixed", "canonical", "plausibility:\n  export_date: 2031-03-01\n"),
        loaded={"customers": 1, "invoices": 3},
    ),
    # due one and a half years after issue, really (a long-term contract)
    "payment terms": Case(
        files={
            "customers.csv": CUSTOMERS,
            "invoices.csv": f"{INVOICE_HEAD}\nI1,C1,2024-01-05,2025-07-05,1.00\n",
        },
        before="canonical",
        hint="(more than plausibility.max_payment_terms_days = 365 in profile canonical)",
        after=_yaml("fixed", "canonical", "plausibility:\n  max_payment_terms_days: 600\n"),
        loaded={"customers": 1, "invoices": 1},
    ),
}


def _write(folder: Path, case: Case, profile: str, name: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for fname, content in case.files.items():
        path = folder / fname
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if "\n" not in profile:  # a built-in name
        return profile
    path = folder.parent / f"{name}.yaml"
    path.write_text(profile, encoding="utf-8")
    return str(path)


def _load(folder: Path, case: Case, profile: str, db: Path) -> tuple[dict[str, int], list[str]]:
    sources = [folder / s for s in case.sources] or [folder]
    with Warehouse.open(db, read_only=False, create=True) as wh:
        results = load_sources(wh.con, sources, profile, strict=case.strict)
        reasons = [r[0] for r in wh.con.execute("select reason from meta.quarantine").fetchall()]
    loaded: dict[str, int] = {}
    for r in results:
        loaded[r.table] = max(loaded.get(r.table, 0), r.rows_loaded)
    return loaded, reasons


@pytest.mark.parametrize("name", list(CASES))
def test_hint_applied_fixes_the_load(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    folder = tmp_path / "src"
    before = _write(folder, case, case.before, "before")
    try:
        _, reasons = _load(folder, case, before, tmp_path / "before.duckdb")
        messages = reasons
    except InputError as exc:
        messages = [str(exc)]
    assert any(case.hint in m for m in messages), messages
    after = _write(folder, case, case.after, "after")
    loaded, reasons = _load(folder, case, after, tmp_path / "after.duckdb")
    assert reasons == []
    assert loaded == case.loaded


def test_export_date_hint_through_the_argument(tmp_path: Path) -> None:
    case = CASES["export date"]
    folder = tmp_path / "src"
    _write(folder, case, "canonical", "x")
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        load_sources(wh.con, [folder], export_date=dt.date(2031, 3, 1))
        assert wh.con.execute("select count(*) from meta.quarantine").fetchall() == [(0,)]
