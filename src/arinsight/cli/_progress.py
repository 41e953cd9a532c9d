"""Progress of long steps: a rich bar on a terminal, plain lines when piped, nothing with --quiet.

The library reports progress through callbacks (``on_model``, ``progress``);
these context managers turn the callbacks into output. Imported only inside
commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arinsight.cli._render import console

#: on_model(model name, models done, models in the build, seconds of this model)
ModelCallback = Callable[[str, int, int, float], None]


@contextmanager
def model_progress() -> Iterator[ModelCallback]:
    """A callback for the runner's ``on_model``.

    On a terminal: a transient bar ``building  12/29 int_invoice_outcomes``;
    piped: one line per model, ``[12/29] int_invoice_outcomes 0.41 s``;
    ``--quiet``: nothing.
    """
    if console.quiet:
        yield lambda name, done, total, seconds: None
        return
    if not console.is_terminal:

        def line(name: str, done: int, total: int, seconds: float) -> None:
            console.print(
                f"[{done:>{len(str(total))}}/{total}] {name} {seconds:.2f} s",
                highlight=False,
                markup=False,
            )
            console.file.flush()

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "building",
        BarColumn(),
        MofNCompleteColumn(),
        "{task.description}",
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(name: str, done: int, total: int, seconds: float) -> None:
            bar.update(task, completed=done, total=total, description=name)

        yield update


@contextmanager
def day_progress() -> Iterator[Callable[[int, int], None]]:
    """A callback for the simulator's ``progress(done_days, total_days)``.

    On a terminal: a transient bar; piped or ``--quiet``: nothing (the
    simulator's summary line follows).
    """
    if console.quiet or not console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} days",
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("simulating", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def run_simulation(
    world: str | None,
    ladder: str | None,
    months: int | None,
    seed: int,
    scale: float,
    out: Path,
    formats: tuple[str, ...],
) -> dict[str, Any]:
    """Run the simulator with a day-by-day progress bar (``arinsight simulate``)."""
    from arinsight.sim import simulate_to_dir

    with day_progress() as progress:
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
