"""arinsight: accounts-receivable and dunning analytics on DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Warehouse", "__version__", "connect"]

if TYPE_CHECKING:
    from arinsight.warehouse import Warehouse


def connect(path: str | None = None, *, live: bool = False, read_only: bool = True) -> Warehouse:
    """Open the warehouse at ``path`` for reading (default: ``ARINSIGHT_DB``, else data/).

    By default this opens the latest **read snapshot** (a copy of the file that
    every load and build publishes when it succeeds): it never locks the warehouse,
    so a notebook left open does not block the monthly load and build; reconnect
    to see a newer build. ``live=True`` opens the file itself (read-only), which
    holds a lock that makes writers fail while it is open; ``read_only=False``
    (implies live) opens it for writing.

    A directory of Parquet marts (``build --engine spark --output DIR``) opens
    read-only through :func:`arinsight.parquet_source.open_parquet_marts`.

    Raises:
        arinsight.errors.WarehouseMissing: when no warehouse exists at ``path``.
        arinsight.errors.WarehouseBusy: live access while another process writes.
    """
    from arinsight.parquet_source import is_parquet_marts, open_parquet_marts
    from arinsight.warehouse import Warehouse

    if path is not None and is_parquet_marts(path):  # marts written by `build --engine spark`
        return open_parquet_marts(path)
    if live or not read_only:
        return Warehouse.open(path, read_only=read_only)
    return Warehouse.open_snapshot(path)


def __getattr__(name: str) -> object:
    if name == "Warehouse":
        from arinsight.warehouse import Warehouse

        return Warehouse
    raise AttributeError(name)
