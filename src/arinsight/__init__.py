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

    Raises:
        arinsight.errors.WarehouseMissing: when no warehouse exists at ``path``.
        arinsight.errors.WarehouseBusy: live access while another process writes.
    """
    from arinsight.warehouse import Warehouse

    if live or not read_only:
        return Warehouse.open(path, read_only=read_only)
    return Warehouse.open_snapshot(path)


def __getattr__(name: str) -> object:
    if name == "Warehouse":
        from arinsight.warehouse import Warehouse

        return Warehouse
    raise AttributeError(name)
