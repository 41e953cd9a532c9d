"""Write a canonical ledger again as a German ERP export (profile ``german_erp``).

Semicolons, decimal comma with thousands dots, dd.mm.yyyy dates, German
headers, credit notes as negative invoices (write-offs are not part of such an
export). Used by ``bench/run.py`` to time `arinsight load --profile german_erp`
on the same rows as the canonical set.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def read_canonical(directory: Path) -> dict[str, pl.DataFrame]:
    names = ("customers", "invoices", "payments", "adjustments", "dunning_events")
    frames = {n: pl.read_parquet(directory / f"{n}.parquet") for n in names}
    frames["adjustments"] = frames["adjustments"].filter(pl.col("kind") == "credit_note")
    return frames


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
