"""Run the SQL models under ``sql/`` into the warehouse.

Each model file opens with a header of ``-- key: value`` comment lines::

    -- model: fct_dso_monthly
    -- grain: one row per month end per segment (plus segment 'all')
    -- keys: month_end_date, segment
    -- depends_on: int_ar_month_end, int_sales_daily
    -- notes: ...

The runner refuses a model without ``model``, ``grain`` or ``keys``. It reads
each model's dependencies from the SQL itself (sqlglot: every table the query
reads that is not one of its own CTEs) and refuses a header whose
``depends_on`` disagrees, or a read of anything that is neither a model nor
``raw.<table>`` — so a model can never silently read the previous build's
table. It orders the models from those dependencies, enforces the
one-direction data flow (staging reads only raw; intermediate and marts never
read raw), materialises each as ``<layer>.<model>``, checks keys are unique and
non-null, then runs every ``sql/tests/assert_*.sql`` (a query returning bad
rows). Staging and intermediate live in in-memory scratch databases; the
marts are published in one transaction with the asserts, so a failure leaves
the last good build in place. ``select`` builds a subset (``MODEL`` and what
it reads, ``MODEL+`` also everything downstream of it) and publishes only
those marts.

Settings reach SQL as DuckDB variables (``getvariable('dso_window_days')``),
never by formatting values into the text.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.errors import BuildError
from arinsight.models.keys import CONSTRUCTION

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import duckdb
    from sqlglot import exp

    from arinsight.config import Settings

    OnModel = Callable[[str, int, int, float], None]

LAYERS = ("staging", "intermediate", "marts")
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_")}
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")


def sql_dir() -> Path:
    """The ``sql/`` directory: the repository's in a checkout, else the packaged copy."""
    here = Path(__file__).resolve()
    repo_sql = here.parents[3] / "sql"
    if repo_sql.is_dir():
        return repo_sql
    return here.parents[1] / "_sql"


@dataclass(frozen=True)
class Model:
    """One SQL model file and its parsed header."""

    name: str
    layer: str
    path: Path
    grain: str
    keys: tuple[str, ...]
    depends_on: tuple[str, ...]
    sql: str
    header: dict[str, str] = field(default_factory=dict)
    #: the header says ``keys_unique_by: construction`` and the SQL proves it
    #: (:mod:`arinsight.models.keys`): the build checks only for null keys
    keys_proven: bool = False
    #: ``zstd_columns``: columns a mart stores with DuckDB's zstd compression
    #: instead of the automatic choice (see :func:`_create_with_zstd`)
    zstd_columns: tuple[str, ...] = ()

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"


def parse_header(path: Path) -> dict[str, str]:
    """Leading ``-- key: value`` lines; continuation comment lines extend the last key."""
    header: dict[str, str] = {}
    last = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        m = _HEADER.match(line)
        if m and m.group(1) in {
            "model",
            "grain",
            "keys",
            "keys_unique_by",
            "depends_on",
            "notes",
            "asserts",
            "zstd_columns",
        }:
            last = m.group(1)
            header[last] = m.group(2)
        elif last:
            header[last] += " " + line.lstrip("-").strip()
    return header


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def load_model(path: Path, layer: str) -> Model:
    """Parse one model file.

    Raises:
        BuildError: header incomplete, name/prefix mismatch, or a layer rule broken.
    """
    h = parse_header(path)
    missing = [k for k in ("model", "grain", "keys") if not h.get(k)]
    if missing:
        raise BuildError(
            f"{path}: model header lacks {', '.join(missing)} "
            "(every model declares `-- model:`, `-- grain:` and `-- keys:`)"
        )
    name = h["model"]
    if name != path.stem:
        raise BuildError(f"{path}: header says model {name!r} but the file is {path.stem!r}")
    if not name.startswith(PREFIXES[layer]):
        raise BuildError(
            f"{path}: a {layer} model's name starts with {' or '.join(PREFIXES[layer])}"
        )
    claim = h.get("keys_unique_by")
    if claim is not None and claim != CONSTRUCTION:
        raise BuildError(
            f"{path}: `-- keys_unique_by: {claim}` — the only value is {CONSTRUCTION!r} "
            "(the SQL proves the keys unique); remove the line to have the build count them"
        )
    sql = path.read_text(encoding="utf-8")
    declared = set(_split(h.get("depends_on", "")))
    reads = sql_reads(sql, path)
    raw_reads = {r for r in reads if r.startswith(SOURCE_PREFIXES)}
    if layer != "staging" and raw_reads:
        raise BuildError(
            f"{path}: only staging models read raw.* and the stored ladders "
            f"(found {', '.join(sorted(raw_reads))})"
        )
    if layer == "staging" and reads - raw_reads:
        raise BuildError(
            f"{path}: staging models read only raw.* and the stored ladders "
            f"(found {', '.join(sorted(reads - raw_reads))})"
        )
    if declared != reads:
        parts = []
        if reads - declared:
            parts.append(f"reads {', '.join(sorted(reads - declared))} without declaring it")
        if declared - reads:
            parts.append(f"declares {', '.join(sorted(declared - reads))} but never reads it")
        raise BuildError(
            f"{path}: depends_on disagrees with the SQL: {'; '.join(parts)} — make the "
            f"header say `-- depends_on: {', '.join(sorted(reads))}`"
        )
    zstd = _split(h.get("zstd_columns", ""))
    if zstd and layer != "marts":
        raise BuildError(
            f"{path}: `-- zstd_columns:` applies to marts only (staging and intermediate "
            "models live in memory, uncompressed); remove the line"
        )
    deps = tuple(sorted(reads))
    return Model(
        name=name,
        layer=layer,
        path=path,
        grain=h["grain"],
        keys=_split(h["keys"]),
        depends_on=deps,
        sql=sql,
        header=h,
        zstd_columns=zstd,
    )


#: schemas a model may name explicitly: raw, and the layers (``marts.fct_x`` = ``fct_x``)
_SCHEMAS = ("raw", *LAYERS)
#: Inputs besides raw.*: the ladder versions `arinsight ladder apply` records. They are
#: sources (written by a verb, never by a build), so staging may read them like raw.
META_SOURCES = ("ladders", "ladder_stages")
SOURCE_PREFIXES = ("raw.", "meta.")


def sql_reads(sql: str, path: Path | str = "<sql>") -> set[str]:
    """The relations a query reads: model names, and ``raw.<table>`` for raw tables.

    Parsed with sqlglot (DuckDB dialect); a query's own CTE names and table
    functions are not reads, comments are ignored. A layer-qualified name
    (``intermediate.int_x``) counts as the model ``int_x``.

    Raises:
        BuildError: the SQL does not parse, or names a schema other than raw or a layer.
    """
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = _parse(_strip_header(sql))
    except ParseError as exc:
        raise BuildError(f"{path}: the SQL does not parse: {exc}") from exc
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    reads: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as generate_series(...)
        name, schema = table.name, table.db
        if not schema and name in ctes:
            continue
        if schema == "meta" and name in META_SOURCES and not table.catalog:
            reads.add(f"meta.{name}")
            continue
        if table.catalog or (schema and schema not in _SCHEMAS):
            raise BuildError(
                f"{path}: reads {table.sql(dialect='duckdb')}; models read raw.<table>, "
                f"meta.{{{','.join(META_SOURCES)}}} or other models by name"
            )
        reads.add(f"raw.{name}" if schema == "raw" else name)
    return reads


@functools.lru_cache(maxsize=512)
def _parse(body: str) -> exp.Expr:
    """sqlglot's tree of a model or assert (cached: the dependency and key analyses
    both read it; neither changes it)."""
    import sqlglot

    return sqlglot.parse_one(body, read="duckdb")


def _prove_keys(models: list[Model]) -> list[Model]:
    """``models`` (in build order) with ``keys_proven`` set where the header claims
    ``keys_unique_by: construction``.

    Raises:
        BuildError: a model claims it and its SQL does not prove it.
    """
    from arinsight.models.keys import KeyProver, Rel, explain

    if not any("keys_unique_by" in m.header for m in models):
        return models
    known: dict[str, Rel] = {}
    out = []
    for m in models:
        rel = KeyProver(known).query(_parse(_strip_header(m.sql)), {})
        declared = frozenset(k.lower() for k in m.keys)
        known[m.name] = Rel(tuple(dict.fromkeys([declared, *rel.keys])), rel.single, rel.columns)
        if "keys_unique_by" in m.header:
            why = explain(rel, m.keys)
            if why is not None:
                raise BuildError(
                    f"{m.path}: the header says `-- keys_unique_by: {CONSTRUCTION}` but {why}. "
                    "Remove that header line (the build then counts the keys at run time) or "
                    "change the SQL"
                )
            m = replace(m, keys_proven=True)
        out.append(m)
    return out


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def discover_models(root: Path | None = None) -> list[Model]:
    """All models under ``root`` (default :func:`sql_dir`) in dependency order.

    Raises:
        BuildError: unknown dependency, a cycle, or a malformed model.
    """
    base = root or sql_dir()
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((base / layer).glob("*.sql")):
            m = load_model(path, layer)
            if m.name in models:
                raise BuildError(f"{path}: model {m.name} is defined twice")
            models[m.name] = m
    graph: dict[str, set[str]] = {}
    for m in models.values():
        deps = set()
        for d in m.depends_on:
            if d.startswith(SOURCE_PREFIXES):
                continue
            if d not in models:
                raise BuildError(
                    f"{m.path}: reads {d!r}, which is no model under {base} (unknown model); "
                    "a model never reads a previously published table"
                )
            if LAYERS.index(models[d].layer) > LAYERS.index(m.layer):
                raise BuildError(
                    f"{m.path}: a {m.layer} model cannot depend on {models[d].layer} model {d}"
                )
            deps.add(d)
        graph[m.name] = deps
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise BuildError(f"model dependency cycle: {' -> '.join(exc.args[1])}") from exc
    return _prove_keys([models[n] for n in order])


@dataclass(frozen=True)
class BuildResult:
    """Rows and seconds per model, and the asserts that ran."""

    models: list[tuple[str, int, float]]
    asserts: list[str]
    seconds: float


def sql_variables(settings: Settings) -> dict[str, Any]:
    """Settings the SQL models read with ``getvariable(name)``."""
    variables: dict[str, Any] = {
        "dso_window_days": settings.dso_window_days,
        "conversion_horizon_days": settings.conversion_horizon_days,
        "reporting_currency": settings.reporting_currency,
        "involuntary_churn_window_days": settings.involuntary_churn_window_days,
    }
    for key, value in settings.behaviour_scoring.model_dump().items():
        variables[f"behaviour_{key}"] = value
    return variables


def _set_variables(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for name, value in sql_variables(settings).items():
        con.execute(f"set variable {name} = ?", [value])


def _check_keys(con: duckdb.DuckDBPyConnection, m: Model) -> None:
    """Keys unique and not null; for keys the SQL proves unique, only not null."""
    cols = ", ".join(m.keys)
    nulls = " or ".join(f"{k} is null" for k in m.keys)
    dupes_sql = "0" if m.keys_proven else f"count(*) - count(distinct ({cols}))"
    rows = con.execute(
        f"select {dupes_sql}, count(*) filter (where {nulls}) from {m.relation}"
    ).fetchall()
    dupes, null_count = rows[0]
    if dupes or null_count:
        sample = con.execute(
            f"select {cols}, count(*) as n from {m.relation} group by all having n > 1 limit 3"
        ).fetchall()
        raise BuildError(
            f"{m.relation}: keys ({cols}) must be unique and not null — "
            f"{dupes} duplicate(s), {null_count} null(s); e.g. {sample}"
        )


def select_models(models: Sequence[Model], selectors: Sequence[str]) -> list[Model]:
    """The models ``selectors`` name, with everything they read, in build order.

    ``MODEL`` selects the model; ``MODEL+`` also every model downstream of it
    (the dbt convention). Either way every model a selected one reads is
    built too: the scratch layers hold nothing from earlier builds.

    Raises:
        BuildError: a selector names no model.
    """
    import difflib

    by_name = {m.name: m for m in models}
    children: dict[str, set[str]] = {name: set() for name in by_name}
    for m in models:
        for d in m.depends_on:
            if d in children:
                children[d].add(m.name)
    chosen: set[str] = set()
    for selector in selectors:
        name = selector.strip().removesuffix("+")
        if name not in by_name:
            near = difflib.get_close_matches(name, by_name, n=1)
            hint = f" — did you mean {near[0]}?" if near else ""
            raise BuildError(f"--select {selector}: there is no model {name!r}{hint}")
        todo = [name]
        while todo:
            n = todo.pop()
            if n not in chosen:
                chosen.add(n)
                if selector.strip().endswith("+"):
                    todo.extend(children[n])
    todo = list(chosen)
    while todo:
        for d in by_name[todo.pop()].depends_on:
            if d in by_name and d not in chosen:
                chosen.add(d)
                todo.append(d)
    return [m for m in models if m.name in chosen]


def run_asserts(
    con: duckdb.DuckDBPyConnection,
    root: Path | None = None,
    built: set[str] | None = None,
) -> list[str]:
    """Run ``sql/tests/assert_*.sql``; each must return no rows.

    With ``built`` (the model names of a ``select`` build), only the asserts
    whose every read is among them run: the others would check tables this
    build did not touch.

    Raises:
        BuildError: naming the assert, what it checks and the first offending rows.
    """
    base = root or sql_dir()
    ran: list[str] = []
    for path in sorted((base / "tests").glob("assert_*.sql")):
        sql = path.read_text(encoding="utf-8")
        if built is not None and not sql_reads(sql, path) <= built:
            continue
        what = sql.splitlines()[0].lstrip("-").strip() if sql else path.stem
        rel = con.sql(sql)
        bad = rel.limit(5).fetchall()
        if bad:
            cols = rel.columns
            shown = "; ".join(str(dict(zip(cols, r, strict=True))) for r in bad)
            raise BuildError(f"assert {path.stem} failed ({what}): {shown}")
        ran.append(path.stem)
    return ran


def _attach_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Fresh in-memory databases for the scratch layers; search path over every layer."""
    from arinsight.warehouse import SCRATCH_LAYERS

    home = con.execute("select current_database()").fetchall()[0][0]
    attached = {
        r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()
    }
    for layer in SCRATCH_LAYERS:
        if layer in attached:
            con.execute(f"detach {layer}")
        con.execute(f"attach ':memory:' as {layer}")
    quoted = '"' + home.replace('"', '""') + '"'  # the file's stem: may be a keyword or hold '-'
    path = [f"{quoted}.main", *(f"{layer}.main" for layer in SCRATCH_LAYERS), f"{quoted}.marts"]
    con.execute(f"set search_path = '{','.join(path)}'")


def _detach_scratch(con: duckdb.DuckDBPyConnection) -> None:
    from arinsight.warehouse import SCRATCH_LAYERS

    home = con.execute("select current_database()").fetchall()[0][0]
    con.execute('use "' + home.replace('"', '""') + '"')
    con.execute("reset search_path")
    for layer in SCRATCH_LAYERS:
        con.execute(f"detach database if exists {layer}")


def _materialise(
    con: duckdb.DuckDBPyConnection,
    m: Model,
    done: list[tuple[str, int, float]],
    total: int,
    on_model: OnModel | None,
) -> None:
    t0 = time.perf_counter()
    body = _strip_header(m.sql)
    try:
        if m.zstd_columns:
            _create_with_zstd(con, m, body)
        else:
            con.execute(f"create or replace table {m.relation} as\n{body}")
    except BuildError:
        raise
    except Exception as exc:  # duckdb.Error; keep the import lazy
        raise BuildError(f"model {m.name} ({m.path}) failed: {exc}") from exc
    _check_keys(con, m)
    n = int(con.execute(f"select count(*) from {m.relation}").fetchall()[0][0])
    seconds = time.perf_counter() - t0
    done.append((m.name, n, seconds))
    if on_model is not None:
        on_model(m.name, len(done), total, seconds)


def _create_with_zstd(con: duckdb.DuckDBPyConnection, m: Model, body: str) -> None:
    """``create table`` with the query's own column types, ``m.zstd_columns`` stored
    with zstd, then ``insert`` the query: the same rows and types as ``create table
    as``. For columns of (nearly) unique short strings (``invoice_id``,
    ``customer_id`` of the per-invoice marts) DuckDB's automatic choice is
    dictionary + FSST, which costs 2-3x zstd's CPU to write; zstd takes about 1.5x
    its blocks (bench/README.md, fifth pass: -0.66 CPU-s, +10 % file at 1M).

    Raises:
        BuildError: a listed column is not among the query's columns.
    """
    described = con.execute(f"describe\n{body}").fetchall()
    names = [r[0] for r in described]
    missing = [c for c in m.zstd_columns if c not in names]
    if missing:
        raise BuildError(
            f"{m.path}: `-- zstd_columns:` names {', '.join(missing)}, which the model does "
            f"not select (its columns: {', '.join(names)})"
        )
    cols = ", ".join(
        '"'
        + name.replace('"', '""')
        + '" '
        + str(col_type)
        + (" using compression zstd" if name in m.zstd_columns else "")
        for name, col_type, *_ in described
    )
    con.execute(f"create or replace table {m.relation} ({cols})")
    con.execute(f"insert into {m.relation}\n{body}")


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    root: Path | None = None,
    on_model: Callable[[str, int, int, float], None] | None = None,
    select: Sequence[str] | None = None,
) -> BuildResult:
    """Build every model, check keys and run asserts; publish the marts atomically.

    Staging and intermediate models are built into in-memory databases
    (attached as ``staging`` and ``intermediate``) and dropped afterwards; only
    marts are written to the warehouse file, in one transaction together with
    the asserts, so a failure anywhere leaves the previous marts in place.

    Args:
        con: a writing connection to the warehouse.
        settings: the settings the models read as SQL variables.
        root: the ``sql/`` directory (default :func:`sql_dir`).
        on_model: called after each model with (name, index counted from 1,
            number of models, seconds).
        select: build only these models and what they read (``MODEL``), or also
            what is downstream (``MODEL+``); only the selected marts (and the
            marts they read) are published, the others keep their last build.

    Raises:
        BuildError: the first failure; the warehouse keeps its previous build.
    """
    from arinsight.warehouse import SCRATCH_LAYERS, init_schema, transaction

    started = time.perf_counter()
    models = discover_models(root)
    if select:
        models = select_models(models, select)
    init_schema(con)
    _set_variables(con, settings)
    done: list[tuple[str, int, float]] = []
    _attach_scratch(con)
    try:
        for m in models:
            if m.layer in SCRATCH_LAYERS:
                _materialise(con, m, done, len(models), on_model)
        with transaction(con):
            for m in models:
                if m.layer not in SCRATCH_LAYERS:
                    _materialise(con, m, done, len(models), on_model)
            built = {m.name for m in models} if select else None
            asserts = run_asserts(con, root, built)
            _record(con, done, models)
    finally:
        _detach_scratch(con)
    return BuildResult(done, asserts, time.perf_counter() - started)


def _record(
    con: duckdb.DuckDBPyConnection, done: list[tuple[str, int, float]], models: list[Model]
) -> None:
    """One ``meta.builds`` row per model of this build."""
    layer_of = {m.name: m.layer for m in models}
    build_id = int(
        con.execute("select coalesce(max(build_id), 0) + 1 from meta.builds").fetchall()[0][0]
    )
    for name, n, seconds in done:
        con.execute(
            "insert into meta.builds values (?, ?, ?, ?, ?, current_timestamp)",
            [build_id, name, layer_of[name], n, seconds],
        )


def _strip_header(sql: str) -> str:
    body = sql.strip().rstrip(";")
    if ";" in _strip_comments(body):
        raise BuildError("a model holds exactly one statement (found ';' inside)")
    return body
