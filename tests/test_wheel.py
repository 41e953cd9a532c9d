"""arinsight installs as a wheel and every verb then works from any directory.

Builds the wheel with uv, installs it into a fresh virtual environment (the
dependency versions pinned by uv.lock as constraints), and runs the data flow
from an empty temporary directory — far from the repository's ``sql/``,
``notebooks/`` and ``dashboards/`` — so whatever a verb needs at run time must
ship inside the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not installed (CI=true: .ci/run installs it)")
        pytest.skip("uv is not installed")
    return found


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})}
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = _uv()
    work = tmp_path_factory.mktemp("wheel")
    _run([uv, "build", "--wheel", "--out-dir", str(work / "dist")], REPO)
    (wheel,) = (work / "dist").glob("arinsight-*.whl")
    constraints = work / "constraints.txt"
    _run(
        [
            uv,
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            "--extra",
            "spark",
            "-o",
            str(constraints),
        ],
        REPO,
    )
    venv = work / "venv"
    _run([uv, "venv", "--python", "3.11", str(venv)], work)
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            str(wheel),
            "-c",
            str(constraints),
        ],
        work,
    )
    return venv


def test_wheel_carries_the_sql_models() -> None:
    uv = _uv()
    out = REPO / "dist-test"
    try:
        _run([uv, "build", "--wheel", "--out-dir", str(out)], REPO)
        (wheel,) = out.glob("arinsight-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    models = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "sql").rglob("*.sql"))
    shipped = {n.removeprefix("arinsight/_sql/") for n in names if n.startswith("arinsight/_sql/")}
    assert {m.removeprefix("sql/") for m in models} <= shipped


def test_verbs_work_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    exe = str(installed / "bin" / "arinsight")
    env = {"ARINSIGHT_DB": str(tmp_path / "w.duckdb")}
    _run([exe, "--help"], tmp_path, env)
    _run(
        [exe, "simulate", "--months", "4", "--scale", "0.02", "--seed", "3", "--out", "ledger"],
        tmp_path,
        env,
    )
    _run([exe, "load", "ledger"], tmp_path, env)
    _run([exe, "build"], tmp_path, env)
    headline = json.loads(_run([exe, "metrics", "--json"], tmp_path, env))
    assert headline["segments"]["all"]["ar_amount"] > 0
