"""Marts written as Parquet (``build --engine spark``) as a read-only warehouse.

A big company runs the build on its cluster and copies (or mounts) the output
directory; the readers, the dashboard and the report then open it like a
warehouse file::

    wh = arinsight.connect("out/marts/")      # or open_parquet_marts(...)
    arinsight.metrics.dso_monthly(wh)

The directory holds one sub-directory (or one ``<mart>.parquet`` file) per mart.
It is opened as an in-memory DuckDB database with a view ``marts.<name>`` over
each mart's files (scanned lazily through a pyarrow dataset: nothing is loaded
up front and no path is ever formatted into SQL) and, when the build left its
manifest, ``meta.builds`` with the rows and seconds of each model.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from arinsight.errors import WarehouseMissing
from arinsight.warehouse import Warehouse, open_connection

#: The manifest ``build --engine spark`` writes next to the marts.
MANIFEST = "_arinsight_build.json"
_MART_NAME = re.compile(r"^(fct|dim)_[a-z0-9_]+$")


def _mart_locations(root: Path) -> dict[str, Path]:
    """Mart name → its Parquet directory or file, for every mart under ``root``."""
    found: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        name = entry.name.removesuffix(".parquet") if entry.is_file() else entry.name
        if not _MART_NAME.match(name):
            continue
        is_file = entry.is_file() and entry.suffix == ".parquet"
        if is_file or (entry.is_dir() and any(entry.rglob("*.parquet"))):
            found[name] = entry
    return found


def is_parquet_marts(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding at least one Parquet mart."""
    p = Path(path)
    return p.is_dir() and bool(_mart_locations(p))


def open_parquet_marts(path: str | os.PathLike[str]) -> Warehouse:
    """Open a directory of Parquet marts as a read-only :class:`Warehouse`.

    Raises:
        WarehouseMissing: ``path`` is not a directory or holds no Parquet marts.
    """
    import pyarrow.dataset as ds

    root = Path(path)
    if not root.is_dir():
        raise WarehouseMissing(f"no directory of Parquet marts at {root}")
    marts = _mart_locations(root)
    if not marts:
        raise WarehouseMissing(
            f"{root} holds no Parquet marts (fct_*/ or dim_*/ directories) — "
            "run `arinsight build --engine spark --output` into it first"
        )
    con = open_connection(Path(":memory:"))
    con.execute("create schema marts")
    con.execute("create schema meta")
    # a Spark build records no loads or quarantine: empty tables, so readers that
    # report the quarantine share (arinsight.metrics.headline) see "none recorded"
    from arinsight.warehouse import META_DDL

    for ddl in META_DDL:
        if "meta.loads" in ddl or "meta.quarantine" in ddl:
            con.execute(ddl)
    for name, location in marts.items():
        # Spark leaves _SUCCESS and .crc files beside the data: read *.parquet only
        files = [location] if location.is_file() else sorted(location.rglob("*.parquet"))
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        con.register(f"_parquet_{name}", dataset)
        con.execute(f"create view marts.{name} as select * from _parquet_{name}")
    con.execute(
        "create table meta.builds (build_id BIGINT, model VARCHAR, layer VARCHAR, "
        "row_count BIGINT, seconds DOUBLE, built_at TIMESTAMP)"
    )
    manifest = root / MANIFEST
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        built_at = data.get("built_at")
        con.executemany(
            "insert into meta.builds values (1, ?, ?, ?, ?, cast(? as timestamp))",
            [[m["model"], m["layer"], m["rows"], m["seconds"], built_at] for m in data["models"]],
        )
    return Warehouse(root, con)
