"""Interleaved A/B of the dashboard's first render between git revisions.

    python bench/dashboard_ab.py WAREHOUSE REV [REV ...] [--rounds 3]

(a REV that is a folder holding ``src/`` and ``dashboards/`` is served as it is)

Each revision's ``src/`` and ``dashboards/`` are extracted (``git archive``) into a
temporary folder and served by this checkout's ``arinsight dashboard`` with
``PYTHONPATH`` pointing there (same Python packages, that revision's app). Rounds
alternate the order of the revisions; every round starts each server afresh (cold
caches, as in ``dashboard_bench.measure``) and opens every page in a fresh Chromium
context. Prints, per page and revision, the median seconds to the first chart and to
every chart drawn, and the 1-minute load averages seen (the machine is shared: only
interleaved runs compare).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import dashboard_bench  # noqa: E402


def extract(rev: str, into: Path) -> Path:
    """``src/`` and ``dashboards/`` of ``rev`` under ``into/rev``."""
    out = into / rev.replace("/", "_")
    out.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src", "dashboards"],
        capture_output=True,
        check=True,
    ).stdout
    tar_path = out / "rev.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(out, filter="data")
    return out


def serve(tree: Path, db: str) -> tuple[subprocess.Popen[str], str]:
    """This checkout's ``arinsight dashboard`` running ``tree``'s app."""
    exe = str(Path(sys.executable).parent / "arinsight")
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return dashboard_bench.serve(exe, Path(db), env=env)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("revs", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="write the raw times as JSON here")
    args = ap.parse_args(argv)
    pages = [p[0] for p in dashboard_bench.PAGES]
    times: dict[str, dict[str, dict[str, list[float]]]] = {
        r: {"first": {p: [] for p in pages}, "all": {p: [] for p in pages}} for r in args.revs
    }
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {r: Path(r) if Path(r).is_dir() else extract(r, Path(tmp)) for r in args.revs}
        for n in range(args.rounds):
            for rev in args.revs if n % 2 == 0 else args.revs[::-1]:
                proc, url = serve(trees[rev], args.db)
                try:
                    loads.append(os.getloadavg()[0])
                    measured = dashboard_bench.render_times(url)
                finally:
                    proc.terminate()
                    proc.wait(timeout=20)
                if measured is None:
                    print(f"{dashboard_bench.CHROMIUM} missing", file=sys.stderr)
                    return 2
                first, every = measured
                for p in pages:
                    times[rev]["first"][p].append(first[p])
                    times[rev]["all"][p].append(every[p])
                print(
                    f"round {n} {rev}: load {loads[-1]:.1f} "
                    + " ".join(f"{p} {first[p]:.2f}/{every[p]:.2f}" for p in pages),
                    flush=True,
                )
    print(
        f"\nload average (1 min) at each run: median {statistics.median(loads):.1f}, "
        f"range {min(loads):.1f}-{max(loads):.1f}; {args.rounds} rounds"
    )
    print("median s to the first chart / to every chart drawn")
    print("| page | " + " | ".join(args.revs) + " |")
    print("|---|" + "---:|" * len(args.revs))
    for p in pages:
        cells = [
            f"{statistics.median(times[r]['first'][p]):.2f} / "
            f"{statistics.median(times[r]['all'][p]):.2f}"
            for r in args.revs
        ]
        print(f"| {p} | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps({"loads": loads, "times": times}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
