"""Issue 13 item 4: a workbook column that mixes real date cells and text dates.

What a locale does to an m/d/yyyy export opened as d/m: "1/2/2013" (2 January)
becomes a date cell holding 1 February, "1/15/2013" stays text. The workbook
here is built cell by cell in the test:

    row  invoice_id  issue_date (cell)      due_date (text)
    2    I1          date 2013-02-01        2/14/2013   day 1 <= 12: could be 2 January
    3    I2          text "1/15/2013"       2/14/2013   text, read with %m/%d/%Y
    4    I3          date 2013-01-13        2/14/2013   day 13: no swap possible
    5    I4          date 2013-01-01        2/14/2013   day = month: the same either way

I1 is quarantined as a possible swap; I2-I4 load with the dates above.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from arinsight.ingest import load_sources
from arinsight.warehouse import Warehouse


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    import xlsxwriter

    src = tmp_path / "src"
    src.mkdir()
    (src / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    book = xlsxwriter.Workbook(src / "invoices.xlsx")
    sheet = book.add_worksheet()
    day_first = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, ["invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    cells: list[tuple[str, dt.datetime | str]] = [
        ("I1", dt.datetime(2013, 2, 1)),
        ("I2", "1/15/2013"),
        ("I3", dt.datetime(2013, 1, 13)),
        ("I4", dt.datetime(2013, 1, 1)),
    ]
    for row, (invoice, issue) in enumerate(cells, start=1):
        sheet.write_string(row, 0, invoice)
        sheet.write_string(row, 1, "C1")
        if isinstance(issue, str):
            sheet.write_string(row, 2, issue)
        else:
            sheet.write_datetime(row, 2, issue, day_first)
        sheet.write_string(row, 3, "2/14/2013")
        sheet.write_number(row, 4, 10.0)
    book.close()
    profile = tmp_path / "us.yaml"
    profile.write_text(
        'name: us_dates\nextends: canonical\ndate_formats: ["%m/%d/%Y"]\n', encoding="utf-8"
    )
    return src


def test_mixed_cells_are_named_and_possible_swaps_quarantined(
    workbook: Path, tmp_path: Path
) -> None:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        results = load_sources(wh.con, [workbook], str(tmp_path / "us.yaml"))
        (inv,) = [r for r in results if r.table == "invoices"]
        assert (inv.rows_read, inv.rows_loaded, inv.rows_quarantined) == (4, 3, 1)
        assert wh.con.execute(
            "select invoice_id, issue_date, due_date from raw.invoices order by 1"
        ).fetchall() == [
            ("I2", dt.date(2013, 1, 15), dt.date(2013, 2, 14)),
            ("I3", dt.date(2013, 1, 13), dt.date(2013, 2, 14)),
            ("I4", dt.date(2013, 1, 1), dt.date(2013, 2, 14)),
        ]
        ((line, field, reason),) = wh.con.execute(
            "select line_number, field, reason from meta.quarantine"
        ).fetchall()
    assert (line, field) == (2, "issue_date")
    assert reason == (
        "issue_date 2013-02-01 is a date cell in a column whose other cells are text: a "
        "locale may have read a text date with day and month swapped (2013-01-02 is as "
        "likely); refusing to guess: export the column as text (m/d/yyyy (%m/%d/%Y), profile "
        "us_dates date_formats) or fix the cell"
    )
    (note,) = [n for n in inv.notes if n.startswith("column 'issue_date' mixes")]
    assert note.startswith(
        "column 'issue_date' mixes date cells (3, e.g. row 2) and text cells (1, e.g. row 3 "
        "'1/15/2013')"
    )


def test_a_column_of_only_date_cells_is_not_mixed(tmp_path: Path) -> None:
    import xlsxwriter

    src = tmp_path / "src"
    src.mkdir()
    (src / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    book = xlsxwriter.Workbook(src / "invoices.xlsx")
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    fmt = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(1, 0, ["I1", "C1"])
    sheet.write_datetime(1, 2, dt.datetime(2013, 2, 1), fmt)
    sheet.write_datetime(1, 3, dt.datetime(2013, 3, 3), fmt)
    sheet.write_number(1, 4, 10.0)
    book.close()
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
        results = load_sources(wh.con, [src])
        assert wh.con.execute("select issue_date from raw.invoices").fetchall() == [
            (dt.date(2013, 2, 1),)
        ]
    assert not [n for r in results for n in r.notes if "mixes" in n]
