"""The ``arinsight`` command line: one group whose verbs follow the data flow.

Each verb lives in its own module under ``arinsight.cli`` and imports only
click at module level, so ``arinsight --help`` stays instant; heavy libraries
(duckdb, polars, numpy, great-expectations) are imported inside the commands.
"""

from __future__ import annotations

import importlib

import click

from arinsight import __version__

#: Verb → module; order is the data flow (and the order in --help).
COMMANDS: dict[str, str] = {
    "demo": "arinsight.cli.demo",
    "simulate": "arinsight.cli.simulate",
    "load": "arinsight.cli.load",
    "build": "arinsight.cli.build",
    "check": "arinsight.cli.check",
    "metrics": "arinsight.cli.metrics",
    "dashboard": "arinsight.cli.dashboard",
    "ladder": "arinsight.cli.ladder",
    "recommend": "arinsight.cli.recommend",
    "score": "arinsight.cli.score",
    "worklist": "arinsight.cli.worklist",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        cmd: click.Command = importlib.import_module(module).command
        return cmd

    def invoke(self, ctx: click.Context) -> object:
        """Run the verb; a user error or Ctrl-C ends it with one line and its exit status."""
        from arinsight.errors import ArinsightError

        try:
            return super().invoke(ctx)
        except ArinsightError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("aborted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arinsight")
def cli() -> None:
    """Accounts-receivable and dunning analytics on DuckDB.

    \b
    Data flow:  simulate → load → build → metrics
    Start with `arinsight demo`: it simulates a sample company, loads, builds
    and prints the headline figures.
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the process exits with the command's status.

    click runs in standalone mode, so ``ctx.exit(n)``, usage errors (2) and
    the group's handling of :class:`~arinsight.errors.ArinsightError` (one
    ``error: ...`` line on stderr, the error's ``exit_code``) and of Ctrl-C
    (130) all end the process with their status. (With ``standalone_mode=False``
    click returns the status instead of exiting, and it was lost.)
    """
    cli.main(args=argv, prog_name="arinsight", standalone_mode=True)
