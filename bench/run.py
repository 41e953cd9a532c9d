"""`make bench`: one table of timings, throughput and peak memory per step and size.

Each step runs as its own process (the CLI a user would run), so its wall time
includes interpreter start-up and its peak RSS comes from the OS (``os.wait4``
rusage of that child). Results go to ``bench/results.json``: one entry per
(step, size) with seconds, rows/s and peak MiB.

Steps register themselves in ``STEPS``; later features (report render,
dashboard callback latency) add a function there and join the same table.

Usage: python bench/run.py --sizes 100000,1000000 [--keep] [--steps simulate,load,...] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "_work"
BIN = Path(sys.executable).parent
#: invoices the default world produces per unit of --scale (measured once per run).
_INVOICES_PER_SCALE: dict[str, float] = {}


@dataclass
class Result:
    step: str
    size: int
    seconds: float
    rows: int | None = None
    peak_mib: float | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds else None


#: load steps run this many times, CSV and Parquet interleaved (``--repeat``)
REPEAT = {"n": 1}
#: CPU seconds (user + system) of the last run_measured call
LAST_CPU = {"s": 0.0}
#: the canonical ledger tables (the simulator also writes an archetype table)
LEDGER = ("customers", "invoices", "payments", "adjustments", "dunning_events")


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS MiB, stdout). Raise on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    LAST_CPU["s"] = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def arinsight(*args: str) -> list[str]:
    return [str(BIN / "arinsight"), *args]


def size_dir(size: int) -> Path:
    return WORK / f"n{size}"


def file_rows(directory: Path, suffix: str) -> int:
    import polars as pl

    total = 0
    for f in directory.glob(f"*.{suffix}"):
        if suffix == "parquet" and f.stem in LEDGER:
            total += pl.scan_parquet(f).select(pl.len()).collect().item()
    return total


def invoices_per_scale() -> float:
    """Invoices per unit of --scale in the default world (a small calibration run)."""
    if "v" not in _INVOICES_PER_SCALE:
        out = WORK / "calibrate"
        shutil.rmtree(out, ignore_errors=True)
        _, _, _ = run_measured(
            arinsight("simulate", "--scale", "0.05", "--out", str(out), "--format", "parquet")
        )
        truth = json.loads((out / "truth.json").read_text())
        import polars as pl

        n = pl.scan_parquet(out / "invoices.parquet").select(pl.len()).collect().item()
        _INVOICES_PER_SCALE["v"] = n / 0.05
        del truth
    return _INVOICES_PER_SCALE["v"]


# --- steps ------------------------------------------------------------------------------


def step_simulate(size: int) -> Result:
    scale = size / invoices_per_scale()
    out = size_dir(size) / "canonical"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, _ = run_measured(
        arinsight("simulate", "--scale", f"{scale:.6f}", "--out", str(out), "--seed", "1")
    )
    import polars as pl

    n_inv = pl.scan_parquet(out / "invoices.parquet").select(pl.len()).collect().item()
    return Result(
        "simulate",
        size,
        seconds,
        n_inv,
        peak,
        note=f"{n_inv / seconds * 60 / 1e6:.2f}M invoices/min (rows = invoices)",
    )


def _only(src: Path, suffix: str, size: int) -> Path:
    """A folder with hard links to the ledger files of one format."""
    out = size_dir(size) / f"canonical_{suffix}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for t in LEDGER:
        os.link(src / f"{t}.{suffix}", out / f"{t}.{suffix}")
    return out


def _load_once(folder: Path, db: Path) -> tuple[float, float, float]:
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    seconds, peak, _ = run_measured(arinsight("load", str(folder), "--db", str(db)))
    return seconds, peak, LAST_CPU["s"]


_LOADS: dict[tuple[str, int], Result] = {}


def _loads(size: int) -> None:
    """CSV and Parquet loads, ``REPEAT`` times each, interleaved (the machine's
    speed drifts: only interleaved runs compare); median and range of each."""
    import statistics

    src = size_dir(size) / "canonical"
    rows = file_rows(src, "parquet")
    runs: dict[str, list[tuple[float, float, float]]] = {"csv": [], "parquet": []}
    folders = {s: _only(src, s, size) for s in runs}
    dbs = {"csv": size_dir(size) / "w.duckdb", "parquet": size_dir(size) / "w_parquet.duckdb"}
    for _ in range(REPEAT["n"]):
        for suffix in runs:
            runs[suffix].append(_load_once(folders[suffix], dbs[suffix]))
    for suffix, name in (("csv", "load (canonical CSV)"), ("parquet", "load (canonical Parquet)")):
        walls = sorted(r[0] for r in runs[suffix])
        cpus = sorted(r[2] for r in runs[suffix])
        note = f"CPU {statistics.median(cpus):.2f} s"
        if len(walls) > 1:
            note = (
                f"median of {len(walls)} interleaved, range {walls[0]:.2f}-{walls[-1]:.2f} s; "
                f"CPU median {statistics.median(cpus):.2f} s"
            )
        _LOADS[(suffix, size)] = Result(
            name,
            size,
            statistics.median(walls),
            rows,
            max(r[1] for r in runs[suffix]),
            note=note,
            extra={"cpu_seconds": statistics.median(cpus)},
        )


def step_load(size: int) -> Result:
    if ("csv", size) not in _LOADS:
        _loads(size)
    return _LOADS.pop(("csv", size))


def step_load_parquet(size: int) -> Result:
    if ("parquet", size) not in _LOADS:
        _loads(size)
    return _LOADS.pop(("parquet", size))


def step_build(size: int) -> Result:
    db = size_dir(size) / "w.duckdb"
    seconds, peak, _ = run_measured(arinsight("build", "--db", str(db)))
    src = size_dir(size) / "canonical"
    return Result(
        "build", size, seconds, file_rows(src, "parquet"), peak, note="rows = ledger rows in"
    )


#: the marts bench/pandas_baseline.py computes: the like-for-like comparison builds only these
BASELINE_MARTS = ("fct_dso_monthly", "fct_aging_snapshots", "fct_stage_conversion", "fct_recovery")


def step_build_select(size: int) -> Result:
    """``build --select`` of the baseline's four marts on the Parquet-loaded warehouse."""
    db = size_dir(size) / "w_parquet.duckdb"
    selects = [arg for mart in BASELINE_MARTS for arg in ("--select", mart)]
    seconds, peak, _ = run_measured(arinsight("build", "--db", str(db), *selects))
    src = size_dir(size) / "canonical"
    return Result(
        "build --select (4 marts)",
        size,
        seconds,
        file_rows(src, "parquet"),
        peak,
        note="the pandas baseline's marts and what they read",
    )


def step_load_german(size: int) -> Result:
    sys.path.insert(0, str(BENCH))
    import german_erp

    src = size_dir(size) / "canonical"
    de = size_dir(size) / "german_erp"
    shutil.rmtree(de, ignore_errors=True)
    german_erp.write_german(german_erp.read_canonical(src), de)
    rows = 0
    import polars as pl

    for f in de.glob("*.csv"):
        rows += pl.scan_csv(f, separator=";", infer_schema=False).select(pl.len()).collect().item()
    db = size_dir(size) / "w_german.duckdb"
    db.unlink(missing_ok=True)
    seconds, peak, _ = run_measured(
        arinsight("load", str(de), "--profile", "german_erp", "--db", str(db))
    )
    return Result("load (german_erp CSV)", size, seconds, rows, peak)


def step_check(size: int) -> Result:
    db = size_dir(size) / "w.duckdb"
    seconds, peak, _ = run_measured(
        arinsight("check", "--db", str(db)), env={"GX_ANALYTICS_ENABLED": "False"}
    )
    return Result("check", size, seconds, None, peak, note="GX suites on raw + marts")


def step_pandas(size: int) -> Result:
    """The pandas baseline on the same Parquet files; compared with the marts, timed in-process.

    The ratio is against what a user runs for the same four marts: ``arinsight
    load`` of the Parquet files plus ``build --select`` of those marts (each a
    process of its own, start-up included; the baseline's time excludes its
    interpreter start and imports).
    """
    src = size_dir(size) / "canonical"
    db = size_dir(size) / "w_parquet.duckdb"
    code = (
        f"import sys, json; sys.path.insert(0, {str(BENCH)!r})\n"
        "import pandas_baseline as pb\nfrom pathlib import Path\n"
        f"res, secs = pb.run(Path({str(src)!r}), fmt='parquet')\n"
        f"bad = pb.compare(res, Path({str(db)!r})) if {size <= 100_000} else {{}}\n"
        "print(json.dumps({'seconds': secs, 'mismatches': bad}))\n"
    )
    _, peak, out = run_measured([sys.executable, "-c", code])
    data = json.loads(out.strip().splitlines()[-1])
    ours = sum(
        r.seconds
        for r in _DONE
        if r.size == size and r.step in ("load (canonical Parquet)", "build --select (4 marts)")
    )
    ratio = data["seconds"] / ours if ours else float("nan")
    checked = (
        "same numbers as the marts"
        if data["mismatches"] and not any(data["mismatches"].values())
        else f"MISMATCH {data['mismatches']}"
        if data["mismatches"]
        else "not compared"
    )
    return Result(
        "pandas baseline (4 marts)",
        size,
        data["seconds"],
        None,
        peak,
        note=f"{ratio:.1f}x arinsight Parquet load + build --select; {checked}",
    )


def step_score(size: int) -> Result:
    """`arinsight score` on the built warehouse: the payment model, scores and cash forecast.

    Also what the dashboard's worklist page shows, so it runs before the dashboard step.
    """
    db = size_dir(size) / "w.duckdb"
    load = os.getloadavg()[0]
    seconds, peak, _ = run_measured(arinsight("score", "--db", str(db)))
    return Result(
        "score (payment model)",
        size,
        seconds,
        size,
        peak,
        note=f"CPU {LAST_CPU['s']:.1f} s; load avg {load:.1f}; rows = invoices",
    )


def step_recommend(size: int) -> Result:
    """`arinsight recommend` on the built warehouse (default ladder in force).

    Runs ``--repeat`` times; the row is the median wall time, with the CPU seconds
    (user + system) and the 1-minute load average in the note (the machine is shared).
    """
    import statistics

    db = size_dir(size) / "w.duckdb"
    out = size_dir(size) / "proposed.yaml"
    ladder = REPO / "src" / "arinsight" / "defaults" / "ladder_default.yaml"
    walls: list[float] = []
    cpus: list[float] = []
    peaks: list[float] = []
    loads: list[float] = []
    for _ in range(REPEAT["n"]):
        loads.append(os.getloadavg()[0])
        seconds, peak, _ = run_measured(
            arinsight(
                "recommend", "--db", str(db), "--ladder", str(ladder), "--out", str(out), "--quiet"
            )
        )
        walls.append(seconds)
        cpus.append(LAST_CPU["s"])
        peaks.append(peak)
    cpu = statistics.median(cpus)
    note = f"CPU {cpu:.1f} s; load avg {statistics.median(loads):.1f}; target <= 60 s at 1M"
    if len(walls) > 1:
        note = f"median of {len(walls)}, range {min(walls):.1f}-{max(walls):.1f} s; " + note
    return Result(
        "recommend",
        size,
        statistics.median(walls),
        size,
        max(peaks),
        note=note + " (rows = invoices)",
        extra={"cpu_seconds": cpu},
    )


def step_report(size: int) -> Result:
    """``arinsight report``: the monthly review of the latest month, HTML and PDF."""
    db = size_dir(size) / "w.duckdb"
    out = size_dir(size) / "reports"
    shutil.rmtree(out, ignore_errors=True)
    formats = "html,pdf" if shutil.which("chromium") else "html"
    seconds, peak, stdout = run_measured(
        arinsight("report", "--db", str(db), "--out", str(out), "--format", formats, "--json")
    )
    paths = json.loads(stdout)
    return Result(
        "report (monthly review)",
        size,
        seconds,
        None,
        peak,
        note=f"{formats}; target <= 45 s at 1M; PDF {'written' if paths['pdf'] else 'skipped'}",
    )


def step_dashboard(size: int) -> list[Result]:
    """One row per page: first render (s) and callback latency (cold p95 in the note)."""
    sys.path.insert(0, str(BENCH))
    import dashboard_bench

    db = size_dir(size) / "w.duckdb"
    data = dashboard_bench.measure(str(BIN / "arinsight"), db)
    rows = []
    for page, cb in data["callbacks"].items():
        first = (data["first_render"] or {}).get(page)
        every = (data.get("all_charts") or {}).get(page)
        rows.append(
            Result(
                f"dashboard {page}",
                size,
                first if first is not None else float("nan"),
                None,
                None,
                note=(
                    "first render (s)"
                    + (f", every chart {every:.2f} s" if every is not None else "")
                    + f"; callback p95 {cb['cold_p95_ms']:.0f} ms cold / "
                    f"{cb['warm_p95_ms']:.0f} ms cached; server CPU per callback "
                    f"{cb['cold_cpu_ms']:.0f} / {cb['warm_cpu_ms']:.0f} ms; "
                    f"load avg {data['load_average']:.1f}"
                    + ("" if first is not None else "; no Chromium: first render not measured")
                ),
                extra=cb,
            )
        )
    return rows


STEPS: dict[str, Callable[[int], Result | list[Result]]] = {
    "simulate": step_simulate,
    "load": step_load,
    "load_parquet": step_load_parquet,
    "load_german_erp": step_load_german,
    "build": step_build,
    "build_select": step_build_select,
    "check": step_check,
    "pandas": step_pandas,
    "report": step_report,
    "recommend": step_recommend,
    "score": step_score,
    "dashboard": step_dashboard,
}
_DONE: list[Result] = []


def fmt_table(results: list[Result]) -> str:
    head = f"{'step':<28}{'size':>12}{'seconds':>10}{'rows/s':>14}{'peak MiB':>10}  note"
    lines = [head, "-" * len(head)]
    for r in results:
        rps = f"{r.rows_per_s:,.0f}" if r.rows_per_s else "–"
        peak = f"{r.peak_mib:,.0f}" if r.peak_mib else "–"
        lines.append(f"{r.step:<28}{r.size:>12,}{r.seconds:>10.2f}{rps:>14}{peak:>10}  {r.note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--keep", action="store_true", help="keep bench/_work afterwards")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the CSV and Parquet loads (interleaved) and recommend this many times each "
        "(median, range)",
    )
    ap.add_argument(
        "--work",
        default=str(WORK),
        help="folder of the generated ledgers and warehouses (default bench/_work, deleted "
        "afterwards unless --keep; a folder given here is kept)",
    )
    ap.add_argument("--out", default=str(BENCH / "results.json"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    REPEAT["n"] = max(1, args.repeat)
    WORK = Path(args.work)
    steps = [s for s in args.steps.split(",") if s]
    WORK.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    for size in sizes:
        for name in steps:
            try:
                out = STEPS[name](size)
            except Exception as exc:  # a failing step is reported, the table still prints
                out = Result(name, size, float("nan"), note=f"FAILED: {str(exc)[:200]}")
            for res in out if isinstance(out, list) else [out]:
                results.append(res)
                _DONE.append(res)
                print(fmt_table([res]).splitlines()[-1], flush=True)
    print()
    print(fmt_table(results))
    payload = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": [{**asdict(r), "rows_per_s": r.rows_per_s} for r in results],
    }
    Path(args.out).write_text(json.dumps(payload, indent=2))
    if not args.keep and args.work == str(BENCH / "_work"):  # never delete a folder passed in
        shutil.rmtree(WORK, ignore_errors=True)
    failed = any(r.note.startswith(("FAILED", "MISMATCH")) or "MISMATCH" in r.note for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
