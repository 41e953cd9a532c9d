"""The DuckDB warehouse: one file, schemas ``raw`` → ``staging`` → ``intermediate`` → ``marts``.

``meta`` holds the bookkeeping (``meta.loads``: lineage; ``meta.quarantine``:
rejected rows with their reason; ``meta.builds``: model runs).

Readers never block writers. DuckDB lets one process write a file and no other
process open it meanwhile, so every writer (load, build, recommend, ...) that
finishes cleanly **publishes a read snapshot**: a byte copy of the
checkpointed file into ``<db>.read/``, never written again, made current by an
atomic rename of ``<db>.read/CURRENT``.
:func:`arinsight.connect` (notebooks, the dashboard, the report) opens the
current snapshot read-only, so an analyst's open notebook or a serving
dashboard never holds the warehouse's lock, and sees the next build as soon as
it is published. Batch verbs that need ``raw.*`` open the file itself; when
another process holds it, they fail with one line naming that process.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.contract import TABLES
from arinsight.errors import WarehouseBusy, WarehouseMissing

if TYPE_CHECKING:
    import duckdb
    import polars as pl

DEFAULT_DB = Path("data") / "arinsight.duckdb"
SCHEMAS = ("raw", "meta", "marts")
#: Layers the build keeps in memory (attached in-memory databases of these names):
#: only marts are written to the file, which is most of the build's speed.
SCRATCH_LAYERS = ("staging", "intermediate")
#: Read snapshots kept besides the current one (a reader may still hold them).
SNAPSHOTS_KEPT = 1

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
    """Open ``path`` with offline-safe settings (no extension auto-install).

    Raises:
        WarehouseBusy: another process holds the file (the message names it).
    """
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusy(busy_message(path, str(exc))) from None


def busy_message(path: Path, error: str) -> str:
    """One line: which process holds ``path`` and what to do about it."""
    match = re.search(r"PID (\d+)", error)
    holder = "another process"
    if match:
        pid = match.group(1)
        holder = f"process {pid}"
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            cmd = " ".join(
                " ".join(part.decode(errors="replace").split()) for part in raw.split(b"\0")
            ).strip()
            if cmd:
                holder += f" ({cmd[:80]})"
        except OSError:
            pass
    return (
        f"the warehouse {path} is in use by {holder}; wait for it to finish or close its "
        "connection (a notebook: wh.close(); readers should use arinsight.connect(), which "
        "reads a snapshot and never locks the file), then run the command again"
    )


def snapshot_dir(db: Path) -> Path:
    """Folder of the read snapshots of the warehouse ``db`` (``<db>.read``)."""
    return db.with_name(db.name + ".read")


def read_version(path: str | os.PathLike[str] | None = None) -> str | None:
    """Id of the current read snapshot of the warehouse (None: none published yet).

    Changes every time a writer publishes; cheap (reads one small file), so
    long-running readers can poll it to notice a new build.
    """
    pointer = snapshot_dir(resolve_db_path(path)) / "CURRENT"
    try:
        return pointer.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def publish_snapshot(con: duckdb.DuckDBPyConnection, db: Path) -> str:
    """Copy the warehouse file into a new read snapshot and make it current.

    Call after the writer's transaction committed, while its connection still
    holds the file's lock (so nobody writes meanwhile): a checkpoint folds the
    write-ahead log into the file, and the file is then copied byte for byte
    (a sequential copy: ~0.1 s for 50 MB, far cheaper than re-writing tables).
    The copy gets a temporary name, is renamed, and only then pointed to
    (``CURRENT`` is replaced atomically), so a reader sees either the previous
    snapshot or the new one. Snapshots beyond :data:`SNAPSHOTS_KEPT` older ones
    are removed (a process that still has one open keeps reading it).

    Returns:
        The new snapshot's id (see :func:`read_version`).
    """
    import shutil

    folder = snapshot_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    version = f"{time.time_ns():020d}-{os.getpid()}"
    tmp = folder / f".{version}.tmp"
    con.execute("checkpoint")
    shutil.copyfile(db, tmp)
    os.replace(tmp, folder / f"{version}.duckdb")
    pointer = folder / f".CURRENT.{version}"
    pointer.write_text(version + "\n", encoding="utf-8")
    os.replace(pointer, folder / "CURRENT")
    _prune_snapshots(folder, version)
    return version


def _prune_snapshots(folder: Path, current: str) -> None:
    files = sorted(folder.glob("*.duckdb"))
    keep = {folder / f"{current}.duckdb", *files[-(SNAPSHOTS_KEPT + 1) :]}
    for f in files:
        if f not in keep:
            f.unlink(missing_ok=True)
    for stale in [*folder.glob(".*.tmp"), *folder.glob(".CURRENT.*")]:
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)


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

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        *,
        writable: bool = False,
        source: Path | None = None,
    ) -> None:
        self.path = path
        self.con = con
        self.writable = writable
        #: The file actually read: the warehouse itself or its read snapshot.
        self.source = source or path

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
            if limit == "auto":
                from arinsight.models.memory import auto_memory_limit

                limit = auto_memory_limit()
            if limit:
                con.execute("set memory_limit = ?", [limit])
        if create:
            init_schema(con)
        return cls(p, con, writable=not (read_only and not create))

    @classmethod
    def open_snapshot(cls, path: str | os.PathLike[str] | None = None) -> Warehouse:
        """Open the current read snapshot of the warehouse, read-only.

        Never takes the warehouse's lock, so it neither blocks nor waits for a
        running load or build. A warehouse without a snapshot yet (built by an
        older version) is opened read-only directly.

        Raises:
            WarehouseMissing: no warehouse at ``path``.
            WarehouseBusy: no snapshot yet and another process holds the file.
        """
        p = resolve_db_path(path)
        folder = snapshot_dir(p)
        for _attempt in range(5):
            version = read_version(p)
            if version is None:
                break
            snap = folder / f"{version}.duckdb"
            try:
                con = open_connection(snap, read_only=True)
            except Exception:  # pruned between reading CURRENT and opening: retry
                if snap.exists():
                    raise
                time.sleep(0.05)
                continue
            return cls(p, con, source=snap)
        if not p.exists():
            raise WarehouseMissing(
                f"no warehouse at {p} — run `arinsight load` (or `arinsight demo`) first"
            )
        return cls.open(p, read_only=True)

    def publish(self) -> str:
        """Publish a read snapshot of this (writable) warehouse; see :func:`publish_snapshot`."""
        if not self.writable:
            raise RuntimeError("publish() needs a writable warehouse")
        return publish_snapshot(self.con, self.path)

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

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Close; a writable warehouse left without an error publishes its read snapshot."""
        try:
            if self.writable and exc_type is None:
                self.publish()
        finally:
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
