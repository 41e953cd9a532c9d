"""Profiles at work: German ERP exports, cleared-items lists, XLSX, Parquet, TSV.

Every ledger here is written by hand; expected values come from its constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arinsight.errors import InputError
from arinsight.ingest import LoadResult, load_sources
from arinsight.warehouse import Warehouse

D = dt.date


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


def _rows(wh: Warehouse, sql: str) -> list[tuple[object, ...]]:
    return wh.con.execute(sql).fetchall()


def _by_table(results: list[LoadResult]) -> dict[str, LoadResult]:
    assert all(r.reconciles() for r in results)
    return {r.table: r for r in results}


# --- german_erp -------------------------------------------------------------------------

KUNDEN = (
    "Kundennummer;Kundenname;Segment;Land;Kundentyp\n"
    "K1;Müller GmbH;smb;DE;Geschäftskunde\n"
    "K2;Schön AG;enterprise;AT;b2b\n"
)
# R1 1.234,56 EUR; G1 is a credit note of -234,56 on R1 (Bezugsrechnung R1);
# R2 is disputed ("Ja"); SAP-style trailing minus on G2 (-10,00) for R2.
RECHNUNGEN = (
    "Rechnungsnummer;Kundennummer;Rechnungsdatum;Fälligkeit;Betrag;Währung;Strittig;"
    "Bezugsrechnung\n"
    "R1;K1;05.01.2024;04.02.2024;1.234,56;EUR;Nein;\n"
    "R2;K2;29.02.2024;30.03.2024;500,00;EUR;Ja;\n"
    "G1;K1;10.01.2024;10.01.2024;-234,56;EUR;Nein;R1\n"
    "G2;K2;01.03.2024;01.03.2024;10,00-;EUR;Nein;R2\n"
)
ZAHLUNGEN = (
    "Zahlungsnummer;Rechnungsnummer;Zahlungseingang;Betrag;Zahlungsart\n"
    "Z1;R1;01.02.2024;1.000,00;Überweisung\n"
    "Z2;R2;15.03.2024;490,00;Lastschrift\n"
)
MAHNUNGEN = (
    "Mahnungsnummer;Rechnungsnummer;Mahnstufe;Mahndatum;Kanal;Bezeichnung;Mahngebühr\n"
    "M1;R2;0;27.03.2024;E-Mail;Zahlungserinnerung;0,00\n"
    "M2;R2;1;06.04.2024;Brief;1. Mahnung;5,00\n"
)


def _german(tmp_path: Path, encoding: str = "utf-8") -> Path:
    d = tmp_path / "export"
    d.mkdir()
    for name, text in [
        ("kunden.csv", KUNDEN),
        ("rechnungen.csv", RECHNUNGEN),
        ("zahlungen.csv", ZAHLUNGEN),
        ("mahnungen.csv", MAHNUNGEN),
    ]:
        (d / name).write_bytes(text.encode(encoding))
    return d


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_german_erp_export_loads_every_table(wh: Warehouse, tmp_path: Path, encoding: str) -> None:
    results = load_sources(wh.con, [_german(tmp_path, encoding)], "german_erp")
    by = _by_table(results)
    assert {t: (r.rows_read, r.rows_loaded) for t, r in by.items()} == {
        "customers": (2, 2),
        "invoices": (2, 2),
        "adjustments": (2, 2),
        "payments": (2, 2),
        "dunning_events": (2, 2),
    }
    assert by["adjustments"].derived_from == "invoices"
    assert _rows(
        wh, "select customer_id, name, country, customer_type from raw.customers order by 1"
    ) == [("K1", "Müller GmbH", "DE", "b2b"), ("K2", "Schön AG", "AT", "b2b")]
    assert _rows(
        wh,
        "select invoice_id, customer_id, issue_date, due_date, amount, currency, "
        "is_disputed from raw.invoices order by 1",
    ) == [
        ("R1", "K1", D(2024, 1, 5), D(2024, 2, 4), Decimal("1234.56"), "EUR", False),
        ("R2", "K2", D(2024, 2, 29), D(2024, 3, 30), Decimal("500.00"), "EUR", True),
    ]
    # Credit notes became adjustments on the invoice they reduce, as positive amounts.
    assert _rows(
        wh,
        "select adjustment_id, invoice_id, adjusted_at, amount, kind, _source_line"
        " from raw.adjustments order by 1",
    ) == [
        ("G1", "R1", D(2024, 1, 10), Decimal("234.56"), "credit_note", 4),
        ("G2", "R2", D(2024, 3, 1), Decimal("10.00"), "credit_note", 5),
    ]
    assert _rows(wh, "select payment_id, amount, method from raw.payments order by 1") == [
        ("Z1", Decimal("1000.00"), "transfer"),
        ("Z2", Decimal("490.00"), "direct_debit"),
    ]
    assert _rows(
        wh,
        "select event_id, stage, sent_at, channel, stage_name, fee from "
        "raw.dunning_events order by 1",
    ) == [
        ("M1", 0, D(2024, 3, 27), "email", "Zahlungserinnerung", Decimal("0.00")),
        ("M2", 1, D(2024, 4, 6), "letter", "1. Mahnung", Decimal("5.00")),
    ]


def test_credit_note_without_reference_is_quarantined(wh: Warehouse, tmp_path: Path) -> None:
    d = _german(tmp_path)
    (d / "rechnungen.csv").write_text(
        "Rechnungsnummer;Kundennummer;Rechnungsdatum;Fälligkeit;Betrag\n"
        "R1;K1;05.01.2024;04.02.2024;100,00\nG1;K1;10.01.2024;10.01.2024;-5,00\n",
        encoding="utf-8",
    )
    by = _by_table(load_sources(wh.con, [d / "kunden.csv", d / "rechnungen.csv"], "german_erp"))
    assert (by["invoices"].rows_read, by["adjustments"].rows_read) == (1, 1)
    assert by["adjustments"].rows_quarantined == 1
    reason = _rows(wh, "select reason from meta.quarantine")[0][0]
    assert reason == ("Bezugsrechnung is empty (required for adjustments.invoice_id)")


def test_negative_invoice_is_quarantined_by_default(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-05,2024-02-04,-5.00\n",
        encoding="utf-8",
    )
    by = _by_table(load_sources(wh.con, [tmp_path]))
    assert by["invoices"].rows_quarantined == 1
    assert _rows(wh, "select reason from meta.quarantine")[0][0].startswith(
        "amount -5.00 is negative: a credit note? Set tables.invoices.negative_amounts: credit_note"
    )


# --- cleared_items ----------------------------------------------------------------------

# Three invoices: A1 settled in full on 2024-02-10, A2 settled 60.00 of 100.00 on
# 2024-03-01 (clearing amount given), A3 open. K1 appears twice; its latest row says
# segment "enterprise". K2 has no segment: the constant "unassigned" fills in.
CLEARED = (
    "Document Number,Customer,Customer Name,Segment,Document Date,Net Due Date,Amount,"
    "Clearing Date,Cleared Amount\n"
    "A1,K1,Alpha,smb,2024-01-05,2024-02-04,250.00,2024-02-10,\n"
    "A2,K1,Alpha,enterprise,05.01.2024,04.02.2024,100.00,01.03.2024,60.00\n"
    "A3,K2,Beta,,2024-01-20,2024-02-19,80.00,,\n"
)


def test_cleared_items_yield_invoices_payments_customers(wh: Warehouse, tmp_path: Path) -> None:
    f = tmp_path / "cleared_items_2024.csv"
    f.write_text(CLEARED, encoding="utf-8")
    by = _by_table(load_sources(wh.con, [f], "cleared_items"))
    assert [(r.table, r.rows_loaded) for r in by.values()] == [
        ("invoices", 3),
        ("customers", 2),
        ("payments", 2),
    ]
    assert by["payments"].derived_from == "invoices"
    assert _rows(wh, "select customer_id, segment, name from raw.customers order by 1") == [
        ("K1", "enterprise", "Alpha"),
        ("K2", "unassigned", "Beta"),
    ]
    assert _rows(wh, "select invoice_id, issue_date, amount from raw.invoices order by 1") == [
        ("A1", D(2024, 1, 5), Decimal("250.00")),
        ("A2", D(2024, 1, 5), Decimal("100.00")),
        ("A3", D(2024, 1, 20), Decimal("80.00")),
    ]
    assert _rows(
        wh, "select payment_id, invoice_id, paid_at, amount, method from raw.payments order by 1"
    ) == [
        ("A1-cleared", "A1", D(2024, 2, 10), Decimal("250.00"), "clearing"),
        ("A2-cleared", "A2", D(2024, 3, 1), Decimal("60.00"), "clearing"),
    ]


def test_one_clearing_document_clears_two_invoices(wh: Warehouse, tmp_path: Path) -> None:
    f = tmp_path / "fbl5n_export.csv"
    f.write_text(
        "Document Number,Customer,Document Date,Net Due Date,Amount,Clearing Date,"
        "Clearing Document\n"
        "A1,K1,2024-01-05,2024-02-04,10.00,2024-02-10,CD1\n"
        "A2,K1,2024-01-06,2024-02-05,20.00,2024-02-10,CD1\n",
        encoding="utf-8",
    )
    by = _by_table(load_sources(wh.con, [f], "cleared_items"))
    assert by["payments"].rows_loaded == 2
    assert _rows(wh, "select payment_id, invoice_id, amount from raw.payments order by 1") == [
        ("CD1/A1", "A1", Decimal("10.00")),
        ("CD1/A2", "A2", Decimal("20.00")),
    ]


def test_derived_column_missing_from_file(wh: Warehouse, tmp_path: Path) -> None:
    f = tmp_path / "cleared_items.csv"
    f.write_text(
        "Document Number,Document Date,Net Due Date,Amount\nA1,2024-01-05,2024-02-04,1.00\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="missing required column for invoices.customer_id"):
        load_sources(wh.con, [f], "cleared_items")


# --- XLSX, Parquet, TSV -----------------------------------------------------------------


def test_xlsx_keeps_cell_types_and_row_numbers(wh: Warehouse, tmp_path: Path) -> None:
    import xlsxwriter

    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    path = tmp_path / "invoices.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Rechnungen")
    date_fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, ["invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    # row 2: real Excel dates and a number; row 3: an amount with 3 decimals.
    sheet.write_string(1, 0, "I1")
    sheet.write_string(1, 1, "C1")
    sheet.write_datetime(1, 2, dt.datetime(2024, 1, 5), date_fmt)
    sheet.write_datetime(1, 3, dt.datetime(2024, 2, 4), date_fmt)
    sheet.write_number(1, 4, 1234.5)
    sheet.write_string(2, 0, "I2")
    sheet.write_string(2, 1, "C1")
    sheet.write_datetime(2, 2, dt.datetime(2024, 1, 6), date_fmt)
    sheet.write_datetime(2, 3, dt.datetime(2024, 2, 5), date_fmt)
    sheet.write_number(2, 4, 1.005)
    book.close()
    by = _by_table(load_sources(wh.con, [tmp_path]))
    assert (by["invoices"].rows_loaded, by["invoices"].rows_quarantined) == (1, 1)
    assert _rows(
        wh, "select invoice_id, issue_date, due_date, amount, _source_line from raw.invoices"
    ) == [("I1", D(2024, 1, 5), D(2024, 2, 4), Decimal("1234.50"), 2)]
    line, reason, raw = _rows(wh, "select line_number, reason, raw_row from meta.quarantine")[0]
    assert (line, reason) == (3, "amount 1.005 is not a number with at most 2 decimals")
    assert '"invoice_id":"I2"' in raw


def test_parquet_with_numeric_ids(wh: Warehouse, tmp_path: Path) -> None:
    # Invoice numbers stored as integers and amounts as floats, as many exports do.
    pl.DataFrame({"customer_id": [7], "segment": ["smb"]}).write_parquet(
        tmp_path / "customers.parquet"
    )
    pl.DataFrame(
        {
            "invoice_id": [1001, 1002],
            "customer_id": [7, 7],
            "issue_date": [D(2024, 1, 5), D(2024, 1, 6)],
            "due_date": [D(2024, 2, 4), D(2024, 1, 1)],
            "amount": [19.99, 5.0],
        }
    ).write_parquet(tmp_path / "invoices.parquet")
    by = _by_table(load_sources(wh.con, [tmp_path]))
    assert (by["invoices"].rows_loaded, by["invoices"].rows_quarantined) == (1, 1)
    assert _rows(wh, "select invoice_id, customer_id, amount from raw.invoices") == [
        ("1001", "7", Decimal("19.99"))
    ]
    line, reason = _rows(wh, "select line_number, reason from meta.quarantine")[0]
    assert (line, reason) == (2, "due_date 2024-01-01 is before issue_date 2024-01-06")


def test_tsv_by_suffix(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "customers.tsv").write_text(
        "customer_id\tsegment\nC1\tsmb\nC2\tsmb, retail\n", encoding="utf-8"
    )
    by = _by_table(load_sources(wh.con, [tmp_path]))
    assert by["customers"].rows_loaded == 2
    assert _rows(wh, "select segment from raw.customers order by 1") == [("smb",), ("smb, retail",)]


def test_constants_value_maps_and_negated_amounts(wh: Warehouse, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: receipts\nextends: canonical\ntables:\n"
        "  customers:\n    files: [customers.csv]\n    constants: {segment: smb}\n"
        "  payments:\n    files: [receipts.csv]\n    amount_sign: negate\n"
        "    rename: {Beleg: payment_id, Rechnung: invoice_id, Datum: paid_at, Betrag: amount,"
        " Art: method}\n"
        "    value_maps: {method: {UEB: transfer, LS: direct_debit}}\n",
        encoding="utf-8",
    )
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-05,2024-02-04,100\n",
        encoding="utf-8",
    )
    # The export books receipts as negative numbers: -60.00 is a payment of 60.00.
    (tmp_path / "receipts.csv").write_text(
        "Beleg,Rechnung,Datum,Betrag,Art\nP1,I1,2024-01-20,-60.00,UEB\nP2,I1,2024-01-21,5,LS\n",
        encoding="utf-8",
    )
    by = _by_table(load_sources(wh.con, [tmp_path], str(profile)))
    assert _rows(wh, "select segment from raw.customers") == [("smb",)]
    assert _rows(wh, "select payment_id, amount, method from raw.payments") == [
        ("P1", Decimal("60.00"), "transfer")
    ]
    assert by["payments"].rows_quarantined == 1
    assert _rows(wh, "select reason from meta.quarantine")[0][0].startswith(
        "Betrag -5.00 is negative"
    )


def test_header_case_is_ignored_but_ambiguity_is_not(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("Customer_ID,SEGMENT\nC1,smb\n", encoding="utf-8")
    assert _by_table(load_sources(wh.con, [tmp_path]))["customers"].rows_loaded == 1
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: x\ntables:\n  customers:\n    files: [k.csv]\n"
        "    rename: {Nr: customer_id, Segment: segment}\n",
        encoding="utf-8",
    )
    (tmp_path / "k.csv").write_text("nr,NR,Segment\nC1,C2,smb\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"maps 'Nr', and the header has 2 columns matching it"):
        load_sources(wh.con, [tmp_path / "k.csv"], str(profile))


def test_two_columns_for_one_target(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "kunden.csv").write_text(
        "Kundennummer;Name;Kundenname;Segment\nK1;A;B;smb\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"columns 'Kundenname' and 'Name' both map to name"):
        load_sources(wh.con, [tmp_path / "kunden.csv"], "german_erp")
