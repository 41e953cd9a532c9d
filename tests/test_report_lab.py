"""``arinsight lab``: JupyterLab on 127.0.0.1 with a token, in notebooks/, ARINSIGHT_DB preset."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def test_lab_binds_localhost_with_a_token_and_presets_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    from arinsight.warehouse import Warehouse

    Warehouse.open(db, read_only=False, create=True).close()
    port = free_port()
    log = (tmp_path / "lab.log").open("w+")
    proc = subprocess.Popen(
        [str(BIN / "arinsight"), "lab", "--db", str(db), "--port", str(port), "--no-browser"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        token = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and token is None:
            assert proc.poll() is None, Path(log.name).read_text()[-2000:]
            m = re.search(
                rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", Path(log.name).read_text()
            )
            token = m.group(1) if m else None
            time.sleep(0.5)
        assert token, Path(log.name).read_text()[-2000:]
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/api/contents")[0] == 403  # the token is required
        status, body = get(f"{base}/api/contents?token={token}")
        assert status == 200
        names = {item["name"] for item in json.loads(body)["content"]}
        assert {"monthly_review.ipynb", "dunning_effectiveness.ipynb", "explore.ipynb"} <= names
        # Not reachable on another interface of this machine (bound to 127.0.0.1 only).
        with socket.socket() as s:
            s.settimeout(2)
            host = socket.gethostbyname(socket.gethostname())
            if not host.startswith("127."):
                assert s.connect_ex((host, port)) != 0
        # The server process carries the warehouse path for arinsight.connect().
        env = {}
        for pid in children(proc.pid):
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env.update(dict(v.decode().split("=", 1) for v in raw if b"=" in v))
        assert env.get("ARINSIGHT_DB") == str(db.resolve())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_lab_without_a_warehouse_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    proc = subprocess.run(
        [str(BIN / "arinsight"), "lab", "--db", str(db), "--no-browser"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: no warehouse at {db} — run `arinsight demo` (or load and build) first, "
        "or pass --db"
    )
