"""`make eval`: how good are the recommender's ladders, measured on simulated worlds.

Per world in ``bench/worlds/`` (``NAME.yaml`` is the world, ``NAME.ladder.yaml``
the ladder in force L0; without one the shipped default ladder):

1. simulate the world under L0 for 18 months, delete everything the
   recommender must not see (``truth.json``, ``sim_customer_archetypes``), load
   and build a fresh warehouse, and recommend L1 from the warehouse alone;
2. evaluate V = net value (``truth.json`` ``objective.net_value``, the settings'
   definition) of L0 and L1 on fresh paired seeds (the same seeds for both);
3. the oracle L*: a coordinate search on the *true* simulator, per segment — each
   stage in turn, the collection handover included, on a grid of days around
   its current day (``ORACLE_GRIDS``, as wide as the recommender's search
   radius) and "dropped" (the handover too: the recommender may route almost every
   case away from it), one search seed, two rounds; a
   consumer segment's handover stays at 30 days after due or later (§286(3)
   BGB, the legal check the recommender obeys); every segment keeps its own
   best; L* is then evaluated on the same fresh seeds as L0 and L1;
4. captured share = (V(L1) - V(L0)) / (V(L*) - V(L0)); the paired Δ V(L1) - V(L0)
   with a 95 % t-interval over the seeds; Δ DSO (mean month-end DSO), Δ
   involuntary churn (customers).

Prints one table and writes ``bench/eval_results.json``.

Usage: python bench/eval.py [--worlds a,b] [--seeds 5] [--scale 1.0] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WORLDS = BENCH / "worlds"
OUT = BENCH / "eval_results.json"
MONTHS = 18
#: Day offsets the oracle tries around each stage's day, per round (None = drop the stage).
ORACLE_GRIDS: tuple[tuple[int | None, ...], ...] = (
    (-20, -16, -12, -8, -4, 4, 8, 12, 16, 20, None),
    (-3, -1, 1, 3),
)
ORACLE_SEEDS = (7001,)
#: Student t 0.975 quantiles by degrees of freedom (95 % two-sided intervals).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass
class WorldResult:
    world: str
    invoices: int
    v_l0: float
    v_l1: float
    v_star: float
    captured_share: float | None
    delta: float
    delta_low: float
    delta_high: float
    delta_star: float
    delta_dso_days: float
    delta_churn: float
    l1_changed: bool
    l1_changes: list[str]
    oracle_changes: list[str]
    significantly_worse: bool
    seconds: float
    recommend_seconds: float


def world_files() -> list[Path]:
    return sorted(p for p in WORLDS.glob("*.yaml") if not p.name.endswith(".ladder.yaml"))


def l0_for(world_path: Path) -> Any:
    from arinsight.config import load_ladder

    lp = world_path.with_suffix(".ladder.yaml")
    return load_ladder(lp if lp.exists() else None)


def mean_dso(truth: dict[str, Any]) -> float:
    first = truth["dso"]["first_complete_month_end"]
    vals = [v for k, v in truth["dso"]["overall"].items() if v is not None and k >= first]
    return sum(vals) / len(vals) if vals else float("nan")


def run_ladder(world: Any, ladder: Any, seed: int, scale: float) -> dict[str, Any]:
    from arinsight.sim import simulate_truth

    truth = simulate_truth(world, ladder, months=MONTHS, seed=seed, scale=scale)
    obj = truth["objective"]
    return {
        "v": float(obj["net_value"]),
        "by_segment": {k: float(v["net_value"]) for k, v in obj["by_segment"].items()},
        "dso": mean_dso(truth),
        "churn": float(obj["churned_non_payment"]),
    }


def changes(l0: Any, l1: Any, segments: list[str]) -> list[str]:
    out: list[str] = []
    for seg in segments:
        a = {s.stage: d for s, d in zip(l0.for_segment(seg), l0.due_offsets(seg), strict=True)}
        b = {s.stage: d for s, d in zip(l1.for_segment(seg), l1.due_offsets(seg), strict=True)}
        ch0 = {s.stage: s.channel for s in l0.for_segment(seg)}
        ch1 = {s.stage: s.channel for s in l1.for_segment(seg)}
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                out.append(f"{seg}:{k} {a.get(k, '-')}→{b.get(k, 'drop')}")
            if k in ch0 and k in ch1 and ch0[k] != ch1[k]:  # a channel change
                out.append(f"{seg}:{k} {ch0[k]}→{ch1[k]}")
    for r in l1.route:  # routes the recommender adds (docs/ladder.md)
        if r not in l0.route:
            who = ",".join(r.segments) if r.segments else "all"
            out.append(f"route {who}:{r.stage} P≥{r.min_paid_ratio:.2f}")
    return out


def oracle(world: Any, l0: Any, scale: float, say: Any) -> Any:
    """Coordinate search on the true simulator, per segment (see the module notes)."""
    from arinsight.config import Stage

    segs = list(world.segments)
    best: dict[str, list[Stage | None]] = {
        s: [
            st.model_copy(update={"offset_days": d, "anchor": "due_date"})
            for st, d in zip(l0.for_segment(s), l0.due_offsets(s), strict=True)
        ]
        for s in segs
    }

    def ladder_of(plans: dict[str, list[Stage | None]]) -> Any:
        return l0.model_copy(
            update={"segments": {s: tuple(x for x in p if x is not None) for s, p in plans.items()}}
        )

    def score(plans: dict[str, list[Stage | None]]) -> dict[str, float]:
        tot: dict[str, float] = dict.fromkeys(segs, 0.0)
        for sd in ORACLE_SEEDS:
            r = run_ladder(world, ladder_of(plans), sd, scale)
            for s in segs:
                tot[s] += r["by_segment"][s]
        return tot

    cur = score(best)
    n_stages = max(len(p) for p in best.values())
    for rnd, grid in enumerate(ORACLE_GRIDS):
        moved = False
        for i in range(n_stages):
            trials: list[tuple[dict[str, list[Stage | None]], dict[str, Stage | None]]] = []
            for delta in grid:
                plans = {s: p.copy() for s, p in best.items()}
                choice: dict[str, Stage | None] = {}
                ok = False
                for s, p in plans.items():
                    if i >= len(p) or p[i] is None:
                        continue
                    handover = p[i].channel == "collection_agency"
                    kept = [x for j, x in enumerate(p) if x is not None and j != i]
                    if delta is None:
                        if not kept:
                            continue
                        p[i] = None
                    else:
                        day = p[i].offset_days + delta
                        prev = [x.offset_days for x in p[:i] if x is not None]
                        nxt = [x.offset_days for x in p[i + 1 :] if x is not None]
                        if (prev and day <= prev[-1]) or (nxt and day >= nxt[0]):
                            continue
                        if (p[i].offset_days < 0) != (day < 0):
                            continue
                        if day <= -world.segments[s].payment_terms_days:
                            continue
                        if handover and world.segments[s].customer_type == "b2c" and day < 30:
                            continue  # §286(3) BGB: no consumer handover before default
                        p[i] = p[i].model_copy(update={"offset_days": day})
                    choice[s] = p[i]
                    ok = True
                if ok:
                    trials.append((plans, choice))
            results = [(score(pl), ch) for pl, ch in trials]
            for s in segs:
                top = max(
                    ((v[s], ch[s]) for v, ch in results if s in ch),
                    default=None,
                    key=lambda x: x[0],
                )
                if top is not None and top[0] > cur[s] + 1e-6:
                    best[s][i] = top[1]
                    cur[s] = top[0]
                    moved = True
        say(f"    oracle round {rnd + 1}: {'moved' if moved else 'no better ladder'}")
    return ladder_of(best)


def recommend_for_world(
    path: Path, scale: float, workdir: Path, say: Any, options: Any = None
) -> tuple[Any, Any, Any, int]:
    """Simulate ``path`` under its L0, load and build a fresh warehouse from the ledger
    alone, and recommend. Returns ``(world, l0, recommendation, invoices)``."""
    from arinsight.config import dump_ladder, load_settings
    from arinsight.ingest import load_sources
    from arinsight.ladder.recommend import recommend
    from arinsight.models import build
    from arinsight.sim import load_world, simulate_to_dir
    from arinsight.warehouse import Warehouse

    world = load_world(path)
    l0 = l0_for(path)
    name = path.stem
    data = workdir / name
    say(f"[{name}] simulate {MONTHS} months under L0")
    lp = path.with_suffix(".ladder.yaml")
    summary = simulate_to_dir(
        path, lp if lp.exists() else None, MONTHS, 1, data, scale, ("parquet",)
    )
    # the recommender learns from the ledger alone
    (data / "truth.json").unlink()
    for f in data.glob("sim_*"):
        f.unlink()
    db = workdir / f"{name}.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [data])
        build(wh.con, load_settings())
    say(f"[{name}] recommend")
    ladder_file = workdir / f"{name}.l0.yaml"
    ladder_file.write_text(dump_ladder(l0), encoding="utf-8")
    rec = recommend(db, ladder_path=ladder_file, seed=0, options=options)
    return world, l0, rec, int(summary["rows"]["invoices"])


def eval_world(path: Path, seeds: list[int], scale: float, workdir: Path, say: Any) -> WorldResult:
    t0 = time.perf_counter()
    name = path.stem
    world, l0, rec, n_invoices = recommend_for_world(path, scale, workdir, say)
    rec_s = rec.seconds
    l1 = rec.ladder
    segs = list(world.segments)
    say(f"[{name}] oracle search on the true simulator")
    lstar = oracle(world, l0, scale, say)
    say(f"[{name}] V(L0), V(L1), V(L*) on {len(seeds)} fresh seeds")
    r0 = [run_ladder(world, l0, s, scale) for s in seeds]
    r1 = [run_ladder(world, l1, s, scale) for s in seeds] if rec.changed else r0
    rs = [run_ladder(world, lstar, s, scale) for s in seeds]
    v0 = sum(r["v"] for r in r0) / len(seeds)
    v1 = sum(r["v"] for r in r1) / len(seeds)
    vs = sum(r["v"] for r in rs) / len(seeds)
    d = [b["v"] - a["v"] for a, b in zip(r0, r1, strict=True)]
    mean_d = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean_d) ** 2 for x in d) / (len(d) - 1)) if len(d) > 1 else 0.0
    half = T975.get(len(d) - 1, 2.0) * sd / math.sqrt(len(d))
    gap = vs - v0
    share = (v1 - v0) / gap if gap > 0 else None
    return WorldResult(
        world=name,
        invoices=n_invoices,
        v_l0=round(v0, 2),
        v_l1=round(v1, 2),
        v_star=round(vs, 2),
        captured_share=round(share, 3) if share is not None else None,
        delta=round(mean_d, 2),
        delta_low=round(mean_d - half, 2),
        delta_high=round(mean_d + half, 2),
        delta_star=round(gap, 2),
        delta_dso_days=round(
            sum(b["dso"] - a["dso"] for a, b in zip(r0, r1, strict=True)) / len(d), 3
        ),
        delta_churn=round(
            sum(b["churn"] - a["churn"] for a, b in zip(r0, r1, strict=True)) / len(d), 2
        ),
        l1_changed=rec.changed,
        l1_changes=changes(l0, l1, segs),
        oracle_changes=changes(l0, lstar, segs),
        significantly_worse=mean_d + half < 0,
        seconds=round(time.perf_counter() - t0, 1),
        recommend_seconds=round(rec_s, 1),
    )


def _say(msg: str) -> None:
    print(msg, flush=True)


def _one(path: Path, seeds: list[int], scale: float, workdir: Path) -> WorldResult:
    r = eval_world(path, seeds, scale, workdir, _say)
    _say(f"  -> {r.world}: {r.seconds:.0f} s")
    return r


def print_table(results: list[WorldResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="make eval: net value V (EUR) per world, paired seeds")
    for col in (
        "world",
        "invoices",
        "V(L0)",
        "V(L1)",
        "V(L*)",
        "captured",
        "Δ V(L1)-V(L0) [95 %]",
        "Δ DSO d",
        "Δ churn",
        "L1 changes",
    ):
        t.add_column(col, justify="left" if col in ("world", "L1 changes") else "right")
    for r in results:
        t.add_row(
            r.world,
            f"{r.invoices:,}",
            f"{r.v_l0:,.0f}",
            f"{r.v_l1:,.0f}",
            f"{r.v_star:,.0f}",
            "n/a" if r.captured_share is None else f"{r.captured_share:.2f}",
            f"{r.delta:,.0f} [{r.delta_low:,.0f}, {r.delta_high:,.0f}]",
            f"{r.delta_dso_days:+.2f}",
            f"{r.delta_churn:+.1f}",
            "; ".join(r.l1_changes) or "no change",
        )
    Console(width=200).print(t)


def summarise(results: list[WorldResult]) -> dict[str, Any]:
    shares = sorted(r.captured_share for r in results if r.captured_share is not None)
    med = None
    if shares:
        n = len(shares)
        med = shares[n // 2] if n % 2 else (shares[n // 2 - 1] + shares[n // 2]) / 2
    return {
        "median_captured_share": med,
        "worlds_significantly_worse": [r.world for r in results if r.significantly_worse],
        "worlds": len(results),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default="", help="comma-separated world names (default: all)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--jobs", type=int, default=2, help="worlds evaluated at once (processes)")
    args = ap.parse_args(argv)
    files = world_files()
    if args.worlds:
        wanted = set(args.worlds.split(","))
        files = [f for f in files if f.stem in wanted]
    if not files:
        print(f"no worlds found in {WORLDS}", file=sys.stderr)
        return 1
    seeds = [1001 + i for i in range(args.seeds)]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arinsight-eval-") as tmp:
        if args.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                futures = [pool.submit(_one, f, seeds, args.scale, Path(tmp)) for f in files]
                results = [fut.result() for fut in futures]
        else:
            results = [_one(f, seeds, args.scale, Path(tmp)) for f in files]
    print_table(results)
    summary = summarise(results)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary))
    Path(args.out).write_text(
        json.dumps({"summary": summary, "worlds": [asdict(r) for r in results]}, indent=2) + "\n",
        encoding="utf-8",
    )
    _ = shutil
    return 0


if __name__ == "__main__":
    sys.exit(main())
