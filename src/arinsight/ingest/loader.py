"""``arinsight load``: source files → ``raw.*``, with lineage and quarantine.

Guarantees (DESIGN.md, reliability rules):

* Nothing lost: per file and table, rows read = rows loaded + rows quarantined
  (``meta.loads``; reasons, raw line, file and line number in
  ``meta.quarantine``). Blank lines are not rows.
* Idempotent: a file whose content (sha256) was already loaded with the same
  profile is skipped; a newer export replaces rows by key (``rows_replaced``;
  every row keeps the ``_load_id`` it came from).
* Atomic: one transaction for the whole call; any failure (or a killed
  process) leaves the warehouse as it was.
* Vectorised: DuckDB reads each file once — straight into the typing query
  when the file feeds one table, else into a staged copy — and types it with
  one query per output table (see :mod:`arinsight.ingest.parse`); no per-row
  Python.

One file can feed several tables: its own (``tables.<t>``), the credit notes
split off an invoice list (``negative_amounts: credit_note`` → adjustments)
and *derived* tables (``derive:``; e.g. a cleared-items list → payments and
customers). Each gets its own ``meta.loads`` row; split rows partition the
file, derived rows are extra outputs of the same rows.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.contract import TABLES, Table
from arinsight.errors import InputError
from arinsight.ingest.parse import Ctx, Params, Src, date_parse, text_expr, typed_query
from arinsight.ingest.profiles import (
    CREDIT_NOTE_REFERENCE,
    Profile,
    TableMapping,
    resolve_profile,
)
from arinsight.ingest.sources import (
    Staged,
    TextFile,
    direct_rows,
    drop_staged,
    keeps_order,
    number_direct_rows,
    pair_direct_lines,
    prepare_delimited,
    stage_delimited,
    stage_direct,
    stage_parquet,
    stage_xlsx,
)
from arinsight.warehouse import init_schema, transaction

if TYPE_CHECKING:
    import duckdb

_TYPED = "_typed"
#: Loader-time storage choice for raw tables: zstd for strings writes about twice as
#: fast as DuckDB's default dictionary/FSST analysis, for files about twice the size.
RAW_COMPRESSION = "zstd"
#: Besides the next file, files are read ahead while the ones waiting add up to
#: at most this many bytes (held in memory until DuckDB gets to them).
READ_AHEAD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class LoadResult:
    """What happened to one file's rows for one table.

    ``derived_from`` is set for tables a file yields besides its own (the
    primary table's name); ``notes`` says what the user should know (ignored
    columns, encoding, chosen date format, ...).
    """

    file: str
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_replaced: int
    skipped: bool
    load_id: int | None
    seconds: float
    derived_from: str | None = None
    notes: tuple[str, ...] = field(default=())

    def reconciles(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined


@dataclass
class _Output:
    table: Table
    sources: dict[str, Src]
    role: str  # "primary", "split" or "derived"
    when: list[Src] = field(default_factory=list)  # rows yield a row only where these are set
    post_where: str | None = None
    distinct_on: list[str] | None = None
    #: conflict rule for distinct_on ("latest", "most_frequent", "last_row") and
    #: the source table's date the "latest" row is chosen by
    on_conflict: str = "last_row"
    order_src: Src | None = None


def _exec(con: duckdb.DuckDBPyConnection, sql: str, p: Params) -> Any:
    """Run ``sql`` with the parameters of ``p`` it uses."""
    return con.execute(sql, p.used_in(sql))


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> Any:
    rows = con.execute(query, params).fetchall()
    return rows[0][0] if rows else None


@contextmanager
def _setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> Iterator[None]:
    """Set the DuckDB setting ``name`` (a generated identifier) for the block."""
    previous = _scalar(con, "select current_setting($n)", {"n": name})
    con.execute(f"set {name} = $v", {"v": value})
    try:
        yield
    finally:
        if previous is None:
            con.execute(f"reset {name}")
        else:
            con.execute(f"set {name} = $v", {"v": previous})


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------- file list


def expand_sources(sources: Iterable[Path | str], profile: Profile) -> list[tuple[Path, str]]:
    """Files to load (directories expanded) with their table, in contract order.

    When a directory holds the same file as Parquet and CSV (``invoices.parquet``
    and ``invoices.csv``), only the Parquet one is loaded.

    Raises:
        InputError: a path does not exist, or a named file matches no table.
    """
    found: list[tuple[Path, str]] = []
    sources = list(sources)
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
                globs = "; ".join(f"{t}: {', '.join(m.files)}" for t, m in profile.tables.items())
                raise InputError(
                    f"{p}: profile {profile.name} maps no table to this file name (profile key "
                    f"tables.<table>.files: {globs})"
                )
            found.append((p, table))
    if not found:
        raise InputError(
            f"no loadable files in {', '.join(map(str, sources))} for profile {profile.name}"
        )
    best: dict[tuple[str, str, str], Path] = {}
    for f, t in found:
        key = (str(f.parent), t, f.stem.lower())
        if key not in best or f.suffix.lower() == ".parquet":
            best[key] = f
    order = list(TABLES)
    unique = [(f, t) for (_, t, _), f in best.items()]
    return sorted(unique, key=lambda ft: (order.index(ft[1]), str(ft[0])))


def ignored_files(sources: Iterable[Path | str], profile: Profile) -> list[tuple[Path, str]]:
    """Files inside the given directories that a load leaves out, with the reason:
    no table pattern of the profile matches, or a Parquet file of the same name
    is loaded instead."""
    out: list[tuple[Path, str]] = []
    for src in sources:
        p = Path(src)
        if not p.is_dir():
            continue
        files = sorted(f for f in p.iterdir() if f.is_file())
        stems = {
            (profile.table_for(f), f.stem.lower())
            for f in files
            if f.suffix.lower() == ".parquet" and profile.table_for(f)
        }
        for f in files:
            table = profile.table_for(f)
            if table is None:
                out.append(
                    (f, f"matches no tables.<table>.files pattern of profile {profile.name}")
                )
            elif f.suffix.lower() != ".parquet" and (table, f.stem.lower()) in stems:
                out.append((f, f"{f.stem}.parquet in the same folder is loaded instead"))
    return out


# ---------------------------------------------------------------- column map


@dataclass
class _Columns:
    """Source columns resolved to target names (canonical or work columns)."""

    by_target: dict[str, tuple[int, str]]  # target → (staged index, header)
    renamed_from: dict[str, str]  # target → rename key that should have provided it
    ignored: list[str]


def _resolve_columns(staged: Staged, mapping: TableMapping, table: Table) -> _Columns:
    headers = staged.columns
    exact: dict[str, int] = {}
    folded: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        exact.setdefault(h, i)
        folded.setdefault(h.casefold(), []).append(i)
    by_target: dict[str, tuple[int, str]] = {}
    renamed_from: dict[str, str] = {}
    used: set[int] = set()
    where = f"tables.{table.name}.rename"
    for key in mapping.rename:
        targets = mapping.targets_of(key)
        for t in targets:
            renamed_from.setdefault(t, key)
        idx = exact.get(key)
        if idx is None:
            cands = folded.get(key.strip().casefold(), [])
            if len(cands) > 1:
                raise InputError(
                    f"{staged.path} line {staged.header_line}: {where} maps {key!r}, and the "
                    f"header has {len(cands)} columns matching it when case is ignored "
                    f"({', '.join(headers[c] for c in cands)}); spell it exactly"
                )
            idx = cands[0] if cands else None
        if idx is None:
            continue
        used.add(idx)
        for t in targets:
            if t in by_target and by_target[t][0] != idx:
                raise InputError(
                    f"{staged.path} line {staged.header_line}: columns "
                    f"{by_target[t][1]!r} and {headers[idx]!r} both map to {t} ({where}); "
                    "keep one of them in the profile"
                )
            by_target[t] = (idx, headers[idx])
    wanted = set(table.column_names) | mapping.work_columns()
    for i, h in enumerate(headers):
        if i in used:
            continue
        name = h.casefold()
        if name in wanted and name not in by_target:
            by_target[name] = (i, h)
            used.add(i)
    ignored = [h or f"(unnamed column {i + 1})" for i, h in enumerate(headers) if i not in used]
    return _Columns(by_target, renamed_from, ignored)


def _value_map(mapping: TableMapping, target: str) -> tuple[tuple[str, str], ...]:
    vm = mapping.value_maps.get(target, {})
    return tuple((str(k).strip().lower(), _as_text(v)) for k, v in vm.items())


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _work_src(
    cols: _Columns, mapping: TableMapping, staged: Staged, target: str, negate: bool = False
) -> Src:
    """The Src of a target name of the primary mapping (may have no staged column)."""
    const = mapping.constants.get(target)
    hit = cols.by_target.get(target)
    if hit is None:
        label = cols.renamed_from.get(target, target)
        return Src(
            label=label,
            constant=None if const is None else _as_text(const),
            value_map=_value_map(mapping, target),
            negate=negate,
            key=target,
        )
    idx, header = hit
    return Src(
        label=header or f"column {idx + 1}",
        ident=staged.ident(idx),
        dtype=staged.types[idx],
        constant=None if const is None else _as_text(const),
        value_map=_value_map(mapping, target),
        negate=negate,
        key=target,
        date_cell=staged.date_cells.get(idx),
    )


def _provided(src: Src) -> bool:
    """Whether ``src`` can yield a value at all (a staged column, a constant, a literal)."""
    if src.alternatives:
        return any(_provided(a) for a in src.alternatives)
    return (
        bool(src.staged())
        or src.constant is not None
        or (src.template is not None and not any(isinstance(x, Src) for x in src.template))
    )


def _missing_column_error(
    staged: Staged, table: Table, col: str, cols: _Columns, mapping_key: str, profile: Profile
) -> InputError:
    found = ", ".join(repr(h) for h in staged.columns) or "none"
    key = cols.renamed_from.get(col)
    if key:
        what = (
            f"the profile maps {key!r} → {col} ({mapping_key}.rename) but the file has no "
            f"column {key!r}"
        )
    else:
        what = f"no column is named {col} and {mapping_key}.rename maps none to it"
    hint = ""
    if len(staged.columns) == 1 and staged.fmt in ("csv", "tsv"):
        from arinsight.ingest.sources import _sniff_delimiter

        seen = _sniff_delimiter(staged.columns[0])
        if seen:
            hint = (
                f" — the header is a single column; the file looks {seen!r}-separated: "
                f"set csv.delimiter: {seen!r} in profile {profile.name}"
            )
    return InputError(
        f"{staged.path} line {staged.header_line}: missing required column for "
        f"{table.name}.{col}: {what}; found {found}{hint}"
    )


def _outputs(
    staged: Staged, table: Table, mapping: TableMapping, profile: Profile
) -> tuple[list[_Output], list[str]]:
    """What this file feeds: its table, split credit notes, derived tables."""
    cols = _resolve_columns(staged, mapping, table)
    mkey = f"tables.{table.name}"
    notes: list[str] = []
    if cols.ignored:
        notes.append(f"ignored columns: {', '.join(cols.ignored)}")
    primary: dict[str, Src] = {}
    for col in table.columns:
        src = _work_src(
            cols,
            mapping,
            staged,
            col.name,
            negate=col.name == "amount" and mapping.amount_sign == "negate",
        )
        if (
            table.name == "invoices"
            and col.name == "currency"
            and profile.currency
            and src.constant is None
        ):
            src = replace(src, constant=profile.currency.upper())
        if _provided(src):
            primary[col.name] = src
        elif col.required:
            raise _missing_column_error(staged, table, col.name, cols, mkey, profile)
    outputs = [_Output(table, primary, "primary")]

    if mapping.negative_amounts == "credit_note":
        adj = TABLES["adjustments"]
        ref = _work_src(cols, mapping, staged, CREDIT_NOTE_REFERENCE)
        amount = primary["amount"]
        credit_sources = {
            "adjustment_id": primary["invoice_id"],
            "invoice_id": ref,
            "adjusted_at": primary["issue_date"],
            "amount": replace(amount, negate=not amount.negate),
            "kind": Src(label="credit note", constant="credit_note"),
        }
        outputs[0].post_where = "coalesce(p_amount >= 0, true)"
        outputs.append(_Output(adj, credit_sources, "split", post_where="p_amount > 0"))

    for dname, spec in mapping.derive.items():
        dtable = TABLES[dname]
        dsources: dict[str, Src] = {}
        for dcol, ref_spec in spec.columns.items():
            items = [ref_spec] if isinstance(ref_spec, str) else list(ref_spec)
            alts = [_template_or_work(item, cols, mapping, staged) for item in items]
            src = (
                alts[0]
                if len(alts) == 1
                else Src(label=" or ".join(a.label for a in alts), alternatives=tuple(alts))
            )
            const = spec.constants.get(dcol)
            if const is not None:
                src = Src(
                    label=src.label,
                    alternatives=(src, Src(label="constant", constant=_as_text(const))),
                )
            dsources[dcol] = src
        for dcol, const in spec.constants.items():
            dsources.setdefault(dcol, Src(label="constant", constant=_as_text(const)))
        if spec.amount_sign == "negate" and "amount" in dsources:
            dsources["amount"] = replace(dsources["amount"], negate=True)
        for req in dtable.required:
            if not _provided(dsources[req]):
                read = spec.columns.get(req)
                raise InputError(
                    f"{staged.path} line {staged.header_line}: {mkey}.derive.{dname}.columns."
                    f"{req} reads {read!r}, which no column of the file provides (rename a "
                    f"column to it in {mkey}.rename); found "
                    f"{', '.join(repr(h) for h in staged.columns)}"
                )
        outputs.append(
            _Output(
                dtable,
                dsources,
                "derived",
                when=[_work_src(cols, mapping, staged, w) for w in spec.when],
                distinct_on=list(dtable.key),
                on_conflict=spec.on_conflict,
                order_src=next(
                    (
                        primary[c.name]
                        for c in table.columns
                        if c.type == "date" and c.name in primary
                    ),
                    None,
                ),
            )
        )
    order = list(TABLES)
    outputs.sort(key=lambda o: order.index(o.table.name))
    return outputs, notes


def _template_or_work(item: str, cols: _Columns, mapping: TableMapping, staged: Staged) -> Src:
    import re

    fields = re.split(r"(\{[^{}]+\})", item)
    if len(fields) == 1:
        return _work_src(cols, mapping, staged, item)
    parts: list[str | Src] = []
    for piece in fields:
        if piece.startswith("{") and piece.endswith("}"):
            parts.append(_work_src(cols, mapping, staged, piece[1:-1]))
        elif piece:
            parts.append(piece)
    return Src(label=item, template=tuple(parts))


# ------------------------------------------------------------- date formats


def _resolve_dates(
    con: duckdb.DuckDBPyConnection, staged: Staged, outputs: list[_Output], profile: Profile
) -> tuple[list[str], bool, list[str]]:
    """Pick the profile's date format(s) that fit this file.

    With several formats: the one format that parses every date of the file is
    used; when several do and they disagree on some value (03/04/2024: 3 April
    or March 4?), the file is refused instead of guessed.

    Returns:
        (formats, mixed, notes): mixed = no single format fits; rows are parsed
        value by value and a value that fits several formats differently is
        quarantined.

    Raises:
        InputError: the day/month order is ambiguous for the whole file.
    """
    formats = list(profile.date_formats)
    if len(formats) == 1:
        return formats, False, []
    p = Params()
    texts: list[tuple[str, str]] = []
    seen: set[str] = set()
    for out in outputs:
        for col in out.table.columns:
            src = out.sources.get(col.name)
            if col.type != "date" or src is None or src.is_typed:
                continue
            expr = text_expr(src, p, staged.needs_trim)
            key = repr(src)
            if key in seen:
                continue
            seen.add(key)
            texts.append((src.label, expr))
    if not texts:
        return formats, False, []

    def parse(expr: str, fmt: str) -> str:
        return date_parse(expr, fmt, p)

    aggs = []
    for _, expr in texts:
        aggs.append(f"count({expr})")
        for fmt in formats:
            aggs.append(
                f"count(*) filter (where {expr} is not null and {parse(expr, fmt)} is null)"
            )
    sql = f"select {', '.join(aggs)} from {staged.from_sql}"
    row = con.execute(sql, {**staged.from_params, **p.used_in(sql)}).fetchall()[0]
    k = len(formats) + 1
    total = sum(row[i * k] for i in range(len(texts)))
    if total == 0:
        return formats, False, []
    fails = {
        fmt: sum(row[i * k + 1 + j] for i in range(len(texts))) for j, fmt in enumerate(formats)
    }
    covering = [f for f in formats if fails[f] == 0]
    if len(covering) == 1:
        return covering, False, [f"dates read as {covering[0]}"]
    if not covering:
        return formats, True, []
    first = covering[0]
    for other in covering[1:]:
        for label, expr in texts:
            q = (
                f"select {expr} from {staged.from_sql} where {parse(expr, first)} <> "
                f"{parse(expr, other)} limit 1"
            )
            hit = con.execute(q, {**staged.from_params, **p.used_in(q)}).fetchall()
            if hit:
                raise InputError(
                    f"{staged.path}: every date in the file fits both {first} and {other}, and "
                    f"they disagree (e.g. {label} {hit[0][0]!r}); refusing to guess the "
                    f"day/month order: keep only the right one in date_formats of profile "
                    f"{profile.name}"
                )
    return [first], False, [f"dates read as {first}"]


# -------------------------------------------------------------- checks, write


def _keys_ascend(con: duckdb.DuckDBPyConnection, kcols: str, rows: str) -> bool:
    """Whether the key grows from each row of ``rows`` (``table where ...``) to the
    next, so that all keys differ. Most exports list rows by document number, and
    this one streaming pass is ~5× cheaper than a hash aggregate (whatever order the
    rows pass in, the conclusion holds)."""
    return not _scalar(
        con,
        f"select count(*) filter (where _k <= _prev) from (select row({kcols}) as _k, "
        f"lag(row({kcols})) over () as _prev from {rows})",
    )


def _flag_duplicates(
    con: duckdb.DuckDBPyConnection, table: Table, labels: dict[str, str], p: Params, staged: Staged
) -> None:
    """Quarantine repeated keys: exact repeats after the first, and every row of a
    key whose rows disagree (we cannot tell which one is right)."""
    key = list(table.key)
    kcols = ", ".join(key)
    if _keys_ascend(con, kcols, f"{_TYPED} where _reason is null"):
        return
    con.execute(
        f"create or replace temp table _dupkeys as select {kcols} from {_TYPED} "
        f"where _reason is null group by {kcols} having count(*) > 1"
    )
    if not _scalar(con, "select count(*) from _dupkeys"):
        con.execute("drop table _dupkeys")
        return
    using = " and ".join(f"t.{k} = k.{k}" for k in key)
    line = staged.line_of("t")
    con.execute(
        f"create or replace temp table _dups as select {', '.join(f't.{k}' for k in key)}, "
        f"count(*) as _n, count(distinct hash({', '.join(f't.{c}' for c in table.column_names)}))"
        f" as _variants, min({line}) as _first, "
        f"array_to_string(list_slice(list({line} order by {line}), 1, 5), ', ') as _lines "
        f"from {_TYPED} t semi join _dupkeys k on {using} where t._reason is null "
        f"group by {', '.join(f't.{k}' for k in key)}"
    )
    join = " and ".join(f"{_TYPED}.{k} = d.{k}" for k in key)
    ktext = " || '/' || ".join(f"cast(d.{k} as varchar)" for k in key)
    label = "+".join(labels.get(k, k) for k in key)
    desc = p(f"duplicate {'+'.join(key)} ")
    lab = p(f" ({label})" if label != "+".join(key) else "")
    conflict = p(" with different content in ")
    rows_at = p(" rows (lines ")
    close = p("): nothing loaded for this key; fix the export or remove the wrong rows")
    repeat = p(": exact repeat of line ")
    q = p("'")
    _exec(
        con,
        f"update {_TYPED} set _field = {p(label)}, _reason = case when d._variants > 1 then "
        f"{desc} || {q} || {ktext} || {q} || {lab} || {conflict} || cast(d._n as varchar) || "
        f"{rows_at} || d._lines || {close} else {desc} || {q} || {ktext} || {q} || {lab} || "
        f"{repeat} || cast(d._first as varchar) end from _dups d where {join} and "
        f"{_TYPED}._reason is null and (d._variants > 1 or {staged.line_of(_TYPED)} > d._first)",
        p,
    )
    con.execute("drop table if exists _dups")
    con.execute("drop table if exists _dupkeys")


#: Temp table of the payments whose invoice is missing or issued after the payment
#: (see :func:`_match_invoices`).
_MATCHED = "_pay_invoices"


def _match_invoices(con: duckdb.DuckDBPyConnection) -> str:
    """One join of the typed payments with ``raw.invoices`` for both checks that need
    it: the reference check (``_found`` false) and the payment dated before its
    invoice (``paid_at < issue_date``). Keeps only those rows (few), by rowid of
    ``_typed``; the two checks then update from it instead of joining 1M rows
    twice. Returns the temp table's name."""
    con.execute(
        f"create or replace temp table {_MATCHED} as select t.rowid as _rid, "
        "i.invoice_id is not null as _found, i.issue_date from "
        f"{_TYPED} t left join raw.invoices i on i.invoice_id = t.invoice_id where "
        "t._reason is null and t.invoice_id is not null and "
        "(i.invoice_id is null or t.paid_at < i.issue_date)"
    )
    return _MATCHED


def _flag_references(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    labels: dict[str, str],
    p: Params,
    matched: str | None = None,
) -> None:
    """Hold rows whose reference is not loaded. ``matched``: the payments' join with
    the invoices from :func:`_match_invoices`, already done."""
    for col, (ref_table, ref_col) in table.references.items():
        label = labels.get(col, col)
        pre = p(f"{label} '")
        post = p(
            f"' is not in {ref_table}: load {ref_table} (the row is held and retried by "
            f"every later `arinsight load`, even of unchanged files), or fix the {col}"
        )
        missing = (
            f"rowid in (select _rid from {matched} where not _found)"
            if matched is not None and col == "invoice_id" and ref_table == "invoices"
            else f"not exists (select 1 from raw.{ref_table} r where r.{ref_col} = {_TYPED}.{col})"
        )
        _exec(
            con,
            f"update {_TYPED} set _field = {p(label)}, _reason = {pre} || {col} || {post}, "
            f"_held = true where _reason is null and {col} is not null and {missing}",
            p,
        )


BEFORE_ISSUE_HINT = "): a typo in the date, or the payment belongs to another invoice"
#: the date column of each table checked against the export date
_DATED = {
    "invoices": "issue_date",
    "payments": "paid_at",
    "adjustments": "adjusted_at",
    "dunning_events": "sent_at",
    "payment_attempts": "attempted_at",
    "message_events": "occurred_at",
}


@dataclass(frozen=True)
class ExportDate:
    """The day the export was taken, given or inferred (see ``Plausibility``)."""

    day: datetime.date | None
    explicit: bool
    margin_days: int
    source: str

    def bound(self) -> datetime.date | None:
        """Rows dated after this are quarantined."""
        if self.day is None:
            return None
        return self.day if self.explicit else self.day + timedelta(days=self.margin_days)


def _export_date(
    con: duckdb.DuckDBPyConnection,
    profile: Profile,
    explicit: datetime.date | None,
    with_typed: bool = False,
) -> ExportDate:
    """The export date: ``explicit`` (``--export-date``), the profile's, or inferred.

    Inferred: the latest invoice issue date, leaving out issue dates that lie
    more than ``max_days_after_last_issue`` beyond the next-earlier one when at
    most 1 % of the invoices (at least one) are that far out: one invoice typed
    2031 in a 2013 ledger does not move the export date to 2031.
    """
    rules = profile.plausibility
    margin = rules.max_days_after_last_issue
    if explicit is not None:
        return ExportDate(explicit, True, 0, "--export-date")
    if rules.export_date is not None:
        return ExportDate(
            rules.export_date, True, 0, f"plausibility.export_date of profile {profile.name}"
        )
    typed = (
        f" union all select issue_date from {_TYPED} where _reason is null" if with_typed else ""
    )
    rows = con.execute(
        "select issue_date, count(*) from (select issue_date from raw.invoices"
        f"{typed}) where issue_date is not null group by 1 order by 1"
    ).fetchall()
    if not rows:
        return ExportDate(None, False, margin, "no invoices")
    total = sum(n for _, n in rows)
    allowed = max(1, total // 100)
    end = len(rows) - 1
    above = 0
    for i in range(len(rows) - 1, 0, -1):
        above += rows[i][1]
        if above > allowed:
            break
        if (rows[i][0] - rows[i - 1][0]).days > margin:
            end = i - 1
    return ExportDate(rows[end][0], False, margin, "the latest invoice issue date")


def _within_margin_note(n: int, last: object, label: str, export: ExportDate) -> str:
    """Note on rows dated after an inferred export date but within the margin (loaded)."""
    return (
        f"{n:,} {label} date(s) after {export.source} {export.day} (up to {last}),"
        f" within plausibility.max_days_after_last_issue = {export.margin_days}: "
        "loaded; the build's default as-of date follows them (set "
        "plausibility.export_date or pass --export-date to check strictly)"
    )


def _flag_plausibility(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    labels: dict[str, str],
    p: Params,
    export: ExportDate,
    profile: Profile,
    rel: str = _TYPED,
    matched: str | None = None,
) -> list[str]:
    """Quarantine rows of ``rel`` dated after the export date, and payments dated
    before their invoice's issue date (``matched``: the payments' join with the
    invoices from :func:`_match_invoices`, already done). Returns notes (rows
    dated after an inferred export date but within the margin, which are loaded)."""
    notes: list[str] = []
    col = _DATED.get(table.name)
    bound = export.bound()
    if col is not None and bound is not None:
        label = labels.get(col, col)
        if export.explicit:
            why = f"the export date {export.day} ({export.source})"
        else:
            why = (
                f"the latest plausible date {bound}: {export.source} {export.day} plus "
                f"plausibility.max_days_after_last_issue = {export.margin_days} days of "
                f"profile {profile.name}"
            )
        msg = p(
            f" is after {why}: a typo in the year? Fix the row, or set "
            f"plausibility.export_date in profile {profile.name} (or pass --export-date) if "
            "the export really is that recent"
        )
        _exec(
            con,
            f"update {rel} set _field = {p(label)}, _reason = {p(label + ' ')} || "
            f"cast({col} as varchar) || {msg} where _reason is null and {col} > {p(bound)}",
            p,
        )
        if not export.explicit and table.name != "invoices" and export.day is not None:
            n, last = con.execute(
                f"select count(*), max({col}) from {rel} where _reason is null and {col} > $d",
                {"d": export.day},
            ).fetchall()[0]
            if n:
                notes.append(_within_margin_note(n, last, label, export))
    if table.name == "payments":
        label, inv = labels.get("paid_at", "paid_at"), labels.get("invoice_id", "invoice_id")
        source, on = (
            (f"{matched} i", f"i._rid = {rel}.rowid and i._found")
            if matched is not None
            else ("raw.invoices i", f"i.invoice_id = {rel}.invoice_id")
        )
        _exec(
            con,
            f"update {rel} set _field = {p(label)}, _reason = {p(label + ' ')} || "
            f"cast({rel}.paid_at as varchar) || {p(' is before the issue date ')} || "
            f"cast(i.issue_date as varchar) || {p(f' of its invoice ({inv} ')} || "
            f"{rel}.invoice_id || {p(BEFORE_ISSUE_HINT)}"
            f" from {source} where {on} and "
            f"{rel}._reason is null and {rel}.paid_at < i.issue_date",
            p,
        )
    return notes


# ------------------------------------------------------- held rows, retried


def _held_table(table: str) -> str:
    return f"meta.held_{table}"


def _hold(con: duckdb.DuckDBPyConnection, table: Table, load_id: int, line: str) -> None:
    """Keep the typed rows quarantined only for a missing reference in
    ``meta.held_<table>``, so that a later load can release them."""
    if not table.references:
        return
    if not _scalar(con, f"select count(*) from {_TYPED} where _held"):
        return
    cols = ", ".join(table.column_names)
    con.execute(
        f"{table.ddl('meta', lineage=True).replace(f'meta.{table.name}', _held_table(table.name))}"
    )
    con.execute(
        f"insert into {_held_table(table.name)} ({cols}, _load_id, _source_line) "
        f"select {cols}, $lid, {line} from {_TYPED} where _held",
        {"lid": load_id},
    )


@dataclass(frozen=True)
class Released:
    """Rows of an earlier load that were held for a missing reference and are now loaded."""

    file: str
    table: str
    load_id: int
    rows: int
    #: rows whose reference arrived but that fail another check now (still quarantined)
    requarantined: int = 0


def retry_held(
    con: duckdb.DuckDBPyConnection, profile: Profile, export_day: datetime.date | None = None
) -> list[Released]:
    """Load held rows whose missing reference has arrived (in contract order).

    A held row is released when every reference exists and no row of its key
    is in ``raw`` (a newer export of the key wins; the held row is dropped).
    Released rows pass the export-date and payment-date checks first; a row
    failing one stays quarantined with the new reason. ``meta.loads`` and
    ``meta.quarantine`` of the original load are updated, so rows read =
    loaded + quarantined keeps holding per load.
    """
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'meta' "
            "and table_name like 'held_%'"
        ).fetchall()
    }
    out: list[Released] = []
    for table in TABLES.values():
        held = _held_table(table.name)
        if f"held_{table.name}" not in existing:
            continue
        key = list(table.key)
        on_raw = " and ".join(f"r.{k} = h.{k}" for k in key)
        con.execute(
            f"delete from {held} h where exists (select 1 from raw.{table.name} r where {on_raw})"
        )
        refs = " and ".join(
            f"exists (select 1 from raw.{rt} r where r.{rc} = h.{c})"
            for c, (rt, rc) in table.references.items()
        )
        cols = ", ".join(table.column_names)
        con.execute(
            f"create or replace temp table _retry as select {cols}, h._load_id, h._source_line, "
            "NULL::VARCHAR as _field, NULL::VARCHAR as _reason from "
            f"{held} h where {refs} qualify row_number() over (partition by "
            f"{', '.join(f'h.{k}' for k in key)} order by h._load_id desc, h._source_line desc) = 1"
        )
        if not _scalar(con, "select count(*) from _retry"):
            con.execute("drop table _retry")
            continue
        labels: dict[str, str] = {}  # held rows keep canonical names only
        if table.name in _DATED:
            export = _export_date(con, profile, export_day)
            _flag_plausibility(con, table, labels, Params(), export, profile, rel="_retry")
        con.execute(
            f"insert into raw.{table.name} ({cols}, _load_id, _source_line) "
            f"select {cols}, _load_id, _source_line from _retry where _reason is null"
        )
        con.execute(
            "update meta.quarantine q set field = r._field, reason = r._reason from _retry r "
            "where r._reason is not null and q.load_id = r._load_id and q.table_name = $t and "
            "q.line_number is not distinct from r._source_line",
            {"t": table.name},
        )
        con.execute(
            "delete from meta.quarantine q using _retry r where r._reason is null and "
            "q.load_id = r._load_id and q.table_name = $t and q.line_number is not distinct "
            "from r._source_line",
            {"t": table.name},
        )
        counts = con.execute(
            "select r._load_id, any_value(l.file), count(*) filter (where r._reason is null), "
            "count(*) filter (where r._reason is not null) from _retry r join meta.loads l on "
            "l.load_id = r._load_id group by r._load_id order by r._load_id"
        ).fetchall()
        for lid, file, n_ok, n_bad in counts:
            con.execute(
                "update meta.loads set rows_loaded = rows_loaded + $n, rows_quarantined = "
                "rows_quarantined - $n where load_id = $lid",
                {"n": int(n_ok), "lid": lid},
            )
            out.append(Released(str(file), table.name, int(lid), int(n_ok), int(n_bad)))
        on_retry = " and ".join(f"r.{k} = h.{k}" for k in key)
        con.execute(f"delete from {held} h using _retry r where {on_retry}")
        con.execute("drop table _retry")
    return out


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    load_id: int,
    table: str,
    extra: list[tuple[int | None, str | None, str, str]],
) -> None:
    """Insert quarantined rows of ``_typed`` (with their raw line) and ``extra`` rows."""
    line = staged.line_of(_TYPED)
    bad = con.execute(f"select {line} from {_TYPED} where _reason is not null").fetchall()
    lines = [int(r[0]) for r in bad if r[0] is not None]
    if lines:
        # polars, not pyarrow.table: building an arrow table from Python objects
        # imports pandas (0.6 s on every load). Imported here, not above: a load
        # without bad rows need not import it at all (0.15 s).
        import polars as pl

        if staged.raw_line is not None:
            raws = staged.raw_line(sorted(set(lines)))
            con.register(
                "_raws",
                pl.DataFrame(
                    {"_line": sorted(set(lines)), "_raw": raws},
                    schema={"_line": pl.Int64, "_raw": pl.String},
                ),
            )
        else:
            p = Params()
            pairs = ", ".join(
                f"{p(name or f'column {i + 1}')}, c{i}" for i, name in enumerate(staged.columns)
            )
            sql = (
                f"select s._line, cast(json_object({pairs}) as varchar) from "
                f"{staged.from_sql} s semi join (select {line} as _line from {_TYPED} "
                "where _reason is not null) b on s._line = b._line"
            )
            rel = con.execute(sql, {**staged.from_params, **p.used_in(sql)}).fetchall()
            con.register(
                "_raws",
                pl.DataFrame(
                    {"_line": [r[0] for r in rel], "_raw": [r[1] for r in rel]},
                    schema={"_line": pl.Int64, "_raw": pl.String},
                ),
            )
        q_line = staged.line_of("q")
        try:
            con.execute(
                f"insert into meta.quarantine select $lid, $file, $table, {q_line}, q._field, "
                f"q._reason, r._raw from {_TYPED} q left join _raws r on {q_line} = r._line "
                f"where q._reason is not null order by {q_line}",
                {"lid": load_id, "file": str(staged.path), "table": table},
            )
        finally:
            con.unregister("_raws")
    if extra:
        con.executemany(
            "insert into meta.quarantine values (?, ?, ?, ?, ?, ?, ?)",
            [
                [load_id, str(staged.path), table, line, fld, reason, raw]
                for line, raw, fld, reason in extra
            ],
        )


def _typed_table(
    con: duckdb.DuckDBPyConnection, staged: Staged, out: _Output, ctx: Ctx, text: TextFile | None
) -> Staged:
    """Create ``_typed`` for one output; a direct read that hit rejects is redone staged.

    A direct read is numbered by row position when DuckDB keeps the file order,
    else it is redone with lines paired by position (one reading thread).

    Returns:
        The Staged the rows came from (the staged copy after a fallback; with
        ``row_offset`` set when the rows are numbered by position).
    """
    conds = [f"({text_expr(src, ctx.p, ctx.trim)}) is not null" for src in out.when]
    by_date = out.distinct_on and out.on_conflict != "last_row" and out.order_src is not None
    query = typed_query(
        out.table,
        out.sources,
        ctx,
        staged.from_sql,
        where=" and ".join(conds) if conds else None,
        post_where=out.post_where,
        distinct_on=out.distinct_on,
        distinct_order=_date_of(out.order_src, ctx) if by_date and out.order_src else None,
        most_frequent=bool(out.distinct_on) and out.on_conflict == "most_frequent",
    )
    create = f"create or replace temp table {_TYPED} as {query}"
    params = {**staged.from_params, **ctx.p.used_in(query)}
    try:
        # a direct read numbers rows by position: only an order-keeping plan will do
        if (
            staged.direct
            and not staged.paired
            and (out.distinct_on or not keeps_order(con, create, params))
        ):
            assert text is not None
            return _typed_table(con, pair_direct_lines(con, text, staged), out, _fresh(ctx), text)
        con.execute(create, params)
    except Exception as exc:  # duckdb.Error; keep the import lazy
        if text is None or "duckdb" not in type(exc).__module__:
            raise
        raise text.read_error(exc) from exc
    if staged.direct:
        assert text is not None
        first = direct_rows(con, staged, _TYPED)
        if first is None:
            return _typed_table(con, stage_delimited(con, text), out, _fresh(ctx), None)
        if staged.paired:
            return staged
        return replace(staged, row_offset=number_direct_rows(con, text, _TYPED, first))
    return staged


def _fresh(ctx: Ctx) -> Ctx:
    """``ctx`` with no parameters collected yet (for a second typing query)."""
    return replace(ctx, p=Params())


def _date_of(src: Src, ctx: Ctx) -> str:
    """SQL: the date ``src`` holds, read with the file's date formats (NULL if none fits)."""
    if src.is_typed and (src.dtype == "DATE" or src.dtype.startswith("TIMESTAMP")):
        return f"cast({src.ident} as date)"
    text = text_expr(src, ctx.p, ctx.trim)
    parts = [date_parse(text, fmt, ctx.p) for fmt in ctx.date_formats]
    return parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"


def _conflict_note(
    con: duckdb.DuckDBPyConnection, staged: Staged, out: _Output, ctx: Ctx, mapping_key: str
) -> str | None:
    """For a derived table with a key (customers from invoice rows): how many keys
    come with different attributes on different rows, with examples, and which
    rule chose (None when every key's rows agree)."""
    if not out.distinct_on:
        return None
    p = Params()
    key = out.distinct_on
    attrs = [c for c in out.sources if c not in key and _provided(out.sources[c])]
    if not attrs:
        return None
    exprs = {c: text_expr(out.sources[c], p, ctx.trim) for c in [*key, *attrs]}
    conds = [f"({text_expr(src, p, ctx.trim)}) is not null" for src in out.when]
    conds += [f"({exprs[k]}) is not null" for k in key]
    ktext = " || '/' || ".join(f"k{i}" for i in range(len(key)))
    shown = " || ', ' || ".join(
        f"{p(out.sources[c].label + ' ')} || coalesce('''' || a{i} || '''', 'empty')"
        for i, c in enumerate(attrs)
    )
    sql = (
        "with r as (select "
        + ", ".join(
            [f"{exprs[k]} as k{i}" for i, k in enumerate(key)]
            + [f"{exprs[c]} as a{i}" for i, c in enumerate(attrs)]
        )
        + f" from {staged.from_sql} where {' and '.join(conds)}), "
        f"v as (select {ktext} as _k, {shown} as _v, count(*) as _n from r group by all), "
        "c as (select _k, count(*) as _variants, "
        "string_agg(_v || ' (' || _n || ' row(s))', ' vs ' order by _n desc, _v) as _txt "
        "from v group by _k having count(*) > 1) "
        "select (select count(distinct _k) from v), (select count(*) from c), "
        "(select list(_k || ': ' || _txt order by _k) from (select * from c order by _k limit 3))"
    )
    n_keys, n_conflicts, examples = con.execute(
        sql, {**staged.from_params, **p.used_in(sql)}
    ).fetchall()[0]
    if not n_conflicts:
        return None
    rule = {
        "latest": "the row with the latest date wins",
        "most_frequent": "the values most rows give win (ties: the latest row)",
        "last_row": "the last row in the file wins",
    }[out.on_conflict]
    return (
        f"{out.table.name}: {n_conflicts:,} of {n_keys:,} {'+'.join(key)} come with different "
        f"values on different rows; {rule} ({mapping_key}.on_conflict: {out.on_conflict}; "
        f"latest | most_frequent | last_row). E.g. {'; '.join(examples)}"
    )


def _no_currency_note(n: int) -> str:
    return (
        f"{n:,} invoice(s) without a currency: counted in the reporting currency "
        "(settings reporting_currency); name their currency with currency: in the profile"
    )


def _record_load(
    con: duckdb.DuckDBPyConnection, result: LoadResult, digest: str, profile: Profile
) -> None:
    """The ``meta.loads`` row of one file and table."""
    con.execute(
        "insert into meta.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.load_id,
            result.file,
            result.table,
            digest,
            profile.label,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_replaced,
            datetime.datetime.now(),
            result.seconds,
        ],
    )
    if not result.reconciles():  # pragma: no cover - a bug, not bad input
        raise AssertionError(f"{result.file}: rows do not reconcile: {result}")


def _direct_insert_fits(con: duckdb.DuckDBPyConnection, staged: Staged, out: _Output) -> bool:
    """Whether ``out`` may be inserted straight into ``raw`` (see :func:`_write_direct`):
    a Parquet file feeding only its own table (no filters, no distinct rows) into a
    table that has no rows yet (so no row is replaced by key).

    Not for delimited text: its rows get their line from their position in the
    typed table after the insert, and setting ``_source_line`` in ``raw`` afterwards
    makes the commit rewrite the row groups already written (measured: the update
    and the rewrite cost more than the typed copy saves)."""
    return (
        staged.fmt == "parquet"
        and out.role == "primary"
        and not out.when
        and out.post_where is None
        and not out.distinct_on
        and not staged.rejects
        and not _scalar(con, f"select exists (select 1 from raw.{out.table.name})")
    )


def _write_direct(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    out: _Output,
    ctx: Ctx,
    digest: str,
    profile: Profile,
    notes: list[str],
    export_day: datetime.date | None,
    load_id: int,
    started: float,
) -> LoadResult | None:
    """Insert the typing query's rows straight into ``raw`` (no ``_typed`` copy),
    then prove that every check of the ordinary path would pass on them.

    Each check of :func:`_write_output` (row rules, duplicate keys, references,
    dates after the export date, payments before their invoice) runs as a count
    over the rows just inserted (``_load_id``). When every count is zero the
    ordinary path would have loaded every row as it is, with the same notes;
    otherwise the rows are deleted again and None is returned: the caller runs
    the ordinary path, which quarantines exactly as before. A clean file saves
    writing and re-reading the typed temp table (≈ 0.2 CPU-s per 1M rows).
    """
    table = out.table
    name = table.name
    query = typed_query(table, out.sources, ctx, staged.from_sql)
    cols = ", ".join(table.column_names)
    sql = (
        f"insert into raw.{name} ({cols}, _load_id, _source_line) select {cols}, $lid, "
        f"_line from ({query}) where _reason is null"
    )
    params = {**staged.from_params, **ctx.p.used_in(sql), "lid": load_id}
    inserted = int(con.execute(sql, params).fetchall()[0][0])
    new = f"raw.{name} where _load_id = {int(load_id)}"
    notes = list(notes)
    # rows failing a row rule (typing, required, allowed values, ...) were not inserted
    clean = inserted == staged.n_rows and _keys_distinct(con, table, new)
    if clean:
        clean = not _references_missing(con, table, load_id)
    if clean and name in _DATED:
        col = _DATED[name]
        export = _export_date(con, profile, export_day)
        bound = export.bound()
        if bound is not None:
            late, n_after, last = con.execute(
                f"select count(*) filter (where {col} > $b), count(*) filter (where {col} > $d),"
                f" max({col}) from {new}",
                {"b": bound, "d": export.day},
            ).fetchall()[0]
            clean = not late
            if clean and n_after and not export.explicit and name != "invoices":
                label = out.sources[col].label if col in out.sources else col
                notes.append(_within_margin_note(int(n_after), last, label, export))
    if not clean:
        con.execute(f"delete from raw.{name} where _load_id = $lid", {"lid": load_id})
        return None
    if name == "invoices":
        n_no_currency = int(_scalar(con, f"select count(*) from {new} and currency is null"))
        if n_no_currency:
            notes.append(_no_currency_note(n_no_currency))
    result = LoadResult(
        file=str(staged.path),
        table=name,
        rows_read=inserted,
        rows_loaded=inserted,
        rows_quarantined=0,
        rows_replaced=0,
        skipped=False,
        load_id=load_id,
        seconds=time.perf_counter() - started,
        derived_from=None,
        notes=tuple(notes),
    )
    _record_load(con, result, digest, profile)
    return result


def _keys_distinct(con: duckdb.DuckDBPyConnection, table: Table, rows: str) -> bool:
    """Whether no key repeats among ``rows`` (``raw.<t> where ...``): the one-pass
    :func:`_keys_ascend` test, else a group by."""
    kcols = ", ".join(table.key)
    if _keys_ascend(con, kcols, rows):
        return True
    return not _scalar(
        con, f"select exists (select 1 from {rows} group by {kcols} having count(*) > 1)"
    )


def _references_missing(con: duckdb.DuckDBPyConnection, table: Table, load_id: int) -> bool:
    """Whether a row of load ``load_id`` names a reference that is not loaded, or
    (payments) is dated before its invoice's issue date: one join per reference."""
    for col, (ref_table, ref_col) in table.references.items():
        before = (
            " or t.paid_at < r.issue_date"
            if table.name == "payments" and col == "invoice_id" and ref_table == "invoices"
            else ""
        )
        found = _scalar(
            con,
            f"select exists (select 1 from raw.{table.name} t left join raw.{ref_table} r on "
            f"r.{ref_col} = t.{col} where t._load_id = $lid and t.{col} is not null and "
            f"(r.{ref_col} is null{before}))",
            {"lid": load_id},
        )
        if found:
            return True
    return False


def _write_output(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    out: _Output,
    ctx: Ctx,
    digest: str,
    profile: Profile,
    primary: str,
    notes: list[str],
    text: TextFile | None,
    export_day: datetime.date | None = None,
    alone: bool = False,
) -> tuple[LoadResult, Staged]:
    """Type one output of a file, check it and insert its good rows into ``raw``.

    ``alone``: the file feeds this table only (no split or derived outputs), so a
    Parquet file may take the direct insert (:func:`_write_direct`).
    """
    started = time.perf_counter()
    table = out.table
    load_id: int | None = None
    if alone and _direct_insert_fits(con, staged, out):
        load_id = int(_scalar(con, "select nextval('meta.load_seq')"))
        direct = _write_direct(
            con, staged, out, ctx, digest, profile, notes, export_day, load_id, started
        )
        if direct is not None:
            return direct, staged
        ctx = _fresh(ctx)
    staged = _typed_table(con, staged, out, ctx, text)
    labels = {c: s.label for c, s in out.sources.items()}
    p = Params()
    _flag_duplicates(con, table, labels, p, staged)
    matched = _match_invoices(con) if table.name == "payments" else None
    _flag_references(con, table, labels, p, matched)
    notes = list(notes)
    if table.name in _DATED:
        export = _export_date(con, profile, export_day, with_typed=table.name == "invoices")
        notes += _flag_plausibility(con, table, labels, p, export, profile, matched=matched)
    if matched is not None:
        con.execute(f"drop table {matched}")
    no_currency = (
        "count(*) filter (where _reason is null and currency is null)"
        if table.name == "invoices"
        else "0"
    )
    n_good, n_bad, n_no_currency = con.execute(
        f"select count(*) filter (where _reason is null), count(*) filter (where _reason is not "
        f"null), {no_currency} from {_TYPED}"
    ).fetchall()[0]
    if n_no_currency:
        notes.append(_no_currency_note(n_no_currency))
    if load_id is None:
        load_id = int(_scalar(con, "select nextval('meta.load_seq')"))
    key = list(table.key)
    replaced = 0
    if _scalar(con, f"select exists (select 1 from raw.{table.name})"):
        on = " and ".join(f"r.{k} = k.{k}" for k in key)
        same = " and ".join(f"r.{c} is not distinct from k.{c}" for c in table.column_names)
        replaced = int(
            _scalar(
                con,
                f"select count(*) from raw.{table.name} r join (select * from {_TYPED} where "
                f"_reason is null) k on {on} where not ({same})",
            )
        )
        cond = " and ".join(f"raw.{table.name}.{k} = k.{k}" for k in key)
        con.execute(
            f"delete from raw.{table.name} using (select distinct {', '.join(key)} from {_TYPED}"
            f" where _reason is null) k where {cond}"
        )
    cols = ", ".join(table.column_names)
    # Rows keep their line in _source_line; an ordered insert would leave a partial
    # row group per read buffer, which the next checkpoint rewrites (≈ 1 s at 1M).
    with _setting(con, "preserve_insertion_order", False):
        con.execute(
            f"insert into raw.{table.name} ({cols}, _load_id, _source_line) "
            f"select {cols}, $lid, {staged.line_of(_TYPED)} from {_TYPED} where _reason is null",
            {"lid": load_id},
        )
    extra: list[tuple[int | None, str | None, str, str]] = []
    if out.role == "primary":
        extra = [(r.line, r.raw, "(line)", r.reason) for r in staged.rejects]
    _quarantine(con, staged, load_id, table.name, extra)
    _hold(con, table, load_id, staged.line_of(_TYPED))
    rows_read = int(n_good) + int(n_bad) + len(extra)
    result = LoadResult(
        file=str(staged.path),
        table=table.name,
        rows_read=rows_read,
        rows_loaded=int(n_good),
        rows_quarantined=int(n_bad) + len(extra),
        rows_replaced=replaced,
        skipped=False,
        load_id=load_id,
        seconds=time.perf_counter() - started,
        derived_from=None if out.role == "primary" else primary,
        notes=tuple(notes),
    )
    _record_load(con, result, digest, profile)
    return result, staged


@dataclass
class _Prepared:
    """A file read, hashed and (for text) checked and indexed, before DuckDB sees it."""

    digest: str
    fmt: str
    text: TextFile | None = None
    #: a whole-file problem, raised only when the file is not skipped as unchanged
    error: InputError | None = None


def _prepare(path: Path, table_name: str, profile: Profile) -> _Prepared:
    """The DuckDB-free part of loading a file (runs one file ahead in a thread).

    Raises:
        InputError: empty file, wrong encoding, unreadable header.
    """
    fmt = profile.format_for(path, table_name)
    if fmt not in ("csv", "tsv"):
        return _Prepared(sha256_of(path), fmt)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    sep = "\t" if fmt == "tsv" else profile.csv.delimiter
    try:
        text = prepare_delimited(path, data, sep, profile)
    except InputError as exc:
        return _Prepared(digest, fmt, error=exc)
    return _Prepared(digest, fmt, text)


class _ReadAhead:
    """Reads, hashes and indexes files in a thread while DuckDB works on earlier
    ones (hashlib, numpy and DuckDB release the GIL).

    Besides the next file, files are queued while the ones waiting add up to at
    most ``READ_AHEAD_BYTES``: after a small file, DuckDB would otherwise wait
    for the reading of a big one.
    """

    def __init__(self, files: list[tuple[Path, str]], profile: Profile) -> None:
        self.files = files
        self.profile = profile
        self.sizes = [path.stat().st_size for path, _ in files]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arinsight-read")
        self.queued: dict[int, Future[_Prepared]] = {}
        self.next = 0
        self._queue_after(-1)

    def _queue_after(self, i: int) -> None:
        while self.next < len(self.files) and (
            self.next == i + 1 or sum(self.sizes[i + 1 : self.next + 1]) <= READ_AHEAD_BYTES
        ):
            path, table = self.files[self.next]
            self.queued[self.next] = self.pool.submit(_prepare, path, table, self.profile)
            self.next += 1

    def queued_bytes(self) -> int:
        """Bytes of the files read ahead and not yet taken (their text is in memory)."""
        return sum(self.sizes[j] for j in self.queued)

    def take(self, i: int) -> _Prepared:
        """File ``i`` read (waits for it); queues the files after it."""
        self._queue_after(i)
        return self.queued.pop(i).result()

    def close(self) -> None:
        """Stop reading; remove the transcoded temp copies of files never reached."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        for left in self.queued.values():
            if left.done() and not left.cancelled() and left.exception() is None:
                text = left.result().text
                if text is not None:
                    text.close()


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table_name: str,
    profile: Profile,
    prepared: _Prepared | None = None,
    export_day: datetime.date | None = None,
) -> list[LoadResult]:
    started = time.perf_counter()
    mapping = profile.tables[table_name]
    prepared = prepared or _prepare(path, table_name, profile)
    fmt, digest = prepared.fmt, prepared.digest
    previous = _scalar(
        con,
        "select min(load_id) from meta.loads where sha256 = ? and table_name = ? and profile = ?",
        [digest, table_name, profile.label],
    )
    if previous:
        if prepared.text is not None:
            prepared.text.close()
        return [
            LoadResult(
                str(path),
                table_name,
                0,
                0,
                0,
                0,
                True,
                int(previous),
                time.perf_counter() - started,
            )
        ]
    if prepared.error is not None:
        raise prepared.error
    text = prepared.text
    try:
        if text is not None:
            staged = stage_direct(con, text)
        elif fmt == "parquet":
            staged = stage_parquet(con, path, profile)
        else:
            staged = stage_xlsx(con, path, profile, mapping.sheet)
        table = TABLES[table_name]
        outputs, notes = _outputs(staged, table, mapping, profile)
        if staged.direct and (len(outputs) > 1 or len(profile.date_formats) > 1):
            # several passes over the rows: read the file once into _src
            assert text is not None
            staged = stage_delimited(con, text)
        formats, mixed, date_notes = _resolve_dates(con, staged, outputs, profile)
        results = []
        for out in outputs:
            ctx = Ctx(
                profile=profile,
                table=out.table,
                date_formats=formats,
                mixed_dates=mixed,
                trim=staged.needs_trim,
                mapping_table=table_name,
                derived=out.role == "derived",
            )
            file_notes: list[str] = []
            if out.role == "primary":
                file_notes = staged.notes + notes + date_notes
            if out.distinct_on:
                conflict = _conflict_note(con, staged, out, ctx, ctx.mapping_key())
                if conflict:
                    file_notes = [*file_notes, conflict]
            res, staged = _write_output(
                con,
                staged,
                out,
                ctx,
                digest,
                profile,
                table_name,
                file_notes,
                text,
                export_day,
                alone=len(outputs) == 1,
            )
            if out.role == "primary" and staged.n_rows == 0 and not staged.rejects:
                res = replace(res, notes=(*res.notes, "no data rows (header only)"))
            results.append(res)
    finally:
        if text is not None:
            text.close()
    drop_staged(con)
    con.execute(f"drop table if exists temp.{_TYPED}")
    results.sort(key=lambda r: r.derived_from is not None)
    return results


#: DuckDB's memory limit during a load goes below neither this (MiB) nor half the limit
LOAD_MEMORY_FLOOR_MIB = 256
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_UNITS.update({"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12})


def _memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int | None:
    """DuckDB's current ``memory_limit`` in bytes (None: not a size, e.g. unlimited)."""
    import re

    text = str(_scalar(con, "select current_setting('memory_limit')") or "")
    m = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", text.strip())
    if not m or m.group(2) not in _UNITS:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _leave_room(
    con: duckdb.DuckDBPyConnection, limit: int, prepared: _Prepared, reader: _ReadAhead
) -> None:
    """Lower DuckDB's memory limit by what the loader itself holds in memory now.

    A CSV's text (and record index) stays in Python while DuckDB types it, and
    the next files are read ahead; DuckDB's limit is for DuckDB alone, so at 10M
    invoices (an 0.8 GB file, 0.4 GB of index) the process would otherwise peak
    at the limit plus all that. Lowered, DuckDB spills what does not fit to its
    temp directory instead; the process stays near the configured limit. At 1M
    the files are small and the limit does not bind.
    """
    held = reader.queued_bytes()
    if prepared.text is not None:
        held += prepared.text.held_bytes()
    room = max(min(LOAD_MEMORY_FLOOR_MIB * 2**20, limit // 2), limit - held)
    con.execute(f"set memory_limit = '{room // 2**20}MiB'")


def check_currencies(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> None:
    """Refuse invoices in a currency without a usable rate into the reporting currency.

    Raises:
        InputError: naming the currency, an example file and line, and what to load.
    """
    rows = con.execute(
        "with foreign_inv as (select i.invoice_id, upper(i.currency) as currency, i.issue_date,"
        " i._load_id, i._source_line from raw.invoices i where i.currency is not null and "
        "upper(i.currency) <> upper($rep)), "
        "missing as (select f.* from foreign_inv f where not exists (select 1 from raw.fx_rates r"
        " where upper(r.currency) = f.currency and r.rate_date <= f.issue_date)) "
        "select m.currency, count(*), any_value(l.file), min(m._source_line), min(m.issue_date) "
        "from missing m left join meta.loads l on l.load_id = m._load_id "
        "group by m.currency order by m.currency",
        {"rep": reporting_currency},
    ).fetchall()
    if rows:
        parts = [
            f"{cur}: {n:,} invoice(s), e.g. {file} line {line} issued {first}"
            for cur, n, file, line, first in rows
        ]
        raise InputError(
            f"invoices in currencies other than the reporting currency {reporting_currency} "
            f"have no rate into it on or before their issue date ({'; '.join(parts)}). "
            "Load fx_rates (rate_date, currency, rate_to_reporting) in the same call or "
            "before, or set reporting_currency in the settings; amounts are never summed "
            "across currencies silently. Nothing was loaded."
        )


def load_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[Path | str],
    profile: Profile | str = "canonical",
    on_file: Callable[[LoadResult], None] | None = None,
    *,
    export_date: datetime.date | None = None,
    strict: bool = False,
    on_release: Callable[[Released], None] | None = None,
) -> list[LoadResult]:
    """Load every file under ``sources`` in one transaction.

    After the files, rows held in quarantine by earlier loads for a missing
    reference (a payment whose invoice was not loaded yet) are loaded when the
    reference now exists (:func:`retry_held`), even when every file was skipped
    as unchanged.

    Args:
        con: read-write connection to the warehouse.
        sources: files or directories.
        profile: a Profile, the name of a built-in one, or a YAML path.
        on_file: called after each table of each file (progress, printing).
        export_date: the day the export was taken (overrides the profile's
            ``plausibility.export_date``); rows dated after it are quarantined.
        strict: refuse files in a directory that match no table of the profile.
        on_release: called for each earlier load whose held rows were loaded.

    Returns:
        One LoadResult per file and table, in load order.

    Raises:
        InputError: a file cannot be read as a whole, invoices in a currency
            without rates, or (``strict``) unmatched files; nothing is loaded then.
        ConfigError: the profile is invalid.
    """
    from arinsight.config import load_settings

    prof = resolve_profile(profile)
    sources = list(sources)
    if strict:
        ignored = ignored_files(sources, prof)
        if ignored:
            listed = "; ".join(f"{f}: {why}" for f, why in ignored)
            raise InputError(
                f"--strict: {len(ignored)} file(s) would not be loaded ({listed}). Add a pattern "
                f"to tables.<table>.files of profile {prof.name}, move them away, or leave out "
                "--strict. Nothing was loaded."
            )
    init_schema(con)
    files = expand_sources(sources, prof)
    results: list[LoadResult] = []
    reader = _ReadAhead(files, prof)
    limit = _memory_limit_bytes(con)
    try:
        with (
            _setting(con, "force_compression", RAW_COMPRESSION),
            _setting(con, "memory_limit", _scalar(con, "select current_setting('memory_limit')")),
            transaction(con),
        ):
            for i, (path, table) in enumerate(files):
                prepared = reader.take(i)
                if limit is not None:
                    _leave_room(con, limit, prepared, reader)
                for res in _load_file(con, path, table, prof, prepared, export_date):
                    results.append(res)
                    if on_file:
                        on_file(res)
            for released in retry_held(con, prof, export_date):
                if on_release:
                    on_release(released)
            if any(r.table == "invoices" and not r.skipped for r in results):
                check_currencies(con, load_settings().reporting_currency)
    finally:
        reader.close()
    return results
