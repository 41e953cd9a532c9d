"""`make eval-scores`: rolling-origin backtest of payment scores and the cash forecast.

Simulated worlds (ground truth is what the simulator realised after each
origin) and IBM's public AR sample (what the file says happened). Per data set
and origin: fit on data up to the origin only, score the invoices open at it,
compare afterwards. Prints one table and writes ``bench/results_scores.json``.

Usage: python bench/eval_scores.py [--scale 0.25] [--months 18] [--origins 4] [--worlds a,b]
       [--seeds 7,11] [--no-ibm]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
IBM = Path(
    os.environ.get(
        "ARINSIGHT_IBM_DIR", REPO.parent / "shared" / "realdata" / "ibm_accounts_receivable"
    )
)
IBM_PROFILE = REPO / "tests" / "data" / "profiles" / "ibm_ar_us.yaml"


def _warehouse_from_world(
    world: Path | None, months: int, scale: float, out: Path, seed: int = 7
) -> Path:
    from arinsight.ingest import load_sources
    from arinsight.pipeline import run_build
    from arinsight.sim import simulate_to_dir
    from arinsight.warehouse import Warehouse

    simulate_to_dir(world, None, months, seed, out / "ledger", scale, ("parquet",))
    db = out / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [out / "ledger"], "canonical")
    run_build(db)
    return db


def _warehouse_from_ibm(out: Path) -> Path:
    from arinsight.ingest import load_sources
    from arinsight.pipeline import run_build
    from arinsight.warehouse import Warehouse

    db = out / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [IBM / "WA_Fn-UseC_-Accounts-Receivable.csv"], str(IBM_PROFILE))
    run_build(db)
    return db


def _origins(db: Path, count: int) -> list[dt.date]:
    import arinsight
    from arinsight.propensity.features import month_ends
    from arinsight.propensity.forecast import WEEKS
    from arinsight.propensity.model import data_as_of

    with arinsight.connect(str(db)) as wh:
        end = data_as_of(wh)
        first = wh.sql("select min(issue_date) as d from marts.fct_invoice_lifecycle")["d"][0]
    # the forecast needs 13 observed weeks after the origin; a year of history before it
    last = end - dt.timedelta(days=7 * WEEKS)
    candidates = [m for m in month_ends(first + dt.timedelta(days=180), last)]
    return candidates[-count:]


def evaluate(name: str, db: Path, count: int) -> dict[str, Any]:
    import arinsight
    from arinsight.propensity.backtest import run

    origins = _origins(db, count)
    t0 = time.perf_counter()
    with arinsight.connect(str(db)) as wh:
        bt = run(wh, origins)
    return {
        "data": name,
        "origins": [str(o) for o in origins],
        "seconds": round(time.perf_counter() - t0, 1),
        **bt.summary,
    }


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'data':<22}{'n':>7}{'AUC':>7}{'AUC base':>9}{'Brier':>7}{'Brier b':>8}"
        f"{'MAE d':>7}{'MAE b':>7}{'cal gap':>8}{'WAPE':>7}{'MAPE4':>7}{'fc cov':>7}"
        f"{'cov1-4':>7}{'cov5-13':>8}{'width':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['data']:<22}{r['count_scored']:>7,}{r['auc_model']:>7.3f}"
            f"{r['auc_baseline']:>9.3f}{r['brier_model']:>7.3f}{r['brier_baseline']:>8.3f}"
            f"{r['mae_days_model']:>7.1f}{r['mae_days_baseline']:>7.1f}"
            f"{r['max_calibration_gap_pts']:>8.1f}"
            f"{r.get('forecast_wape_pct', float('nan')):>7.1f}"
            f"{r.get('forecast_mape_4w_pct', float('nan')):>7.1f}"
            f"{r.get('forecast_coverage_pct', float('nan')):>7.0f}"
            f"{r.get('forecast_coverage_4w_pct', float('nan')):>7.0f}"
            f"{r.get('forecast_coverage_5_13w_pct', float('nan')):>8.0f}"
            f"{r.get('forecast_band_width_pct', float('nan')):>7.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument(
        "--worlds", default="", help="world YAMLs besides the default world (comma-separated)"
    )
    ap.add_argument(
        "--seeds", default="7", help="simulation seeds of every world (comma-separated)"
    )
    ap.add_argument("--no-ibm", action="store_true", help="leave out IBM's sample")
    ap.add_argument("--out", type=Path, default=BENCH / "results_scores.json")
    args = ap.parse_args()
    worlds: list[tuple[str, Path | None]] = [("default world", None)]
    worlds += [(Path(w).stem, Path(w)) for w in args.worlds.split(",") if w]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    sets = [
        (name if len(seeds) == 1 else f"{name} s{seed}", world, seed)
        for name, world in worlds
        for seed in seeds
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, world, seed) in enumerate(sets):
            work = Path(tmp) / f"w{i}"
            work.mkdir()
            db = _warehouse_from_world(world, args.months, args.scale, work, seed)
            results.append(evaluate(name, db, args.origins))
            print(_table(results[-1:]).splitlines()[-1], flush=True)
        if not args.no_ibm and (IBM / "WA_Fn-UseC_-Accounts-Receivable.csv").exists():
            work = Path(tmp) / "ibm"
            work.mkdir()
            results.append(evaluate("IBM AR sample", _warehouse_from_ibm(work), args.origins))
    print()
    print(_table(results))
    print(
        "\nAUC/Brier: 30-day payment probability on held-out months (baseline: due date + the "
        "customer's median days late);\nMAE d: expected payment date, days (invoices paid by the "
        "data end); cal gap: largest |predicted - observed| over deciles, points;\n13-week cash "
        "forecast: WAPE over 13 weeks, MAPE of weeks 1-4, share of weeks inside the 80 % band\n"
        "(all, weeks 1-4, weeks 5-13); width: sum of (p90 - p10) / sum of expected, %."
    )
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
