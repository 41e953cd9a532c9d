"""The direct read: a CSV typed straight from DuckDB's parallel CSV reader.

A file that feeds one table is read by the typing query itself, and its rows
are numbered afterwards by their position in the typed table (``rowid``). These
tests pin that the numbers are the file's true lines — loaded rows'
``_source_line``, quarantined rows' line, the lines named in duplicate
messages — on every way a file can take: row position + offset (plain files),
the record index (quoted fields, blank lines), and the staged read the loader
falls back to. Every file is written by hand; its comments give each line.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import arinsight.ingest.loader as loader
import arinsight.ingest.sources as sources
from arinsight.errors import InputError
from arinsight.ingest import LoadResult, load_sources
from arinsight.warehouse import Warehouse


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as w:
        yield w


@pytest.fixture
def ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records how each file's rows got their line numbers."""
    taken: list[str] = []
    number = loader.number_direct_rows
    staged = loader.stage_delimited
    pair = loader.pair_direct_lines

    def spy_number(*args: Any) -> int | None:
        offset = number(*args)
        taken.append("row position" if offset is not None else "record index")
        return offset

    def spy_staged(*args: Any) -> sources.Staged:
        taken.append("staged")
        return staged(*args)

    def spy_pair(*args: Any) -> sources.Staged:
        taken.append("paired")
        return pair(*args)

    monkeypatch.setattr(loader, "number_direct_rows", spy_number)
    monkeypatch.setattr(loader, "stage_delimited", spy_staged)
    monkeypatch.setattr(loader, "pair_direct_lines", spy_pair)
    return taken


def _load(wh: Warehouse, path: Path) -> LoadResult:
    (res,) = load_sources(wh.con, [path])
    assert res.reconciles()
    return res


def _loaded(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.con.execute(
        "select customer_id, _source_line from raw.customers order by _source_line"
    ).fetchall()


def _quarantine(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.con.execute(
        "select line_number, field, reason, raw_row from meta.quarantine order by line_number"
    ).fetchall()


PLAIN = (
    "customer_id,segment,name,payment_terms_days\n"  # line 1
    "C1,smb,Alpha,14\n"  # line 2: loaded
    "C2,smb,Beta,x14\n"  # line 3: not a whole number
    "C3,enterprise,Gamma,30\n"  # line 4: loaded
    "C1,smb,Alpha,14\n"  # line 5: repeats line 2
    "C4,,Delta,7\n"  # line 6: no segment
)


@pytest.mark.parametrize(
    ("setup", "way"),
    [
        ("", "row position"),  # the fast way: the plan keeps the file's order
        ("reorders", "paired"),  # a plan that might reorder rows is not trusted
        ("one thread", "paired"),  # DuckDB plans no order-keeping insert for one thread
    ],
)
def test_plain_file_lines_are_true_either_way(
    wh: Warehouse,
    tmp_path: Path,
    ways: list[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    way: str,
) -> None:
    if setup == "reorders":
        monkeypatch.setattr(loader, "keeps_order", lambda *args: False)
    if setup == "one thread":
        wh.con.execute("set threads = 1")
    f = tmp_path / "customers.csv"
    f.write_text(PLAIN, encoding="utf-8")
    res = _load(wh, f)
    assert ways == [way]
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (5, 2, 3)
    assert _loaded(wh) == [("C1", 2), ("C3", 4)]
    assert _quarantine(wh) == [
        (
            3,
            "payment_terms_days",
            "payment_terms_days 'x14' is not a whole number",
            "C2,smb,Beta,x14",
        ),
        (5, "customer_id", "duplicate customer_id 'C1': exact repeat of line 2", "C1,smb,Alpha,14"),
        (6, "segment", "segment is empty (required for customers.segment)", "C4,,Delta,7"),
    ]


@pytest.mark.parametrize(
    ("reorders", "way"),
    [
        (False, "record index"),  # row k of the typed table gets data record k's line
        (True, "paired"),  # the same lines, paired with the rows while reading
    ],
)
def test_quoted_fields_and_blank_lines_use_the_record_index(
    wh: Warehouse,
    tmp_path: Path,
    ways: list[str],
    monkeypatch: pytest.MonkeyPatch,
    reorders: bool,
    way: str,
) -> None:
    if reorders:
        monkeypatch.setattr(loader, "keeps_order", lambda *args: False)
    f = tmp_path / "customers.csv"
    f.write_text(
        "customer_id,segment,name\n"  # line 1
        'C1,smb,"Alpha, Inc."\n'  # line 2: a quote makes the file not plain
        "\n"  # line 3: blank, not a row
        "C2,,Beta\n"  # line 4: no segment
        'C3,smb,"Gamma\n'  # line 5 ...
        'Hof"\n'  # ... line 6: the same record
        "C4,smb,Delta\n",  # line 7
        encoding="utf-8",
    )
    res = _load(wh, f)
    assert ways == [way]
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (4, 3, 1)
    assert "1 blank line(s) skipped" in res.notes
    assert _loaded(wh) == [("C1", 2), ("C3", 5), ("C4", 7)]
    assert _quarantine(wh) == [
        (4, "segment", "segment is empty (required for customers.segment)", "C2,,Beta")
    ]


def test_malformed_line_falls_back_to_the_staged_read(
    wh: Warehouse, tmp_path: Path, ways: list[str]
) -> None:
    f = tmp_path / "customers.csv"
    f.write_text(
        "customer_id,segment\n"  # line 1
        "C1,smb\n"  # line 2
        "C2,smb,surplus\n"  # line 3: three fields for two columns
        "C3,smb\n",  # line 4
        encoding="utf-8",
    )
    res = _load(wh, f)
    # the direct read sees the reject and hands the file to the staged read
    assert ways == ["staged"]
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (3, 2, 1)
    assert _loaded(wh) == [("C1", 2), ("C3", 4)]
    assert [(line, field) for line, field, _, _ in _quarantine(wh)] == [(3, "(line)")]


ROWS = 5000  # data lines 2 .. 5001
EVERY = 701  # lines divisible by this hold a bad payment term


def test_many_read_buffers_keep_the_line_numbers(
    wh: Warehouse, tmp_path: Path, ways: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny read buffers split the file into dozens of chunks read in parallel;
    # customer C<n> sits on line n, so every loaded row can be checked.
    monkeypatch.setattr(sources, "MAX_LINE_SIZE", 512)
    monkeypatch.setattr(sources, "BUFFER_SIZE", 1024)
    lines = range(2, ROWS + 2)
    body = "".join(f"C{n},smb,{'bad' if n % EVERY == 0 else n % 60}\n" for n in lines)
    f = tmp_path / "customers.csv"
    f.write_text("customer_id,segment,payment_terms_days\n" + body, encoding="utf-8")
    res = _load(wh, f)
    assert ways == ["row position"]
    bad = [n for n in lines if n % EVERY == 0]  # 701, 1402, ..., 4907
    assert (res.rows_read, res.rows_loaded) == (ROWS, ROWS - len(bad))
    assert [q[0] for q in _quarantine(wh)] == bad
    assert [q[3] for q in _quarantine(wh)] == [f"C{n},smb,bad" for n in bad]
    off = wh.con.execute(
        "select count(*) from raw.customers where _source_line <> cast(customer_id[2:] as bigint)"
    ).fetchall()
    assert off == [(0,)]


def test_every_canonical_table_takes_the_fast_way(
    wh: Warehouse, tmp_path: Path, ways: list[str]
) -> None:
    # A typing query that DuckDB plans with a join (IN lists, list_contains) would
    # reorder rows and silently fall back to the slower staged read.
    from arinsight.contract import TABLES

    d = tmp_path / "ledger"
    d.mkdir()
    for name, table in TABLES.items():
        (d / f"{name}.csv").write_text(
            ",".join(table.column_names) + "\n" + "," * (len(table.columns) - 1) + "\n",
            encoding="utf-8",
        )
    results = load_sources(wh.con, [d])
    assert [r.table for r in results] == list(TABLES)
    assert ways == ["row position"] * len(TABLES)


# The fast path for amounts (text that DuckDB's decimal cast prints back unchanged)
# must accept and refuse exactly what the number pattern does. Adjustments take no
# negative amount, so a negative number shows in the reason with its parsed value.
NOT_A_NUMBER = "is not a number (decimal point, no thousands separator"
AMOUNTS: list[tuple[str, Decimal | str]] = [
    ("27.93", Decimal("27.93")),  # the fast path
    ("0.50", Decimal("0.50")),  # fast path, below one
    ("-5.00", "amount -5.00 is negative"),  # fast path, negative
    ("1.5", Decimal("1.50")),  # one decimal: the pattern path
    ("7", Decimal("7.00")),  # no decimals
    ("+5.00", Decimal("5.00")),  # explicit plus sign
    ("-0.00", Decimal("0.00")),  # negative zero is zero
    ("12.300", Decimal("12.30")),  # zeros beyond two decimals are allowed
    ("7-", "amount -7.00 is negative"),  # SAP-style trailing minus
    ("1.234", f"amount '1.234' {NOT_A_NUMBER}"),  # three decimals
    ("1e3", f"amount '1e3' {NOT_A_NUMBER}"),  # DuckDB would cast it; the pattern refuses
    (".50", f"amount '.50' {NOT_A_NUMBER}"),  # no digit before the point
    ("1,234.50", f"amount '1,234.50' {NOT_A_NUMBER}"),  # canonical has no thousands separator
]


def test_amount_text_is_read_by_the_pattern_rules(wh: Warehouse, tmp_path: Path) -> None:
    # adjustment A<i> (line i + 2) has a valid id, invoice, date and kind; only the
    # amount varies
    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-05,2024-02-04,100.00\n",
        encoding="utf-8",
    )
    quoted = [f'"{text}"' if "," in text else text for text, _ in AMOUNTS]
    body = "".join(f"A{i},I1,2024-01-10,{q},write_off\n" for i, q in enumerate(quoted))
    (tmp_path / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjusted_at,amount,kind\n" + body, encoding="utf-8"
    )
    load_sources(wh.con, [tmp_path])
    loaded = dict(wh.con.execute("select adjustment_id, amount from raw.adjustments").fetchall())
    refused = dict(
        wh.con.execute(
            "select line_number, reason from meta.quarantine where table_name = 'adjustments'"
        ).fetchall()
    )
    for i, (text, expected) in enumerate(AMOUNTS):
        if isinstance(expected, Decimal):
            assert loaded.get(f"A{i}") == expected, text
        else:
            assert f"A{i}" not in loaded, text
            assert str(refused[i + 2]).startswith(expected), text


# --- the reading thread ------------------------------------------------------------------


@pytest.fixture
def tiny_steps(monkeypatch: pytest.MonkeyPatch) -> int:
    """Whole-file scans in steps of 4 bytes, so that needles straddle the steps."""
    monkeypatch.setattr(sources, "_STEP", 4)
    return 4


@pytest.mark.parametrize(
    ("data", "needle", "found"),
    [
        (b"abcdefgh", b"d", True),  # last byte of the first step
        (b"abcdefgh", b"de", True),  # across the first and second step
        (b"abcdefgh", b"hi", False),  # would run past the end
        (b"abc", b"c", True),  # shorter than one step
        (b"", b"a", False),
    ],
)
def test_stepwise_find(tiny_steps: int, data: bytes, needle: bytes, found: bool) -> None:
    assert sources._has(data, needle) is found


def test_stepwise_count_and_blank_lines(tiny_steps: int) -> None:
    data = b"a,b\nc,d\n\r\ne\n"  # newlines at 3, 7, 9, 11; a CRLF-blank line spans steps 2-3
    assert sources._count_byte(data, b"\n") == 4
    assert sources._occurs(sources._BLANK_LINE, data, 3)
    assert not sources._occurs(sources._BLANK_LINE, b"a,b\nc,d\ne,f\n", 3)
    assert sources._is_ascii(b"abcdefgh") and not sources._is_ascii(b"abcdef\xc3\xbc")


def test_stepwise_utf8_check(tiny_steps: int) -> None:
    # "ü" is c3 bc: bytes 3-4 straddle the first step and are still one valid character
    assert sources._utf8_error(b"abc\xc3\xbcdef") is None
    # 0xfc (cp1252 ü) at byte 9 is not UTF-8; the error names its place in the whole file
    err = sources._utf8_error(b"abcdefgh,\xfc,x")
    assert err is not None and err.start == 9


def test_files_are_read_ahead_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arinsight.ingest.profiles import resolve_profile

    sizes = [20, 40, 20, 100]  # bytes of files f0 .. f3 (a 12-byte header, then rows)
    files = []
    for i, size in enumerate(sizes):
        f = tmp_path / f"f{i}.csv"
        f.write_bytes(b"customer_id\n" + b"C\n" * ((size - 12) // 2))
        assert f.stat().st_size == size
        files.append((f, "customers"))
    monkeypatch.setattr(loader, "READ_AHEAD_BYTES", 60)
    reader = loader._ReadAhead(files, resolve_profile("canonical"))
    try:
        # before file 0: f0 always; f0 + f1 = 60 fits the budget; + f2 = 80 does not
        assert sorted(reader.queued) == [0, 1]
        reader.take(0)
        # after f0: f1 + f2 = 60 fits; + f3 = 160 does not
        assert sorted(reader.queued) == [1, 2]
        reader.take(1)
        # f2 waits; f2 + f3 = 120 does not fit
        assert sorted(reader.queued) == [2]
        f2 = reader.take(2)
        # f3 is now the next file: queued whatever its size
        assert sorted(reader.queued) == [3]
        assert [f2.digest, reader.take(3).digest] == [loader.sha256_of(files[i][0]) for i in (2, 3)]
    finally:
        reader.close()


def test_a_failed_load_removes_transcoded_copies_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wh: Warehouse
) -> None:
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    src = tmp_path / "src"
    src.mkdir()
    # customers.csv lacks the segment column: the load fails on the first file, after
    # the invoices (cp1252, so copied to UTF-8 in the scratch directory) were read ahead
    (src / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    (src / "invoices.csv").write_bytes(
        "invoice_id,customer_id,issue_date,due_date,amount,name\n"
        "I1,C1,2024-01-05,2024-02-04,1.00,Müller\n".encode("cp1252")
    )
    profile = tmp_path / "p.yaml"
    profile.write_text("name: cp\nextends: canonical\ncsv:\n  encoding: cp1252\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing required column for customers.segment"):
        load_sources(wh.con, [src], str(profile))
    assert list(scratch.iterdir()) == []


# --- duplicate keys: the streaming order test, then the hash aggregate ------------------


@pytest.mark.parametrize(
    ("keys", "repeats"),
    [
        (["C1", "C2", "C3"], []),  # ascending: the streaming pass alone clears them
        (["C3", "C1", "C2"], []),  # all different but not ascending: the aggregate clears them
        (["C1", "C2", "C2"], [4]),  # ascending but for an equal neighbour
        (["C2", "C1", "C2"], [4]),  # a repeat apart from its first row
    ],
)
def test_duplicate_keys_in_any_order(
    wh: Warehouse, tmp_path: Path, keys: list[str], repeats: list[int]
) -> None:
    f = tmp_path / "customers.csv"
    f.write_text("customer_id,segment\n" + "".join(f"{k},smb\n" for k in keys), encoding="utf-8")
    res = _load(wh, f)
    assert res.rows_quarantined == len(repeats)
    assert [q[0] for q in _quarantine(wh)] == repeats


@pytest.mark.parametrize(
    ("rows", "repeats"),
    [
        # same day, currencies not ascending: all different
        ([("2024-01-01", "USD"), ("2024-01-01", "GBP")], []),
        # ascending by (day, currency) but for the last, which repeats line 3
        ([("2024-01-01", "USD"), ("2024-01-02", "USD"), ("2024-01-02", "USD")], [4]),
    ],
)
def test_duplicate_two_column_keys(
    wh: Warehouse, tmp_path: Path, rows: list[tuple[str, str]], repeats: list[int]
) -> None:
    f = tmp_path / "fx_rates.csv"
    body = "".join(f"{day},{cur},1.1\n" for day, cur in rows)
    f.write_text("rate_date,currency,rate_to_reporting\n" + body, encoding="utf-8")
    res = _load(wh, f)
    assert res.rows_quarantined == len(repeats)
    assert [q[0] for q in _quarantine(wh)] == repeats


def test_duckdb_gets_the_memory_limit_minus_the_text_the_loader_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wh: Warehouse
) -> None:
    # DuckDB's limit is for DuckDB alone; while a CSV's text sits in Python the
    # loader lowers it by that many bytes, and puts it back afterwards
    src = tmp_path / "src"
    src.mkdir()
    body = "customer_id,segment,name\n" + "".join(f"C{i:06d},smb,N\n" for i in range(40_000))
    (src / "customers.csv").write_text(body, encoding="utf-8")
    size = (src / "customers.csv").stat().st_size  # 600,025 bytes: ASCII, read as it is
    wh.con.execute("set memory_limit = '64MiB'")
    seen: list[str] = []
    write = loader._write_output

    def spy(con: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(con.execute("select current_setting('memory_limit')").fetchall()[0][0])
        return write(con, *args, **kwargs)

    monkeypatch.setattr(loader, "LOAD_MEMORY_FLOOR_MIB", 1)
    monkeypatch.setattr(loader, "_write_output", spy)
    (res,) = load_sources(wh.con, [src])
    assert res.rows_loaded == 40_000
    # 64 MiB - 600,025 bytes (plain file: no record index) = 66,508,839 bytes -> 63 MiB
    assert (64 * 2**20 - size) // 2**20 == 63
    assert seen == ["63.0 MiB"]
    assert wh.con.execute("select current_setting('memory_limit')").fetchall()[0][0] == "64.0 MiB"


def test_memory_limit_text_is_read_in_every_unit(wh: Warehouse) -> None:
    # DuckDB shows the limit cut to 0.1 of its unit: 3GB (2.79 GiB) reads back as "2.7 GiB"
    for setting, expected in (("3GB", 3 * 10**9), ("1536MiB", 1536 * 2**20), ("2GiB", 2 * 2**30)):
        wh.con.execute(f"set memory_limit = '{setting}'")
        got = loader._memory_limit_bytes(wh.con)
        assert got is not None and 0 <= expected - got < 0.1 * 2**30


def test_the_memory_limit_is_never_raised_nor_more_than_halved(wh: Warehouse) -> None:
    class Text:
        def __init__(self, n: int) -> None:
            self.n = n

        def held_bytes(self) -> int:
            return self.n

    class Reader:
        def queued_bytes(self) -> int:
            return 10 * 2**20  # a 10 MiB file read ahead

    def room(limit_mib: int, held_mib: int) -> str:
        prepared = loader._Prepared("digest", "csv", Text(held_mib * 2**20))  # type: ignore[arg-type]
        loader._leave_room(wh.con, limit_mib * 2**20, prepared, Reader())  # type: ignore[arg-type]
        return str(wh.con.execute("select current_setting('memory_limit')").fetchall()[0][0])

    assert room(3072, 790) == "2.2 GiB"  # 3072 - 790 - 10 = 2272 MiB
    assert room(200, 40) == "150.0 MiB"  # 200 - 40 - 10
    assert room(200, 150) == "100.0 MiB"  # would be 40: half the limit instead
    assert room(4096, 3000) == "1.0 GiB"  # 1086 MiB (DuckDB shows it cut to 1.0 GiB)
    assert room(2048, 1900) == "256.0 MiB"  # would be 138 MiB: the floor (half would be 1 GiB)
