"""One small simulated warehouse shared by the report and notebook tests.

Built once per test process (``small_warehouse``) through the real CLI:
simulate (scale 0.02, 14 months: a year-ago month exists for the last one),
load, build. About 0.5k customers, 3k invoices.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
_BUILT: dict[str, Path] = {}


def arinsight(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the installed ``arinsight`` console script (the real entry point)."""
    return subprocess.run(
        [str(BIN / "arinsight"), *args],
        capture_output=True,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def small_warehouse(factory: pytest.TempPathFactory) -> Path:
    """Path of the built warehouse (built on first use in this process)."""
    if "db" not in _BUILT:
        root = factory.mktemp("report_wh")
        data, db = root / "sample", root / "w.duckdb"
        for args in (
            (
                "simulate",
                "--scale",
                "0.02",
                "--months",
                "14",
                "--seed",
                "7",
                "--out",
                str(data),
                "--format",
                "parquet",
            ),
            ("load", str(data), "--db", str(db)),
            ("build", "--db", str(db)),
        ):
            proc = arinsight(*args)
            assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr[-2000:]}"
        _BUILT["db"] = db
    return _BUILT["db"]
