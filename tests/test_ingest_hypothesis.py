"""Property: whatever bytes a file holds, the reader never crashes and always reconciles.

The only exception allowed is InputError (a whole-file problem: empty, binary,
wrong encoding, missing column). Otherwise every data row is either loaded or
quarantined: rows read = loaded + quarantined, and the warehouse holds exactly
the loaded rows and the quarantined reasons.
"""

from __future__ import annotations

import csv
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
