"""Settings are data: validated, and applied where they act."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arinsight.config import load_settings
from arinsight.errors import ConfigError
from arinsight.warehouse import Warehouse


def test_memory_limit_reaches_the_writing_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("duckdb_memory_limit: 512MB\n", encoding="utf-8")
    monkeypatch.setenv("ARINSIGHT_SETTINGS", str(cfg))
    load_settings.cache_clear()
    try:
        with Warehouse.open(tmp_path / "w.duckdb", read_only=False, create=True) as wh:
            (value,) = wh.con.execute("select current_setting('memory_limit')").fetchall()[0]
        # DuckDB reports 512 MB (10^6 bytes) in binary units: 512e6 / 2^20 = 488.2 MiB.
        assert value == "488.2 MiB"
    finally:
        load_settings.cache_clear()


def test_memory_limit_must_name_a_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("duckdb_memory_limit: lots\n", encoding="utf-8")
    monkeypatch.setenv("ARINSIGHT_SETTINGS", str(cfg))
    load_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="duckdb_memory_limit"):
            load_settings()
    finally:
        load_settings.cache_clear()


def _defaults() -> dict[str, Any]:
    """The shipped defaults, read independently of the loader."""
    from arinsight.config import default_path

    data: dict[str, Any] = yaml.safe_load(default_path("settings.yaml").read_text("utf-8"))
    return data


def test_a_partial_net_value_override_merges_deeply(tmp_path: Path) -> None:
    # Defect: a user file replaced whole top-level keys, so a file changing one
    # channel cost failed validation (net_value's other fields went missing).
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("net_value:\n  channel_cost:\n    letter: 1.5\n", encoding="utf-8")
    s = load_settings(str(cfg))
    defaults = _defaults()["net_value"]
    assert s.net_value.channel_cost["letter"] == 1.5
    assert s.net_value.channel_cost["email"] == defaults["channel_cost"]["email"]
    assert s.net_value.cost_of_capital_pct == defaults["cost_of_capital_pct"]
    assert s.net_value.customer_lifetime_value == defaults["customer_lifetime_value"]
    assert s.dso_window_days == _defaults()["dso_window_days"]


def test_unknown_keys_get_a_did_you_mean_and_every_problem_is_listed(tmp_path: Path) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text(
        "dso_windw_days: 30\nmax_quarantine_pct: 200\nnet_value:\n  agency_comission_pct: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(str(cfg))
    lines = str(err.value).splitlines()
    assert lines[0] == f"{cfg}: invalid settings (3 problems):"
    assert sorted(ln.strip().split(":")[0] for ln in lines[1:]) == [
        "dso_windw_days",
        "max_quarantine_pct",
        "net_value.agency_comission_pct",
    ]
    text = str(err.value)
    assert "unknown key 'dso_windw_days' (did you mean 'dso_window_days'?)" in text
    assert "(did you mean 'agency_commission_pct'?)" in text


def test_invalid_yaml_is_one_line_with_the_position(tmp_path: Path) -> None:
    cfg = tmp_path / "arinsight.yaml"
    cfg.write_text("a: [1,\nb: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(str(cfg))
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{cfg} line 3, column 1: not valid YAML")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_settings_file_by_flag_or_environment(tmp_path: Path, how: str) -> None:
    # max_quarantine_pct: 50 lets the build publish a load with 1 of 3 invoices
    # quarantined (33.3 %), which the default (1.0 %) refuses.
    import os
    import subprocess
    import sys

    arinsight = str(Path(sys.executable).parent / "arinsight")
    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        "I1,C1,2024-01-15,2024-02-14,100\nI2,C1,2024-01-15,2024-02-14,100\n"
        "I3,C1,2024-01-15,2024-02-14,abc\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "lenient.yaml"
    cfg.write_text("max_quarantine_pct: 50\n", encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    env = {k: v for k, v in os.environ.items() if k != "ARINSIGHT_SETTINGS"}
    load = subprocess.run([arinsight, "load", str(tmp_path), "--db", db, "-q"], env=env)
    assert load.returncode == 3  # loaded, with quarantined rows (docs/cli.md)
    refused = subprocess.run(
        [arinsight, "build", "--db", db], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "quarantine above 1.0 %" in refused.stderr
    extra = ["--settings", str(cfg)] if how == "flag" else []
    env2 = {**env, "ARINSIGHT_SETTINGS": str(cfg)} if how == "env" else env
    ok = subprocess.run(
        [arinsight, "build", "--db", db, "-q", *extra], env=env2, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr


def test_a_profile_reports_every_problem_in_one_run(tmp_path: Path) -> None:
    # Defect: a profile with an unknown key showed only that; its mapping
    # problems surfaced one run later. Three problems, all in the first error.
    from arinsight.ingest.profiles import load_profile_file

    prof = tmp_path / "mine.yaml"
    prof.write_text(
        "name: mine\nextends: canonical\ncsv:\n  delimitor: ';'\n"
        "tables:\n  invoices:\n    files: ['rechnungen*.csv']\n"
        "    rename:\n      Betrag: amout\n      Datum: issue_dat\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_profile_file(prof)
    lines = str(err.value).splitlines()
    assert lines[0] == f"{prof}: invalid mapping profile:"
    assert len(lines) == 1 + 3
    assert "csv.delimitor: unknown key 'delimitor' (did you mean 'delimiter'?)" in lines[1]
    assert "'Betrag' → 'amout' is not a column of invoices (did you mean 'amount'?)" in lines[2]
    assert (
        "'Datum' → 'issue_dat' is not a column of invoices (did you mean 'issue_date'?)"
        in (lines[3])
    )
