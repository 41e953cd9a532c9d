"""Mapping profiles: built-ins load, YAML is validated with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinsight.errors import ConfigError
from arinsight.ingest.profiles import (
    builtin_names,
    get_profile,
    load_profile_file,
    resolve_profile,
)

PROFILES = Path(__file__).parent / "data" / "profiles"


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_builtins_are_canonical_german_erp_cleared_items() -> None:
    assert builtin_names() == ["canonical", "cleared_items", "german_erp"]
    for name in builtin_names():
        assert get_profile(name).name == name


def test_german_erp_reads_german_exports() -> None:
    p = get_profile("german_erp")
    assert (p.csv.delimiter, p.csv.decimal, p.csv.thousands) == (";", ",", ".")
    assert p.date_formats == ["%d.%m.%Y"]
    inv = p.tables["invoices"].rename
    assert inv["Rechnungsnummer"] == "invoice_id"
    assert inv["Fälligkeit"] == "due_date"
    assert p.tables["payments"].rename["Zahlungseingang"] == "paid_at"
    assert p.tables["dunning_events"].rename["Mahnstufe"] == "stage"
    assert p.table_for(Path("Rechnungen_2024.CSV")) == "invoices"


def test_cleared_items_derives_payments_and_customers() -> None:
    p = get_profile("cleared_items")
    assert set(p.tables["invoices"].derive) == {"customers", "payments"}


def test_canonical_matches_table_file_names() -> None:
    p = get_profile("canonical")
    assert p.table_for(Path("dunning_events.parquet")) == "dunning_events"
    assert p.table_for(Path("invoices.xlsx")) == "invoices"
    assert p.table_for(Path("rechnungen.csv")) is None


def test_unknown_key_names_the_key_and_suggests(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: x\ntables:\n  invoices:\n    files: [a.csv]\n    renmae: {Nr: invoice_id}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_profile_file(f)
    msg = str(err.value)
    assert str(f) in msg
    assert "tables.invoices.renmae: unknown key 'renmae' (did you mean 'rename'?)" in msg
    assert "allowed here: files, format, sheet, rename" in msg


def test_unknown_top_level_key(tmp_path: Path) -> None:
    f = _write(tmp_path, "name: x\ndelimiter: ';'\ntables:\n  invoices:\n    files: [a.csv]\n")
    with pytest.raises(ConfigError, match=r"delimiter: unknown key 'delimiter'"):
        load_profile_file(f)


def test_rename_target_must_be_a_column(tmp_path: Path) -> None:
    f = _write(
        tmp_path, "name: x\ntables:\n  invoices:\n    files: [a.csv]\n    rename: {Betrag: amout}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"tables.invoices.rename: 'Betrag' → 'amout' is not a "
        r"column of invoices \(did you mean 'amount'\?\)",
    ):
        load_profile_file(f)


def test_unknown_table(tmp_path: Path) -> None:
    f = _write(tmp_path, "name: x\ntables:\n  rechnungen:\n    files: [a.csv]\n")
    with pytest.raises(ConfigError, match=r"tables.rechnungen: not a canonical table"):
        load_profile_file(f)


def test_derived_table_needs_its_required_columns(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: x\ntables:\n  invoices:\n    files: [a.csv]\n    derive:\n"
        "      payments:\n        columns: {invoice_id: invoice_id}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_profile_file(f)
    for col in ("payment_id", "paid_at", "amount"):
        assert f"required column {col!r} of payments" in str(err.value)


def test_same_decimal_and_thousands_separator(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: x\ncsv: {decimal: ',', thousands: ','}\ntables:\n  invoices:\n    files: [a.csv]\n",
    )
    with pytest.raises(ConfigError, match="csv: thousands and decimal separators are both ','"):
        load_profile_file(f)


def test_date_format_must_be_a_pattern(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: x\ndate_formats: ['dd.mm.yyyy']\ntables:\n  invoices:\n    files: [a.csv]\n",
    )
    with pytest.raises(ConfigError, match="'dd.mm.yyyy' is neither a strftime pattern"):
        load_profile_file(f)


def test_yes_no_keys_stay_strings(tmp_path: Path) -> None:
    # PyYAML's YAML 1.1 would read Yes/No as booleans; profiles mean the words.
    f = _write(
        tmp_path,
        "name: x\ntables:\n  invoices:\n    files: [a.csv]\n"
        "    value_maps:\n      is_disputed: {Yes: true, No: false, on: true}\n",
    )
    vm = load_profile_file(f).tables["invoices"].value_maps["is_disputed"]
    assert vm == {"Yes": True, "No": False, "on": True}


def test_extends_merges_over_the_parent() -> None:
    child = load_profile_file(PROFILES / "ibm_ar_ddmmyyyy.yaml")
    parent = load_profile_file(PROFILES / "ibm_ar_us.yaml")
    assert child.date_formats == ["%d/%m/%Y"] and parent.date_formats == ["%m/%d/%Y"]
    assert child.tables["invoices"].files == ["WA_AR_ddmmyyyy_variant.csv"]
    # everything not overridden comes from the parent
    assert child.tables["invoices"].rename == parent.tables["invoices"].rename
    assert child.tables["invoices"].derive == parent.tables["invoices"].derive


def test_extends_a_builtin(tmp_path: Path) -> None:
    f = _write(tmp_path, "name: mine\nextends: german_erp\ncsv: {encoding: cp1252}\n")
    p = load_profile_file(f)
    assert (p.name, p.csv.encoding, p.csv.delimiter) == ("mine", "cp1252", ";")


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "name: a\nextends: b.yaml\n", "a.yaml")
    _write(tmp_path, "name: b\nextends: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError, match="extends itself"):
        load_profile_file(tmp_path / "a.yaml")


def test_resolve_profile_by_name_or_path() -> None:
    assert resolve_profile("german_erp").name == "german_erp"
    assert resolve_profile(str(PROFILES / "ibm_ar_us.yaml")).name == "ibm_ar_us"
    with pytest.raises(ConfigError, match="unknown profile 'sap'; built-in profiles: canonical"):
        resolve_profile("sap")
    with pytest.raises(ConfigError, match="profile file not found"):
        resolve_profile("nope/missing.yaml")


def test_fingerprint_changes_with_content() -> None:
    us = load_profile_file(PROFILES / "ibm_ar_us.yaml")
    dd = load_profile_file(PROFILES / "ibm_ar_ddmmyyyy.yaml")
    assert us.fingerprint() != dd.fingerprint()
    assert us.label.startswith("ibm_ar_us@")
