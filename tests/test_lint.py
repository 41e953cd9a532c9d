"""Style is enforced, not hoped for: ruff on Python, sqlfluff (duckdb dialect) on sql/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    proc = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "bench"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_sqlfluff_is_clean() -> None:
    proc = subprocess.run([str(BIN / "sqlfluff"), "lint", "sql", "--processes", "2",
                           "--disable-progress-bar"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-5000:]
