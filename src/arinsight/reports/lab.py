"""JupyterLab for analysts: bound to 127.0.0.1, token on, the warehouse preset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from arinsight.errors import ArinsightError


def lab_dir(directory: str | Path | None) -> Path:
    """The folder JupyterLab opens.

    Given: that folder (created when missing). Else the checkout's
    ``notebooks/``; else ``./notebooks`` with the shipped templates copied in
    (existing files are kept: they are the analyst's).
    """
    from arinsight.reports.runner import notebooks_dir

    if directory is not None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    shipped = notebooks_dir()
    if shipped.name == "notebooks" and os.access(shipped, os.W_OK):
        return shipped
    local = Path("notebooks")
    local.mkdir(exist_ok=True)
    for nb in shipped.glob("*.ipynb"):
        if not (local / nb.name).exists():
            shutil.copy2(nb, local / nb.name)
    return local.resolve()


def lab_command(directory: Path, port: int, open_browser: bool) -> list[str]:
    """The ``jupyter lab`` command line (``--allow-root`` only when running as root)."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={directory}",
    ]
    # No token option: JupyterLab generates one and prints the URL with it.
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def run_lab(
    db: str | None, *, port: int = 8888, directory: str | None = None, open_browser: bool = True
) -> int:
    """Run JupyterLab in the foreground; returns its exit code.

    Raises:
        WarehouseMissing: no warehouse at ``db``.
    """
    from arinsight.warehouse import resolve_db_path

    path = resolve_db_path(db)
    if not path.exists():
        from arinsight.errors import WarehouseMissing

        raise WarehouseMissing(
            f"no warehouse at {path} — run `arinsight demo` (or load and build) first, or pass --db"
        )
    folder = lab_dir(directory)
    env = {**os.environ, "ARINSIGHT_DB": str(path.resolve())}
    try:
        return subprocess.call(lab_command(folder, port, open_browser), env=env, cwd=folder)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        raise ArinsightError(
            f"could not start JupyterLab ({exc}) — is jupyterlab installed?"
        ) from exc
