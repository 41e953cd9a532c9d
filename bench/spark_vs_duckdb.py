"""The build on Spark (local mode) vs DuckDB on the same simulated ledger.

Per size: simulate a canonical Parquet ledger once, then alternate (interleave)
the two engines ``--repeats`` times so that the shared machine's load hits both
alike. Every step is its own process, as a user runs it:

- DuckDB: ``arinsight load`` (the Parquet files) + ``arinsight build``;
- Spark: ``arinsight build --engine spark --spark-master local[2]`` reading the
  same Parquet files and writing Parquet marts; it has no load step, and its
  wall time includes starting the JVM (reported apart: the models' own seconds
  come from the manifest the build writes).

Results go to ``bench/results_spark.json`` and a Markdown table on stdout.

Usage: python bench/spark_vs_duckdb.py --sizes 100000,1000000 [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import arinsight, invoices_per_scale, run_measured, size_dir  # noqa: E402

OUT = Path(__file__).resolve().parent / "results_spark.json"


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
    load_s, load_mib, _ = run_measured(arinsight("load", str(src), "--db", str(db)))
    build_s, build_mib, _ = run_measured(arinsight("build", "--db", str(db)))
    return {
        "load_s": load_s,
        "build_s": build_s,
        "total_s": load_s + build_s,
        "peak_mib": max(load_mib, build_mib),
    }


def spark_run(size: int, src: Path, driver_memory: str) -> dict[str, float]:
    out = size_dir(size) / "spark_marts"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, _ = run_measured(
        arinsight(
            "build", "--engine", "spark", "--spark-master", "local[2]", "--input", str(src),
            "--output", str(out), "--spark-conf", f"spark.driver.memory={driver_memory}",
        ),
        env={"SPARK_LOCAL_IP": "127.0.0.1"},
    )  # fmt: skip
    manifest = json.loads((out / "_arinsight_build.json").read_text(encoding="utf-8"))
    models_s = sum(m["seconds"] for m in manifest["models"])
    return {
        "total_s": seconds,
        "models_s": models_s,
        "build_s": manifest["seconds"],
        # start-up (JVM, imports, reading the schema) and writing the Parquet marts
        "startup_s": seconds - manifest["seconds"],
        # the JVM is a child of this process's child: ru_maxrss covers the Python side only
        "python_peak_mib": peak,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--driver-memory", default="3g")
    args = ap.parse_args()
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
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
        "\n| invoices | DuckDB load + build (s) | Spark local[2] build (s) "
        "| of which start-up + write (s) |"
    )
    print("|---:|---:|---:|---:|")
    for size, runs in results.items():
        duck = [r["total_s"] for r in runs["duckdb"]]
        spark = [r["total_s"] for r in runs["spark"]]
        start = [r["startup_s"] for r in runs["spark"]]
        print(
            f"| {int(size):,} | {statistics.median(duck):.1f} ({min(duck):.1f}–{max(duck):.1f}) "
            f"| {statistics.median(spark):.1f} ({min(spark):.1f}–{max(spark):.1f}) "
            f"| {statistics.median(start):.1f} |"
        )


if __name__ == "__main__":
    main()
