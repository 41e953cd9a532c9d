"""The build on Spark (local mode) vs DuckDB on the same simulated ledger.

Per size: simulate a canonical Parquet ledger once, then alternate (interleave)
the two engines ``--repeats`` times so that the shared machine's load hits both
alike. Every step is its own process, as a user runs it:

- DuckDB: ``arinsight load`` (the Parquet files) + ``arinsight build``;
- Spark: ``arinsight build --engine spark --spark-master local[2]`` reading the
  same Parquet files and writing Parquet marts; it has no load step, and its
  wall time includes starting the JVM (reported apart: the models' own seconds
  come from the manifest the build writes).

CPU seconds are user + system of the whole process tree: this process makes
itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so the JVM and
pyspark's Python workers, which the CLI does not wait for, are reparented to
it and reaped here; their rusage (and the JVM's peak RSS) is counted. The
1-minute load average is recorded before and after every run: the machine is
shared.

Results are merged into ``bench/results_spark.json`` (one key per size, so
sizes can be run by separate invocations) and printed as a Markdown table.

Usage: python bench/spark_vs_duckdb.py --sizes 100000,1000000 [--repeats 2]
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import REPO, arinsight, invoices_per_scale, run_measured, size_dir  # noqa: E402

OUT = Path(__file__).resolve().parent / "results_spark.json"
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants (the JVM, pyspark workers) get reparented to this process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def run_tree(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> dict[str, float]:
    """Run ``cmd``; wall, CPU (user + sys) and peak RSS of it and every descendant.

    ``log`` receives the command's output as it runs (the Spark build prints a
    line per model, so a run stopped early still shows how far it got).
    """
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    out = log.open("w", encoding="utf-8") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=REPO,
    )  # fmt: skip
    assert proc.stderr is not None
    err = proc.stderr.read()
    cpu, peak, status = 0.0, 0.0, None
    while True:  # the child first, then whatever it left behind (reparented here)
        try:
            pid, st, usage = os.wait4(-1, 0)
        except OSError as exc:
            if exc.errno == errno.ECHILD:
                break
            raise
        cpu += usage.ru_utime + usage.ru_stime
        peak = max(peak, usage.ru_maxrss / 1024)
        if pid == proc.pid:
            status = os.waitstatus_to_exitcode(st)
            wall = time.perf_counter() - start
    if log:
        out.close()  # type: ignore[union-attr]
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status}):\n{err[-3000:].decode()}")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mib": peak,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def simulate(size: int) -> Path:
    src = size_dir(size) / "parquet"
    if not (src / "invoices.parquet").exists():
        scale = size / invoices_per_scale()
        run_measured(
            arinsight(
                "simulate", "--scale", f"{scale:.6f}", "--seed", "1", "--out", str(src),
                "--format", "parquet",
            )
        )  # fmt: skip
    return src


def duckdb_run(size: int, src: Path) -> dict[str, float]:
    db = size_dir(size) / "spark_bench.duckdb"
    db.unlink(missing_ok=True)
    shutil.rmtree(db.with_name(db.name + ".read"), ignore_errors=True)
    load = run_tree(arinsight("load", str(src), "--db", str(db)))
    build = run_tree(arinsight("build", "--db", str(db)))
    return {
        "load_s": load["wall_s"],
        "build_s": build["wall_s"],
        "total_s": load["wall_s"] + build["wall_s"],
        "load_cpu_s": load["cpu_s"],
        "build_cpu_s": build["cpu_s"],
        "cpu_s": load["cpu_s"] + build["cpu_s"],
        "peak_mib": max(load["peak_mib"], build["peak_mib"]),
        "load_avg": [load["load_before"], load["load_after"], build["load_after"]],
    }


def spark_run(size: int, src: Path, driver_memory: str) -> dict[str, float]:
    out = size_dir(size) / "spark_marts"
    shutil.rmtree(out, ignore_errors=True)
    r = run_tree(
        arinsight(
            "build", "--engine", "spark", "--spark-master", "local[2]", "--input", str(src),
            "--output", str(out), "--spark-conf", f"spark.driver.memory={driver_memory}",
        ),
        env={"SPARK_LOCAL_IP": "127.0.0.1"},
        log=size_dir(size) / "spark_build.log",
    )  # fmt: skip
    manifest = json.loads((out / "_arinsight_build.json").read_text(encoding="utf-8"))
    models_s = sum(m["seconds"] for m in manifest["models"])
    return {
        "total_s": r["wall_s"],
        "cpu_s": r["cpu_s"],
        "models_s": models_s,
        "build_s": manifest["seconds"],
        # start-up (JVM, imports, reading the schema) and writing the Parquet marts
        "startup_s": r["wall_s"] - manifest["seconds"],
        # the largest single process of the tree (the JVM)
        "peak_mib": r["peak_mib"],
        "load_avg": [r["load_before"], r["load_after"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--driver-memory", default="3g")
    args = ap.parse_args()
    become_subreaper()
    results: dict[str, dict[str, list[dict[str, float]]]] = (
        json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    )
    for size in [int(s) for s in args.sizes.split(",")]:
        src = simulate(size)
        runs: dict[str, list[dict[str, float]]] = {"duckdb": [], "spark": []}
        for i in range(args.repeats):
            # alternate which engine goes first, so neither always gets the quieter slot
            order = ("duckdb", "spark") if i % 2 == 0 else ("spark", "duckdb")
            for engine in order:
                r = (
                    duckdb_run(size, src)
                    if engine == "duckdb"
                    else spark_run(size, src, args.driver_memory)
                )
                runs[engine].append(r)
                print(f"n={size:,} {engine} run {i + 1}: {r}", flush=True)
        results[str(size)] = runs
        OUT.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(
        "\n| invoices | runs | DuckDB load + build: wall s | CPU s | Spark local[2] build: "
        "wall s | CPU s | of which start-up + write (s) | load average (1 min) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")

    def fmt(values: list[float]) -> str:
        if len(values) == 1:
            return f"{values[0]:.1f}"
        return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"

    for size, runs in results.items():
        duck, spark = runs["duckdb"], runs["spark"]
        loads = [v for r in duck + spark for v in r.get("load_avg", [])]
        print(
            f"| {int(size):,} | {len(duck)} + {len(spark)} "
            f"| {fmt([r['total_s'] for r in duck])} | {fmt([r.get('cpu_s', 0.0) for r in duck])} "
            f"| {fmt([r['total_s'] for r in spark])} | {fmt([r.get('cpu_s', 0.0) for r in spark])} "
            f"| {fmt([r['startup_s'] for r in spark])} "
            f"| {min(loads, default=0):.1f}–{max(loads, default=0):.1f} |"
        )


if __name__ == "__main__":
    main()
