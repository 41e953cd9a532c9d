"""The world simulator: world + ladder + seed -> canonical ledger files + ground truth.

Public API::

    from arinsight.sim import simulate_to_dir, simulate, simulate_truth, load_world

See ``docs/simulator.md`` for the model and the keys of ``truth.json``. Heavy
modules (numpy, polars, pyarrow) are imported only when a function is called.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from arinsight.config import Ladder, Settings
    from arinsight.sim.world import World

__all__ = [
    "ARCHETYPE_TABLE",
    "LEDGER_TABLES",
    "demo_world",
    "load_world",
    "simulate",
    "simulate_to_dir",
    "simulate_truth",
]

#: Canonical tables written by the simulator (no fx_rates: single currency).
LEDGER_TABLES = ("customers", "invoices", "payments", "adjustments", "dunning_events")
#: Side table with each customer's payer archetype and experiment arm (not in the contract).
ARCHETYPE_TABLE = "sim_customer_archetypes"


def load_world(path: Path | str | None = None) -> World:
    """Load a world YAML (None: the shipped ``defaults/world_default.yaml``).

    Raises:
        arinsight.errors.ConfigError: missing file, bad YAML, unknown or invalid key
            (the message names the file and the key).
    """
    from arinsight.sim.world import load_world as _load

    return _load(path)


#: Blocks merged over the default world for the sample company of ``arinsight demo``.
DEMO_BLOCKS = "world_demo_payments.yaml"


def demo_world() -> World:
    """The sample company of ``arinsight demo``: the default world with the
    ``auto_pay`` and ``engagement`` blocks of ``defaults/world_demo_payments.yaml``
    merged over it (failed payments, retries, message events)."""
    import yaml

    from arinsight.config import deep_merge, default_path
    from arinsight.sim.world import world_from_dict

    base_path = Path(default_path("world_default.yaml"))
    blocks_path = Path(default_path(DEMO_BLOCKS))
    base = yaml.safe_load(base_path.read_text(encoding="utf-8"))
    blocks = yaml.safe_load(blocks_path.read_text(encoding="utf-8"))
    return world_from_dict(deep_merge(base, blocks), str(blocks_path), base_path.parent)


def _resolve(
    world: World | Path | str | None, ladder: Ladder | Path | str | None
) -> tuple[World, Ladder]:
    from arinsight.config import Ladder, load_ladder
    from arinsight.sim.world import World
    from arinsight.sim.world import load_world as _load

    w = world if isinstance(world, World) else _load(world)
    lad = ladder if isinstance(ladder, Ladder) else load_ladder(ladder)
    return w, lad


def _run(
    w: World,
    lad: Ladder,
    months: int | None,
    seed: int,
    scale: float,
    settings: Settings,
    progress: Callable[[int, int], Any] | None,
) -> Any:
    """The engine run; a ladder with ``route`` rules is executed with the payment model."""
    from arinsight.sim import engine

    if lad.route:
        from arinsight.sim.routing import run_routed

        return run_routed(w, lad, months, seed, scale, settings, progress)[0]
    return engine.run(w, lad, months, seed, scale, progress)


def simulate_truth(
    world: World | Path | str | None = None,
    ladder: Ladder | Path | str | None = None,
    months: int | None = None,
    seed: int = 0,
    scale: float = 1.0,
    *,
    settings: Settings | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> dict[str, Any]:
    """Run the engine and return only ``truth`` (cheapest call for ladder searches).

    Args: as :func:`simulate`.

    Returns:
        The truth dictionary (same as ``truth.json``).
    """
    from arinsight.config import load_settings
    from arinsight.sim import truth

    w, lad = _resolve(world, ladder)
    st = settings or load_settings()
    res = _run(w, lad, months, seed, scale, st, progress)
    return truth.compute(res, st, lad)


def simulate(
    world_obj: World | Path | str | None = None,
    ladder_obj: Ladder | Path | str | None = None,
    months: int | None = None,
    seed: int = 0,
    scale: float = 1.0,
    *,
    settings: Settings | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Simulate in memory.

    Args:
        world_obj: a :class:`World`, a path to a world YAML, or None (shipped default).
        ladder_obj: a :class:`~arinsight.config.Ladder`, a path, or None (shipped default).
        months: issuing horizon in months (None: the world's ``months``).
        seed: random seed (numpy PCG64 streams derived from it).
        scale: multiplies every segment's customer count.
        settings: settings for the objective (None: ``load_settings()``).
        progress: called as ``progress(done_days, total_days)``.

    Returns:
        ``(tables, truth)``: the five canonical tables plus ``sim_customer_archetypes``
        as polars frames (horizon-truncated, exactly what the files contain), and
        the truth dictionary.

    Raises:
        arinsight.errors.ConfigError: an invalid world or ladder file.
    """
    from arinsight.config import load_settings
    from arinsight.sim import output, truth

    w, lad = _resolve(world_obj, ladder_obj)
    st = settings or load_settings()
    res = _run(w, lad, months, seed, scale, st, progress)
    return output.frames(res), truth.compute(res, st, lad)


def simulate_to_dir(
    world: World | Path | None = None,
    ladder: Path | None = None,
    months: int | None = None,
    seed: int = 0,
    out: Path = Path("data/sample"),
    scale: float = 1.0,
    formats: tuple[str, ...] = ("csv", "parquet"),
    progress: Callable[[int, int], Any] | None = None,
) -> dict[str, Any]:
    """Simulate and write ``<table>.csv`` / ``<table>.parquet`` and ``truth.json`` into ``out``.

    Args:
        world: world YAML or a loaded World (None: the shipped default world).
        ladder: ladder YAML (None: the shipped default ladder).
        months: issuing horizon in months (None: the world's default).
        seed: random seed; same inputs and seed give byte-identical files.
        out: output directory (created; existing files are overwritten).
        scale: multiplies every segment's customer count.
        formats: any of ``"csv"``, ``"parquet"``.
        progress: called as ``progress(done_days, total_days)`` during the run.

    Returns:
        ``{"rows": {table: n}, "seconds": float, "out": str, "truth": dict,
        "invoices_per_second": float}`` (seconds include writing the files).

    Raises:
        arinsight.errors.ConfigError: an invalid world or ladder file.
        ValueError: an unknown format, or non-positive ``months`` / ``scale``.
    """
    from arinsight.config import load_settings
    from arinsight.sim import output, truth

    t0 = time.perf_counter()
    w, lad = _resolve(world, ladder)
    res = _run(w, lad, months, seed, scale, load_settings(), progress)
    out = Path(out)
    rows = output.write(res, out, tuple(formats))
    tr = truth.compute(res, load_settings(), lad)
    (out / "truth.json").write_text(
        json.dumps(tr, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "out": str(out),
        "truth": tr,
        "invoices_per_second": round(rows["invoices"] / seconds, 1) if seconds > 0 else None,
    }


def __getattr__(name: str) -> Any:
    if name == "World":
        from arinsight.sim.world import World

        return World
    raise AttributeError(name)
