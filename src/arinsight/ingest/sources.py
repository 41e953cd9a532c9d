"""Reading one source file into a staged DuckDB temp table ``_src``.

Every format ends up the same way: a temp table ``_src`` whose columns are
named ``c0 … cN`` (generated identifiers: no header text is ever formatted
into SQL) in file order, plus a registered one-column table ``_lines`` holding
each row's line number in the file (``positional join`` pairs them).

A delimited file that feeds one table is instead read *directly* by the typing
query, with no ``_src`` copy and no positional join (which would make DuckDB
read the file with one thread): the typed table keeps the file's row order
(checked on the query plan), so a row's position in it (its ``rowid``) says
which record it came from, and so its line (:func:`number_direct_rows`).

* Delimited text (CSV/TSV) is read by DuckDB's CSV reader with
  ``store_rejects``: lines that cannot be split into the header's fields
  become *rejects* (quarantined with the raw line, never dropped). The
  encoding is checked first (UTF-8 with or without BOM, cp1252, latin-1);
  anything not UTF-8 is transcoded to a temporary UTF-8 copy. Line numbers
  come from a vectorised scan of the bytes for record boundaries (newlines
  outside quotes), so rows spanning several lines (quoted newlines) and blank
  lines keep their true line numbers.
* XLSX (polars + fastexcel) and Parquet (polars) keep their column types;
  the "line" is the spreadsheet row number or the 1-based row index.

Whole-file problems raise :class:`~arinsight.errors.InputError` naming the
file, the line and the profile key to fix.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.errors import InputError

if TYPE_CHECKING:
    import duckdb
    import numpy as np

    from arinsight.ingest.profiles import Profile
else:

    class _Numpy:
        """numpy, imported on first use: only text files need it (index records, find
        padded fields), so a Parquet load never pays for the import (≈ 0.1 s)."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            return getattr(numpy, name)

    np = _Numpy()

SRC = "_src"
LINES = "_lines"
_REJECTS = "_src_rejects"
_REJECT_SCANS = "_src_reject_scans"
_CANDIDATE_DELIMITERS = (";", ",", "\t", "|")
#: longest record DuckDB's CSV reader accepts (a quoted field may hold a long text)
MAX_LINE_SIZE = 16 * 1024 * 1024
#: DuckDB's read buffer; it derives 16 × MAX_LINE_SIZE otherwise, which puts a file
#: under 256 MiB in one buffer, read by one thread (must exceed MAX_LINE_SIZE)
BUFFER_SIZE = 2 * MAX_LINE_SIZE
_NON_BLANK = re.compile(rb"[^ \t\r\n]")
#: an empty line inside the file (one regex scan is ~3× faster than two ``in`` tests)
_BLANK_LINE = re.compile(rb"\n\r?\n")
#: Whole-file byte scans run in the reading thread in steps of this many bytes:
#: bytes methods, codecs and ``re`` hold the GIL, and the thread driving DuckDB
#: would otherwise wait for a whole scan (~50 ms at 80 MB) between statements.
_STEP = 1 << 22


@dataclass(frozen=True)
class Reject:
    """A line that could not be split into the header's fields."""

    line: int | None
    raw: str | None
    reason: str


@dataclass
class Staged:
    """A source file staged as ``_src`` (+ ``_lines``) in the warehouse connection.

    Attributes:
        columns: header names (normalised) in file order; ``_src`` column i is ``c{i}``.
        types: DuckDB type of each staged column (all VARCHAR for text files).
        n_rows: data rows in ``_src`` (rejects and blank lines excluded).
        rejects: malformed lines (text files only).
        unit: "line" (text files, header = line 1) or "row" (XLSX/Parquet).
        raw_line: line number → the exact source text of that row (text files).
        notes: things the user should know (encoding used, blank lines skipped).
    """

    path: Path
    fmt: str
    columns: list[str]
    types: list[str]
    n_rows: int
    rejects: list[Reject] = field(default_factory=list)
    unit: str = "line"
    raw_line: Callable[[list[int]], list[str | None]] | None = None
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    header_line: int = 1
    needs_trim: bool = True
    from_sql: str = f"(select * from {SRC} positional join {LINES})"
    from_params: dict[str, Any] = field(default_factory=dict)
    direct: bool = False
    #: a direct read whose rows carry their ``_line`` (see :func:`pair_direct_lines`)
    paired: bool = False
    #: set after a direct read of a simple file: the line of row k of the typed
    #: table is ``rowid + row_offset`` (its ``_line`` column is NULL)
    row_offset: int | None = None
    #: XLSX text columns that also hold real date cells: column index → the staged
    #: boolean column that is true on a date cell (see :func:`stage_xlsx`)
    date_cells: dict[int, str] = field(default_factory=dict)

    def ident(self, i: int) -> str:
        return f"c{i}"

    def line_of(self, alias: str) -> str:
        """SQL for the line number of a row of the typed table named ``alias``."""
        if self.row_offset is None:
            return f"{alias}._line"
        off = int(self.row_offset)
        return f"({alias}.rowid {'-' if off < 0 else '+'} {abs(off)})"


def clean_header(name: object) -> str:
    """Header text as matched against profiles: BOM/whitespace stripped, Unicode NFC."""
    text = "" if name is None else str(name)
    return unicodedata.normalize("NFC", text.replace("\ufeff", "").strip())


def drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the temp tables of the previous file."""
    for name in (SRC, _REJECTS, _REJECT_SCANS):
        con.execute(f"drop table if exists temp.{name}")
    with contextlib.suppress(Exception):  # not registered yet
        con.unregister(LINES)


# --------------------------------------------------------------------- encoding


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _has(data: bytes, needle: bytes) -> bool:
    """``needle in data``, in steps (see ``_STEP``)."""
    reach = _STEP + len(needle) - 1
    return any(data.find(needle, i, i + reach) >= 0 for i in range(0, len(data), _STEP))


def _count_byte(data: bytes, byte: bytes) -> int:
    """``data.count(byte)`` for a single byte, in steps."""
    return sum(data.count(byte, i, i + _STEP) for i in range(0, len(data), _STEP))


def _occurs(pattern: re.Pattern[bytes], data: bytes, width: int) -> bool:
    """Whether ``pattern`` (matching at most ``width`` bytes) occurs in ``data``, in steps."""
    reach = _STEP + width - 1
    return any(pattern.search(data, i, i + reach) for i in range(0, len(data), _STEP))


def _is_ascii(data: bytes) -> bool:
    return all(data[i : i + _STEP].isascii() for i in range(0, len(data), _STEP))


def _utf8_error(data: bytes) -> UnicodeDecodeError | None:
    """Why ``data`` is not UTF-8 (None when it is); validated in steps."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for i in range(0, len(data), _STEP):
            decoder.decode(data[i : i + _STEP], final=i + _STEP >= len(data))
    except UnicodeDecodeError:
        try:  # the whole-file error, with its position in the file
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc
        raise  # pragma: no cover - a step failed, the whole file did not
    return None


def decode_check(path: Path, data: bytes, profile: Profile) -> tuple[bytes, str]:
    """UTF-8 bytes of ``data`` and the encoding used.

    Raises:
        InputError: not in the profile's encoding (names line and ``csv.encoding``).
    """
    enc = profile.csv.encoding
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:1000].count(b"\x00") > 1:
        raise InputError(
            f"{path}: the file is UTF-16 or binary (NUL bytes found); save it as UTF-8 or "
            f"cp1252 text, or name it .xlsx/.parquet if it is one (profile {profile.name}, "
            "key csv.encoding)"
        )
    if _has(data, b"\x00"):
        pos = data.index(b"\x00")
        raise InputError(
            f"{path} line {_line_of(data, pos)}: contains a NUL byte; the file is damaged or binary"
        )
    if _is_ascii(data):
        return data, "ascii"
    utf8_error = _utf8_error(data)
    if enc in ("utf-8", "auto") and utf8_error is None:
        return data, "utf-8"
    if enc == "utf-8":
        assert utf8_error is not None
        pos = utf8_error.start
        byte = data[pos : pos + 1].hex()
        guess = ""
        try:
            data.decode("cp1252")
            guess = " The bytes read as cp1252 (Windows-1252, e.g. 0xfc = ü)."
        except UnicodeDecodeError:
            pass
        raise InputError(
            f"{path} line {_line_of(data, pos)}: byte 0x{byte} is not valid UTF-8.{guess} "
            f"Set csv.encoding: cp1252 (or auto) in profile {profile.name}"
        )
    if enc in ("cp1252", "latin-1") and utf8_error is None:
        raise InputError(
            f"{path}: the file is valid UTF-8 with non-ASCII characters, but profile "
            f"{profile.name} says csv.encoding: {enc}; reading it as {enc} would garble "
            "umlauts (ü → Ã¼). Set csv.encoding: utf-8 (or auto)"
        )
    codec = "cp1252" if enc in ("cp1252", "auto") else "latin-1"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} line {_line_of(data, exc.start)}: byte "
            f"0x{data[exc.start : exc.start + 1].hex()} is neither valid UTF-8 nor {codec}; "
            "check csv.encoding in profile "
            f"{profile.name}"
        ) from exc
    return text.encode("utf-8"), codec


# --------------------------------------------------------------- record index


@dataclass(frozen=True)
class RecordIndex:
    """Records of a text file: byte spans and the physical line each starts on.

    A record ends at a newline outside quotes. Blank records are empty lines.
    """

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    blank: np.ndarray

    def __len__(self) -> int:
        return int(self.starts.size)


def record_index(data: bytes, quote: str) -> RecordIndex:
    """Vectorised record scan (quote parity), O(file size) in numpy."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 0x0A)
    q = ord(quote)
    quoted = q < 0x80 and data.find(quote.encode()) >= 0
    if quoted:
        qpos = np.flatnonzero(arr == q)
        inside = (np.searchsorted(qpos, nl) & 1).astype(bool)
        bounds = nl[~inside]
    else:
        bounds = nl
    starts = np.concatenate(([0], bounds + 1)).astype(np.int64)
    ends = np.concatenate((bounds, [arr.size])).astype(np.int64)
    if starts.size and starts[-1] >= arr.size:  # file ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    if quoted:
        lines = (np.searchsorted(nl, starts) + 1).astype(np.int64)
    else:  # every record is one line
        lines = np.arange(1, starts.size + 1, dtype=np.int64)
    length = ends - starts
    cr_only = np.zeros(starts.size, dtype=bool)
    one = np.flatnonzero(length == 1)
    if one.size:
        cr_only[one] = arr[starts[one]] == 0x0D
    blank = (length == 0) | cr_only
    return RecordIndex(starts, ends, lines, blank)


def _record_text(data: bytes, idx: RecordIndex, i: int) -> str:
    raw = data[int(idx.starts[i]) : int(idx.ends[i])]
    return raw.decode("utf-8", errors="replace").rstrip("\r").lstrip("\ufeff")


def has_padded_fields(data: bytes, sep: str, quote: str) -> bool:
    """Whether any field may start or end with a blank (a space next to a delimiter,
    quote or line break). When none does, values need no trimming."""
    if not _has(data, b" "):  # a byte search, much cheaper than the array passes below
        return False
    arr = np.frombuffer(data, dtype=np.uint8)
    spaces = np.flatnonzero(arr == 0x20)
    if spaces.size == 0:
        return False
    edge = np.zeros(256, dtype=bool)
    edge[[ord(sep) & 0xFF, 0x0A, 0x0D, ord(quote) & 0xFF]] = True
    before = edge[arr[np.maximum(spaces - 1, 0)]] | (spaces == 0)
    after = edge[arr[np.minimum(spaces + 1, arr.size - 1)]] | (spaces == arr.size - 1)
    return bool(np.any(before | after))


def _sniff_delimiter(header: str) -> str | None:
    counts = {d: header.count(d) for d in _CANDIDATE_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


# ---------------------------------------------------------------- delimited


@dataclass
class TextFile:
    """A delimited file checked and indexed, ready to be read by DuckDB.

    ``utf8`` is the content as UTF-8 (transcoded when needed; then ``source``
    is a temporary copy that :meth:`close` removes).
    """

    path: Path
    utf8: bytes
    encoding: str
    header_rec: int
    columns: list[str]
    sep: str
    profile: Profile
    source: str
    tmp: str | None = None
    notes: list[str] = field(default_factory=list)
    #: no quote character and no blank line: record k is line k + 1 (no scan needed)
    simple: bool = False
    n_lines: int = 0
    #: some field may start or end with a blank (see :func:`has_padded_fields`)
    needs_trim: bool = True
    _idx: RecordIndex | None = None

    @property
    def idx(self) -> RecordIndex:
        """The record index, computed on first use (simple files rarely need it)."""
        if self._idx is None:
            self._idx = record_index(self.utf8, self.profile.csv.quote)
        return self._idx

    @property
    def header_line(self) -> int:
        return 1 if self.simple else int(self.idx.lines[self.header_rec])

    def data_records(self) -> np.ndarray:
        nonblank = np.flatnonzero(~self.idx.blank)
        return nonblank[nonblank > self.header_rec]

    def data_lines(self) -> np.ndarray:
        """Line number of every data record (before DuckDB rejects any)."""
        if self.simple:
            return np.arange(2, self.n_lines + 1, dtype=np.int64)
        return np.asarray(self.idx.lines[self.data_records()], dtype=np.int64)

    def read_csv(self) -> tuple[str, dict[str, Any]]:
        """``read_csv(...)`` SQL (rejects stored in ``_src_rejects``) and its parameters."""
        spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.columns)))
        sql = (
            f"read_csv($rc_path, columns = {{{spec}}}, header = true, auto_detect = false, "
            "delim = $rc_sep, quote = $rc_quote, escape = $rc_quote, skip = $rc_skip, "
            f"store_rejects = true, rejects_table = '{_REJECTS}', "
            f"rejects_scan = '{_REJECT_SCANS}', max_line_size = {int(MAX_LINE_SIZE)}, "
            f"buffer_size = {int(BUFFER_SIZE)}, strict_mode = true)"
        )
        return sql, {
            "rc_path": self.source,
            "rc_sep": self.sep,
            "rc_quote": self.profile.csv.quote,
            "rc_skip": self.header_line - 1,
        }

    def read_error(self, exc: Exception) -> InputError:
        return InputError(
            f"{self.path}: cannot be read as delimited text (delimiter "
            f"{self.sep!r}, profile {self.profile.name}, keys csv.delimiter / "
            f"csv.quote): {str(exc).splitlines()[0]}"
        )

    def raw_lines(self, lines: list[int]) -> list[str | None]:
        """The exact text of the records starting on ``lines``."""
        idx = self.idx
        recs = np.searchsorted(idx.lines, np.asarray(lines, dtype=np.int64))
        out: list[str | None] = []
        for line, rec in zip(lines, recs, strict=True):
            ok = rec < len(idx) and int(idx.lines[rec]) == line
            out.append(_record_text(self.utf8, idx, int(rec)) if ok else None)
        return out

    def held_bytes(self) -> int:
        """Bytes this file holds in memory: its text and its record index, if built."""
        n = len(self.utf8)
        if self._idx is not None:
            n += sum(a.nbytes for a in (self._idx.starts, self._idx.ends, self._idx.lines))
            n += self._idx.blank.nbytes
        return n

    def close(self) -> None:
        if self.tmp:
            os.unlink(self.tmp)
            self.tmp = None


def prepare_delimited(path: Path, data: bytes, sep: str, profile: Profile) -> TextFile:
    """Check encoding, index records and read the header of CSV/TSV bytes.

    Raises:
        InputError: empty file, wrong encoding, or an unreadable header.
    """
    if _NON_BLANK.search(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0) is None:
        what = "empty (not even a header line)" if not data else "blank (no header line)"
        raise InputError(f"{path}: the file is {what}")
    utf8, encoding = decode_check(path, data, profile)
    newlines = _count_byte(utf8, b"\n")
    crlf = utf8.count(b"\r\n") if _has(utf8, b"\r") else 0
    if crlf and crlf != newlines:
        # Mixed line endings (CRLF and LF) stop DuckDB's CSV reader; unify them
        # (line numbers do not change).
        utf8 = utf8.replace(b"\r\n", b"\n")
    simple = (
        not _has(utf8, profile.csv.quote.encode())
        and not utf8.startswith((b"\n", b"\r"))
        and not _occurs(_BLANK_LINE, utf8, 3)
    )
    idx: RecordIndex | None = None
    if simple:
        header_rec, header_line = 0, 1
        first = utf8.find(b"\n")
        header_text = utf8[: first if first >= 0 else None].decode("utf-8", errors="replace")
        header_text = header_text.rstrip("\r").lstrip("\ufeff")
        n_lines = newlines + (0 if utf8.endswith(b"\n") else 1)
        blank_inside = 0
    else:
        idx = record_index(utf8, profile.csv.quote)
        nonblank = np.flatnonzero(~idx.blank)
        header_rec = int(nonblank[0])
        header_line = int(idx.lines[header_rec])
        header_text = _record_text(utf8, idx, header_rec)
        n_lines = 0
        blank_inside = int(idx.blank[header_rec:].sum())
    try:
        names = next(
            csv.reader(
                io.StringIO(header_text, newline=""), delimiter=sep, quotechar=profile.csv.quote
            )
        )
    except (csv.Error, StopIteration) as exc:
        raise InputError(
            f"{path} line {header_line}: the header line cannot be read ({exc})"
        ) from exc
    notes: list[str] = []
    if encoding not in ("ascii", "utf-8"):
        notes.append(f"read as {encoding}")
    if blank_inside:
        notes.append(f"{blank_inside} blank line(s) skipped")
    text = TextFile(
        path=path,
        utf8=utf8,
        encoding=encoding,
        header_rec=header_rec,
        columns=[clean_header(n) for n in names],
        sep=sep,
        profile=profile,
        source=str(path),
        notes=notes,
        simple=simple,
        n_lines=n_lines,
        needs_trim=has_padded_fields(utf8, sep, profile.csv.quote),
        _idx=idx,
    )
    if utf8 is not data:
        fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="arinsight-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(utf8)
        text.source, text.tmp = tmp, tmp
    return text


def _text_staged(
    text: TextFile,
    n_rows: int,
    rejects: list[Reject],
    notes: list[str],
    from_sql: str,
    from_params: dict[str, Any],
    direct: bool,
) -> Staged:
    return Staged(
        path=text.path,
        fmt="csv" if text.sep != "\t" else "tsv",
        columns=text.columns,
        types=["VARCHAR"] * len(text.columns),
        n_rows=n_rows,
        rejects=rejects,
        unit="line",
        raw_line=text.raw_lines,
        notes=text.notes + notes,
        encoding=text.encoding,
        header_line=text.header_line,
        needs_trim=text.needs_trim,
        from_sql=from_sql,
        from_params=from_params,
        direct=direct,
    )


def stage_direct(con: duckdb.DuckDBPyConnection, text: TextFile) -> Staged:
    """Read the file straight into the typing query (no ``_src`` copy).

    The typing query reads in parallel and leaves ``_line`` NULL; the loader
    numbers the rows afterwards by their position in the typed table
    (:func:`number_direct_rows`), which is the file order when DuckDB kept
    the insertion order (:func:`keeps_order`; else :func:`pair_direct_lines`).
    Line numbers assume DuckDB rejects no line; :func:`direct_rows` tells
    afterwards, and the loader falls back to :func:`stage_delimited` if not.
    """
    drop_staged(con)
    sql, params = text.read_csv()
    n_rows = text.n_lines - text.header_line if text.simple else int(text.data_records().size)
    return _text_staged(
        text,
        n_rows,
        [],
        [],
        f"(select *, NULL::BIGINT as _line from {sql})",
        params,
        True,
    )


def pair_direct_lines(con: duckdb.DuckDBPyConnection, text: TextFile, staged: Staged) -> Staged:
    """The direct read with each row paired with its line by position (``positional
    join``), for a typing query DuckDB would not keep in file order (a plan with a
    join, or one thread): the file is then read by one thread."""
    _register_lines(con, text.data_lines())
    sql, params = text.read_csv()
    # a row without its line (or a line without its row) gets _line NULL
    return replace(
        staged,
        from_sql=f"(select r.* exclude (_present), case when r._present then l._line end "
        f"as _line from (select *, true as _present from {sql}) r positional join {LINES} l)",
        from_params=params,
        paired=True,
    )


def keeps_order(con: duckdb.DuckDBPyConnection, create_sql: str, params: dict[str, Any]) -> bool:
    """Whether DuckDB plans ``create ... as select`` to keep the rows in source order.

    Only an order-preserving ("batch") insert numbers the rows of the new table
    in the order the file lists them; a plan with a hash join, say, does not.
    """
    plan = "\n".join(str(r[-1]) for r in con.execute(f"explain {create_sql}", params).fetchall())
    return re.search(r"batch[ _]create[ _]table[ _]as", plan, re.IGNORECASE) is not None


def direct_rows(con: duckdb.DuckDBPyConnection, staged: Staged, typed: str) -> int | None:
    """After a direct read into ``typed``: the ``rowid`` of its first row, or None
    when a line was rejected or a record is missing; also None when the row ids
    have gaps (rows numbered by position) or a row has no line (rows read with
    :func:`pair_direct_lines`, whose row ids do not matter)."""
    rejected = con.execute(f"select count(*) from {_REJECTS}").fetchall()[0][0]
    rows, with_line, first, last = con.execute(
        f"select count(*), count(_line), min(rowid), max(rowid) from {typed}"
    ).fetchall()[0]
    if rejected or rows != staged.n_rows:
        return None
    if staged.paired:
        return 0 if with_line == rows else None
    if rows == 0:
        return 0
    return int(first) if last - first + 1 == rows else None


def number_direct_rows(
    con: duckdb.DuckDBPyConnection, text: TextFile, typed: str, first_rowid: int
) -> int | None:
    """Line numbers of a direct read (after :func:`direct_rows` and :func:`keeps_order`).

    The row with ``rowid`` ``first_rowid + k`` is data record ``k`` of the file
    (inside a transaction, new rows get row ids from a large base, not from 0).

    Returns:
        For a simple file (no quotes, no blank lines): the offset such that a
        row's line is ``rowid + offset``; ``_line`` stays NULL (filling it would
        cost a pass over the table). Otherwise None, after filling ``_line``
        from the record index.
    """
    if text.simple:
        return text.header_line + 1 - first_rowid
    import polars as pl

    lines = text.data_lines()
    con.register(
        "_line_of_row",
        pl.DataFrame(
            {"_i": np.arange(lines.size, dtype=np.int64) + first_rowid, "_line": lines},
            schema={"_i": pl.Int64, "_line": pl.Int64},
        ),
    )
    try:
        con.execute(
            f"update {typed} set _line = l._line from _line_of_row l where l._i = {typed}.rowid"
        )
    finally:
        con.unregister("_line_of_row")
    return None


def stage_delimited(con: duckdb.DuckDBPyConnection, text: TextFile) -> Staged:
    """Stage CSV/TSV text as ``_src``; malformed lines become rejects.

    Raises:
        InputError: DuckDB cannot read the file at all.
    """
    drop_staged(con)
    sql, params = text.read_csv()
    try:
        con.execute(f"create temp table {SRC} as select * from {sql}", params)
        rej = con.execute(
            f"select line, list(distinct error_type order by error_type), "
            f"any_value(error_message), any_value(csv_line) from {_REJECTS} "
            "group by line order by line"
        ).fetchall()
        n_rows = int(con.execute(f"select count(*) from {SRC}").fetchall()[0][0])
    except Exception as exc:  # duckdb.Error; keep the import lazy
        if "duckdb" not in type(exc).__module__:
            raise
        raise text.read_error(exc) from exc

    # Map rows to line numbers: DuckDB's reject `line` is the 1-based record number.
    idx = text.idx
    notes: list[str] = []
    rejected = np.array(sorted({int(r[0]) - 1 for r in rej}), dtype=np.int64)
    good = np.setdiff1d(text.data_records(), rejected, assume_unique=True)
    aligned = good.size == n_rows and (
        rejected.size == 0 or (rejected.max() < len(idx) and not idx.blank[rejected].any())
    )
    if aligned:
        line_of_row = idx.lines[good]
    else:
        line_of_row = _fallback_lines(
            text.utf8, text.sep, text.profile.csv.quote, text.header_rec, idx, n_rows, rejected
        )
        notes.append("line numbers approximate (unusual quoting)")
    sep_name = {"\t": "tab", ";": "semicolon", ",": "comma"}.get(text.sep, repr(text.sep))
    rejects: list[Reject] = []
    for line, kinds, message, csv_line in rej:
        rec = int(line) - 1
        inside = aligned and 0 <= rec < len(idx)
        phys = int(idx.lines[rec]) if inside else int(line)
        raw = _record_text(text.utf8, idx, rec) if inside else (csv_line or "").strip("\r\n")
        rejects.append(
            Reject(
                phys,
                raw,
                (
                    f"malformed line ({', '.join(k.lower() for k in kinds)}): {message.strip()}; "
                    f"the header has {len(text.columns)} fields separated by {sep_name} — check "
                    f"quoting and the delimiter (profile {text.profile.name}, keys csv.delimiter, "
                    "csv.quote)"
                ),
            )
        )
    _register_lines(con, line_of_row)
    return _text_staged(
        text, n_rows, rejects, notes, f"(select * from {SRC} positional join {LINES})", {}, False
    )


def _fallback_lines(
    utf8: bytes,
    sep: str,
    quote: str,
    header_rec: int,
    idx: RecordIndex,
    n_rows: int,
    rejected: np.ndarray,
) -> np.ndarray:
    """Line numbers via Python's csv module when the quote-parity scan disagrees."""
    reader = csv.reader(
        io.StringIO(utf8.decode("utf-8", errors="replace"), newline=""),
        delimiter=sep,
        quotechar=quote,
    )
    starts: list[int] = []
    prev = 0
    try:
        for rec in reader:
            if rec:
                starts.append(prev + 1)
            prev = reader.line_num
    except csv.Error:
        pass
    header_line = int(idx.lines[header_rec])
    data_lines = [s for s in starts if s > header_line]
    rejected_lines = set(int(idx.lines[r]) for r in rejected if r < len(idx))
    good = [s for s in data_lines if s not in rejected_lines]
    if len(good) < n_rows:  # pad with the last known line; never crash on odd input
        last = good[-1] if good else header_line
        good += [last] * (n_rows - len(good))
    return np.asarray(good[:n_rows], dtype=np.int64)


def _register_lines(con: duckdb.DuckDBPyConnection, lines: np.ndarray) -> None:
    import polars as pl  # pyarrow.array(numpy) would import pandas (0.6 s)

    con.register(LINES, pl.DataFrame({"_line": lines}, schema={"_line": pl.Int64}))


# ------------------------------------------------------------ typed formats


def _stage_frame(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    frame: Any,
    first_line: int,
    unit: str,
    flags: dict[int, Any] | None = None,
) -> Staged:
    """Stage a polars frame (XLSX/Parquet) as ``_src``; fully empty rows are skipped.

    ``flags`` adds hidden boolean columns ``d<i>`` (true or NULL, so they never
    make an empty row look filled): column index → a boolean series.
    """
    import polars as pl

    df: pl.DataFrame = frame
    columns = [clean_header(c) for c in df.columns]
    df = df.rename({c: f"c{i}" for i, c in enumerate(df.columns)})
    n_cols = df.width
    for i, series in (flags or {}).items():
        df = df.with_columns(
            pl.when(pl.Series(series, dtype=pl.Boolean)).then(True).otherwise(None).alias(f"d{i}")
        )
    df = df.with_row_index("_line", offset=first_line).with_columns(pl.col("_line").cast(pl.Int64))
    if df.width > 1:
        empty = pl.all_horizontal(
            [
                pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "")
                if df.schema[c] == pl.String
                else pl.col(c).is_null()
                for c in df.columns
                if c != "_line"
            ]
        )
        n_before = df.height
        df = df.filter(~empty)
        skipped = n_before - df.height
    else:
        skipped = 0
    lines = df["_line"].to_numpy()
    body = df.drop("_line")
    drop_staged(con)
    con.register("_frame", body)
    try:
        con.execute(f"create temp table {SRC} as select * from _frame")
    finally:
        con.unregister("_frame")
    types = [str(t) for t in con.sql(f"select * from {SRC} limit 0").types][:n_cols]
    _register_lines(con, lines)
    notes = [f"{skipped} empty row(s) skipped"] if skipped else []
    return Staged(
        path=path,
        fmt=fmt,
        columns=columns,
        types=types,
        n_rows=body.height,
        unit=unit,
        notes=notes,
        header_line=first_line - 1,
        date_cells={i: f"d{i}" for i in flags or {}},
    )


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, profile: Profile) -> Staged:
    """A Parquet file read in place by the typing query (no staged copy); rows are
    numbered from 1 by DuckDB's ``file_row_number`` (0-based in the file).

    DuckDB reads the file's row groups in parallel, and columns that already have
    the contract's types (DATE, DECIMAL(18,2), BIGINT, BOOLEAN) pass the typing
    query as they are. Rows whose every value is empty are skipped (counted in a
    note), as in a workbook.

    Raises:
        InputError: the file cannot be read as Parquet.
    """
    drop_staged(con)
    params = {"pq_path": str(path)}
    try:
        rel = con.execute("select * from read_parquet($pq_path) limit 0", params)
        names = [d[0] for d in rel.description or []]
        types = [
            str(t)
            for t in con.sql("select * from read_parquet($pq_path) limit 0", params=params).types
        ]
        total = int(
            con.execute("select count(*) from read_parquet($pq_path)", params).fetchall()[0][0]
        )
    except Exception as exc:  # duckdb.Error; keep the import lazy
        if "duckdb" not in type(exc).__module__:
            raise
        raise InputError(f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0]}") from exc
    idents = [f"c{i}" for i in range(len(names))]
    empty = " and ".join(
        f"({c} is null or trim({c}) = '')" if t == "VARCHAR" else f"{c} is null"
        for c, t in zip(idents, types, strict=True)
    )
    source = (
        f"read_parquet($pq_path, file_row_number = true) as _pq({', '.join(idents)}"
        f"{', _frn' if idents else '_frn'})"
    )
    notes: list[str] = []
    n_rows = total
    if len(idents) > 1 and total:
        skipped = int(
            con.execute(f"select count(*) from {source} where {empty}", params).fetchall()[0][0]
        )
        if skipped:
            notes.append(f"{skipped} empty row(s) skipped")
            n_rows -= skipped
    keep = f" where not ({empty})" if len(idents) > 1 else ""
    return Staged(
        path=path,
        fmt="parquet",
        columns=[clean_header(n) for n in names],
        types=types,
        n_rows=n_rows,
        unit="row",
        notes=notes,
        header_line=0,
        from_sql=f"(select {', '.join(idents) or '1 as _none'}, _frn + 1 as _line "
        f"from {source}{keep})",
        from_params=params,
    )


def stage_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, profile: Profile, sheet: str | int | None
) -> Staged:
    """Stage one sheet of a workbook; "lines" are the sheet's row numbers.

    Raises:
        InputError: unreadable workbook or missing sheet (profile key ``xlsx.sheet``).
    """
    import polars as pl

    chosen = profile.xlsx.sheet if sheet is None else sheet
    header_row = profile.xlsx.header_row
    kwargs: dict[str, Any] = {"engine": "calamine", "read_options": {"header_row": header_row - 1}}
    if isinstance(chosen, int):
        kwargs["sheet_id"] = chosen + 1
    else:
        kwargs["sheet_name"] = chosen
    try:
        df = pl.read_excel(path, **kwargs)
    except Exception as exc:  # fastexcel raises its own exception types
        raise InputError(
            f"{path}: cannot read sheet {chosen!r} (profile {profile.name}, "
            f"keys xlsx.sheet / xlsx.header_row): {exc}"
        ) from exc
    if not isinstance(df, pl.DataFrame):  # pragma: no cover - one sheet asked for
        raise InputError(f"{path}: expected one sheet")
    flags, notes = _date_cells(path, chosen, header_row, df)
    staged = _stage_frame(con, path, "xlsx", df, header_row + 1, "row", flags)
    staged.notes += notes
    return staged


#: how calamine renders a date cell in a column read as text
_DATE_CELL_TEXT = r"^\d{4}-\d{2}-\d{2}( 00:00:00)?$"


def _date_cells(
    path: Path, sheet: str | int, header_row: int, df: Any
) -> tuple[dict[int, Any], list[str]]:
    """Text columns of a sheet that also hold real date cells.

    When a locale opens an m/d/yyyy export, cells whose day is 12 or less become
    dates (with day and month swapped) and the others stay text: the column then
    mixes both kinds. Each such column gets a mask of its date cells (read again
    with fastexcel, cells coerced to datetimes: only real date cells survive).

    Returns:
        (column index → boolean series, true on a date cell; notes naming the columns)
    """
    import polars as pl

    frame: pl.DataFrame = df
    candidates = []
    for i, name in enumerate(frame.columns):
        if frame.schema[name] != pl.String:
            continue
        values = frame[name].str.strip_chars()
        values = values.filter(values.is_not_null() & (values != ""))
        looks = values.str.contains(_DATE_CELL_TEXT)
        if looks.any() and not looks.all():
            candidates.append(i)
    if not candidates:
        return {}, []
    import fastexcel

    reader = fastexcel.read_excel(path)
    kwargs: dict[str, Any] = {
        "header_row": header_row - 1,
        "dtypes": {i: "datetime" for i in candidates},
        "dtype_coercion": "coerce",
    }
    try:
        typed = reader.load_sheet(sheet, **kwargs).to_polars()
    except Exception:  # pragma: no cover - the first read worked; keep the text then
        return {}, []
    if typed.height != frame.height:  # pragma: no cover - same engine, same rows
        return {}, []
    flags: dict[int, Any] = {}
    notes: list[str] = []
    for i in candidates:
        is_date = typed.to_series(i).is_not_null()
        text = frame.to_series(i)
        is_text = ~is_date & text.is_not_null() & (text.str.strip_chars() != "")
        if not is_date.any() or not is_text.any():
            continue
        flags[i] = is_date
        first_date = int(is_date.arg_true()[0]) + header_row + 1
        first_text = int(is_text.arg_true()[0]) + header_row + 1
        notes.append(
            f"column {clean_header(frame.columns[i])!r} mixes date cells ({int(is_date.sum()):,}, "
            f"e.g. row {first_date}) and text cells ({int(is_text.sum()):,}, e.g. row "
            f"{first_text} {text[first_text - header_row - 1]!r}): a locale may have turned "
            "some text dates into dates with day and month swapped; date cells whose day "
            "and month could be swapped are quarantined"
        )
    return flags, notes
