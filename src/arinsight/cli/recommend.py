"""``arinsight recommend``: a proposed dunning ladder with its expected effect and evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option


@click.command("recommend")
@db_option
@click.option(
    "--ladder",
    "ladder",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="The ladder in force (default: the version stored by `arinsight ladder apply`).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the proposed ladder YAML.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--options",
    "options",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Recommender options YAML (default: the shipped recommender.yaml).",
)
@json_option
@quiet_option
@settings_option
def command(
    db: str,
    ladder: str | None,
    out: str,
    seed: int,
    options: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Recommend when each dunning stage should go out, per segment.

    Fits a response model to the ledger and dunning log in the warehouse (never to
    simulation files), searches ladders on it, and keeps only the changes whose
    80 % interval of Δ net value lies above 0. Writes the proposed ladder to
    --out and the evidence to marts.ladder_recommendations; retry schedules per
    failure reason and channel advice (when the ledger has payment attempts /
    message events) to marts.retry_recommendations. Method and limits:
    docs/recommender.md, docs/payments.md.
    """
    from arinsight.ladder.options import load_options

    def say(msg: str) -> None:
        if not quiet and not as_json:
            click.echo(f"… {msg}", err=True)

    rec, retry_rows = run(db, ladder, out, seed, load_options(options), say)
    if quiet and not as_json:
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ladder_source": rec.source,
                    "changed": rec.changed,
                    "out": out,
                    "seconds": rec.seconds,
                    "recommendations": rec.rows,
                    "fit": rec.fit_summary,
                },
                indent=2,
                default=str,
            )
        )
        return
    _print(rec.rows, out, rec.changed, rec.seconds, retry_rows)


def run(
    db: str, ladder: str | None, out: str | Path, seed: int, opts: Any, say: Any
) -> tuple[Any, list[dict[str, Any]]]:
    """Recommend, write the proposed ladder to ``out`` and the evidence to the marts
    (``arinsight recommend`` and ``arinsight demo``); returns the recommendation and
    the retry-advice rows."""
    import datetime as dt

    from arinsight.config import dump_ladder
    from arinsight.ladder.recommend import recommend, write_mart
    from arinsight.ladder.retries import advice_rows

    rec = recommend(db, ladder_path=ladder, seed=seed, options=opts, progress=say)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Proposed by `arinsight recommend` from {db} (ladder in force: {rec.source}).\n"
        "# Evidence and expected effects: marts.ladder_recommendations.\n"
    )
    Path(out).write_text(header + dump_ladder(rec.ladder), encoding="utf-8")
    when = rec.rows[0]["recommended_at"] if rec.rows else dt.datetime.now().replace(microsecond=0)
    retry_rows = advice_rows(rec.fit_summary, rec.source, when)
    write_mart(db, rec.rows, retry_rows)
    return rec, retry_rows


def _fmt_iv(mid: Any, lo: Any, hi: Any, digits: int = 1) -> str:
    if mid is None:
        return ""
    return f"{mid:+,.{digits}f} [{lo:+,.{digits}f}, {hi:+,.{digits}f}]"


def _print(
    rows: list[dict[str, Any]],
    out: str,
    changed: bool,
    seconds: float,
    retry_rows: list[dict[str, Any]],
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 160))
    t = Table(title="ladder recommendations (80 % intervals)", show_lines=False)
    for col in (
        "segment",
        "stage",
        "day now → proposed (channel)",
        "Δ net value EUR",
        "Δ DSO d",
        "Δ churn",
        "n sends",
        "confidence",
        "why",
    ):
        t.add_column(col, overflow="fold")
    for r in rows:
        whole = r["stage_number"] == -1
        if whole:
            move = ""
        elif r["proposed_offset_days"] is None:
            move = f"{r['current_offset_days']} → dropped"
        elif r["proposed_offset_days"] == r["current_offset_days"]:
            move = f"{r['current_offset_days']} (keep)"
        else:
            move = f"{r['current_offset_days']} → {r['proposed_offset_days']}"
        if not whole and r["proposed_channel"] and r["proposed_channel"] != r["current_channel"]:
            move += f", {r['current_channel']} → {r['proposed_channel']}"
        t.add_row(
            r["segment"],
            "all" if whole else f"{r['stage_number']} {r['stage_name']}",
            move,
            _fmt_iv(
                r["delta_net_value_amount"],
                r["delta_net_value_amount_low"],
                r["delta_net_value_amount_high"],
                0,
            ),
            _fmt_iv(r["delta_dso_days"], r["delta_dso_days_low"], r["delta_dso_days_high"], 2),
            _fmt_iv(
                r["delta_involuntary_churn"],
                r["delta_involuntary_churn_low"],
                r["delta_involuntary_churn_high"],
                1,
            ),
            f"{r['evidence_count_events']:,}",
            r["confidence"],
            r["rationale"],
        )
    console.print(t)
    if retry_rows:
        # failed payments (fit.payment_retries) and bouncing channels (fit.channel_changes)
        r2 = Table(title="retry schedules and channel advice", show_lines=False)
        for col in ("failure reason / stage", "now", "proposed", "n", "why"):
            r2.add_column(col, overflow="fold")
        for r in retry_rows:
            if r["advice"] == "retry_schedule":
                what = r["failure_reason"]
                n = f"{r['evidence_count_attempts']:,} retries"
                proposed = r["proposed"] if r["is_changed"] else f"{r['proposed']} (keep)"
            else:
                what = f"{r['segment']} stage {r['stage_number']}"
                n = f"{r['evidence_count_sends']:,} sends"
                proposed = (
                    f"{r['proposed']} (in the proposed ladder)"
                    if r["is_changed"]
                    else f"{r['proposed']} (advice only)"
                )
            r2.add_row(what, r["current"], proposed, n, r["rationale"])
        console.print(r2)
    tables = "marts.ladder_recommendations" + (
        ", marts.retry_recommendations" if retry_rows else ""
    )
    verdict = "proposed ladder" if changed else "no change recommended; ladder"
    console.print(f"{verdict} written to {out}; evidence in {tables} ({seconds:.1f} s)")
