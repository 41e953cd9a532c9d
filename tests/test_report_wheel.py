"""The report templates ship inside the wheel, where the runner looks for them."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_wheel_carries_the_notebooks(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not installed (CI=true: .ci/run installs it)")
        pytest.skip("uv is not installed")
    proc = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("arinsight-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.name for p in (REPO / "notebooks").glob("*.ipynb")}
    assert {f"arinsight/_notebooks/{n}" for n in templates} <= names
    # The runner's fallback when there is no checkout: arinsight/_notebooks
    # beside the package modules.
    assert "arinsight/reports/runner.py" in names
