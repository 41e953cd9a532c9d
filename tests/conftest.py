"""Shared fixtures: tiny hand-built ledgers loaded and built into a temp warehouse."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]

Rows = Sequence[Mapping[str, Any]]


def write_ledger(directory: Path, tables: Mapping[str, Rows]) -> Path:
    """Write canonical CSVs (one per table; header from the rows' keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        if not rows:
            continue
        fields = list(rows[0].keys())
        with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            for r in rows:
                w.writerow({k: "" if r.get(k) is None else r.get(k) for k in fields})
    return directory


@pytest.fixture
def ledger_warehouse(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: ``ledger_warehouse(customers=[...], invoices=[...], ...)`` → built Warehouse.

    Loads through the real loader (canonical profile) and builds every model,
    so tests exercise the same path users do. Pass ``build=False`` to stop after load.
    """
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build as build_models
    from arinsight.warehouse import Warehouse

    opened: list[Warehouse] = []

    def make(build: bool = True, **tables: Rows) -> Warehouse:
        src = write_ledger(tmp_path / f"ledger{len(opened)}", tables)
        wh = Warehouse.open(tmp_path / f"w{len(opened)}.duckdb", read_only=False, create=True)
        opened.append(wh)
        load_sources(wh.con, [src])
        if build:
            build_models(wh.con, load_settings())
        return wh

    yield make
    for wh in opened:
        wh.close()
