"""``arinsight load``: source files → ``raw.*``, with lineage and quarantine.

Guarantees (DESIGN.md, reliability rules):

* Nothing lost: per file, rows read = rows loaded + rows quarantined
  (recorded in ``meta.loads``, reasons in ``meta.quarantine``).
* Idempotent: a file whose content (sha256) was already loaded into the same
  table is skipped; a newer export replaces rows by key.
* Atomic: one transaction for the whole call; any failure rolls everything back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from arinsight.contract import TABLES, Table
from arinsight.errors import InputError
from arinsight.ingest.parse import parse_table
from arinsight.ingest.profiles import Profile, get_profile
from arinsight.warehouse import init_schema, transaction

if TYPE_CHECKING:
    import duckdb

#: Header line of a delimited file is line 1; the first data row is line 2.
FIRST_DATA_LINE = 2


@dataclass(frozen=True)
class LoadResult:
    """What happened to one file."""

    file: str
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_replaced: int
    skipped: bool
    load_id: int | None
    seconds: float

    def reconciles(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: list[object] | None = None
            ) -> Any:
    """First value of the first row (the result is consumed completely)."""
    rows = con.execute(query, params).fetchall()
    return rows[0][0] if rows else None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expand_sources(sources: Iterable[Path | str], profile: Profile) -> list[tuple[Path, str]]:
    """Files to load (directories expanded) with their target table, in contract order.

    Raises:
        InputError: a path does not exist, or a named file matches no table.
    """
    found: list[tuple[Path, str]] = []
    for src in sources:
        p = Path(src)
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
        if p.is_dir():
            for f in sorted(p.iterdir()):
                table = profile.table_for(f) if f.is_file() else None
                if table:
                    found.append((f, table))
        else:
            table = profile.table_for(p)
            if table is None:
                raise InputError(
                    f"{p}: profile {profile.name} maps no table to this file name "
                    f"(expected one of: {', '.join(sorted(profile.tables))} with .csv/.parquet)"
                )
            found.append((p, table))
    if not found:
        raise InputError(f"no loadable files in {', '.join(map(str, sources))} "
                         f"for profile {profile.name}")
    order = list(TABLES)
    # Parquet and CSV of the same table in one directory: prefer Parquet, load once.
    by_table_stem: dict[tuple[str, str], Path] = {}
    for f, t in found:
        key = (str(f.parent), t)
        if key not in by_table_stem or f.suffix == ".parquet":
            by_table_stem[key] = f
    unique = [(f, t) for (_, t), f in by_table_stem.items()]
    return sorted(unique, key=lambda ft: (order.index(ft[1]), str(ft[0])))


def _read_delimited(path: Path, sep: str, profile: Profile) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read delimited text as all-VARCHAR with DuckDB; malformed lines become rejects.

    Returns:
        (rows with ``_source_line``, rejects with ``_source_line``/``_raw``/``_field``/``_reason``)
    """
    import duckdb

    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (not even a header line)")
    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    try:
        rel = con.sql(
            "select * from read_csv(?, delim = ?, quote = ?, header = true, all_varchar = true,"
            " store_rejects = true, auto_detect = true)",
            params=[str(path), sep, profile.csv.quote],
        )
        df = rel.pl()
        rejects = con.sql(
            "select line, string_agg(distinct error_type, ', ') as kinds,"
            " any_value(error_message) as message, any_value(csv_line) as raw"
            " from reject_errors group by line order by line"
        ).pl()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as delimited text (delimiter {sep!r}, "
                         f"profile {profile.name}): {exc}") from exc
    finally:
        con.close()
    # Line numbers of good rows: header is line 1; rows spanning several lines
    # (quoted newlines) advance the count by their newlines; rejected lines are skipped.
    spans = pl.sum_horizontal(
        [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in df.columns]
    ) + 1 if df.width else pl.lit(1)
    df = df.with_columns(spans.cast(pl.Int64).alias("_span"))
    pos = (df["_span"].cum_sum() - df["_span"] + FIRST_DATA_LINE).to_numpy()
    if rejects.height:
        import numpy as np

        r = np.sort(rejects["line"].to_numpy().astype(np.int64))
        shifted = r - np.arange(r.size)
        pos = pos + np.searchsorted(shifted, pos, side="right")
    df = df.drop("_span").with_columns(pl.Series("_source_line", pos, dtype=pl.Int64))
    n_header = df.width - 1
    rej = rejects.select(
        pl.col("line").cast(pl.Int64).alias("_source_line"),
        pl.col("raw").alias("_raw"),
        pl.lit("(line)").alias("_field"),
        pl.format(
            "malformed line ({}): {} — the header has {} fields; check the delimiter {} "
            "and quoting (profile keys csv.delimiter, csv.quote)",
            pl.col("kinds"), pl.col("message"), pl.lit(n_header), pl.lit(repr(sep)),
        ).alias("_reason"),
    )
    return df, rej


def read_source(path: Path, table: Table, profile: Profile) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one file into a frame with canonical column names and ``_source_line``.

    Returns:
        (rows, rejects): rejects are lines that could not be split into fields.

    Raises:
        InputError: unreadable file, or a required column is missing.
    """
    suffix = path.suffix.lower()
    rejects = pl.DataFrame(schema={"_source_line": pl.Int64, "_raw": pl.String,
                                   "_field": pl.String, "_reason": pl.String})
    if suffix == ".parquet":
        try:
            df = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"{path}: cannot be read as parquet: {exc}") from exc
        df = df.with_row_index("_source_line", offset=1).with_columns(
            pl.col("_source_line").cast(pl.Int64))
    elif suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" else profile.csv.delimiter
        df, rejects = _read_delimited(path, sep, profile)
    else:
        raise InputError(f"{path}: unsupported file type {suffix!r} (csv, tsv or parquet)")
    rename = {**profile.tables[table.name].rename} if table.name in profile.tables else {}
    df = df.rename({c: rename.get(c, c).strip().lstrip("\ufeff") for c in df.columns})
    missing = [c for c in table.required if c not in df.columns]
    if missing:
        delim = profile.csv.delimiter
        hint = ""
        if df.width <= 2 and suffix != ".parquet":
            hint = (f" — the header has a single column; is the delimiter really "
                    f"{delim!r} (profile key csv.delimiter)?")
        found = ", ".join(c for c in df.columns if c != "_source_line") or "none"
        raise InputError(
            f"{path} line 1: missing required column(s) {', '.join(missing)} for table "
            f"{table.name}; found {found}{hint}"
        )
    return df, rejects


def _attach_raw_lines(path: Path, bad: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Replace ``_raw`` with the exact source line(s) for quarantined rows of a text file."""
    enc = profile.csv.encoding
    text = path.read_bytes().decode(enc if enc.lower() not in ("utf-8", "utf8") else "utf-8-sig",
                                    errors="replace")
    lines = text.split("\n")
    raws = [lines[n - 1].rstrip("\r") if 0 < n <= len(lines) else None
            for n in bad["_source_line"].to_list()]
    return bad.with_columns(pl.Series("_raw", raws, dtype=pl.String))


def _flag_duplicates(parsed: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Quarantine repeated keys: exact repeats after the first, and every row of a
    key whose rows disagree (we cannot tell which one is right)."""
    key = list(table.key)
    good = pl.col("_reason").is_null()
    content = [c for c in table.column_names]
    counts = parsed.filter(good).group_by(key).agg(
        pl.len().alias("_n"),
        pl.struct(content).n_unique().alias("_variants"),
        pl.col("_source_line").min().alias("_first_line"),
    ).filter(pl.col("_n") > 1)
    if counts.height == 0:
        return parsed
    out = parsed.join(counts, on=key, how="left", nulls_equal=False)
    key_txt = pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/")
    conflict = good & (pl.col("_variants") > 1)
    repeat = good & (pl.col("_variants") == 1) & (pl.col("_source_line") > pl.col("_first_line"))
    label = "+".join(key)
    out = out.with_columns(
        pl.when(conflict).then(pl.format(
            f"duplicate {label} '{{}}' with different content ({{}} rows disagree)",
            key_txt, pl.col("_n")))
        .when(repeat).then(pl.format(
            f"duplicate {label} '{{}}': exact repeat of line {{}}", key_txt, pl.col("_first_line")))
        .otherwise(pl.col("_reason")).alias("_reason"),
        pl.when(conflict | repeat).then(pl.lit(label)).otherwise(pl.col("_field")).alias("_field"),
    )
    return out.drop("_n", "_variants", "_first_line")


def _flag_references(con: duckdb.DuckDBPyConnection, parsed: pl.DataFrame,
                     table: Table) -> pl.DataFrame:
    """Quarantine rows that point at keys missing from the referenced raw table."""
    for col, (ref_table, ref_col) in table.references.items():
        known = con.sql(f"select distinct {ref_col} from raw.{ref_table}").pl()
        known = known.rename({ref_col: col}).with_columns(pl.lit(True).alias("_known"))
        parsed = parsed.join(known, on=col, how="left").with_columns(
            pl.when(pl.col("_reason").is_null() & pl.col("_known").is_null()).then(
                pl.format(f"{col} '{{}}' is not in {ref_table} (load {ref_table} first, "
                          f"or fix the {col})", pl.col(col)))
            .otherwise(pl.col("_reason")).alias("_reason"),
            pl.when(pl.col("_reason").is_null() & pl.col("_known").is_null())
            .then(pl.lit(col)).otherwise(pl.col("_field")).alias("_field"),
        ).drop("_known")
    return parsed.sort("_source_line")


def _load_one(con: duckdb.DuckDBPyConnection, path: Path, table_name: str,
              profile: Profile) -> LoadResult:
    started = time.perf_counter()
    table = TABLES[table_name]
    digest = sha256_of(path)
    previous = _scalar(
        con, "select min(load_id) from meta.loads where sha256 = ? and table_name = ?",
        [digest, table_name],
    )
    if previous:
        return LoadResult(str(path), table_name, 0, 0, 0, 0, True, int(previous),
                          time.perf_counter() - started)

    raw, rejects = read_source(path, table, profile)
    parsed = parse_table(raw, table, profile)
    parsed = _flag_duplicates(parsed, table)
    parsed = _flag_references(con, parsed, table)
    good = parsed.filter(pl.col("_reason").is_null())
    bad = pl.concat([
        parsed.filter(pl.col("_reason").is_not_null()).select(rejects.columns),
        rejects,
    ]).sort("_source_line")
    if bad.height and path.suffix.lower() != ".parquet":
        bad = _attach_raw_lines(path, bad, profile)

    load_id = int(_scalar(con, "select nextval('meta.load_seq')"))
    rows = good.select(*table.column_names, pl.lit(load_id).alias("_load_id"), "_source_line")
    key = ", ".join(table.key)
    cols = ", ".join([*table.column_names, "_load_id", "_source_line"])
    # A newer export of the same source replaces rows by key.
    before = int(_scalar(con, f"select count(*) from raw.{table_name}"))
    con.register("_incoming", rows)
    if before:
        con.execute(f"delete from raw.{table_name} where ({key}) in "
                    f"(select ({key}) from _incoming)")
    after_delete = int(_scalar(con, f"select count(*) from raw.{table_name}"))
    con.execute(f"insert into raw.{table_name} ({cols}) select {cols} from _incoming")
    con.unregister("_incoming")
    qrows = bad.select(
        pl.lit(load_id).alias("load_id"), pl.lit(str(path)).alias("file"),
        pl.lit(table_name).alias("table_name"), pl.col("_source_line").alias("line_number"),
        pl.col("_field").alias("field"), pl.col("_reason").alias("reason"),
        pl.col("_raw").alias("raw_row"),
    )
    con.register("_quarantined", qrows)
    con.execute("insert into meta.quarantine select * from _quarantined")
    con.unregister("_quarantined")
    seconds = time.perf_counter() - started
    result = LoadResult(str(path), table_name, raw.height + rejects.height, good.height,
                        bad.height,
                        before - after_delete, False, load_id, seconds)
    con.execute(
        "insert into meta.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, str(path), table_name, digest, profile.name, result.rows_read,
         result.rows_loaded, result.rows_quarantined, result.rows_replaced,
         datetime.now(), seconds],
    )
    if not result.reconciles():  # pragma: no cover - a bug, not bad input
        raise AssertionError(f"{path}: rows do not reconcile: {result}")
    return result


def load_sources(con: duckdb.DuckDBPyConnection, sources: Iterable[Path | str],
                 profile: Profile | str = "canonical",
                 on_file: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
    """Load every file under ``sources`` in one transaction.

    Args:
        con: read-write connection to the warehouse.
        sources: files or directories.
        profile: a Profile or the name of a built-in one.
        on_file: called after each file (progress, printing).

    Returns:
        One LoadResult per file, in load order.

    Raises:
        InputError: a file cannot be read as a whole; nothing is loaded then.
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    init_schema(con)
    files = expand_sources(sources, prof)
    results: list[LoadResult] = []
    with transaction(con):
        for path, table in files:
            res = _load_one(con, path, table, prof)
            results.append(res)
            if on_file:
                on_file(res)
    return results
