"""Interleaved A/B of `arinsight load` for two source trees: wall and CPU seconds per load.

Usage: python bench/ab_load.py LEDGER_DIR SRC_A SRC_B [--rounds 4] [--formats csv,parquet]

LEDGER_DIR holds the canonical ledger as CSV and/or Parquet (as `arinsight
simulate` writes it); each format is loaded from a folder of hard links to its
files only. SRC_A / SRC_B are `src/` directories (e.g. an export of `main`:
`git archive main src sql | tar -x -C /tmp/main`, then `/tmp/main/src`); each
load runs the CLI of this environment with that tree first on PYTHONPATH, in
its own process, into a fresh warehouse, A and B alternating in each round (the
order flips every round). Prints every run with the 1-minute load average, then
median and range per side: wall, CPU (user + system, all threads; `os.wait4`)
and peak RSS.
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

LEDGER = ("customers", "invoices", "payments", "adjustments", "dunning_events")


def _folder(src: Path, suffix: str, into: Path) -> Path:
    out = into / suffix
    out.mkdir()
    for table in LEDGER:
        os.link(src / f"{table}.{suffix}", out / f"{table}.{suffix}")
    return out


def one(folder: Path, tree: Path, work: Path) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak MiB, load average) of one load in a child process."""
    db = work / "w.duckdb"
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(f"{db}.read", ignore_errors=True)
    cli = Path(sys.executable).with_name("arinsight")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(cli), "load", str(folder), "--db", str(db), "-q"], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"load with {tree} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ledger", type=Path)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--formats", default="csv,parquet")
    args = ap.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    runs: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {f: _folder(args.ledger, f, Path(tmp)) for f in formats}
        for r in range(args.rounds):
            for fmt in formats:
                sides = [("A", args.a), ("B", args.b)]
                for side, tree in sides if r % 2 == 0 else sides[::-1]:
                    res = one(folders[fmt], tree, Path(tmp))
                    runs.setdefault((fmt, side), []).append(res)
                    print(
                        f"round {r + 1} {fmt:8s} {side}: wall {res[0]:6.2f} s  cpu {res[1]:5.2f} s"
                        f"  peak {res[2]:6,.0f} MiB  load {res[3]:.1f}",
                        flush=True,
                    )
    for (fmt, side), rs in sorted(runs.items()):
        walls = sorted(x[0] for x in rs)
        cpus = sorted(x[1] for x in rs)
        print(
            f"{fmt:8s} {side}: wall median {statistics.median(walls):.2f} s "
            f"({walls[0]:.2f}-{walls[-1]:.2f}), cpu median {statistics.median(cpus):.2f} s "
            f"({cpus[0]:.2f}-{cpus[-1]:.2f}), peak {max(x[2] for x in rs):,.0f} MiB, "
            f"load {min(x[3] for x in rs):.1f}-{max(x[3] for x in rs):.1f}"
        )


if __name__ == "__main__":
    main()
