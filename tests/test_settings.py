"""Settings are data: validated, and applied where they act."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinsight.config import load_settings
from arinsight.errors import ConfigError
from arinsight.warehouse import Warehouse


def test_memory_limit_reaches_the_writing_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("duckdb_memory_limit: 512MB\n", encoding="utf-8")
    monkeypatch.setenv("ARINSIGHT_SETTINGS", str(cfg))
    load_settings.cache_clear()
    try:
        with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
            (value,) = wh.con.execute("select current_setting('memory_limit')").fetchall()[0]
        # DuckDB reports 512 MB (10^6 bytes) in binary units: 512e6 / 2^20 = 488.2 MiB.
        assert value == "488.2 MiB"
    finally:
        load_settings.cache_clear()


def test_memory_limit_must_name_a_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("duckdb_memory_limit: lots\n", encoding="utf-8")
    monkeypatch.setenv("ARINSIGHT_SETTINGS", str(cfg))
    load_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="duckdb_memory_limit"):
            load_settings()
    finally:
        load_settings.cache_clear()
