"""Data access for the dashboard: one short-lived read-only connection per read,
results cached per published warehouse version.

DuckDB lets one process write a file and no other process open it meanwhile.
The build publishes a read-only snapshot that :func:`arinsight.connect` opens;
:func:`version` changes with every publish, so a cache keyed by it shows a new
build on the next request without a restart. While a writer holds the file
(an older warehouse layout without snapshots) a read is retried briefly, then
reported as "the warehouse is being rebuilt", never as a traceback.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arinsight.errors import ArinsightError, WarehouseMissing

#: Cached reader results (all versions together) before the oldest is dropped.
CACHE_ENTRIES = 256
RETRY_SECONDS = 3.0


class NeedsCommand(Exception):  # noqa: N818 (a state, not a bug)
    """The warehouse cannot answer yet; ``command`` is what the user should run."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.message = message
        self.command = command


@dataclass
class Source:
    """Where the dashboard reads from (set once by :func:`configure`)."""

    path: Path


_source: Source | None = None
#: The connection of the request being served on this thread (see :func:`request`).
_local = threading.local()
_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def configure(path: str | Path) -> None:
    """Point the dashboard at the warehouse ``path`` and clear the cache."""
    global _source
    _source = Source(Path(path))
    with _lock:
        _cache.clear()


def db_path() -> Path:
    if _source is None:
        raise RuntimeError("arinsight.dashboard.data.configure(path) was not called")
    return _source.path


def version() -> str:
    """The published version of the warehouse (changes after every build/load).

    The id of the current read snapshot (``arinsight.warehouse.read_version``);
    before any snapshot was published, the file's modification time and size.
    """
    from arinsight.warehouse import read_version

    path = db_path()
    published = read_version(path)
    if published:
        return f"snapshot:{published}"
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    return f"{st.st_mtime_ns}:{st.st_size}"


def _translate(exc: Exception) -> NeedsCommand | None:
    """A user-facing state for the errors an unbuilt or busy warehouse gives."""
    text = str(exc)
    path = db_path()
    if isinstance(exc, WarehouseMissing):
        return NeedsCommand(
            f"No warehouse at {path}.",
            f"arinsight demo --db {path}   (or: arinsight load FILES && arinsight build)",
        )
    if isinstance(exc, ArinsightError) and "no marts" in text:
        return NeedsCommand(f"{path} has no marts yet.", f"arinsight build --db {path}")
    name = type(exc).__name__
    if name == "CatalogException" or "does not exist" in text:
        return NeedsCommand(
            f"{path} was built by an older arinsight: a table the dashboard reads is "
            f"missing ({text.splitlines()[0][:160]}).",
            f"arinsight build --db {path}",
        )
    return None


def _is_lock_error(exc: Exception) -> bool:
    from arinsight.errors import WarehouseBusy

    if isinstance(exc, WarehouseBusy):
        return True
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


@contextmanager
def request() -> Iterator[None]:
    """Share one read-only connection among the reads of one callback, then close it.

    The connection opens on the first cache miss only; a callback served from the
    cache never touches the file.
    """
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        if _local.depth == 0:
            wh = getattr(_local, "wh", None)
            _local.wh = None
            if wh is not None:
                wh.close()


def _run(reader: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    import arinsight

    if getattr(_local, "depth", 0) > 0:
        if getattr(_local, "wh", None) is None:
            _local.wh = arinsight.connect(str(db_path()))
        return reader(_local.wh, *args, **kwargs)
    with arinsight.connect(str(db_path())) as wh:
        return reader(wh, *args, **kwargs)


def read(reader: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``reader(wh, *args, **kwargs)`` on a fresh read-only connection, cached.

    The cache key is (warehouse version, reader, arguments); arguments are bound
    as query parameters by the readers, never formatted into SQL.

    Raises:
        NeedsCommand: no warehouse, no marts, a stale build, or a writer holding
            the file for longer than :data:`RETRY_SECONDS`.
    """
    key = (version(), reader.__module__, reader.__qualname__, args, tuple(sorted(kwargs.items())))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            value = _run(reader, args, kwargs)
            break
        except NeedsCommand:
            raise
        except Exception as exc:  # noqa: BLE001 - translated or re-raised below
            state = _translate(exc)
            if state is not None:
                raise state from exc
            if _is_lock_error(exc):
                _drop_connection()
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise NeedsCommand(
                    "The warehouse is being rebuilt by another process; this page "
                    "refreshes with the new figures when it finishes.",
                    "wait for `arinsight build` to finish, then reload",
                ) from exc
            raise
    with _lock:
        _cache[key] = value
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return value


def _drop_connection() -> None:
    wh = getattr(_local, "wh", None)
    _local.wh = None
    if wh is not None:
        wh.close()


def memo(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()`` cached under (warehouse version, ``key``): a page rendered once for
    a set of filters is served again without rebuilding its figures."""
    full = ("memo", version(), *key)
    with _lock:
        if full in _cache:
            _cache.move_to_end(full)
            return _cache[full]
    value = build()
    with _lock:
        _cache[full] = value
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return value


def cache_size() -> int:
    return len(_cache)
