"""The DuckDB warehouse: one file, schemas ``raw`` → ``staging`` → ``intermediate`` → ``marts``.

``meta`` holds the bookkeeping (``meta.loads``: lineage; ``meta.quarantine``:
rejected rows with their reason; ``meta.builds``: model runs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.contract import TABLES
from arinsight.errors import WarehouseMissing

if TYPE_CHECKING:
    import duckdb
    import polars as pl

DEFAULT_DB = Path("data") / "arinsight.duckdb"
SCHEMAS = ("raw", "meta", "marts")
#: Layers the build keeps in memory (attached in-memory databases of these names):
#: only marts are written to the file, which is most of the build's speed.
SCRATCH_LAYERS = ("staging", "intermediate")

META_DDL = (
    """
    create sequence if not exists meta.load_seq start 1
    """,
    """
    create table if not exists meta.loads (
        load_id BIGINT primary key,
        file VARCHAR not null,
        table_name VARCHAR,
        sha256 VARCHAR not null,
        profile VARCHAR not null,
        rows_read BIGINT not null,
        rows_loaded BIGINT not null,
        rows_quarantined BIGINT not null,
        rows_replaced BIGINT not null,
        loaded_at TIMESTAMP not null,
        seconds DOUBLE not null
    )
    """,
    """
    create table if not exists meta.quarantine (
        load_id BIGINT not null,
        file VARCHAR not null,
        table_name VARCHAR,
        line_number BIGINT,
        field VARCHAR,
        reason VARCHAR not null,
        raw_row VARCHAR
    )
    """,
    """
    create table if not exists meta.builds (
        build_id BIGINT,
        model VARCHAR,
        layer VARCHAR,
        row_count BIGINT,
        seconds DOUBLE,
        built_at TIMESTAMP
    )
    """,
    # Ladder versions (arinsight.ladder.store): the YAML as applied, and its
    # stages resolved to offsets from the due date for the marts (segment '*' =
    # the ladder's default stages).
    """
    create table if not exists meta.ladders (
        version INTEGER primary key,
        effective_date DATE not null,
        name VARCHAR not null,
        yaml_text VARCHAR not null,
        sha256 VARCHAR not null,
        applied_at TIMESTAMP not null
    )
    """,
    """
    create table if not exists meta.ladder_stages (
        version INTEGER not null,
        segment VARCHAR not null,
        stage_number INTEGER not null,
        stage_name VARCHAR not null,
        due_offset_days INTEGER not null,
        channel VARCHAR not null,
        fee_amount DECIMAL(18, 2) not null,
        primary key (version, segment, stage_number)
    )
    """,
)


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$ARINSIGHT_DB``, else ``data/arinsight.duckdb``."""
    if path:
        return Path(path)
    env = os.environ.get("ARINSIGHT_DB")
    return Path(env) if env else DEFAULT_DB


def open_connection(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``path`` with offline-safe settings (no extension auto-install)."""
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }
    return duckdb.connect(str(path), read_only=read_only, config=config)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas, raw tables and meta tables if missing (idempotent)."""
    attached = {
        r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()
    }
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    # Warehouses from before the in-memory scratch layers kept these as schemas;
    # a schema and an attached database of the same name would be ambiguous.
    for layer in SCRATCH_LAYERS:
        if layer not in attached:
            con.execute(f"drop schema if exists {layer} cascade")
    for table in TABLES.values():
        con.execute(table.ddl("raw"))
    for ddl in META_DDL:
        con.execute(ddl)


class Warehouse:
    """A handle on the warehouse file.

    ``Warehouse.sql`` runs ad-hoc SQL and returns polars; the typed readers live
    in :mod:`arinsight.metrics`. Use as a context manager to close the file.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.con = con

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = True,
        create: bool = False,
    ) -> Warehouse:
        """Open (or with ``create=True`` create) the warehouse.

        Raises:
            WarehouseMissing: the file does not exist and ``create`` is False.
        """
        p = resolve_db_path(path)
        if not p.exists():
            if not create:
                raise WarehouseMissing(
                    f"no warehouse at {p} — run `arinsight load` (or `arinsight demo`) first"
                )
            p.parent.mkdir(parents=True, exist_ok=True)
        con = open_connection(p, read_only=read_only and not create)
        if not (read_only and not create):
            from arinsight.config import load_settings

            limit = load_settings().duckdb_memory_limit
            if limit:
                con.execute("set memory_limit = ?", [limit])
        if create:
            init_schema(con)
        return cls(p, con)

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``query`` (with bound ``params``, never formatted in) and return polars."""
        frame: pl.DataFrame = self.con.sql(query, params=params).pl()
        return frame

    def tables(self, schema: str) -> list[str]:
        rows = self.con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name",
            [schema],
        ).fetchall()
        return [r[0] for r in rows]

    def has_marts(self) -> bool:
        return "fct_dso_monthly" in self.tables("marts")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All-or-nothing: commit on success, roll back on any exception."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
