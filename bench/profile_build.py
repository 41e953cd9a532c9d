"""Per-model wall and CPU seconds of one build, in process.

Usage: python bench/profile_build.py WAREHOUSE [--root SQL_DIR] [--runs N] [--select M ...]

Each run builds a fresh copy of WAREHOUSE (only its raw tables are read) and
times every model as the runner finishes it: wall from the runner's own clock,
CPU (user + system of this process, all DuckDB threads) as the rusage delta
between two consecutive models, so it includes the model's key check. With
several runs the table shows the median per model. Sorted by CPU, largest first;
the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


PerModel = dict[str, tuple[float, float, int]]


def one(db: Path, root: Path | None, select: list[str]) -> tuple[PerModel, float, float]:
    from arinsight.config import load_settings
    from arinsight.models import build
    from arinsight.warehouse import Warehouse

    per: PerModel = {}
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(db, copy)
        with Warehouse.open(str(copy), read_only=False) as wh:
            wh.con.execute("set enable_progress_bar = false")
            last = [_cpu()]

            def on_model(name: str, i: int, n: int, seconds: float) -> None:
                now = _cpu()
                per[name] = (seconds, now - last[0], 0)
                last[0] = now

            c0, t0 = _cpu(), time.perf_counter()
            result = build(
                wh.con, load_settings(), root=root, on_model=on_model, select=select or None
            )
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            for name, rows, _ in result.models:
                s, c, _ = per[name]
                per[name] = (s, c, rows)
    return per, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--select", nargs="*", default=[])
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    runs = [one(args.db, args.root, args.select) for _ in range(args.runs)]
    names = list(runs[0][0])
    table = []
    for n in names:
        table.append(
            (
                n,
                statistics.median(r[0][n][0] for r in runs),
                statistics.median(r[0][n][1] for r in runs),
                runs[0][0][n][2],
            )
        )
    table.sort(key=lambda r: -r[2])
    total_cpu = sum(r[2] for r in table)
    print(f"{'model':34} {'wall s':>7} {'cpu s':>7} {'cpu %':>6} {'rows':>11}")
    for n, w, c, rows in table:
        print(f"{n:34} {w:7.2f} {c:7.2f} {100 * c / total_cpu:6.1f} {rows:11,}")
    walls = [r[1] for r in runs]
    cpus = [r[2] for r in runs]
    print(
        f"build: wall median {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
        f"cpu median {statistics.median(cpus):.2f} s ({min(cpus):.2f}-{max(cpus):.2f}); "
        f"models' cpu {total_cpu:.2f} s (the rest: asserts, publishing)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
