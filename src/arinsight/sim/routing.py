"""The simulator executes a ladder's ``route`` rules with the payment model.

A ladder with ``route`` rules (:class:`arinsight.config.Route`) sends a gentler
step instead of a stage to invoices the payment model expects to be paid
without it. The simulator plays the operator who runs ``arinsight score``:

1. **Learn.** Simulate the world under the ladder with the routed stages sent as
   written, up to the end of month :data:`FIT_MONTH` (the routes are not active
   yet, so this history is the same as the routed run's, day for day: the engine
   draws all randomness up front). Write that ledger *as arinsight would see
   it* — the canonical files, cut at the fit day, without ``truth.json`` or the
   archetypes — load and build a fresh warehouse, and fit the payment model
   (:func:`arinsight.propensity.model.fit`) on it, with payments after a handover
   not counted as payments (``without_agency``: the route asks "paid without the
   agency?"). Nothing the simulator knows
   and the ledger does not (archetypes, natural payment days) reaches the model.
2. **Route.** Simulate again with the same seed; from the day after the fit day
   on, each invoice for which a routed stage is due is scored on that day by the
   fitted model from the simulated state *as the ledger would show it then*
   (:class:`ModelRouter` rebuilds the features of
   :mod:`arinsight.propensity.features` from the run's own payments and
   events); P(paid within ``within_days``) ≥ ``min_paid_ratio`` → the gentler
   step goes out, and the replaced stage follows ``fallback_after_days`` later
   if the invoice is still open. An invoice is routed at most once.

The model is fitted once (not refitted monthly) and is not told that the
routing changes the data it would learn from next (docs/propensity.md).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from arinsight.sim import engine

if TYPE_CHECKING:
    import polars as pl

    from arinsight.config import Ladder, Settings
    from arinsight.propensity.model import FittedModel
    from arinsight.sim.world import World

#: The model is fitted on the ledger up to the end of this month of the run; routes
#: act from the day after. Six months give the model history while leaving a year
#: of an 18-month run routed.
FIT_MONTH = 6
#: Stage numbers above this are pooled in the features (as in the marts).
MAX_STAGE_COLUMN = 5


def fit_day(world: World, months: int) -> int:
    """Day number (from the world's start) of the last day the model learns from."""
    starts = engine._month_starts(world, months)
    return int(starts[min(FIT_MONTH, months)]) - 1


def _cut_ledger(folder: Path, cutoff: dt.date) -> None:
    """Rewrite the ledger files in ``folder`` as an export taken on ``cutoff`` would hold them."""
    import polars as pl

    c = pl.col
    cut = {
        "invoices": c("issue_date") <= cutoff,
        "payments": c("paid_at") <= cutoff,
        "adjustments": c("adjusted_at") <= cutoff,
        "dunning_events": c("sent_at") <= cutoff,
    }
    for table, keep in cut.items():
        p = folder / f"{table}.parquet"
        pl.read_parquet(p).filter(keep).write_parquet(p)
    p = folder / "customers.parquet"
    cust = pl.read_parquet(p).filter(c("created_at").is_null() | (c("created_at") <= cutoff))
    later = c("churned_at").is_not_null() & (c("churned_at") > cutoff)
    cust.with_columns(
        churned_at=pl.when(later).then(None).otherwise(c("churned_at")),
        churn_reason=pl.when(later).then(None).otherwise(c("churn_reason")),
    ).write_parquet(p)
    for extra in folder.glob("sim_*"):
        extra.unlink()


def fit_model(
    res: engine.SimResult, day: int, settings: Settings, workdir: Path | None = None
) -> FittedModel:
    """The payment model fitted on the run's ledger as exported on day ``day``.

    Raises:
        ArinsightError: too little history for the model (the message says how much).
    """
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.propensity.model import fit
    from arinsight.sim import output
    from arinsight.warehouse import Warehouse

    cutoff = res.world.start_date + dt.timedelta(days=day)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp) / "ledger"
        output.write(res, folder, ("parquet",))
        _cut_ledger(folder, cutoff)
        db = Path(tmp) / "fit.duckdb"
        with Warehouse.open(db, read_only=False, create=True) as wh:
            load_sources(wh.con, [folder], export_date=cutoff)
            build(wh.con, settings)
            return fit(wh, cutoff, without_agency=True)


@dataclass
class ModelRouter(engine.Router):
    """Routes with the payment model, from the day after ``active_from - 1`` on.

    Features per invoice on day ``d`` follow ``propensity/features.py``: the
    customer's invoices paid off on or before ``d`` (count, share late, amount-
    weighted and median days late, highest stage), the customer's overdue open
    invoices, days past due, the highest stage sent and days since the last send.
    """

    model: FittedModel
    active_from: int
    decisions: list[tuple[int, int, float, bool]] = field(default_factory=list)
    _s: dict[str, Any] = field(default_factory=dict)

    def start(self, state: dict[str, Any]) -> None:
        self._s = state
        n_pot = state["inv_cust"].size
        self._last_day = np.full(n_pot, -1, dtype=np.int64)
        self._top_stage = np.full(n_pot, -1, dtype=np.int64)
        self._routed = np.zeros(n_pot, dtype=np.bool_)
        self._seen_chunks = 0
        order = np.argsort(state["inv_cust"], kind="stable")
        self._by_cust = order
        self._cust_ptr = np.searchsorted(
            state["inv_cust"][order], np.arange(state["n_customers"] + 1)
        )

    def _catch_up(self) -> None:
        """Fold the events logged since the last call into per-invoice stage state."""
        parts = self._s["events"].parts
        lt = self._s["ladders"]
        for i in range(self._seen_chunks, len(parts["g"])):
            g = parts["g"][i].astype(np.int64)
            stage = lt.stage[parts["lid"][i].astype(np.int64), parts["k"][i].astype(np.int64)]
            self._last_day[g] = parts["d"][i]
            self._top_stage[g] = np.maximum(self._top_stage[g], stage)
        self._seen_chunks = len(parts["g"])

    def features(self, day: int, g: np.ndarray, live: dict[str, Any], rows: np.ndarray) -> Any:
        """Feature rows (the columns ``design_matrix`` reads) of invoices ``g`` on ``day``."""
        import polars as pl

        s = self._s
        self._catch_up()
        cust = s["inv_cust"][g].astype(np.int64)
        due = s["inv_due"][g].astype(np.int64)
        paid_off = s["paid_off_day"]
        # the customer's overdue open invoices (not with the agency), as on the ledger
        st, ldue = live["state"], live["due"]
        overdue = (st <= engine.DISPUTE) & (ldue < day)
        count_overdue = np.bincount(
            live["cust"][overdue].astype(np.int64), minlength=s["n_customers"]
        )[cust]
        hist: dict[str, list[Any]] = {k: [] for k in ("n", "late", "wdl", "mdl", "mstage")}
        for c in cust:
            mine = self._by_cust[self._cust_ptr[c] : self._cust_ptr[c + 1]]
            pd_ = paid_off[mine]
            done = mine[(pd_ >= 0) & (pd_ <= day)]
            if done.size == 0:
                for k in hist:
                    hist[k].append(None if k != "n" else 0)
                continue
            late = np.maximum(paid_off[done] - s["inv_due"][done], 0).astype(np.float64)
            amt = s["inv_amount"][done].astype(np.float64)
            hist["n"].append(int(done.size))
            hist["late"].append(float((late > 0).mean()))
            hist["wdl"].append(float((amt * late).sum() / amt.sum()) if amt.sum() else None)
            hist["mdl"].append(float(np.median(late)))
            hist["mstage"].append(int(self._top_stage[done].max()))
        top = self._top_stage[g]
        last = self._last_day[g]
        names = s["segment_names"]
        return pl.DataFrame(
            {
                "segment": [names[int(x)] for x in s["cust_segment"][cust]],
                "invoice_amount": s["inv_amount"][g] / 100.0,
                "days_past_due": day - due,
                "stage_at_origin": pl.Series(
                    [None if t < 0 else int(min(t, MAX_STAGE_COLUMN)) for t in top],
                    dtype=pl.Int32,
                ),
                "days_since_stage": pl.Series(
                    [None if x < 0 else int(day - x) for x in last], dtype=pl.Int32
                ),
                "count_paid_before": pl.Series(hist["n"], dtype=pl.Int64),
                "late_ratio": pl.Series(hist["late"], dtype=pl.Float64),
                "weighted_days_late": pl.Series(hist["wdl"], dtype=pl.Float64),
                "median_days_late": pl.Series(hist["mdl"], dtype=pl.Float64),
                "max_stage_before": pl.Series(hist["mstage"], dtype=pl.Int32),
                "count_customer_overdue": pl.Series(count_overdue, dtype=pl.Int64),
            }
        )

    def choose(
        self, day: int, idx: np.ndarray, live: dict[str, Any], lid: np.ndarray, k: np.ndarray
    ) -> np.ndarray:
        from arinsight.propensity.model import calibrated, survival_matrix

        out = np.zeros(idx.size, dtype=np.bool_)
        if day < self.active_from:
            return out
        g = live["g"][idx].astype(np.int64)
        fresh = np.flatnonzero(~self._routed[g])
        if fresh.size == 0:
            return out
        lt = self._s["ladders"]
        feats = self.features(day, g[fresh], live, idx[fresh])
        surv = survival_matrix(self.model, feats)
        within = lt.route_within[lid[fresh], k[fresh]]
        p = 1.0 - surv[np.arange(fresh.size), within]
        for h in np.unique(within):  # the model's recalibration where it has one for h
            sel = within == h
            p[sel] = calibrated(self.model, int(h), p[sel])
        take = p >= lt.route_min[lid[fresh], k[fresh]]
        out[fresh[take]] = True
        self._routed[g[fresh[take]]] = True
        for gi, pi, ti in zip(g[fresh], p, take, strict=True):
            self.decisions.append((day, int(gi), float(pi), bool(ti)))
        return out


def run_routed(
    world: World,
    ladder: Ladder,
    months: int | None,
    seed: int,
    scale: float,
    settings: Settings,
    progress: Any = None,
    workdir: Path | None = None,
) -> tuple[engine.SimResult, ModelRouter]:
    """Run ``world`` under ``ladder`` with its ``route`` rules executed (module doc).

    Raises:
        ArinsightError: the history before the fit day is too short for the model.
    """
    m = world.months if months is None else months
    day = fit_day(world, m)
    first = engine.run(world, ladder, m, seed, scale)
    model = fit_model(first, day, settings, workdir)
    router = ModelRouter(model=model, active_from=day + 1)
    res = engine.run(world, ladder, m, seed, scale, progress, router=router)
    return res, router


def decisions_frame(router: ModelRouter) -> pl.DataFrame:
    """The router's decisions: day, potential-invoice number, probability, routed."""
    import polars as pl

    rows = router.decisions
    return pl.DataFrame(
        {
            "day": [r[0] for r in rows],
            "invoice": [r[1] for r in rows],
            "paid_ratio": [r[2] for r in rows],
            "is_routed": [r[3] for r in rows],
        },
        schema={
            "day": pl.Int64,
            "invoice": pl.Int64,
            "paid_ratio": pl.Float64,
            "is_routed": pl.Boolean,
        },
    )
