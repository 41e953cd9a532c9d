"""arinsight: accounts-receivable and dunning analytics on DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Warehouse", "__version__", "connect"]

if TYPE_CHECKING:
    from arinsight.warehouse import Warehouse


def connect(path: str | None = None, *, read_only: bool = True) -> Warehouse:
    """Open the warehouse at ``path`` (default: ``ARINSIGHT_DB`` or data/arinsight.duckdb).

    Raises:
        arinsight.errors.WarehouseMissing: when no warehouse exists at ``path``.
    """
    from arinsight.warehouse import Warehouse

    return Warehouse.open(path, read_only=read_only)


def __getattr__(name: str) -> object:
    if name == "Warehouse":
        from arinsight.warehouse import Warehouse

        return Warehouse
    raise AttributeError(name)
