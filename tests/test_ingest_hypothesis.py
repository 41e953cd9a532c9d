"""Property: whatever bytes a file holds, the reader never crashes and always reconciles.

The only exception allowed is InputError (a whole-file problem: empty, binary,
wrong encoding, missing column). Otherwise every data row is either loaded or
quarantined: rows read = loaded + quarantined, and the warehouse holds exactly
the loaded rows and the quarantined reasons.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arinsight.errors import InputError
from arinsight.ingest import load_sources
from arinsight.warehouse import init_schema

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Field text leans on the characters that break CSV readers.
TRICKY = st.sampled_from(
    [
        ",",
        ";",
        '"',
        "\n",
        "\r",
        "\r\n",
        " ",
        "\t",
        "ü",
        "€",
        "\ufeff",
        "1",
        "2024-01-05",
        "-",
        ".",
        "12,50",
        "true",
        "Ja",
    ]
)
FIELD = st.lists(st.one_of(TRICKY, st.text(max_size=4)), max_size=4).map("".join)
COLUMNS = ["customer_id", "segment", "name", "payment_terms_days", "created_at", "extra"]


def _load(data: bytes, name: str = "customers.csv", preload: bytes | None = None) -> None:
    """Load ``data`` as ``name`` into a fresh in-memory warehouse and check the books."""
    con = duckdb.connect()
    init_schema(con)
    with tempfile.TemporaryDirectory() as tmp:
        if preload is not None:
            (Path(tmp) / "pre").mkdir()
            (Path(tmp) / "pre" / "customers.csv").write_bytes(preload)
            load_sources(con, [Path(tmp) / "pre" / "customers.csv"])
        path = Path(tmp) / name
        path.write_bytes(data)
        before_q = con.execute("select count(*) from meta.quarantine").fetchall()[0][0]
        try:
            results = load_sources(con, [path])
        except InputError:
            return
        for r in results:
            assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
        table = results[0].table
        loaded = con.execute(
            f"select count(*) from raw.{table} where _load_id = ?", [results[0].load_id]
        ).fetchall()[0][0]
        quarantined = con.execute("select count(*) from meta.quarantine").fetchall()[0][0]
        assert loaded == results[0].rows_loaded
        assert quarantined - before_q == sum(r.rows_quarantined for r in results)
        reasons = con.execute("select reason from meta.quarantine").fetchall()
        assert all(r[0] for r in reasons)
    con.close()


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@SETTINGS
@given(
    header=st.permutations(COLUMNS).map(lambda c: c[: max(2, len(c) - 1)]),
    rows=st.lists(st.lists(FIELD, min_size=0, max_size=7), max_size=12),
    quoted=st.booleans(),
    crlf=st.booleans(),
)
def test_random_rows(header: list[str], rows: list[list[str]], quoted: bool, crlf: bool) -> None:
    buf = io.StringIO(newline="")
    end = "\r\n" if crlf else "\n"
    if quoted:  # well-formed CSV with random (often wrong) values and field counts
        w = csv.writer(buf, lineterminator=end)
        w.writerow(header)
        w.writerows(rows)
    else:  # fields joined raw: stray quotes, delimiters and newlines everywhere
        buf.write(",".join(header) + end)
        for row in rows:
            buf.write(",".join(row) + end)
    _load(buf.getvalue().encode("utf-8"))


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["I1", "I2", "I1", "", " I3 "]),
            st.sampled_from(["C1", "C9", ""]),
            st.sampled_from(["2024-01-05", "2024-02-30", "05.01.2024", ""]),
            st.sampled_from(["2024-02-04", "2023-12-31", "x"]),
            st.sampled_from(["1.00", "-1", "1,5", "1e3", "", "0.001"]),
        ),
        max_size=15,
    )
)
def test_random_invoices_against_known_customers(
    rows: list[tuple[str, str, str, str, str]],
) -> None:
    text = "invoice_id,customer_id,issue_date,due_date,amount\n" + "".join(
        ",".join(r) + "\n" for r in rows
    )
    _load(text.encode("utf-8"), "invoices.csv", preload=b"customer_id,segment\nC1,smb\n")


# Issue 13's checks (dates after the export date, payments before their invoice,
# due dates a year after issue, references that arrive later) move rows to the
# quarantine or out of it after the typing; the books must balance throughout.
INVOICE_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["I1", "I2", "I3", "I4"]),
        st.sampled_from(["2024-01-05", "2024-03-01", "2031-01-05", "1999-12-31"]),
        st.sampled_from([0, 30, 400]),  # due date = issue + this many days
    ),
    max_size=8,
)
PAYMENT_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P1"]),
        st.sampled_from(["I1", "I2", "I3", "I9"]),
        st.sampled_from(["2023-12-01", "2024-02-01", "2024-06-30", "2030-05-05"]),
    ),
    max_size=8,
)


def _books(con: duckdb.DuckDBPyConnection) -> None:
    """Every load in meta.loads: read = loaded + quarantined; the raw table holds
    its loaded rows and meta.quarantine its quarantined ones."""
    for lid, table, read, loaded, quarantined in con.execute(
        "select load_id, table_name, rows_read, rows_loaded, rows_quarantined from meta.loads"
    ).fetchall():
        assert read == loaded + quarantined
        in_raw = con.execute(
            f"select count(*) from raw.{table} where _load_id = ?", [lid]
        ).fetchall()[0][0]
        in_q = con.execute(
            "select count(*) from meta.quarantine where load_id = ?", [lid]
        ).fetchall()[0][0]
        # rows of a load can later be replaced by a newer load of the same key
        assert in_raw <= loaded and in_q == quarantined


@settings(
    max_examples=25,  # each example runs six loads
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    invoices=INVOICE_ROWS,
    payments=PAYMENT_ROWS,
    payments_first=st.booleans(),
    export_date=st.sampled_from([None, dt.date(2024, 4, 1)]),
)
def test_plausibility_and_retry_keep_the_books(
    invoices: list[tuple[str, str, int]],
    payments: list[tuple[str, str, str]],
    payments_first: bool,
    export_date: dt.date | None,
) -> None:
    inv = "invoice_id,customer_id,issue_date,due_date,amount\n" + "".join(
        f"{i},C1,{d},{dt.date.fromisoformat(d) + dt.timedelta(days=n)},10.00\n"
        for i, d, n in invoices
    )
    pay = "payment_id,invoice_id,paid_at,amount\n" + "".join(
        f"{p},{i},{d},5.00\n" for p, i, d in payments
    )
    con = duckdb.connect()
    init_schema(con)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in {
            "c/customers.csv": "customer_id,segment\nC1,smb\n",
            "i/invoices.csv": inv,
            "p/payments.csv": pay,
        }.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        order = ["c", "p", "i"] if payments_first else ["c", "i", "p"]
        for folder in order:
            for r in load_sources(con, [root / folder], export_date=export_date):
                assert r.reconciles(), r
            _books(con)
        # loading everything again changes nothing but may release held rows
        load_sources(con, [root / f for f in order], export_date=export_date)
        _books(con)
        # nothing loaded is implausible
        assert not con.execute(
            "select * from raw.payments p join raw.invoices i using (invoice_id) "
            "where p.paid_at < i.issue_date"
        ).fetchall()
        assert not con.execute(
            "select * from raw.invoices where due_date > issue_date + 365"
        ).fetchall()
        if export_date is not None:
            assert not con.execute(
                "select * from raw.payments where paid_at > ?", [export_date]
            ).fetchall()
    con.close()
