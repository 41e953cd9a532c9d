"""Rich progress bars for long steps (imported only inside commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_simulation(
    world: str | None,
    ladder: str | None,
    months: int | None,
    seed: int,
    scale: float,
    out: Path,
    formats: tuple[str, ...],
) -> dict[str, Any]:
    """Run the simulator with a day-by-day progress bar."""
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    from arinsight.sim import simulate_to_dir

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} days",
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("simulating", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary: dict[str, Any] = simulate_to_dir(
            world=Path(world) if world else None,
            ladder=Path(ladder) if ladder else None,
            months=months,
            seed=seed,
            out=out,
            scale=scale,
            formats=formats,
            progress=progress,
        )
    return summary
