"""Steps the CLI chains: build with the quarantine gate, and the demo.

Library code: it returns data and reports progress through callbacks; it
never prints (only ``arinsight.cli`` renders).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError
from arinsight.models import BuildResult

if TYPE_CHECKING:
    from arinsight.ingest import LoadResult
    from arinsight.models.runner import OnModel

#: on_model(model name, models done, models in the build, seconds of this model)
ModelCallback = Callable[[str, int, int, float], None]


def quarantine_breaches(con: object, max_pct: float) -> list[tuple[str, str, float]]:
    """Latest loads (per file and table) whose quarantined share exceeds ``max_pct``.

    Only the latest load of each file counts: reloading a fixed file (or the
    same file with a repaired profile) clears the gate.
    """
    from arinsight.quality.suites import LATEST_LOADS_SQL

    rows = con.execute(  # type: ignore[attr-defined]
        f"select file, table_name, quarantined_pct from ({LATEST_LOADS_SQL}) "
        "where quarantined_pct > ? order by load_id",
        [max_pct],
    ).fetchall()
    return [(str(f), str(t), float(p)) for f, t, p in rows]


def run_build(
    db: str | Path,
    *,
    accept_quarantine: bool = False,
    on_model: OnModel | None = None,
    select: tuple[str, ...] = (),
) -> BuildResult:
    """Build the marts of the warehouse at ``db`` (``select``: only those models and
    what they read, see :func:`arinsight.models.runner.select_models`);
    ``on_model`` hears of each model built.

    Raises:
        WarehouseMissing: no warehouse yet.
        ArinsightError: a load quarantined too much (without ``accept_quarantine``).
        BuildError: a model, key check or assert failed (previous build kept).
    """
    from arinsight.config import load_settings
    from arinsight.models import build
    from arinsight.warehouse import Warehouse

    settings = load_settings()
    with Warehouse.open(db, read_only=False) as wh:
        breaches = quarantine_breaches(wh.con, settings.max_quarantine_pct)
        if breaches and not accept_quarantine:
            listed = "; ".join(f"{f} ({t}): {p:.1f} %" for f, t, p in breaches)
            raise ArinsightError(
                f"not publishing marts: quarantine above {settings.max_quarantine_pct} % in "
                f"{listed}. Inspect meta.quarantine, fix the source or profile, or run "
                "`arinsight build --accept-quarantine`"
            )
        return build(wh.con, settings, on_model=on_model, select=select or None)


def _has_ledger(data_dir: Path) -> bool:
    return any((data_dir / f"invoices.{ext}").exists() for ext in ("csv", "parquet"))


class DemoReporter:
    """What :func:`run_demo` reports as it goes; every method is a no-op here.

    The CLI subclasses it to print; tests and notebooks can use it as is.
    """

    def step(self, number: int, total: int, title: str) -> None:
        """Step ``number`` of ``total`` starts (``title``: e.g. "load data/sample → ...")."""

    def sim_progress(self, done_days: int, total_days: int) -> None:
        """The simulator finished ``done_days`` of ``total_days`` days."""

    def simulated(self, summary: dict[str, Any] | None) -> None:
        """The simulator's summary (None: the data directory already held a ledger)."""

    def loaded(self, results: list[LoadResult]) -> None:
        """Every file's load result."""

    def model(self, name: str, done: int, total: int, seconds: float) -> None:
        """Model ``name`` was built (``done`` of ``total``)."""

    def built(self, result: BuildResult) -> None:
        """The build finished."""

    def headline(self, data: dict[str, Any]) -> None:
        """The headline figures (as :func:`arinsight.metrics.headline` returns them)."""


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo produced (``simulated`` is None when the ledger existed)."""

    simulated: dict[str, Any] | None
    loads: list[LoadResult]
    build: BuildResult
    headline: dict[str, Any]


def run_demo(
    db: Path,
    data_dir: Path,
    *,
    seed: int = 0,
    scale: float = 1.0,
    reporter: DemoReporter | None = None,
) -> DemoResult:
    """Simulate the demo world (:func:`arinsight.sim.demo_world`: the default world with
    failed payments and message engagement) if ``data_dir`` has no ledger, load, build,
    read the headline.

    Raises:
        ArinsightError: any step's error (input, quarantine gate, build), unchanged.
    """
    from arinsight.ingest import load_sources
    from arinsight.metrics import headline
    from arinsight.sim import demo_world, simulate_to_dir
    from arinsight.warehouse import Warehouse

    rep = reporter or DemoReporter()
    summary: dict[str, Any] | None = None
    if not _has_ledger(data_dir):
        rep.step(1, 4, f"simulate the demo world → {data_dir}")
        summary = simulate_to_dir(
            demo_world(), out=data_dir, seed=seed, scale=scale, progress=rep.sim_progress
        )
    else:
        rep.step(1, 4, f"simulate skipped: {data_dir} already holds a ledger")
    rep.simulated(summary)
    rep.step(2, 4, f"load {data_dir} → {db}")
    with Warehouse.open(db, read_only=False, create=True) as wh:
        results = load_sources(wh.con, [data_dir], "canonical")
    rep.loaded(results)
    rep.step(3, 4, "build sql/ → marts")
    built = run_build(db, on_model=rep.model)
    rep.built(built)
    rep.step(4, 4, "headline figures")
    with Warehouse.open(db) as wh:
        data = headline(wh)
    rep.headline(data)
    return DemoResult(summary, results, built, data)
