"""Interleaved A/B of two model trees on the same warehouse: wall and CPU seconds per build.

Usage: python bench/ab_build.py WAREHOUSE SQL_A SQL_B [--pairs 3] [--select M ...]

Each build runs in its own process on a fresh copy of WAREHOUSE (raw tables
only are read), A and B alternating, so drift on a shared machine hits both
alike. Prints every run, then median and range per side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
from arinsight.config import load_settings
from arinsight.models import build
from arinsight.warehouse import Warehouse
db, root, *select = sys.argv[1:]
with Warehouse.open(db, read_only=False) as wh:
    wh.con.execute("set enable_progress_bar = false")
    build(wh.con, load_settings(), root=Path(root), select=select or None)
"""


def one(db: Path, root: Path, select: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB) of one build in a child process."""
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(db, copy)
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(copy), str(root), *select])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"build with {root} failed")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--select", nargs="*", default=[])
    args = ap.parse_args()
    runs: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
    for i in range(args.pairs):
        order = [("A", args.a), ("B", args.b)] if i % 2 == 0 else [("B", args.b), ("A", args.a)]
        for side, root in order:
            r = one(args.db, root, args.select)
            runs[side].append(r)
            print(
                f"pair {i + 1} {side}: wall {r[0]:6.2f} s  cpu {r[1]:6.2f} s  "
                f"peak {r[2]:6,.0f} MiB",
                flush=True,
            )
    for side in ("A", "B"):
        w = [r[0] for r in runs[side]]
        c = [r[1] for r in runs[side]]
        p = [r[2] for r in runs[side]]
        print(
            f"{side}: wall median {statistics.median(w):.2f} s ({min(w):.2f}-{max(w):.2f}), "
            f"cpu median {statistics.median(c):.2f} s ({min(c):.2f}-{max(c):.2f}), "
            f"peak {max(p):,.0f} MiB"
        )


if __name__ == "__main__":
    main()
