"""Style is enforced, not hoped for: ruff on Python, sqlfluff (duckdb dialect) on sql/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    proc = _run("ruff", "check", "src", "tests", "bench")
    assert proc.returncode == 0, proc.stdout


def test_ruff_format_is_clean() -> None:
    proc = _run("ruff", "format", "--check", "src", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sqlfluff_is_clean() -> None:
    proc = _run("sqlfluff", "lint", "sql", "--processes", "2", "--disable-progress-bar")
    assert proc.returncode == 0, proc.stdout[-5000:]
