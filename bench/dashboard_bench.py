"""Dashboard benchmark rows for bench/run.py: callback latency and first render per page.

The app runs as `arinsight dashboard` (waitress) in its own process on the
benchmark warehouse. Callback latency: each page's callback POSTed the way the
browser does, for a set of filter combinations; the first request of each
combination is "cold" (its readers hit DuckDB), the repeat is "warm" (cached per
warehouse version). First render: a fresh headless Chromium tab (a new context: no
cache) per page, from navigation until the page's first chart (or table) is drawn,
and until every chart of it is; skipped (noted) when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

#: (page, path, body id, waits for a chart)
PAGES = [
    ("overview", "/", "ov-body", True),
    ("aging", "/aging", "ag-body", True),
    ("dunning", "/dunning", "dn-body", True),
    ("recovery", "/recovery", "rc-body", True),
    ("ladder", "/ladder", "ld-body", True),
    ("worklist", "/worklist", "wl-body", True),
    ("quality", "/quality", "dq-body", False),
]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body_id: str, search: str) -> float:
    payload = {
        "output": f"{body_id}.children",
        "outputs": {"id": body_id, "property": "children"},
        "inputs": [
            {"id": "url", "property": "search", "value": search},
            {"id": "data-version", "property": "data", "value": None},
        ],
        "changedPropIds": ["url.search"],
    }
    req = urllib.request.Request(
        url + "/_dash-update-component",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{body_id} {search}: HTTP {r.status}")
    return time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _segments_and_months(db: Path) -> tuple[list[str], list[str]]:
    import duckdb

    from arinsight import connect

    try:
        with connect(str(db)) as wh:
            segs = wh.sql(
                "select distinct segment from marts.fct_dso_monthly where segment <> 'all' "
                "order by 1"
            )["segment"].to_list()
            months = wh.sql("select distinct month_end_date from marts.fct_dso_monthly order by 1")[
                "month_end_date"
            ].to_list()
    except duckdb.Error as exc:  # pragma: no cover - reported in the row
        raise RuntimeError(f"cannot read {db}: {exc}") from exc
    return segs, [m.isoformat() for m in months]


def serve(
    arinsight: str, db: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``arinsight dashboard`` on a free port (``env``: its environment); once it answers."""
    port = _port()
    proc = subprocess.Popen(
        [arinsight, "dashboard", "--db", str(db), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_dash-layout", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(
                f"dashboard did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.2)


def callbacks(url: str, db: Path, pid: int) -> dict[str, dict[str, float]]:
    """Per page: cold and warm callback latencies (ms) over filter combinations, and
    the server's CPU time per callback (ms; independent of other load on the machine)."""
    segs, months = _segments_and_months(db)
    searches = ["", "?lang=de", "?behaviour=chronic"]
    searches += [f"?segment={s}" for s in segs[:3]]
    searches += [f"?period={m}" for m in months[-4:-1]]
    out: dict[str, dict[str, float]] = {}
    for page, _path, body_id, _chart in PAGES:
        cpu0 = _cpu_seconds(pid)
        cold = [_post(url, body_id, s) * 1000 for s in searches]
        cpu1 = _cpu_seconds(pid)
        warm = [_post(url, body_id, s) * 1000 for s in searches for _ in range(2)]
        cpu2 = _cpu_seconds(pid)
        out[page] = {
            "cold_p50_ms": statistics.median(cold),
            "cold_p95_ms": _p95(cold),
            "warm_p95_ms": _p95(warm),
            "cold_cpu_ms": (cpu1 - cpu0) * 1000 / len(cold),
            "warm_cpu_ms": (cpu2 - cpu1) * 1000 / len(warm),
            "n": float(len(cold) + len(warm)),
        }
    return out


def render_times(url: str) -> tuple[dict[str, float], dict[str, float]] | None:
    """Seconds from navigation to the first chart drawn (the first render), and to
    every chart of the page drawn, per page; one fresh Chromium, a new context (no
    cache) per page. For the quality page (tables only) both are its first table."""
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    first: dict[str, float] = {}
    every: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        for page, path, body_id, chart in PAGES:
            tab = browser.new_page(viewport={"width": 1440, "height": 900})
            start = time.perf_counter()
            tab.goto(url + path)
            selector = f"#{body_id} .js-plotly-plot .main-svg" if chart else f"#{body_id} table"
            tab.wait_for_selector(selector, timeout=60_000)
            first[page] = time.perf_counter() - start
            if chart:
                tab.wait_for_function(
                    f"() => Array.from(document.querySelectorAll('#{body_id} .dash-graph'))"
                    ".every(g => g.querySelector('.main-svg'))",
                    timeout=60_000,
                )
            every[page] = time.perf_counter() - start
            tab.close()
        browser.close()
    return first, every


def first_renders(url: str) -> dict[str, float] | None:
    """Seconds from navigation to the first chart drawn, per page (:func:`render_times`)."""
    times = render_times(url)
    return None if times is None else times[0]


def measure(arinsight: str, db: Path) -> dict[str, Any]:
    """Serve ``db``; return {"callbacks": ..., "first_render": ... or None}."""
    proc, url = serve(arinsight, db)
    try:
        times = render_times(url)  # first: the caches are cold
        cbs = callbacks(url, db, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {
        "callbacks": cbs,
        "first_render": None if times is None else times[0],
        "all_charts": None if times is None else times[1],
        "load_average": os.getloadavg()[0],
    }


def repeated_renders(arinsight: str, db: Path, rounds: int) -> dict[str, Any]:
    """First render and every-chart time per page over ``rounds`` cold servers
    (a fresh server and Chromium each round): medians, ranges and load averages."""
    import statistics

    firsts: dict[str, list[float]] = {}
    everys: dict[str, list[float]] = {}
    loads: list[float] = []
    for _ in range(rounds):
        proc, url = serve(arinsight, db)
        try:
            times = render_times(url)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        if times is None:
            raise SystemExit(f"{CHROMIUM} not found: install chromium (see RECIPES)")
        for page, sec in times[0].items():
            firsts.setdefault(page, []).append(sec)
        for page, sec in times[1].items():
            everys.setdefault(page, []).append(sec)
        loads.append(os.getloadavg()[0])
    return {
        page: {
            "first_median": statistics.median(v),
            "first_range": [min(v), max(v)],
            "every_median": statistics.median(everys[page]),
            "load_average_range": [min(loads), max(loads)],
        }
        for page, v in firsts.items()
    }


if __name__ == "__main__":  # python bench/dashboard_bench.py DB [--renders N]
    exe = str(Path(sys.executable).parent / "arinsight")
    if "--renders" in sys.argv:
        n = int(sys.argv[sys.argv.index("--renders") + 1])
        res = repeated_renders(exe, Path(sys.argv[1]), n)
        print(f"| page | first render median s (range) | every chart median s |  ({n} rounds)")
        print("|---|---:|---:|")
        for page, r in res.items():
            lo, hi = r["first_range"]
            print(
                f"| {page} | {r['first_median']:.2f} ({lo:.2f}-{hi:.2f}) "
                f"| {r['every_median']:.2f} |"
            )
        print(f"load average {res[next(iter(res))]['load_average_range']}")
    else:
        print(json.dumps(measure(exe, Path(sys.argv[1])), indent=2))
    os._exit(0)
