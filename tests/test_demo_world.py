"""The sample company of ``arinsight demo``: the default world plus the auto_pay /
engagement blocks, so a new user sees failed payments and engagement; the default
world itself (``arinsight simulate`` without --world) is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import yaml

BIN = Path(sys.executable).parent / "arinsight"


def test_demo_world_is_the_default_world_plus_the_two_blocks() -> None:
    from arinsight.config import default_path
    from arinsight.sim import demo_world, load_world

    demo, plain = demo_world(), load_world()
    assert plain.auto_pay is None and plain.engagement is None
    assert demo.auto_pay is not None and demo.engagement is not None
    blocks = yaml.safe_load(
        Path(default_path("world_demo_payments.yaml")).read_text(encoding="utf-8")
    )
    assert set(blocks) == {"auto_pay", "engagement"}
    assert demo.auto_pay.failure["card_expired"] == blocks["auto_pay"]["failure"]["card_expired"]
    # everything else is the default world's
    skip = {"auto_pay", "engagement"}
    assert {k: v for k, v in demo.model_dump().items() if k not in skip} == {
        k: v for k, v in plain.model_dump().items() if k not in skip
    }


def test_demo_simulates_and_prints_attempts_and_messages(tmp_path: Path) -> None:
    data = tmp_path / "sample"
    proc = subprocess.run(
        [
            str(BIN),
            "demo",
            "--db",
            str(tmp_path / "w.duckdb"),
            "--data-dir",
            str(data),
            "--scale",
            "0.01",
            "--no-serve",
            "--no-report",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    n_att = pl.read_parquet(data / "payment_attempts.parquet").height
    n_msg = pl.read_parquet(data / "message_events.parquet").height
    assert n_att > 0 and n_msg > 0
    assert "simulate the demo world" in proc.stdout
    assert f", {n_att:,} payment attempts, {n_msg:,} message events in " in proc.stdout
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        failed = con.execute(
            "select count(*) from raw.payment_attempts where outcome = 'failed'"
        ).fetchone()
        retries = con.execute("select count(*) from marts.fct_payment_retries").fetchone()
    finally:
        con.close()
    assert failed is not None and failed[0] > 0
    assert retries is not None and retries[0] > 0
    # the demo recommends (ladder in force: the shipped default) and scores
    from arinsight.config import load_ladder

    proposed = load_ladder(tmp_path / "proposed_ladder.yaml")
    assert set(proposed.segments) <= {"consumer", "enterprise", "smb"}
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        recs = con.execute("select count(*) from marts.ladder_recommendations").fetchone()
        open_now = con.execute(
            "select count(*) from marts.fct_open_invoice_scores "
            "where scoring_date = (select max(scoring_date) from marts.fct_open_invoice_scores)"
        ).fetchone()
    finally:
        con.close()
    assert recs is not None and recs[0] > 0
    assert open_now is not None and f"{open_now[0]:,} open invoices scored at " in proc.stdout
