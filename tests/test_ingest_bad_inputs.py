"""The bad-input corpus (tests/data/bad/): one test per way real exports go wrong.

Each file is small enough to read in the test's comment; expected values come
from the file's own content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from arinsight.errors import InputError
from arinsight.ingest import LoadResult, load_sources
from arinsight.warehouse import Warehouse

BAD = Path(__file__).parent / "data" / "bad"
PROFILES = Path(__file__).parent / "data" / "profiles"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


def _with_customers(wh: Warehouse) -> None:
    """C1 and C2 (tests/data/bad/customers.csv) for the invoice cases."""
    load_sources(wh.con, [BAD / "customers.csv"])


def _rows(wh: Warehouse, sql: str) -> list[tuple[object, ...]]:
    return wh.con.execute(sql).fetchall()


def _quarantine(wh: Warehouse) -> list[tuple[object, ...]]:
    return _rows(
        wh,
        "select line_number, field, reason, raw_row from meta.quarantine "
        "order by load_id, line_number",
    )


def _only(results: list[LoadResult], table: str) -> LoadResult:
    (res,) = [r for r in results if r.table == table]
    assert res.reconciles()
    return res


def test_wrong_delimiter_names_the_delimiter_to_set(wh: Warehouse) -> None:
    f = BAD / "wrong_delimiter" / "invoices.csv"
    with pytest.raises(InputError) as err:
        load_sources(wh.con, [f])
    msg = str(err.value)
    assert msg.startswith(f"{f} line 1: missing required column for invoices.invoice_id")
    assert "the file looks ';'-separated: set csv.delimiter: ';' in profile canonical" in msg


def test_cp1252_umlauts_refused_as_utf8_read_as_cp1252(wh: Warehouse) -> None:
    f = BAD / "cp1252_umlauts" / "kunden.csv"
    # Line 2 holds "Müller" with ü = byte 0xfc, which is not UTF-8.
    with pytest.raises(InputError) as err:
        load_sources(wh.con, [f], str(PROFILES / "german_utf8_only.yaml"))
    assert str(err.value).startswith(f"{f} line 2: byte 0xfc is not valid UTF-8.")
    assert "Set csv.encoding: cp1252 (or auto) in profile german_utf8_only" in str(err.value)
    # german_erp's encoding is auto: UTF-8 when valid, else cp1252.
    results = load_sources(wh.con, [f], "german_erp")
    assert "read as cp1252" in _only(results, "customers").notes
    assert _rows(wh, "select customer_id, name from raw.customers order by 1") == [
        ("K1", "Müller Straßenbau GmbH"),
        ("K2", "Bäckerei Öztürk"),
    ]


def test_utf8_bom_and_crlf(wh: Warehouse) -> None:
    results = load_sources(wh.con, [BAD / "bom" / "customers.csv"])
    assert _only(results, "customers").rows_loaded == 2
    # the BOM does not stick to the first header name, and CRLF does not stick to values
    assert _rows(wh, "select customer_id, name, _source_line from raw.customers order by 1") == [
        ("C1", "Jürgen", 2),
        ("C2", "Zoë", 3),
    ]


def test_decimal_comma_with_thousands_dots(wh: Warehouse) -> None:
    _with_customers(wh)
    results = load_sources(wh.con, [BAD / "decimal_comma" / "rechnungen.csv"], "german_erp")
    inv = _only(results, "invoices")
    assert (inv.rows_read, inv.rows_loaded, inv.rows_quarantined) == (5, 3, 2)
    assert _rows(wh, "select invoice_id, amount from raw.invoices order by 1") == [
        ("R1", Decimal("1234.56")),
        ("R2", Decimal("1234567.89")),
        ("R3", Decimal("0.50")),
    ]
    q = _quarantine(wh)
    assert q[0] == (
        5,
        "Betrag",
        "Betrag '12,5,0' is not a number (decimal comma, thousands separator '.', "
        "at most 2 decimals expected by profile german_erp; profile keys "
        "csv.decimal, csv.thousands)",
        "R4;C2;05.01.2024;04.02.2024;12,5,0",
    )
    # "12.50" is a decimal point number: ambiguous with thousands dots, refused with a hint
    assert q[1][0] == 6 and q[1][2].startswith("Betrag '12.50' is not a number")
    assert "it looks like a decimal point number: check csv.decimal / csv.thousands" in q[1][2]


def test_two_digit_years_are_refused_with_percent_y_hint_and_read_with_it(wh: Warehouse) -> None:
    _with_customers(wh)
    f = BAD / "two_digit_years" / "rechnungen.csv"
    results = load_sources(wh.con, [f], "german_erp")
    assert _only(results, "invoices").rows_quarantined == 2
    reason = _quarantine(wh)[0][2]
    assert reason.startswith(
        "Rechnungsdatum '05.01.24' gives year 24: a two-digit year read "
        "with %Y? Use %y in date_formats (profile german_erp)"
    )
    results = load_sources(wh.con, [f], str(PROFILES / "two_digit_years.yaml"))
    assert _only(results, "invoices").rows_loaded == 2
    assert _rows(wh, "select invoice_id, issue_date, due_date from raw.invoices order by 1") == [
        ("R1", dt.date(2024, 1, 5), dt.date(2024, 2, 4)),
        ("R2", dt.date(2023, 12, 31), dt.date(2024, 1, 30)),
    ]


def test_day_month_ambiguity_is_refused_not_guessed(wh: Warehouse) -> None:
    _with_customers(wh)
    profile = str(PROFILES / "ambiguous_dates.yaml")
    f = BAD / "ambiguous_dates" / "invoices.csv"
    # every date (03/04/2024, 05/04/2024, 01/02/2024, 03/02/2024) fits both orders
    with pytest.raises(InputError) as err:
        load_sources(wh.con, [f], profile)
    assert str(err.value).startswith(
        f"{f}: every date in the file fits both %d/%m/%Y and %m/%d/%Y, and they disagree"
    )
    assert "keep only the right one in date_formats of profile ambiguous_dates" in str(err.value)
    assert _rows(wh, "select count(*) from raw.invoices") == [(0,)]
    # 13/02/2024 cannot be month-first: the file is day-first throughout
    results = load_sources(wh.con, [BAD / "ambiguous_dates" / "resolvable"], profile)
    assert "dates read as %d/%m/%Y" in _only(results, "invoices").notes
    assert _rows(wh, "select invoice_id, issue_date, due_date from raw.invoices order by 1") == [
        ("I1", dt.date(2024, 4, 3), dt.date(2024, 4, 5)),
        ("I2", dt.date(2024, 2, 1), dt.date(2024, 2, 13)),
    ]


def test_empty_file(wh: Warehouse) -> None:
    f = BAD / "empty" / "customers.csv"
    with pytest.raises(InputError, match=r"customers.csv: the file is empty \(not even a header"):
        load_sources(wh.con, [f])


def test_header_only_loads_nothing_and_says_so(wh: Warehouse) -> None:
    results = load_sources(wh.con, [BAD / "header_only" / "customers.csv"])
    res = _only(results, "customers")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (0, 0, 0)
    assert "no data rows (header only)" in res.notes


def test_missing_required_column(wh: Warehouse) -> None:
    f = BAD / "missing_column" / "invoices.csv"
    with pytest.raises(InputError) as err:
        load_sources(wh.con, [f])
    assert str(err.value) == (
        f"{f} line 1: missing required column for invoices.amount: no column is named amount "
        "and tables.invoices.rename maps none to it; found 'invoice_id', 'customer_id', "
        "'issue_date', 'due_date', 'total'"
    )


def test_missing_renamed_column_names_the_rename(wh: Warehouse, tmp_path: Path) -> None:
    f = tmp_path / "rechnungen.csv"
    f.write_text("Rechnungsnummer;Kundennummer;Rechnungsdatum;Fälligkeit;Summe\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"missing required column for invoices.amount: the "
        r"profile maps 'Betrag' → amount \(tables.invoices."
        r"rename\) but the file has no column 'Betrag'",
    ):
        load_sources(wh.con, [f], "german_erp")


def test_extra_columns_are_ignored_and_listed(wh: Warehouse) -> None:
    results = load_sources(wh.con, [BAD / "extra_columns" / "customers.csv"])
    res = _only(results, "customers")
    assert res.rows_loaded == 2
    assert "ignored columns: sales_rep, credit_limit" in res.notes


def test_trailing_blank_lines_are_not_rows(wh: Warehouse) -> None:
    results = load_sources(wh.con, [BAD / "trailing_blank_lines" / "customers.csv"])
    res = _only(results, "customers")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (2, 2, 0)


def test_quoted_newlines_keep_true_line_numbers(wh: Warehouse) -> None:
    # Line 1 header; C1 spans lines 2-3; C2 spans lines 4-6 (with a blank line inside
    # the quotes); C3 on line 7 has no segment.
    results = load_sources(wh.con, [BAD / "quoted_newlines" / "customers.csv"])
    res = _only(results, "customers")
    assert (res.rows_loaded, res.rows_quarantined) == (2, 1)
    assert _rows(wh, "select customer_id, name, _source_line from raw.customers order by 1") == [
        ("C1", "Alpha GmbH\nHinterhof 2", 2),
        ("C2", "Beta\n\nAG", 4),
    ]
    assert _quarantine(wh) == [
        (7, "segment", "segment is empty (required for customers.segment)", "C3,,Gamma")
    ]


def test_excel_serial_dates(wh: Warehouse) -> None:
    _with_customers(wh)
    f = BAD / "excel_dates" / "invoices.csv"
    # Without 'excel' in date_formats the day numbers are refused, with a hint.
    results = load_sources(wh.con, [f])
    assert _only(results, "invoices").rows_quarantined == 1
    assert (
        "it looks like an Excel serial day number: add 'excel' to date_formats"
        in _quarantine(wh)[0][2]
    )
    # 45296 days after 1899-12-30 is 2024-01-05; 45326 is 30 days later.
    results = load_sources(wh.con, [f], str(PROFILES / "excel_dates.yaml"))
    assert _only(results, "invoices").rows_loaded == 1
    assert _rows(wh, "select issue_date, due_date from raw.invoices") == [
        (dt.date(2024, 1, 5), dt.date(2024, 2, 4))
    ]


def test_duplicate_rows(wh: Warehouse) -> None:
    # Line 4 repeats line 2 exactly: the first stays. C3 (lines 5, 6) disagrees on the
    # segment: neither is loaded.
    results = load_sources(wh.con, [BAD / "duplicate_rows" / "customers.csv"])
    res = _only(results, "customers")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (5, 2, 3)
    assert _rows(wh, "select customer_id from raw.customers order by 1") == [("C1",), ("C2",)]
    q = _quarantine(wh)
    assert q[0][:3] == (4, "customer_id", "duplicate customer_id 'C1': exact repeat of line 2")
    assert q[1][:3] == (
        5,
        "customer_id",
        "duplicate customer_id 'C3' with different content in 2 rows (lines "
        "5, 6): nothing loaded for this key; fix the export or remove the wrong "
        "rows",
    )
    assert q[2][0] == 6


def test_mixed_date_formats_parse_value_by_value_and_refuse_ambiguous_ones(
    wh: Warehouse, tmp_path: Path
) -> None:
    _with_customers(wh)
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: mixed\nextends: canonical\ndate_formats: ['%Y-%m-%d', '%d/%m/%Y', '%m/%d/%Y']\n",
        encoding="utf-8",
    )
    # No single format fits every date: ISO rows, a day-first 13/02, a month-first 02/14.
    # 03/04/2024 (line 5) fits both slash formats with different dates: quarantined.
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-05,2024-02-04,1.00\n"
        "I2,C1,13/02/2024,2024-03-14,1.00\n"
        "I3,C1,2024-01-15,02/14/2024,1.00\n"
        "I4,C1,03/04/2024,2024-05-03,1.00\n",
        encoding="utf-8",
    )
    results = load_sources(wh.con, [tmp_path / "invoices.csv"], str(profile))
    assert (_only(results, "invoices").rows_loaded, results[0].rows_quarantined) == (3, 1)
    assert _rows(wh, "select invoice_id, issue_date, due_date from raw.invoices order by 1") == [
        ("I1", dt.date(2024, 1, 5), dt.date(2024, 2, 4)),
        ("I2", dt.date(2024, 2, 13), dt.date(2024, 3, 14)),
        ("I3", dt.date(2024, 1, 15), dt.date(2024, 2, 14)),
    ]
    line, field, reason, _ = _quarantine(wh)[0]
    assert (line, field) == (5, "issue_date")
    assert reason.startswith(
        "issue_date '03/04/2024' is ambiguous: it matches several of "
        "date_formats (%Y-%m-%d, %d/%m/%Y, %m/%d/%Y) with different dates"
    )
