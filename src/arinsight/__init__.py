"""arinsight: accounts-receivable and dunning analytics on DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Warehouse", "__version__", "connect"]

if TYPE_CHECKING:
    from arinsight.warehouse import Warehouse


def connect(path: str | None = None, *, read_only: bool = True) -> Warehouse:
    """Open the warehouse at ``path`` (default: ``ARINSIGHT_DB`` or data/arinsight.duckdb).

    A directory of Parquet marts (``build --engine spark --output DIR``) opens
    read-only through :func:`arinsight.parquet_source.open_parquet_marts`.

    Raises:
        arinsight.errors.WarehouseMissing: when no warehouse exists at ``path``.
    """
    from arinsight.parquet_source import is_parquet_marts, open_parquet_marts
    from arinsight.warehouse import Warehouse

    if path is not None and is_parquet_marts(path):  # marts written by `build --engine spark`
        return open_parquet_marts(path)
    return Warehouse.open(path, read_only=read_only)


def __getattr__(name: str) -> object:
    if name == "Warehouse":
        from arinsight.warehouse import Warehouse

        return Warehouse
    raise AttributeError(name)
