"""arinsight.metrics readers and headline() over the DSO test ledger."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import polars as pl
import pytest

import test_dso as ledger
from arinsight import metrics
from arinsight.errors import ArinsightError
from arinsight.warehouse import Warehouse

HEADLINE_KEYS = {
    "dso_days",
    "dso_change_days",
    "best_possible_dso_days",
    "add_days",
    "ar_amount",
    "current_ar_amount",
    "overdue_ar_amount",
    "overdue_pct",
    "sales_window_amount",
    "count_open_invoices",
    "is_window_complete",
}
NEW_KEYS = {
    "countback_dso_days",
    "cei_pct",
    "weighted_dbt_days",
    "aging_pct",
    "churn_pct",
    "involuntary_churn_pct",
    "count_guardrail_findings",
}


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    w = ledger._build(
        tmp_path_factory.mktemp("readers"),
        customers=ledger.CUSTOMERS,
        invoices=ledger.INVOICES,
        payments=ledger.PAYMENTS,
        adjustments=ledger.ADJUSTMENTS,
    )
    yield w
    w.close()


@pytest.mark.parametrize(
    ("reader", "keys"),
    [
        (metrics.dso_monthly, ("month_end_date", "segment")),
        (metrics.aging_snapshots, ("month_end_date", "segment", "aging_bucket")),
        (metrics.aging_roll_rates, ("month_end_date", "segment", "from_aging_bucket")),
        (metrics.invoice_lifecycle, ("invoice_id",)),
        (metrics.stage_conversion, ("month_end_date", "segment", "stage_number")),
        (metrics.stage_survival, ("segment", "stage_number", "days_since_send")),
        (metrics.recovery, ("month_end_date", "segment")),
        (metrics.churn, ("month_end_date", "segment")),
        (metrics.churn_by_stage, ("month_end_date", "segment", "highest_stage_number")),
        (metrics.customers, ("customer_id",)),
        (metrics.guardrails, ("month_end_date", "segment", "finding_kind")),
        (metrics.guardrail_findings, ("event_id", "finding_kind")),
    ],
)
def test_readers_return_polars_with_their_keys(
    wh: Warehouse, reader: object, keys: tuple[str, ...]
) -> None:
    frame = reader(wh)  # type: ignore[operator]
    assert isinstance(frame, pl.DataFrame)
    assert set(keys) <= set(frame.columns)
    if frame.height:
        assert frame.select(keys).is_duplicated().sum() == 0


def test_segment_filter(wh: Warehouse) -> None:
    got = metrics.dso_monthly(wh, segment=ledger.SMB)
    assert set(got["segment"]) == {ledger.SMB}
    aging = metrics.aging_snapshots(wh, segment="all", month_end=ledger.MAR31)
    assert aging["aging_bucket"].to_list() == list(metrics.AGING_BUCKETS)
    assert aging["open_amount"].sum() == ledger.AR_MAR


def test_customers_as_of_picks_a_month_end(wh: Warehouse) -> None:
    got = metrics.customers(wh, as_of=dt.date(2024, 3, 15))
    assert set(got["month_end_date"]) == {ledger.FEB29}
    assert set(got["customer_id"]) == {"C1"}  # C2's first invoice is in March


def test_headline_keeps_its_keys_and_adds_figures(wh: Warehouse) -> None:
    data = metrics.headline(wh)
    assert data["as_of"] == ledger.MAR31.isoformat()
    everything = data["segments"]["all"]
    assert set(everything) >= HEADLINE_KEYS | NEW_KEYS
    assert everything["dso_days"] == pytest.approx(ledger.DSO_90_MAR)
    assert everything["countback_dso_days"] == pytest.approx(ledger.COUNTBACK_MAR)
    assert everything["cei_pct"] == pytest.approx(ledger.CEI_MAR)
    assert everything["weighted_dbt_days"] == pytest.approx(ledger.DBT_MAR)
    assert sum(everything["aging_pct"].values()) == pytest.approx(100.0)
    assert list(everything["aging_pct"]) == list(metrics.AGING_BUCKETS)
    json.dumps(data)  # plain JSON-able data
    assert list(data["segments"]) == [ledger.ENT, ledger.SMB, "all"]


def test_headline_errors(wh: Warehouse) -> None:
    with pytest.raises(ArinsightError, match="unknown segment"):
        metrics.headline(wh, segment="retail")
    with pytest.raises(ArinsightError, match="no month end on or before"):
        metrics.headline(wh, as_of=dt.date(2023, 1, 1))
