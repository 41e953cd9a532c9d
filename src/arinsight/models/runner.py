"""Run the SQL models under ``sql/`` into the warehouse.

Each model file opens with a header of ``-- key: value`` comment lines::

    -- model: fct_dso_monthly
    -- grain: one row per month end per segment (plus segment 'all')
    -- keys: month_end_date, segment
    -- depends_on: int_ar_month_end, int_sales_daily
    -- notes: ...

The runner refuses a model without ``model``, ``grain`` or ``keys``, orders the
models from ``depends_on`` (names of models, or ``raw.<table>``), enforces the
one-direction data flow (staging reads only raw; intermediate and marts never
read raw), materialises each as ``<layer>.<model>``, checks keys are unique and
non-null, then runs every ``sql/tests/assert_*.sql`` (a query returning bad
rows). All of it happens in one transaction: a failure leaves the last good
build in place.

Settings reach SQL as DuckDB variables (``getvariable('dso_window_days')``),
never by formatting values into the text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.errors import BuildError

if TYPE_CHECKING:
    import duckdb

    from arinsight.config import Settings

LAYERS = ("staging", "intermediate", "marts")
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_")}
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_RAW_REF = re.compile(r"\braw\.([a-z_]+)\b")


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
        if m and m.group(1) in {"model", "grain", "keys", "depends_on", "notes", "asserts"}:
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
    sql = path.read_text(encoding="utf-8")
    deps = _split(h.get("depends_on", ""))
    raw_refs = set(_RAW_REF.findall(_strip_comments(sql)))
    raw_deps = {d.split(".", 1)[1] for d in deps if d.startswith("raw.")}
    if layer != "staging" and (raw_refs or raw_deps):
        raise BuildError(
            f"{path}: only staging models read raw.* (found raw."
            f"{', raw.'.join(sorted(raw_refs | raw_deps))})"
        )
    if layer == "staging":
        other = [d for d in deps if not d.startswith("raw.")]
        if other:
            raise BuildError(f"{path}: staging models depend only on raw.* (found {other})")
        undeclared = raw_refs - raw_deps
        if undeclared:
            raise BuildError(
                f"{path}: reads raw.{', raw.'.join(sorted(undeclared))} "
                "without declaring it in depends_on"
            )
    return Model(
        name=name,
        layer=layer,
        path=path,
        grain=h["grain"],
        keys=_split(h["keys"]),
        depends_on=deps,
        sql=sql,
        header=h,
    )


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
            if d.startswith("raw."):
                continue
            if d not in models:
                raise BuildError(f"{m.path}: depends_on names unknown model {d!r}")
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
    return [models[n] for n in order]


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
    cols = ", ".join(m.keys)
    nulls = " or ".join(f"{k} is null" for k in m.keys)
    rows = con.execute(
        f"select count(*) - count(distinct ({cols})), count(*) filter (where {nulls}) "
        f"from {m.relation}"
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


def run_asserts(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> list[str]:
    """Run ``sql/tests/assert_*.sql``; each must return no rows.

    Raises:
        BuildError: naming the assert, what it checks and the first offending rows.
    """
    base = root or sql_dir()
    ran: list[str] = []
    for path in sorted((base / "tests").glob("assert_*.sql")):
        sql = path.read_text(encoding="utf-8")
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
    path = [f"{home}.main", *(f"{layer}.main" for layer in SCRATCH_LAYERS), f"{home}.marts"]
    con.execute(f"set search_path = '{','.join(path)}'")


def _detach_scratch(con: duckdb.DuckDBPyConnection) -> None:
    from arinsight.warehouse import SCRATCH_LAYERS

    home = con.execute("select current_database()").fetchall()[0][0]
    con.execute(f"use {home}")
    con.execute("reset search_path")
    for layer in SCRATCH_LAYERS:
        con.execute(f"detach database if exists {layer}")


def _materialise(
    con: duckdb.DuckDBPyConnection, m: Model, done: list[tuple[str, int, float]], on_model: Any
) -> None:
    t0 = time.perf_counter()
    body = _strip_header(m.sql)
    try:
        con.execute(f"create or replace table {m.relation} as\n{body}")
    except Exception as exc:  # duckdb.Error; keep the import lazy
        raise BuildError(f"model {m.name} ({m.path}) failed: {exc}") from exc
    _check_keys(con, m)
    n = int(con.execute(f"select count(*) from {m.relation}").fetchall()[0][0])
    seconds = time.perf_counter() - t0
    done.append((m.name, n, seconds))
    if on_model:
        on_model(m, n, seconds)


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    root: Path | None = None,
    on_model: Callable[[str, int, int, float], None] | None = None,
) -> BuildResult:
    """Build every model, check keys and run asserts; publish the marts atomically.

    Staging and intermediate models are built into in-memory databases
    (attached as ``staging`` and ``intermediate``) and dropped afterwards; only
    marts are written to the warehouse file, in one transaction together with
    the asserts, so a failure anywhere leaves the previous marts in place.

    ``on_model(name, done, total, seconds)`` is called after each model.

    Raises:
        BuildError: the first failure; the warehouse keeps its previous build.
    """
    from arinsight.warehouse import SCRATCH_LAYERS, init_schema, transaction

    started = time.perf_counter()
    models = discover_models(root)

    def report(m: Model, n: int, seconds: float) -> None:
        if on_model is not None:
            on_model(m.name, len(done), len(models), seconds)

    init_schema(con)
    _set_variables(con, settings)
    done: list[tuple[str, int, float]] = []
    _attach_scratch(con)
    try:
        for m in models:
            if m.layer in SCRATCH_LAYERS:
                _materialise(con, m, done, report)
        with transaction(con):
            for m in models:
                if m.layer not in SCRATCH_LAYERS:
                    _materialise(con, m, done, report)
            asserts = run_asserts(con, root)
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
