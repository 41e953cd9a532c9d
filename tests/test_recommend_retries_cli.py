"""``arinsight recommend`` on a ledger with failed payments and bouncing reminders,
through the real CLI: the terminal's second table, ``marts.retry_recommendations``,
and where people read it (the dashboard's ladder page, the monthly review).

The world is the default one with the auto_pay / engagement blocks of
``tests/data/worlds/auto_pay_blocks.yaml``, changed in two ways whose effect we
know without the code: an expired card is updated exactly 30 days after the
failure (so the default retries, 3 and 7 days later, can never recover it: the
advice must be "no retry"), and every e-mail bounces with probability 0.3
(clearly above the 10 % threshold: each e-mail stage must be flagged, and no
other channel).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboard_support import find, run, table_rows, text_of

BLOCKS = Path(__file__).parent / "data" / "worlds" / "auto_pay_blocks.yaml"
EMAIL_BOUNCE = 0.3


def _default_ladder() -> str:
    from arinsight.config import default_path

    return str(default_path("ladder_default.yaml"))


LADDER = _default_ladder()


@pytest.fixture(scope="module")
def recommended(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from arinsight.config import deep_merge, default_path

    d = tmp_path_factory.mktemp("rec_retries")
    base = yaml.safe_load(Path(default_path("world_default.yaml")).read_text(encoding="utf-8"))
    world = deep_merge(
        deep_merge(base, yaml.safe_load(BLOCKS.read_text(encoding="utf-8"))),
        {
            "auto_pay": {"update_days": {"mean": 30, "sd": 0}},
            "engagement": {"channels": {"email": {"bounce": EMAIL_BOUNCE}}},
        },
    )
    (d / "world.yaml").write_text(yaml.safe_dump(world), encoding="utf-8")
    (d / "opts.yaml").write_text("bootstrap_draws: 40\nmin_group_invoices: 1000\n", "utf-8")
    sim = run(
        "simulate", "--world", str(d / "world.yaml"), "--months", "12", "--scale", "0.15",
        "--seed", "2", "--format", "csv", "--out", str(d / "ledger"),
    )  # fmt: skip
    (d / "ledger" / "truth.json").unlink()
    for f in (d / "ledger").glob("sim_*"):
        f.unlink()
    db = d / "w.duckdb"
    run("load", str(d / "ledger"), "--db", str(db))
    run("build", "--db", str(db))
    proc = wide(
        "recommend", "--db", str(db), "--out", str(d / "proposed.yaml"),
        "--options", str(d / "opts.yaml"), "--ladder", LADDER,
    )  # fmt: skip
    return {"dir": d, "db": db, "sim": sim.stdout, "stdout": proc.stdout}


def wide(*args: str) -> subprocess.CompletedProcess[str]:
    """``arinsight ARGS`` on a terminal wide enough that rich folds no rationale."""
    from dashboard_support import ARINSIGHT

    env = {**os.environ, "COLUMNS": "400"}
    proc = subprocess.run([ARINSIGHT, *args], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def _attempts(d: Path) -> list[dict[str, str]]:
    with (d / "ledger" / "payment_attempts.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _retries_after(d: Path, reason: str) -> int:
    """Retries (retry_number >= 1) whose previous attempt on the invoice failed for ``reason``,
    counted from the raw file."""
    by_invoice: dict[str, list[dict[str, str]]] = {}
    for a in _attempts(d):
        by_invoice.setdefault(a["invoice_id"], []).append(a)
    n = 0
    for atts in by_invoice.values():
        atts.sort(key=lambda a: int(a["retry_number"]))
        # every attempt but the last is followed by a retry
        n += sum(1 for p in atts[:-1] if p["outcome"] == "failed" and p["failure_reason"] == reason)
    return n


def _mart(db: Path) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("select * from marts.retry_recommendations")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def test_simulate_prints_the_optional_tables(recommended: dict[str, Any]) -> None:
    d = recommended["dir"]
    n_att = len(_attempts(d))
    with (d / "ledger" / "message_events.csv").open(encoding="utf-8") as f:
        n_msg = sum(1 for _ in f) - 1
    assert n_att > 0 and n_msg > 0
    assert f", {n_att:,} payment attempts, {n_msg:,} message events in " in recommended["sim"]


def test_terminal_shows_the_retry_and_channel_table(recommended: dict[str, Any]) -> None:
    out = recommended["stdout"]
    assert "ladder recommendations" in out
    assert "retry schedules and channel advice" in out
    table = out.split("retry schedules and channel advice", 1)[1]
    assert "card_expired" in table and "no retry" in table and "update-card email" in table
    # a bouncing stage: written into the proposed ladder when the search's evidence
    # carried the change, else advice only (tests/test_recommend_handover_channels.py)
    assert "letter (advice only)" in table or "letter (in the proposed ladder)" in table
    assert "marts.ladder_recommendations, marts.retry_recommendations" in out


def test_mart_holds_the_advice(recommended: dict[str, Any]) -> None:
    d, rows = recommended["dir"], _mart(recommended["db"])
    schedules = {r["failure_reason"]: r for r in rows if r["advice"] == "retry_schedule"}
    failed = {a["failure_reason"] for a in _attempts(d) if a["outcome"] == "failed"}
    assert set(schedules) == failed  # one row per reason seen, changed or kept
    exp = schedules["card_expired"]
    # the ladder in force has no retries block: the default 3 and 7 days (docs/payments.md)
    assert (exp["current"], exp["proposed"], exp["is_changed"]) == (
        "retry after 3, 7 d",
        "no retry",
        True,
    )
    assert exp["evidence_count_attempts"] == _retries_after(d, "card_expired")
    assert exp["segment"] == "all" and exp["stage_number"] is None
    # the proposed ladder carries the changed schedule
    from arinsight.config import load_ladder

    proposed = load_ladder(d / "proposed.yaml")
    assert proposed.retries is not None and proposed.retries.rule("card_expired").n_retries == 0
    channels = [r for r in rows if r["advice"] == "channel"]
    assert channels, "e-mail bounces 30 %: flagged"
    for r in channels:
        in_ladder = {s.stage: s.channel for s in proposed.for_segment(r["segment"])}.get(
            r["stage_number"]
        )
        assert (r["current"], r["proposed"]) == ("email", "letter")
        assert r["is_changed"] == (in_ladder == "letter")
        assert r["evidence_count_sends"] >= 50 and r["failure_reason"] is None
        assert r["segment"] in {"consumer", "enterprise", "smb"}
    # e-mail stages of the default ladder only
    from arinsight.config import load_ladder as _ll

    email_stages = {s.stage for s in _ll().default if s.channel == "email"}
    assert {r["stage_number"] for r in channels} <= email_stages


def test_ladder_page_lists_the_advice(recommended: dict[str, Any]) -> None:
    import dash

    from arinsight.dashboard import app as dash_app

    dash_app.create_app(recommended["db"])
    pages = {
        p["module"].split(".")[-1]: sys.modules[p["module"]] for p in dash.page_registry.values()
    }
    out = pages["ladder"].render("", None)
    rows = table_rows(find(out, "ld-retry-recommendations"))
    mart = _mart(recommended["db"])
    assert len(rows) == len(mart)
    exp = next(r for r in rows if r["what"] == "card_expired")
    assert exp["proposed"] == "no retry" and exp["current"] == "retry after 3, 7 d"
    assert any(
        r["proposed"] in ("letter (advice only)", "letter (in the proposed ladder)") for r in rows
    )
    # a segment's view keeps the ladder-wide schedules and that segment's channels only
    smb = table_rows(find(pages["ladder"].render("?segment=smb", None), "ld-retry-recommendations"))
    n_smb = sum(1 for r in mart if r["advice"] == "retry_schedule" or r["segment"] == "smb")
    assert len(smb) == n_smb
    assert "Retry schedules and channel advice" in text_of(out)


def test_review_lists_the_advice(recommended: dict[str, Any]) -> None:
    from arinsight.reports import review

    rv = review.start(None, str(recommended["db"]), plotly_renderer=None)
    html = str(review.recommendations_html(rv))
    assert "ai-retry-rec" in html and "card_expired" in html and "no retry" in html
    assert html.count('data-key="retry-') == len(_mart(recommended["db"]))


def test_without_attempts_nothing_is_shown(tmp_path: Path) -> None:
    """A ledger without payment attempts: an empty mart, no second table anywhere."""
    from arinsight.reports import review
    from dashboard_support import make_sample

    db = make_sample(tmp_path, months=12, scale=0.06)
    (tmp_path / "opts.yaml").write_text("bootstrap_draws: 20\nmin_group_invoices: 1000\n", "utf-8")
    proc = wide(
        "recommend", "--db", str(db), "--out", str(tmp_path / "p.yaml"),
        "--options", str(tmp_path / "opts.yaml"), "--ladder", LADDER,
    )  # fmt: skip
    assert "ladder recommendations" in proc.stdout
    assert "retry schedules" not in proc.stdout
    assert "retry_recommendations" not in proc.stdout
    assert _mart(db) == []
    rv = review.start(None, str(db), plotly_renderer=None)
    assert "ai-retry-rec" not in str(review.recommendations_html(rv))
