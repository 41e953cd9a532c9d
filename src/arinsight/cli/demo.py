"""``arinsight demo``: simulate (when no data is present), load, build, show."""

from __future__ import annotations

from pathlib import Path

import click

from arinsight.cli._common import db_option, quiet_option, settings_option


@click.command("demo")
@db_option
@click.option(
    "--data-dir",
    default="data/sample",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the sample ledger lives (simulated when missing).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Scale the sample company's customer count.",
)
@click.option(
    "--no-serve",
    is_flag=True,
    help="Do not serve the dashboard at the end (print the command that starts it instead).",
)
@click.option(
    "--port", type=int, default=8050, show_default=True, help="Dashboard port (127.0.0.1)."
)
@click.option(
    "--no-advice",
    is_flag=True,
    help="Do not recommend a ladder nor score the open invoices (arinsight recommend / score).",
)
@click.option("--no-report", is_flag=True, help="Do not render the monthly review at the end.")
@quiet_option
@settings_option
def command(
    db: str,
    data_dir: str,
    seed: int,
    scale: float,
    no_serve: bool,
    port: int,
    no_advice: bool,
    no_report: bool,
    quiet: bool,
) -> None:
    """The whole pipeline on a sample company, end to end.

    Simulates the default world (about 20k customers, 24 months) unless
    --data-dir already holds a ledger, loads it, builds the marts, prints
    DSO per segment, recommends a re-timed ladder (the shipped default ladder as
    the one in force: the demo world's), scores the open invoices, renders the
    monthly review and serves the dashboard on 127.0.0.1:8050 (--no-serve:
    prints the command that starts it instead).
    """
    from contextlib import ExitStack
    from typing import Any

    from arinsight.cli._progress import day_progress, model_progress
    from arinsight.cli._render import (
        print_build_result,
        print_headline,
        print_load_results,
        say,
        set_quiet,
    )
    from arinsight.pipeline import DemoReporter, run_demo

    set_quiet(quiet)

    class Reporter(DemoReporter):
        """Prints each step; one progress display at a time (the simulator's, the build's)."""

        def __init__(self, stack: ExitStack) -> None:
            self.stack = stack
            self.bars: ExitStack | None = None
            self.on_day: Any = None
            self.on_model: Any = None

        def step(self, number: int, total: int, title: str) -> None:
            if self.bars is not None:
                self.bars.close()
            self.bars = self.stack.enter_context(ExitStack())
            verb, _, rest = title.partition(" ")
            say(f"[bold]{number}/{total} {verb}[/bold] {rest}")
            if verb == "simulate":
                self.on_day = self.bars.enter_context(day_progress())
            elif verb == "build":
                self.on_model = self.bars.enter_context(model_progress())

        def sim_progress(self, done_days: int, total_days: int) -> None:
            self.on_day(done_days, total_days)

        def simulated(self, summary: dict[str, Any] | None) -> None:
            if summary is None:
                return
            rows = summary["rows"]
            say(
                f"    {rows.get('customers', 0):,} customers, "
                f"{rows.get('invoices', 0):,} invoices, "
                f"{rows.get('dunning_events', 0):,} dunning events"
                + "".join(
                    f", {rows[name]:,} {name.replace('_', ' ')}"
                    for name in ("payment_attempts", "message_events")
                    if name in rows
                )
                + f" in {summary['seconds']:.1f} s"
            )

        def loaded(self, results: list[Any]) -> None:
            print_load_results(results)

        def model(self, name: str, done: int, total: int, seconds: float) -> None:
            self.on_model(name, done, total, seconds)

        def built(self, result: Any) -> None:
            if self.bars is not None:
                self.bars.close()
            print_build_result(result)

        def headline(self, data: dict[str, Any]) -> None:
            print_headline(data)

    with ExitStack() as stack:
        run_demo(Path(db), Path(data_dir), seed=seed, scale=scale, reporter=Reporter(stack))
    # --- recommend and score: the ladder page, the worklist, the report's sections ---
    if not no_advice:
        _advise(db, Path(db).parent / "proposed_ladder.yaml")
    # --- the monthly review of the last complete month (arinsight report) ---
    if not no_report:
        from arinsight.reports.runner import render_demo_report

        say("[bold]report[/bold] the monthly review of the last complete month")
        for path in render_demo_report(db, progress=False):
            say(f"    {path}")
    db_arg = "" if db == "data/arinsight.duckdb" else f" --db {db}"
    if no_serve:
        say(f"next: `arinsight dashboard{db_arg}` opens the dashboard on these marts")
        return
    from arinsight.dashboard.app import serve

    say("dashboard: open the URL below in a browser (Ctrl+C stops it)")
    serve(db, port=port)


def _advise(db: str, out: Path) -> None:
    """``arinsight recommend`` (ladder in force: the shipped default, the one the demo
    world runs) and ``arinsight score`` on the demo warehouse. A ledger too small for
    either skips that step with the reason; the rest of the demo goes on."""
    from arinsight.cli._render import say
    from arinsight.cli.recommend import run as run_recommend
    from arinsight.config import default_path
    from arinsight.errors import ArinsightError
    from arinsight.ladder.options import load_options
    from arinsight.propensity.score import run as run_score
    from arinsight.warehouse import Warehouse

    say("[bold]recommend[/bold] a re-timed dunning ladder (in force: the shipped default)")
    try:
        rec, _ = run_recommend(
            db, str(default_path("ladder_default.yaml")), out, 0, load_options(None), None
        )
    except ArinsightError as err:
        say(f"    skipped: {err}")
    else:
        what = "a changed ladder" if rec.changed else "no change (the evidence says why)"
        say(
            f"    {out}: {what}; evidence and expected effects in "
            "marts.ladder_recommendations (`arinsight recommend --out FILE` prints the table)"
        )
    say("[bold]score[/bold] the open invoices and forecast 13 weeks of collections")
    try:
        with Warehouse.open(db, read_only=False) as wh:
            result = run_score(wh, None)
    except ArinsightError as err:
        say(f"    skipped: {err}")
    else:
        say(
            f"    {result.count_open_invoices:,} open invoices scored at {result.scoring_date}; "
            "the dashboard's Worklist page and `arinsight worklist` list them"
        )
