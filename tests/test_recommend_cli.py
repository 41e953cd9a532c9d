"""``arinsight recommend`` through the real entry point: output, mart, and clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arinsight.config import default_path, load_ladder

BIN = Path(sys.executable).parent / "arinsight"
LADDER = default_path("ladder_default.yaml")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def options_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recommender options with a smaller bootstrap (the suite's time budget)."""
    p = tmp_path_factory.mktemp("opts") / "recommender.yaml"
    p.write_text("bootstrap_draws: 40\nmin_group_invoices: 1000\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def sim_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default world, 12 months at scale 0.06, loaded and built with the simulation
    inputs (truth.json, sim_customer_archetypes) deleted before loading."""
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.sim import simulate_to_dir
    from arinsight.warehouse import Warehouse

    d = tmp_path_factory.mktemp("recsim")
    data = d / "ledger"
    simulate_to_dir(None, None, 12, 3, data, 0.06, ("parquet",))
    (data / "truth.json").unlink()
    for f in data.glob("sim_*"):
        f.unlink()
    db = d / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [data])
        build(wh.con, load_settings())
    return db


def test_recommend_writes_ladder_and_mart(
    sim_warehouse: Path, options_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "proposed.yaml"
    proc = run(
        "recommend",
        "--db",
        str(sim_warehouse),
        "--ladder",
        str(LADDER),
        "--out",
        str(out),
        "--json",
        "--options",
        str(options_file),
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    proposed = load_ladder(out)  # same format as the shipped ladder: it loads
    assert proposed.name.endswith("-recommended")
    import duckdb

    con = duckdb.connect(str(sim_warehouse), read_only=True)
    try:
        # learned without any simulator side table in the warehouse
        raw = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        assert not any(t.startswith("sim_") for t in raw)
        rows = con.execute(
            "select segment, stage_number, current_offset_days, proposed_offset_days, "
            "delta_net_value_amount_low, delta_net_value_amount, delta_net_value_amount_high, "
            "confidence, rationale from marts.ladder_recommendations"
        ).fetchall()
    finally:
        con.close()
    segments = {r[0] for r in rows}
    assert segments == {"consumer", "enterprise", "smb"}
    # one row per stage of the ladder in force and one for the whole ladder, per segment
    assert len(rows) == len(segments) * (len(load_ladder(LADDER).default) + 1)
    for r in rows:
        assert r[4] <= r[5] + 1e-6 <= r[6] + 2e-6  # low <= median <= high
        assert r[7] in {"high", "medium", "low", "none"}
        assert r[8]
    assert len(data["recommendations"]) == len(rows)
    # a segment left unchanged keeps the current days in the YAML
    for r in rows:
        if r[1] >= 0 and r[3] is not None:
            days = dict(
                zip(
                    [s.stage for s in proposed.for_segment(r[0])],
                    proposed.due_offsets(r[0]),
                    strict=True,
                )
            )
            assert days[r[1]] == r[3]


def test_recommend_prints_a_table(sim_warehouse: Path, options_file: Path, tmp_path: Path) -> None:
    proc = run(
        "recommend",
        "--db",
        str(sim_warehouse),
        "--ladder",
        str(LADDER),
        "--out",
        str(tmp_path / "p.yaml"),
        "--options",
        str(options_file),
    )
    assert proc.returncode == 0, proc.stderr
    assert "ladder recommendations" in proc.stdout
    assert "marts.ladder_recommendations" in proc.stdout


def test_no_warehouse_is_one_clear_line(tmp_path: Path) -> None:
    proc = run(
        "recommend",
        "--db",
        str(tmp_path / "none.duckdb"),
        "--ladder",
        str(LADDER),
        "--out",
        str(tmp_path / "p.yaml"),
    )
    assert proc.returncode != 0
    assert "no warehouse" in proc.stderr and "arinsight load" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_warehouse_says_load_and_build(tmp_path: Path) -> None:
    from arinsight.warehouse import Warehouse

    db = tmp_path / "empty.duckdb"
    Warehouse.open(db, read_only=False, create=True).close()
    proc = run(
        "recommend", "--db", str(db), "--ladder", str(LADDER), "--out", str(tmp_path / "p.yaml")
    )
    assert proc.returncode != 0
    assert "arinsight build" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.yaml").exists()


def test_too_small_warehouse_says_so(ledger_warehouse: Callable[..., Any], tmp_path: Path) -> None:
    customers = [{"customer_id": "C1", "segment": "smb", "customer_type": "b2b"}]
    invoices = [
        {
            "invoice_id": f"I{i}",
            "customer_id": "C1",
            "issue_date": "2024-01-0" + str(i),
            "due_date": "2024-01-2" + str(i),
            "amount": 100,
        }
        for i in range(1, 6)
    ]
    payments = [{"payment_id": "P1", "invoice_id": "I1", "paid_at": "2024-01-25", "amount": 100}]
    wh = ledger_warehouse(customers=customers, invoices=invoices, payments=payments)
    db = wh.path
    wh.close()
    proc = run(
        "recommend", "--db", str(db), "--ladder", str(LADDER), "--out", str(tmp_path / "p.yaml")
    )
    assert proc.returncode != 0
    assert "too little history" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_without_a_ladder_in_force_says_what_to_run(sim_warehouse: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(sim_warehouse), read_only=True)
    try:
        stored = con.execute("select count(*) from meta.ladders").fetchone()
    finally:
        con.close()
    assert stored == (0,)  # nothing applied: no version in force
    proc = run("recommend", "--db", str(sim_warehouse), "--out", str(tmp_path / "p.yaml"))
    assert proc.returncode != 0
    assert "arinsight ladder apply" in proc.stderr and "--ladder" in proc.stderr


def test_help_is_documented() -> None:
    proc = run("recommend", "--help")
    assert proc.returncode == 0
    assert "--out" in proc.stdout and "marts.ladder_recommendations" in proc.stdout


def test_stored_ladder_in_force_is_used(
    sim_warehouse: Path, options_file: Path, tmp_path: Path
) -> None:
    # meta.ladders as `arinsight ladder apply` writes it: the version in force at the
    # end of the data is the greatest effective_date <= end (ties: greatest version);
    # version 3 takes effect after the data ends, so version 2 is the one in force
    import shutil

    import duckdb

    from arinsight.config import dump_ladder

    db = tmp_path / "w.duckdb"
    shutil.copy(sim_warehouse, db)
    text = dump_ladder(load_ladder(LADDER))
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "create table if not exists meta.ladders (version INTEGER, effective_date DATE, "
            "name VARCHAR, yaml_text VARCHAR, sha256 VARCHAR, applied_at TIMESTAMP)"
        )
        for version, eff in ((1, "2020-01-01"), (2, "2023-06-01"), (3, "2099-01-01")):
            con.execute(
                "insert into meta.ladders (version, effective_date, name, yaml_text, sha256, "
                "applied_at) values (?, ?, 'default', ?, 'x', now())",
                [version, eff, text if version == 2 else "default: [nonsense"],
            )
    finally:
        con.close()
    proc = run(
        "recommend",
        "--db",
        str(db),
        "--out",
        str(tmp_path / "p.yaml"),
        "--json",
        "--options",
        str(options_file),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ladder_source"] == "meta.ladders version 2"


def test_replay_sample_is_stated_in_the_output(sim_warehouse: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(sim_warehouse), read_only=True)
    sizes = dict(
        con.sql("select segment, count(*) from marts.fct_ladder_customers group by 1").fetchall()
    )
    con.close()
    largest = max(sizes, key=lambda s: sizes[s])
    cap = sizes[largest] // 2  # the largest segment is replayed on about half its customers
    opts = tmp_path / "opts.yaml"
    opts.write_text(
        f"bootstrap_draws: 40\nmin_group_invoices: 1000\nreplay_max_customers: {cap}\n",
        encoding="utf-8",
    )
    args = ["--db", str(sim_warehouse), "--ladder", str(LADDER), "--options", str(opts)]
    proc = run("recommend", *args, "--out", str(tmp_path / "p.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sample = data["fit"]["replay_sample"][largest]
    assert sample["customers"] == sizes[largest]
    # rounding per behaviour stratum moves the sample size by at most one per stratum
    assert abs(sample["sampled"] - cap) <= 4
    whole = next(
        r for r in data["recommendations"] if r["segment"] == largest and r["stage_number"] == -1
    )
    assert f"stratified sample of {sample['sampled']:,} of {sizes[largest]:,}" in whole["rationale"]
    # segments within the cap are replayed whole and say nothing of a sample
    assert all(seg in data["fit"]["replay_sample"] for seg in sizes if sizes[seg] > cap)
    assert largest in data["fit"]["replay_sample"]
