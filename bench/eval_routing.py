"""`make eval-routing`: the gentler path for likely payers (issue 17, item 3), measured.

World: ``bench/worlds/routing/hallon_like.yaml`` (mostly forgetful consumers who
churn when handed to an agency). Ladder in force L0: the shipped default ladder
(handover on day 60). Routed ladders: L0 plus one ``route`` on the handover
stage — a phone call instead of the agency when the payment model's
P(paid within 30 days) on the handover day is at least the threshold, the
handover 30 days later if the invoice is still open — for each threshold.

Per seed (paired: L0 and every routed ladder run on the same seed, so on the
same customers, invoices and random draws):

1. simulate under L0; the ledger up to the end of month ``FIT_MONTH`` is loaded
   and built into a fresh warehouse *as arinsight would see it* (no truth, no
   archetypes, cut at the fit day) and the payment model is fitted there
   (arinsight.sim.routing) — once per seed, shared by the thresholds, since the
   routed runs are identical to L0 up to that day;
2. re-simulate with each threshold's route executed by that model;
3. read handovers (agency events in the 18 months), net value (truth.json
   ``objective.net_value``, the settings' definition, as bench/eval.py) and
   involuntary churn (customers) from the truth of each run.

Prints one table — per threshold the mean handovers, the paired change in
handovers (%), in net value (EUR) and in churn, each with a 95 % t-interval
over the seeds, and how often the routed invoices were in fact paid within 30
days (truth) against the model's mean probability — and writes
``bench/results_routing.json``.

Usage: python bench/eval_routing.py [--seeds 5] [--thresholds 0.5,0.3,0.2] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WORLD = BENCH / "worlds" / "routing" / "hallon_like.yaml"
OUT = BENCH / "results_routing.json"
#: Student t 0.975 quantiles by degrees of freedom (95 % two-sided intervals).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
WITHIN_DAYS = 30
FALLBACK_DAYS = 30
TARGET_FEWER_HANDOVERS_PCT = 50.0


def routed_ladder(l0: Any, threshold: float, fallback: int | None = FALLBACK_DAYS) -> Any:
    """L0 with a phone call instead of the handover for likely payers."""
    from arinsight.config import Route, RouteStep

    agency = [s.stage for s in l0.default if s.channel == "collection_agency"]
    route = Route(
        stage=agency[0],
        min_paid_ratio=threshold,
        within_days=WITHIN_DAYS,
        instead=RouteStep(name="Telefonat vor Inkasso", channel="phone"),
        fallback_after_days=fallback,
    )
    return l0.model_copy(update={"name": f"{l0.name}_routed_{threshold}", "route": (route,)})


def variants(
    thresholds: list[float], fallbacks: list[int | None]
) -> list[tuple[float, int | None]]:
    return [(t, f) for f in fallbacks for t in thresholds]


def key(th: float, fb: int | None) -> str:
    return f"{th}/{'never' if fb is None else fb}"


def measures(truth: dict[str, Any], res: Any, fit_day: int) -> dict[str, float]:
    """Handovers (18 months, and after the fit day: the months routing can act on),
    net value and involuntary churn of one run."""
    from arinsight.sim.engine import AGENCY_CHANNEL

    obj = truth["objective"]
    lt = res.ladders
    chn = lt.channel[res.e_ladder.astype("int64"), res.e_pos.astype("int64")]
    late = (res.e_day > fit_day) & (res.e_day < res.horizon_days) & (chn == AGENCY_CHANNEL)
    return {
        "handovers": float(truth["dunning_cost"]["by_channel"]["collection_agency"]["events"]),
        "handovers_after_fit": float(late.sum()),
        "v": float(obj["net_value"]),
        "churn": float(obj["churned_non_payment"]),
    }


class RandomRouter:
    """Reference: routes a fixed share of the invoices asked, chosen without the model
    (a hash of the invoice number), from the same day on — does the model's choice matter?"""

    def __init__(self, share: float, active_from: int) -> None:
        self.share, self.active_from = share, active_from
        self.decisions: list[tuple[int, int, float, bool]] = []

    def start(self, state: dict[str, Any]) -> None:
        import numpy as np

        self._s = state
        self._routed = np.zeros(state["inv_cust"].size, dtype=bool)

    def choose(self, day: int, idx: Any, live: Any, lid: Any, k: Any) -> Any:
        import numpy as np

        out = np.zeros(idx.size, dtype=bool)
        if day < self.active_from:
            return out
        g = live["g"][idx].astype(np.int64)
        u = ((g * 2654435761) % (1 << 32)) / float(1 << 32)
        out = (u < self.share) & ~self._routed[g]
        self._routed[g[out]] = True
        self.decisions += [
            (day, int(x), float("nan"), bool(t)) for x, t in zip(g, out, strict=True)
        ]
        return out


def interval(xs: list[float]) -> tuple[float, float, float]:
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    half = T975.get(n - 1, 2.0) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def run_seed(
    world: Any,
    l0: Any,
    plan: list[tuple[float, int | None]],
    seed: int,
    scale: float,
    random_share: float | None = None,
) -> dict[str, Any]:
    import numpy as np

    from arinsight.config import load_settings
    from arinsight.sim import engine, truth
    from arinsight.sim.routing import ModelRouter, fit_day, fit_model

    settings = load_settings()
    base = engine.run(world, l0, world.months, seed, scale)
    day = fit_day(world, world.months)
    out: dict[str, Any] = {
        "seed": seed,
        "l0": measures(truth.compute(base, settings, l0), base, day),
    }
    model = fit_model(base, day, settings)
    out["model"] = {
        "fit_day": day,
        "training_rows": model.count_training_rows,
        "concordance": round(model.concordance, 3),
    }
    references: list[tuple[str, Any, Any]] = [
        (
            "no_handover",
            l0.model_copy(
                update={
                    "name": "no_handover",
                    "default": tuple(s for s in l0.default if s.channel != "collection_agency"),
                }
            ),
            None,
        ),
    ]
    if random_share:
        references.append(
            (
                f"random_{random_share}",
                routed_ladder(l0, 0.5, None),
                RandomRouter(random_share, day + 1),
            )
        )
    runs: list[tuple[str, Any, Any]] = [
        *references,
        *[
            (key(th, fb), routed_ladder(l0, th, fb), ModelRouter(model=model, active_from=day + 1))
            for th, fb in plan
        ],
    ]
    for name, lad, router in runs:
        res = engine.run(world, lad, world.months, seed, scale, router=router)
        m = measures(truth.compute(res, settings, lad), res, day)
        out[name] = m
        m["asked"] = len(router.decisions) if router else 0
        m["routed"] = sum(d[3] for d in router.decisions) if router else 0
        if router is None:
            continue
        dec = router.decisions
        paid_off = router._s["paid_off_day"]
        routed = [(d, g, p) for d, g, p, t in dec if t]
        m["asked"] = len(dec)
        m["routed"] = len(routed)
        if routed:
            d_ = np.array([r[0] for r in routed])
            g_ = np.array([r[1] for r in routed])
            po = paid_off[g_]
            m["routed_paid_within_ratio"] = float(((po >= 0) & (po - d_ <= WITHIN_DAYS)).mean())
            m["routed_predicted_ratio"] = float(np.mean([r[2] for r in routed]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--thresholds", default="0.3,0.2,0.1")
    ap.add_argument(
        "--fallbacks", default="30,never", help="days to the handover after the step; never"
    )
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--random-share",
        type=float,
        default=0.6,
        help="reference: route this share of the invoices at random (no model), no fallback",
    )
    args = ap.parse_args(argv)
    from arinsight.config import load_ladder
    from arinsight.sim import load_world

    thresholds = [float(x) for x in args.thresholds.split(",")]
    fallbacks = [None if x == "never" else int(x) for x in args.fallbacks.split(",")]
    plan = variants(thresholds, fallbacks)
    world = load_world(WORLD)
    l0 = load_ladder(None)
    seeds = [101 + i for i in range(args.seeds)]
    t0, c0 = time.perf_counter(), os.times()
    runs = []
    for s in seeds:
        print(f"seed {s}: L0, fit, {len(plan)} routed runs", file=sys.stderr, flush=True)
        runs.append(run_seed(world, l0, plan, s, args.scale, args.random_share))
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    rows = []
    entries: list[tuple[str, float | None, int | None]] = [
        ("no_handover", None, None),
        *([(f"random_{args.random_share}", None, None)] if args.random_share else []),
        *[(key(th, fb), th, fb) for th, fb in plan],
    ]
    for k, th, fb in entries:
        h0 = [r["l0"]["handovers"] for r in runs]
        # the target: fewer handovers in the months routing acts on (after the fit day)
        dh_pct = [
            100.0
            * (r[k]["handovers_after_fit"] - r["l0"]["handovers_after_fit"])
            / max(r["l0"]["handovers_after_fit"], 1)
            for r in runs
        ]
        dv = [r[k]["v"] - r["l0"]["v"] for r in runs]
        dc = [r[k]["churn"] - r["l0"]["churn"] for r in runs]
        paid = [r[k].get("routed_paid_within_ratio") for r in runs]
        pred = [r[k].get("routed_predicted_ratio") for r in runs]
        h, hl, hh = interval(dh_pct)
        v, vl, vh = interval(dv)
        c, cl, ch = interval(dc)
        rows.append(
            {
                "variant": k,
                "threshold": th,
                "fallback_after_days": fb,
                "handovers_l0": sum(h0) / len(h0),
                "handovers_routed": sum(r[k]["handovers"] for r in runs) / len(runs),
                "handovers_after_fit_l0": sum(r["l0"]["handovers_after_fit"] for r in runs)
                / len(runs),
                "handovers_after_fit_routed": sum(r[k]["handovers_after_fit"] for r in runs)
                / len(runs),
                "routed_invoices": sum(r[k]["routed"] for r in runs) / len(runs),
                "asked": sum(r[k]["asked"] for r in runs) / len(runs),
                "delta_handovers_pct": [round(h, 1), round(hl, 1), round(hh, 1)],
                "delta_net_value": [round(v, 0), round(vl, 0), round(vh, 0)],
                "delta_churn": [round(c, 1), round(cl, 1), round(ch, 1)],
                "routed_paid_within_30d_ratio": _mean([p for p in paid if p is not None]),
                "routed_predicted_ratio": _mean([p for p in pred if p is not None and p == p]),
                "meets_target": h <= -TARGET_FEWER_HANDOVERS_PCT and vl >= 0,
                "meets_target_point": h <= -TARGET_FEWER_HANDOVERS_PCT and v >= 0,
            }
        )
    load = os.getloadavg()
    print(
        f"world {WORLD.stem}, {len(seeds)} paired seeds, scale {args.scale}; "
        f"wall {wall:.0f} s, CPU {cpu:.0f} s, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"model fitted at day {runs[0]['model']['fit_day']} on "
        f"{runs[0]['model']['training_rows']} rows, concordance {runs[0]['model']['concordance']}"
    )
    head = (
        "| route | fallback | handovers L0 → routed (after fit; 18 months) | routed "
        "| Δ handovers after fit % [95 %] "
        "| Δ net value EUR [95 %] | Δ churn [95 %] | routed paid ≤30d: truth / model | target |"
    )
    print(head)
    print("|" + "---|" * 9)
    for r in rows:
        dh, dv_, dc_ = r["delta_handovers_pct"], r["delta_net_value"], r["delta_churn"]
        tp = r["routed_paid_within_30d_ratio"]
        mp = r["routed_predicted_ratio"]
        verdict = (
            "met" if r["meets_target"] else ("met (point)" if r["meets_target_point"] else "missed")
        )
        print(
            f"| {_variant(r)} | {_fb(r['fallback_after_days'])} "
            f"| {r['handovers_after_fit_l0']:.0f} → {r['handovers_after_fit_routed']:.0f}; "
            f"{r['handovers_l0']:.0f} → {r['handovers_routed']:.0f} "
            f"| {r['routed_invoices']:.0f} of {r['asked']:.0f} "
            f"| {dh[0]:+.1f} [{dh[1]:+.1f}, {dh[2]:+.1f}] "
            f"| {dv_[0]:+,.0f} [{dv_[1]:+,.0f}, {dv_[2]:+,.0f}] "
            f"| {dc_[0]:+.1f} [{dc_[1]:+.1f}, {dc_[2]:+.1f}] "
            f"| {_fmt(tp)} / {_fmt(mp)} | {verdict} |"
        )
    OUT.write_text(
        json.dumps(
            {
                "world": WORLD.stem,
                "seeds": seeds,
                "scale": args.scale,
                "rows": rows,
                "runs": runs,
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                "load_average": load,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _variant(r: dict[str, Any]) -> str:
    if r["threshold"] is not None:
        return f"P ≥ {r['threshold']:.2f}"
    if r["variant"] == "no_handover":
        return "reference: no handover at all"
    return f"reference: {r['variant'].removeprefix('random_')} routed at random"


def _fb(x: int | None) -> str:
    return "never" if x is None else f"{x} d"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
