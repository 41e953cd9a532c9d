"""Helpers for the dashboard tests: a small simulated warehouse, a served app, Chromium.

Not a test module (no ``test_`` prefix); imported by tests/test_dashboard*.py.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
ARINSIGHT = str(BIN / "arinsight") if (BIN / "arinsight").exists() else shutil.which("arinsight")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = REPO / "tests" / "artifacts"
#: (path, body id) of every page, in menu order.
PAGES = [
    ("/", "ov-body"),
    ("/aging", "ag-body"),
    ("/dunning", "dn-body"),
    ("/recovery", "rc-body"),
    ("/ladder", "ld-body"),
    ("/quality", "dq-body"),
    ("/worklist", "wl-body"),
]


def run(
    *args: str, cwd: Path | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """``arinsight ARGS`` through the real entry point; fails the test on a non-zero exit."""
    assert ARINSIGHT, "arinsight is not installed"
    proc = subprocess.run(
        [ARINSIGHT, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    assert proc.returncode == 0, f"arinsight {' '.join(args)}: {proc.stderr}"
    return proc


def make_sample(
    directory: Path, *, months: int = 6, scale: float = 0.02, seed: int = 3, score: bool = False
) -> Path:
    """Simulate, load and build a small warehouse under ``directory``; returns the db path.

    ``score``: also run `arinsight score` (payment scores and the cash forecast).
    """
    sample = directory / "sample"
    db = directory / "dash.duckdb"
    run(
        "simulate",
        "--months",
        str(months),
        "--scale",
        str(scale),
        "--seed",
        str(seed),
        "--format",
        "parquet",
        "--out",
        str(sample),
    )
    run("load", str(sample), "--db", str(db))
    run("build", "--db", str(db))
    if score:
        run("score", "--db", str(db))
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(
    db: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    auth: tuple[str, str] | None = None,
) -> Iterator[str]:
    """``arinsight dashboard --db DB`` on a free loopback port; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [ARINSIGHT or "arinsight", "dashboard", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        headers = {}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url + "/", headers=headers), timeout=2
                ) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"dashboard did not start: {out}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def callback(url: str, output: str, search: str = "", version: Any = None) -> tuple[int, Any]:
    """POST one page callback (``<body id>.children``) like the browser does."""
    body_id = output.split(".")[0]
    payload = {
        "output": output,
        "outputs": {"id": body_id, "property": "children"},
        "inputs": [
            {"id": "url", "property": "search", "value": search},
            {"id": "data-version", "property": "data", "value": version},
        ],
        "changedPropIds": ["url.search"],
    }
    req = urllib.request.Request(
        url + "/_dash-update-component",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def chromium_or_skip() -> str:
    """The Chromium binary; missing → fail under CI=true, skip otherwise."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"{CHROMIUM} not found: apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def find(component: Any, component_id: str) -> Any:
    """The component with ``id`` in a Dash component tree (None when absent)."""
    if component is None or isinstance(component, str | int | float):
        return None
    if isinstance(component, list | tuple):
        for c in component:
            hit = find(c, component_id)
            if hit is not None:
                return hit
        return None
    if getattr(component, "id", None) == component_id:
        return component
    return find(getattr(component, "children", None), component_id)


def text_of(component: Any) -> str:
    """All text in a component tree, joined by spaces."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


def table_rows(table: Any) -> list[dict[str, str]]:
    """The body rows of a :func:`arinsight.dashboard.components.table` as dicts by key."""
    assert table is not None
    body = table.children[1]
    return [
        {td.className.removeprefix("col-"): text_of(td.children) for td in tr.children}
        for tr in body.children
    ]
