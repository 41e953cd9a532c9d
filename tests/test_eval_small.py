"""The evaluation harness in small: one world, small scale, V(L1) >= V(L0) on paired seeds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from arinsight.ladder.options import RecommenderOptions

REPO = Path(__file__).resolve().parents[1]


def _eval_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_eval", REPO / "bench" / "eval.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_eval"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_small_harness_recommendation_is_not_worse(tmp_path: Path) -> None:
    ev = _eval_module()
    opts = RecommenderOptions(bootstrap_draws=60, min_stage_events=100, min_group_invoices=1000)
    world, l0, rec, n = ev.recommend_for_world(
        REPO / "bench" / "worlds" / "forgetful_heavy.yaml", 0.25, tmp_path, lambda _m: None, opts
    )
    assert n > 4000
    # this world's ladder in force waits too long; the recommender must propose something
    assert rec.changed
    seeds = [91, 92, 93]
    v0 = [ev.run_ladder(world, l0, s, 0.25)["v"] for s in seeds]
    v1 = [ev.run_ladder(world, rec.ladder, s, 0.25)["v"] for s in seeds]
    deltas = [b - a for a, b in zip(v0, v1, strict=True)]
    assert sum(deltas) / len(deltas) >= 0.0, deltas
