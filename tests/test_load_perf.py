"""Load throughput at scale (a benchmark, not a timed test): ARINSIGHT_PERF=1 to run.

Synthesises a ledger of N invoices (ARINSIGHT_PERF_INVOICES, default 1,000,000)
with about 0.95 N payments, 2.5 N dunning events and 0.05 N credit notes, writes
it twice — canonical CSV and the same rows as a German ERP export (semicolon,
decimal comma with thousands dots, dd.mm.yyyy, German headers, credit notes as
negative invoices) — then times `arinsight load` for each, `arinsight build`
and `arinsight check`, prints rows/s, and checks both loads give the same raw
tables. Timings are printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from arinsight.warehouse import Warehouse

pytestmark = pytest.mark.skipif(
    os.environ.get("ARINSIGHT_PERF") != "1", reason="benchmark: set ARINSIGHT_PERF=1"
)

SEGMENTS = np.array(["enterprise", "smb", "consumer"])
CHANNELS = np.array(["email", "letter", "letter", "letter", "collection_agency"])
STAGE_NAMES = np.array(["Zahlungserinnerung", "1. Mahnung", "2. Mahnung", "3. Mahnung", "Inkasso"])


def synthesize(n: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """A canonical ledger of ``n`` invoices, vectorised (no per-row Python)."""
    rng = np.random.default_rng(seed)
    n_cust = max(10, n // 20)
    cust_ids = pl.Series([f"C{i:07d}" for i in range(n_cust)])
    customers = pl.DataFrame(
        {
            "customer_id": cust_ids,
            "segment": SEGMENTS[rng.integers(0, 3, n_cust)],
            "name": "Kunde " + cust_ids,
            "country": "DE",
        }
    )
    issue = np.datetime64("2023-01-01") + rng.integers(0, 700, n).astype("timedelta64[D]")
    amount = np.round(rng.lognormal(5, 1.2, n), 2)
    inv_ids = pl.Series([f"R{i:09d}" for i in range(n)])
    invoices = pl.DataFrame(
        {
            "invoice_id": inv_ids,
            "customer_id": cust_ids.gather(rng.integers(0, n_cust, n)),
            "issue_date": issue,
            "due_date": issue + np.timedelta64(30, "D"),
            "amount": amount,
            "is_disputed": rng.random(n) < 0.03,
        }
    )
    paid = rng.random(n) < 0.95
    payments = pl.DataFrame(
        {
            "payment_id": "P" + inv_ids,
            "invoice_id": inv_ids,
            "paid_at": issue + rng.gamma(2.0, 18.0, n).astype(int).astype("timedelta64[D]"),
            "amount": amount,
        }
    ).filter(pl.Series(paid))
    k = rng.integers(0, 6, n)
    idx = np.repeat(np.arange(n), k)
    stage = np.arange(idx.size) - np.repeat(np.cumsum(k) - k, k)
    events = pl.DataFrame(
        {
            "event_id": [f"E{i:010d}" for i in range(idx.size)],
            "invoice_id": inv_ids.gather(idx),
            "stage": stage,
            "sent_at": issue[idx] + (27 + 10 * stage).astype("timedelta64[D]"),
            "channel": CHANNELS[np.minimum(stage, 4)],
            "stage_name": STAGE_NAMES[np.minimum(stage, 4)],
            "fee": np.where(stage >= 2, 5.0, 0.0),
        }
    )
    n_adj = n // 20
    ai = rng.choice(n, n_adj, replace=False)
    adjustments = pl.DataFrame(
        {
            "adjustment_id": [f"G{i:08d}" for i in range(n_adj)],
            "invoice_id": inv_ids.gather(ai),
            "adjusted_at": issue[ai] + np.timedelta64(5, "D"),
            "amount": np.round(amount[ai] * 0.1, 2),
            "kind": "credit_note",
        }
    )
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "adjustments": adjustments,
        "dunning_events": events,
    }


def _de_amount(col: str) -> pl.Expr:
    """12345.6 → "12.345,60" (decimal comma, thousands dots)."""
    cents = (pl.col(col).abs() * 100).round(0).cast(pl.Int64)
    whole, frac = cents // 100, (cents % 100).cast(pl.String).str.zfill(2)
    groups = (
        pl.when(whole >= 1_000_000)
        .then(
            pl.format(
                "{}.{}.{}",
                whole // 1_000_000,
                ((whole // 1000) % 1000).cast(pl.String).str.zfill(3),
                (whole % 1000).cast(pl.String).str.zfill(3),
            )
        )
        .when(whole >= 1000)
        .then(pl.format("{}.{}", whole // 1000, (whole % 1000).cast(pl.String).str.zfill(3)))
        .otherwise(whole.cast(pl.String))
    )
    sign = pl.when(pl.col(col) < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.format("{}{},{}", sign, groups, frac)


def _de_date(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%d.%m.%Y")


def write_german(t: dict[str, pl.DataFrame], d: Path) -> None:
    """The same ledger as german_erp files; credit notes as negative invoices."""
    d.mkdir(parents=True)
    opts = {"separator": ";"}
    t["customers"].select(
        Kundennummer="customer_id", Segment="segment", Kundenname="name", Land="country"
    ).write_csv(d / "kunden.csv", **opts)
    inv = t["invoices"].select(
        Rechnungsnummer="invoice_id",
        Kundennummer="customer_id",
        Rechnungsdatum=_de_date("issue_date"),
        Fälligkeit=_de_date("due_date"),
        Betrag=_de_amount("amount"),
        Strittig=pl.when(pl.col("is_disputed")).then(pl.lit("Ja")).otherwise(pl.lit("Nein")),
        Bezugsrechnung=pl.lit(""),
    )
    credits = (
        t["adjustments"]
        .join(t["invoices"].select("invoice_id", "customer_id"), on="invoice_id")
        .select(
            Rechnungsnummer="adjustment_id",
            Kundennummer="customer_id",
            Rechnungsdatum=_de_date("adjusted_at"),
            Fälligkeit=_de_date("adjusted_at"),
            Betrag=pl.format("-{}", _de_amount("amount")),
            Strittig=pl.lit("Nein"),
            Bezugsrechnung="invoice_id",
        )
    )
    pl.concat([inv, credits]).write_csv(d / "rechnungen.csv", **opts)
    t["payments"].select(
        Zahlungsnummer="payment_id",
        Rechnungsnummer="invoice_id",
        Zahlungseingang=_de_date("paid_at"),
        Betrag=_de_amount("amount"),
    ).write_csv(d / "zahlungen.csv", **opts)
    channel = {"email": "E-Mail", "letter": "Brief", "collection_agency": "Inkasso"}
    t["dunning_events"].select(
        Mahnungsnummer="event_id",
        Rechnungsnummer="invoice_id",
        Mahnstufe="stage",
        Mahndatum=_de_date("sent_at"),
        Kanal=pl.col("channel").replace_strict(channel),
        Bezeichnung="stage_name",
        Mahngebühr=_de_amount("fee"),
    ).write_csv(d / "mahnungen.csv", **opts)


def _run(*args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "arinsight", *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return seconds, proc.stdout + proc.stderr


def test_load_throughput_canonical_and_german_erp(tmp_path: Path) -> None:
    n = int(os.environ.get("ARINSIGHT_PERF_INVOICES", "1000000"))
    tables = synthesize(n)
    canon = tmp_path / "canonical"
    canon.mkdir()
    for name, df in tables.items():
        df.write_csv(canon / f"{name}.csv")
    write_german(tables, tmp_path / "german")
    rows = sum(df.height for df in tables.values())
    report = [f"ledger: {n:,} invoices, {rows:,} rows in 5 tables"]
    dbs = {}
    for label, src, profile in (
        ("canonical", canon, "canonical"),
        ("german_erp", tmp_path / "german", "german_erp"),
    ):
        db = tmp_path / f"{label}.duckdb"
        seconds, out = _run("load", str(src), "--profile", profile, "--db", str(db))
        report.append(f"load {label:<11} {seconds:6.2f} s  {rows / seconds:>12,.0f} rows/s")
        dbs[label] = db
    seconds, out = _run("build", "--db", str(dbs["canonical"]), "--accept-quarantine")
    report.append(f"build              {seconds:6.2f} s")
    seconds, out = _run("check", "--db", str(dbs["canonical"]), "--out", str(tmp_path / "quality"))
    report.append(f"check              {seconds:6.2f} s")
    print("\n" + "\n".join(report))

    with Warehouse.open(dbs["canonical"]) as a, Warehouse.open(dbs["german_erp"]) as b:
        for t in ("customers", "invoices", "payments", "adjustments", "dunning_events"):
            q = (
                f"select count(*), sum(hash(columns(* exclude (_load_id, _source_line)))) "
                f"from raw.{t}"
            )
            assert a.con.execute(q).fetchall() == b.con.execute(q).fetchall(), t
        loads = a.con.execute(
            "select sum(rows_read), sum(rows_loaded + rows_quarantined) from meta.loads"
        ).fetchall()[0]
        assert loads[0] == loads[1] == rows
