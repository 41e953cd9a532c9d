"""Options shared by several verbs (kept identical across commands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db",
        envvar="ARINSIGHT_DB",
        default="data/arinsight.duckdb",
        show_default=True,
        type=click.Path(dir_okay=False),
        help="Warehouse file (or set ARINSIGHT_DB).",
    )(f)


def as_of_option(f: F) -> F:
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Report as of this date (the latest month end on or before it). "
        "Default: the latest complete month.",
    )(f)


def segment_option(f: F) -> F:
    return click.option(
        "--segment",
        "segment",
        default=None,
        help="Only this segment (default: every segment and 'all').",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def quiet_option(f: F) -> F:
    return click.option(
        "--quiet",
        "-q",
        "quiet",
        is_flag=True,
        help="Print nothing but errors (and the JSON with --json); the exit status still tells.",
    )(f)


def _select_settings(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from arinsight.config import load_settings, select_settings

    select_settings(value)
    if value is not None:
        load_settings()  # a bad file fails here, before any work starts
    return value


def settings_option(f: F) -> F:
    return click.option(
        "--settings",
        "settings_file",
        envvar="ARINSIGHT_SETTINGS",
        default=None,
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=_select_settings,
        help="Settings YAML merged over the shipped defaults (or set ARINSIGHT_SETTINGS; "
        "default: ./arinsight.yaml when present). See docs/cli.md.",
    )(f)
