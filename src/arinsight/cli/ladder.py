"""``arinsight ladder``: store ladder versions, show the one in force, run the legal check."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arinsight.cli._common import db_option, json_option
from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    from arinsight.config import Ladder
    from arinsight.ladder.rules import Finding


class LadderCheckFailed(ArinsightError):
    """The legal check found errors (exit code 1)."""


def _read_text(path: str) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArinsightError(f"ladder file not found: {p}") from None
    except UnicodeDecodeError as exc:
        raise ArinsightError(f"{p}: not UTF-8 text ({exc.reason}) — save it as UTF-8") from None


def _master_data(db: str) -> tuple[dict[str, str] | None, list[tuple[str, str, int, int]]]:
    """Customer types per segment and (segment, type, terms, n) rows from the warehouse.

    ``(None, [])`` when there is no warehouse or it has no marts yet.
    """
    from arinsight import connect
    from arinsight.ladder.rules import customer_types_from_rows

    if not Path(db).exists():
        return None, []
    with connect(db) as wh:
        if "dim_segment_terms" not in wh.tables("marts"):
            return None, []
        from arinsight.metrics import segment_terms

        frame = segment_terms(wh)
    rows = [
        (r["segment"], r["customer_type"], int(r["payment_terms_days"]), int(r["count_customers"]))
        for r in frame.to_dicts()
    ]
    types = customer_types_from_rows((seg, t) for seg, t, _, _ in rows)
    return types, rows


def _run_check(ladder: Ladder, db: str) -> tuple[list[Finding], str]:
    from arinsight.ladder.routes import check_routes
    from arinsight.ladder.rules import check_ladder, check_payment_terms

    types, rows = _master_data(db)
    if types is None:
        note = (
            f"customer types unknown (no built warehouse at {db}): every segment is "
            "checked as b2b and b2c; pass --db with a built warehouse to use its master data"
        )
        return check_ladder(ladder, {}) + check_routes(ladder, {}), note
    findings = check_ladder(ladder, types) + check_routes(ladder, types)
    for seg, ctype, terms, n in rows:
        findings += check_payment_terms(seg, ctype, terms, count_customers=n)
    described = ", ".join(f"{seg}={t}" for seg, t in sorted(types.items()))
    return findings, f"customer types from {db}: {described}"


def _print_findings(findings: list[Finding], note: str, as_json: bool) -> None:
    if as_json:
        out = {
            "note": note,
            "findings": [
                {
                    "rule": f.rule,
                    "segment": f.segment,
                    "stage": f.stage,
                    "severity": f.severity,
                    "message": f.message,
                }
                for f in findings
            ],
        }
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(note)
    if not findings:
        click.echo("legal check: no findings")
        return
    for f in findings:
        stage = "-" if f.stage is None else str(f.stage)
        colour = "red" if f.severity == "error" else "yellow"
        click.secho(f"{f.severity:<7} {f.segment:<12} {stage:>5}  {f.rule}", fg=colour)
        click.echo(f"        {f.message}")
    n_err = sum(f.severity == "error" for f in findings)
    click.echo(f"legal check: {n_err} error(s), {len(findings) - n_err} warning(s)")


@click.group("ladder")
def command() -> None:
    """Dunning ladders: store versions, show the one in force, check them against the law.

    \b
    A version is a ladder YAML in force from an effective date on; the marts
    and `arinsight recommend` use the version in force at each event's date.
    """


@command.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@json_option
def check_cmd(file: str, db: str, as_json: bool) -> None:
    """Check FILE against German/EU rules (§286, §288 BGB, Directive 2011/7/EU).

    Exits 1 when a finding has severity error; warnings only print.
    """
    from arinsight.ladder.rules import errors
    from arinsight.ladder.store import parse_ladder_text

    ladder = parse_ladder_text(_read_text(file), file)
    findings, note = _run_check(ladder, db)
    _print_findings(findings, note, as_json)
    bad = errors(findings)
    if bad:
        raise LadderCheckFailed(
            f"{file}: {len(bad)} legal error(s), first: {bad[0].segment} stage {bad[0].stage} "
            f"{bad[0].rule} — fix the ladder file"
        )


@command.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--effective",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First day the ladder is in force (YYYY-MM-DD).",
)
@click.option("--force", is_flag=True, help="Store the version even when the check finds errors.")
@db_option
def apply_cmd(file: str, effective: dt.datetime, force: bool, db: str) -> None:
    """Store FILE as the ladder in force from --effective on (runs the legal check first).

    Applying the same file with the same date again changes nothing. Errors in
    the legal check refuse the version unless --force; warnings are printed.
    """
    from arinsight.ladder.rules import errors
    from arinsight.ladder.store import apply_ladder, parse_ladder_text
    from arinsight.warehouse import Warehouse

    text = _read_text(file)
    ladder = parse_ladder_text(text, file)
    findings, note = _run_check(ladder, db)
    if findings:
        _print_findings(findings, note, as_json=False)
    bad = errors(findings)
    if bad and not force:
        raise LadderCheckFailed(
            f"{file}: not applied — {len(bad)} legal error(s) (first: {bad[0].segment} stage "
            f"{bad[0].stage} {bad[0].rule}); fix the ladder, or pass --force to store it anyway"
        )
    with Warehouse.open(db, read_only=False) as wh:
        done = apply_ladder(wh, text, effective.date(), source=file)
    if done.is_new:
        click.echo(
            f"applied {file} as ladder version {done.version} ({done.name!r}), "
            f"in force from {done.effective_date.isoformat()}"
        )
        if done.count_expectations:
            click.echo(
                f"stored the expected effect from marts.ladder_recommendations for "
                f"{done.count_expectations} segment(s) with version {done.version} "
                "(the monthly review compares it with what is realised)"
            )
    else:
        click.echo(
            f"unchanged: version {done.version} already holds {file} "
            f"from {done.effective_date.isoformat()}"
        )


def _ladder_json(version: int, effective: dt.date, ladder: Ladder) -> dict[str, Any]:
    from arinsight.config import resolve_offsets

    def rows(stages: Any) -> list[dict[str, Any]]:
        return [
            {
                "stage": s.stage,
                "name": s.name,
                "due_offset_days": off,
                "channel": s.channel,
                "fee": s.fee,
                "interest_rate_pct_over_base": s.interest_rate_pct_over_base,
            }
            for s, off in zip(stages, resolve_offsets(stages), strict=True)
        ]

    return {
        "version": version,
        "effective_date": effective.isoformat(),
        "name": ladder.name,
        "interest_rate_pct_over_base": ladder.interest_rate_pct_over_base,
        "segments": {
            "default": rows(ladder.default),
            **{seg: rows(st) for seg, st in ladder.segments.items()},
        },
        "route": [
            {
                "stage": r.stage,
                "segments": None if r.segments is None else list(r.segments),
                "min_paid_ratio": r.min_paid_ratio,
                "within_days": r.within_days,
                "instead_name": r.instead.name,
                "instead_channel": r.instead.channel,
                "instead_fee": r.instead.fee,
                "fallback_after_days": r.fallback_after_days,
            }
            for r in ladder.route
        ],
    }


@command.command("show")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Show the ladder in force on this date (default: today).",
)
@db_option
@json_option
def show_cmd(as_of: dt.datetime | None, db: str, as_json: bool) -> None:
    """Print the ladder in force as a table per segment (offsets resolved from the due date)."""
    from rich.console import Console
    from rich.table import Table

    from arinsight import connect
    from arinsight.ladder.store import parse_ladder_text, version_in_force

    day = as_of.date() if as_of else dt.date.today()
    with connect(db) as wh:
        found = version_in_force(wh, day)
    if found is None:
        raise ArinsightError(
            f"no ladder version in force on {day.isoformat()} in {db} — run "
            "`arinsight ladder apply FILE.yaml --effective DATE` first"
        )
    version, effective, text = found
    ladder = parse_ladder_text(text, f"meta.ladders version {version}")
    data = _ladder_json(version, effective, ladder)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console()
    console.print(
        f"ladder {ladder.name!r}: version {version}, in force from {effective.isoformat()} "
        f"(as of {day.isoformat()})"
    )
    for segment, rows in data["segments"].items():
        t = Table(title=f"segment: {segment}", title_justify="left")
        for col in ("stage", "name", "days from due", "channel", "fee EUR"):
            t.add_column(col, justify="left" if col in ("name", "channel") else "right")
        for r in rows:
            t.add_row(
                str(r["stage"]),
                r["name"],
                f"{r['due_offset_days']:+d}",
                r["channel"],
                f"{r['fee']:.2f}",
            )
        console.print(t)
    if data["route"]:
        t = Table(title="route: gentler path for likely payers", title_justify="left")
        for col in ("stage", "segments", "when P(paid)", "instead", "fee EUR", "fallback"):
            t.add_column(col, justify="right" if col in ("stage", "fee EUR") else "left")
        for r in data["route"]:
            fallback = r["fallback_after_days"]
            t.add_row(
                str(r["stage"]),
                "all" if r["segments"] is None else ", ".join(r["segments"]),
                f">= {r['min_paid_ratio']:.2f} within {r['within_days']} d",
                f"{r['instead_name']} ({r['instead_channel']})",
                f"{r['instead_fee']:.2f}",
                "never" if fallback is None else f"stage after {fallback} d if open",
            )
        console.print(t)


def _ci(value: Any, low: Any, high: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if low is None or high is None:
        return f"{value:+.{digits}f}"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


@command.command("experiment")
@db_option
@json_option
@click.option(
    "--boot",
    "n_boot",
    type=click.IntRange(100, 100000),
    default=2000,
    show_default=True,
    help="Bootstrap resamples for the net-value interval.",
)
def experiment_cmd(db: str, as_json: bool, n_boot: int) -> None:
    """Effects of a randomised ladder experiment (dunning_events.variant) per arm.

    Days to settle, recovery and involuntary churn from marts.fct_experiment_arms
    (analytic 95 % intervals); net value per customer with a bootstrap over
    customers (arinsight.ladder.experiments). Every effect is arm minus control.
    """
    import polars as pl

    from arinsight import connect
    from arinsight.ladder.experiments import experiment_net_value
    from arinsight.metrics import experiment_arms

    with connect(db) as wh:
        arms = experiment_arms(wh)
        if arms.height == 0:
            raise ArinsightError(
                f"no experiment in {db}: no dunning event carries a variant "
                "(dunning_events.variant); load an experiment's log and run `arinsight build`"
            )
        value = experiment_net_value(wh, n_boot=n_boot)
    joined = arms.join(
        value.select(
            "segment",
            "experiment_variant",
            "net_value_per_customer_amount",
            "delta_net_value_per_customer_amount",
            "delta_ci_low_amount",
            "delta_ci_high_amount",
        ),
        on=["segment", "experiment_variant"],
        how="left",
    ).sort(pl.col("segment") != "all", "segment", "experiment_variant")
    if as_json:
        click.echo(json.dumps(joined.to_dicts(), indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="ladder experiment: effects vs control, 95 % intervals", title_justify="left")
    for col in (
        "segment",
        "arm",
        "customers",
        "Δ days to settle",
        "Δ recovery 90d pp",
        "Δ invol. churn pp",
        "Δ net value / customer EUR",
    ):
        t.add_column(col, justify="left" if col in ("segment", "arm") else "right")
    for r in joined.to_dicts():
        control = bool(r["is_control"])
        t.add_row(
            r["segment"],
            r["experiment_variant"] + (" (control)" if control else ""),
            f"{r['count_customers']:,}",
            "-"
            if control
            else _ci(
                r["delta_days_to_settle"],
                r["delta_days_to_settle_ci_low"],
                r["delta_days_to_settle_ci_high"],
            ),
            "-"
            if control
            else _ci(
                r["delta_recovery_90d_pct"],
                r["delta_recovery_90d_ci_low_pct"],
                r["delta_recovery_90d_ci_high_pct"],
            ),
            "-"
            if control
            else _ci(
                r["delta_involuntary_churn_pct"],
                r["delta_involuntary_churn_ci_low_pct"],
                r["delta_involuntary_churn_ci_high_pct"],
                2,
            ),
            "-"
            if control
            else _ci(
                r["delta_net_value_per_customer_amount"],
                r["delta_ci_low_amount"],
                r["delta_ci_high_amount"],
                0,
            ),
        )
    Console().print(t)
    Console().print(
        "days to settle: restricted to due + 90 days; net value undiscounted; "
        "customers never dunned carry no arm (docs/ladder.md)"
    )
