"""Read-while-build: the app keeps serving while `arinsight build` runs in another
process, both succeed, and the app shows the new build without a restart."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dashboard_support import ARINSIGHT, callback, make_sample, served

pytestmark = pytest.mark.slow


def _component(tree: Any, component_id: str) -> Any:
    """The JSON of the component with ``id`` in a callback response."""
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree
        for value in tree.values():
            hit = _component(value, component_id)
            if hit is not None:
                return hit
    elif isinstance(tree, list):
        for value in tree:
            hit = _component(value, component_id)
            if hit is not None:
                return hit
    return None


def _cells(tree: Any) -> list[str]:
    """Text of every table cell under ``tree``, in order."""
    out: list[str] = []
    if isinstance(tree, dict):
        if tree.get("type") == "Td":
            out.append(str(tree["props"].get("children")))
        else:
            for value in tree.values():
                out += _cells(value)
    elif isinstance(tree, list):
        for value in tree:
            out += _cells(value)
    return out


def _latest_build_id(url: str) -> int:
    status, body = callback(url, "dq-body.children")
    assert status == 200, body
    builds = _component(body, "dq-builds")
    assert builds is not None, "no build history on the quality page"
    return int(_cells(builds)[0])


def _poll(url: str, known: str | None) -> str | None:
    """The version-poll callback: the published version, or None when unchanged."""
    import json
    import urllib.request

    payload = {
        "output": "data-version.data",
        "outputs": {"id": "data-version", "property": "data"},
        "inputs": [{"id": "version-poll", "property": "n_intervals", "value": 1}],
        "state": [{"id": "data-version", "property": "data", "value": known}],
        "changedPropIds": ["version-poll.n_intervals"],
    }
    req = urllib.request.Request(
        url + "/_dash-update-component",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        response = json.loads(r.read())["response"]
    if "data-version" not in response:  # no_update: the version did not change
        return None
    value: str = response["data-version"]["data"]
    return value


def test_build_while_serving(tmp_path: Path) -> None:
    db = make_sample(tmp_path, months=6, scale=0.03)
    with served(db) as url:
        before = _latest_build_id(url)
        version = _poll(url, None)
        assert version and _poll(url, version) is None
        statuses: list[int] = []
        notices = 0
        build = subprocess.Popen(
            [ARINSIGHT or "arinsight", "build", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # keep asking for pages (different filters, so reads really hit the file)
        i = 0
        while build.poll() is None:
            search = ("", "?lang=de", "?behaviour=chronic")[i % 3]
            status, body = callback(
                url, ("ov-body", "ag-body", "dn-body")[i % 3] + ".children", search
            )
            statuses.append(status)
            notices += "Nothing to show yet" in str(body) or "Noch nichts" in str(body)
            i += 1
            time.sleep(0.05)
        out, err = build.communicate()
        assert build.returncode == 0, err
        assert len(statuses) >= 3, "the build ended before the app was asked anything"
        assert set(statuses) == {200}, statuses
        assert notices == 0, (
            f"{notices} of {len(statuses)} requests showed a notice during the build"
        )
        # the same server process shows the new build: its id is one higher
        assert _latest_build_id(url) == before + 1
        # and the browser's poll learns of it, which re-renders an open page
        new_version = _poll(url, version)
        assert new_version is not None and new_version != version
