"""The whole build on Spark (local mode) gives the DuckDB build's marts, row for row.

One SparkSession for the module (start-up takes ~10 s on an idle machine). A
small simulated ledger, with a share of its invoices moved to USD and a weekly
USD rate so that the currency conversion and its rounding run too, is built
twice: by the DuckDB runner (through the loader, as users do) and by
``arinsight build --engine spark`` (through the CLI's entry function, in this
process, on the module's session). Every mart must agree: same columns, same
rows; amounts to the cent, ratios and days to 1e-9.

Without pyspark or Java these tests skip, except under ``CI=true`` where they
fail: CI installs both (``.ci/run``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arinsight.models import discover_models
from arinsight.models.spark import SparkUnavailable, require_spark

pytestmark = pytest.mark.slow

MARTS = [m for m in discover_models() if m.layer == "marts"]
#: Every 7th invoice is billed in USD; one rate per Monday (2 decimals would
#: hide rounding: 8 are used, as the contract allows).
USD_EVERY = 7
USD_RATE_START = decimal.Decimal("0.91234567")
USD_RATE_STEP = decimal.Decimal("0.00012345")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        require_spark()
    except SparkUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: .ci/run installs both)")
        pytest.skip(str(exc))
    from arinsight.models.spark import spark_session

    tables = tmp_path_factory.mktemp("spark-warehouse")  # for the saved-tables test
    session = spark_session(
        "local[2]",
        {"spark.sql.shuffle.partitions": "2", "spark.sql.warehouse.dir": str(tables)},
    )
    yield session
    session.stop()


def _add_usd(ledger: Path) -> int:
    """Move every USD_EVERY-th invoice to USD and write weekly USD rates; return their count."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    invoices = pq.read_table(ledger / "invoices.parquet")
    is_usd = pa.array([i % USD_EVERY == 0 for i in range(invoices.num_rows)])
    currency = pc.if_else(is_usd, pa.scalar("USD"), invoices["currency"].cast(pa.string()))
    invoices = invoices.set_column(
        invoices.schema.get_field_index("currency"), "currency", currency
    )
    pq.write_table(invoices, ledger / "invoices.parquet")
    first = min(invoices["issue_date"].to_pylist())
    last = max(invoices["issue_date"].to_pylist())
    monday = first - dt.timedelta(days=first.weekday())
    dates, rates = [], []
    while monday <= last:
        dates.append(monday)
        rates.append(USD_RATE_START + USD_RATE_STEP * len(rates))
        monday += dt.timedelta(days=7)
    pq.write_table(
        pa.table(
            {
                "rate_date": pa.array(dates, pa.date32()),
                "currency": pa.array(["USD"] * len(dates)),
                "rate_to_reporting": pa.array(rates, pa.decimal128(18, 8)),
            }
        ),
        ledger / "fx_rates.parquet",
    )
    return sum(is_usd.to_pylist())


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arinsight.sim import simulate_to_dir

    out = tmp_path_factory.mktemp("ledger")
    # the default world plus automatic charges and message events, so that the
    # optional tables' marts (fct_payment_retries, fct_message_engagement) have rows
    import yaml

    from arinsight.config import deep_merge, default_path

    base = yaml.safe_load(Path(default_path("world_default.yaml")).read_text(encoding="utf-8"))
    blocks = Path(__file__).parent / "data" / "worlds" / "auto_pay_blocks.yaml"
    world = out.parent / f"{out.name}_world.yaml"
    world.write_text(
        yaml.safe_dump(deep_merge(base, yaml.safe_load(blocks.read_text(encoding="utf-8")))),
        encoding="utf-8",
    )
    simulate_to_dir(world=world, months=5, seed=3, out=out, scale=0.02, formats=("parquet",))
    assert _add_usd(out) > 0
    return out


@pytest.fixture(scope="module")
def duckdb_marts(ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arinsight.config import load_settings
    from arinsight.ingest import load_sources
    from arinsight.models import build
    from arinsight.warehouse import Warehouse

    db = tmp_path_factory.mktemp("duck") / "w.duckdb"
    with Warehouse.open(db, read_only=False, create=True) as wh:
        load_sources(wh.con, [ledger], "canonical")
        build(wh.con, load_settings())
    return db


@pytest.fixture(scope="module")
def spark_marts(
    spark: Any, ledger: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The marts of ``build --engine spark`` and what the command printed."""
    import contextlib
    import io

    from arinsight.cli import main

    out = tmp_path_factory.mktemp("spark") / "marts"
    printed = io.StringIO()
    # the console entry point exits with the command's status (click standalone mode)
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as status:
        main(["build", "--engine", "spark", "--input", str(ledger), "--output", str(out)])
    assert status.value.code in (0, None), printed.getvalue()
    return out, printed.getvalue()


def _same(a: Any, b: Any) -> bool:
    """Equal as the marts' units demand: cents for decimals, 1e-9 for doubles."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(float(a)) or math.isnan(float(b)):
            return math.isnan(float(a)) and math.isnan(float(b))
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return abs(decimal.Decimal(a) - decimal.Decimal(b)) < decimal.Decimal("0.005")
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.replace(tzinfo=None) == b.astimezone(dt.UTC).replace(tzinfo=None) or (
            a.astimezone(dt.UTC).replace(tzinfo=None) == b.replace(tzinfo=None)
        )
    return bool(a == b)


def _close(a: Any, b: Any) -> bool:
    """Nested dicts equal key for key, leaves as in :func:`_same`."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return _same(a, b)


def _rows(con: Any, relation: str, keys: tuple[str, ...], columns: list[str]) -> list[tuple]:
    order = ", ".join(keys)
    return con.execute(f"select {', '.join(columns)} from {relation} order by {order}").fetchall()


@pytest.mark.parametrize("mart", MARTS, ids=[m.name for m in MARTS])
def test_mart_matches_duckdb_row_for_row(
    mart: Any, duckdb_marts: Path, spark_marts: tuple[Path, str]
) -> None:
    import duckdb

    out, _ = spark_marts
    con = duckdb.connect()
    con.execute(f"attach '{duckdb_marts}' as duck (read_only)")
    files = sorted(str(p) for p in (out / mart.name).rglob("*.parquet"))
    assert files, f"no Parquet files for {mart.name} under {out}"
    con.read_parquet(files).create_view("spark_mart")
    columns = [r[0] for r in con.execute(f"describe duck.marts.{mart.name}").fetchall()]
    assert [r[0] for r in con.execute("describe spark_mart").fetchall()] == columns
    expected = _rows(con, f"duck.marts.{mart.name}", mart.keys, columns)
    got = _rows(con, "spark_mart", mart.keys, columns)
    assert len(got) == len(expected)
    if mart.name.startswith("fct_experiment_"):
        # no randomised experiment in this simulated ledger: both engines give no rows
        assert got == expected == []
        return
    assert expected, f"{mart.name} is empty on this ledger: the comparison would prove nothing"
    for want, have in zip(expected, got, strict=True):
        bad = [
            (col, w, h) for col, w, h in zip(columns, want, have, strict=True) if not _same(w, h)
        ]
        assert not bad, f"{mart.name} row {dict(zip(columns, want, strict=True))}: {bad}"


def test_usd_invoices_are_converted_at_their_weeks_rate(
    ledger: Path, spark_marts: tuple[Path, str]
) -> None:
    """The comparison covers conversion: recomputed here from the files, independently.

    A USD invoice issued on day d takes the rate of the Monday on or before d
    (each rate holds until the next), and amount x rate rounds half up to cents.
    """
    import duckdb
    import pyarrow.parquet as pq

    rates = {
        r["rate_date"]: r["rate_to_reporting"]
        for r in pq.read_table(ledger / "fx_rates.parquet").to_pylist()
    }
    expected = {}
    for inv in pq.read_table(ledger / "invoices.parquet").to_pylist():
        if inv["currency"] == "USD":
            monday = inv["issue_date"] - dt.timedelta(days=inv["issue_date"].weekday())
            converted = inv["amount"] * rates[monday]
            expected[inv["invoice_id"]] = converted.quantize(
                decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP
            )
    out, _ = spark_marts
    files = sorted(str(p) for p in (out / "fct_invoice_lifecycle").rglob("*.parquet"))
    got = dict(
        duckdb.connect()
        .execute("select invoice_id, invoice_amount from read_parquet(?)", [files])
        .fetchall()
    )
    assert len(expected) > 10
    assert {k: got[k] for k in expected} == expected


def test_cli_reports_every_model_and_the_output(spark_marts: tuple[Path, str]) -> None:
    out, printed = spark_marts
    for m in discover_models():
        assert f"✓ {m.layer}.{m.name}: " in printed
    assert f"wrote {len(MARTS)} marts (parquet) to {out}" in printed
    assert (out / "_arinsight_build.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".building")]


def test_readers_give_the_same_answers_from_parquet_marts(
    duckdb_marts: Path, spark_marts: tuple[Path, str]
) -> None:
    """``arinsight.connect(dir)`` serves the readers from Spark's Parquet output."""
    import polars as pl
    from polars.testing import assert_frame_equal

    import arinsight
    from arinsight import metrics

    out, _ = spark_marts
    with arinsight.connect(str(duckdb_marts)) as duck, arinsight.connect(str(out)) as lake:
        assert lake.has_marts()
        assert sorted(lake.tables("marts")) == sorted(m.name for m in MARTS)
        for reader in (metrics.dso_monthly, metrics.aging_snapshots, metrics.stage_conversion):
            want, have = reader(duck), reader(lake)
            assert want.height > 0
            # decimal widths differ (Spark sums to DECIMAL(28,2)): compare as floats
            as_float = [pl.col(pl.Decimal).cast(pl.Float64)]
            assert_frame_equal(
                want.with_columns(as_float),
                have.with_columns(as_float),
                check_dtypes=False,
                rel_tol=1e-9,
                abs_tol=1e-9,
            )
        # the figures agree; the load provenance (quarantine share, currency source)
        # lives in the warehouse's raw and meta tables, which Parquet marts do not carry
        provenance = ("quarantine", "warnings", "currency_source")
        figures = [
            {k: v for k, v in metrics.headline(w).items() if k not in provenance}
            for w in (lake, duck)
        ]
        assert _close(figures[0], figures[1])
        built = lake.sql("select count(*) as n from meta.builds").item()
        assert built == len(discover_models())


# --- the runner's rules on Spark: a failure writes nothing --------------------------

STG = """-- model: stg_invoices
-- grain: one row per invoice
-- keys: invoice_id
-- depends_on: raw.invoices

select invoice_id, amount from raw.invoices
"""

MART = """-- model: fct_total
-- grain: one row
-- keys: total_amount
-- depends_on: stg_invoices

select sum(amount) as total_amount, count(*) / 4 as quarter_count from stg_invoices
"""


def _project(root: Path, **files: str) -> Path:
    layout = {"staging/stg_invoices.sql": STG, "marts/fct_total.sql": MART}
    layout.update({k.replace("__", "/") + ".sql": v for k, v in files.items()})
    for rel, text in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "tests").mkdir(exist_ok=True)
    (root / "intermediate").mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="module")
def tiny_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three invoices of 10.00, 2.50 and 0.01 (total 12.51)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path_factory.mktemp("tiny")
    day = dt.date(2024, 2, 29)
    pq.write_table(pa.table({"customer_id": ["C1"], "segment": ["smb"]}), d / "customers.parquet")
    pq.write_table(
        pa.table(
            {
                "invoice_id": ["A", "B", "C"],
                "customer_id": ["C1"] * 3,
                "issue_date": [day] * 3,
                "due_date": [day + dt.timedelta(days=30)] * 3,
                "amount": pa.array(
                    [decimal.Decimal(x) for x in ("10.00", "2.50", "0.01")], pa.decimal128(18, 2)
                ),
            }
        ),
        d / "invoices.parquet",
    )
    return d


def _build(spark: Any, source: Path | str, root: Path, out: Path) -> Any:
    from arinsight.config import load_settings
    from arinsight.models.spark import build_on_spark

    return build_on_spark(spark, load_settings(), str(source), str(out), root=root)


def _total(out: Path) -> Any:
    import duckdb

    files = sorted(str(p) for p in (out / "fct_total").rglob("*.parquet"))
    return duckdb.connect().execute("select * from read_parquet(?)", [files]).fetchall()


def test_tiny_build_and_duckdb_division(spark: Any, tiny_ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _build(spark, tiny_ledger, _project(tmp_path / "sql"), out)
    # 10.00 + 2.50 + 0.01 = 12.51; DuckDB's `/` divides in floating point: 3 / 4 = 0.75
    assert _total(out) == [(decimal.Decimal("12.51"), 0.75)]
    assert [(name, rows) for name, rows, _ in res.models] == [("stg_invoices", 3), ("fct_total", 1)]


@pytest.mark.parametrize(
    ("files", "match"),
    [
        # the invoice id is constant: three rows share key 'X'
        (
            {
                "staging__stg_invoices": STG.replace(
                    "select invoice_id,", "select 'X' as invoice_id,"
                )
            },
            r"staging.stg_invoices: keys \(invoice_id\) must be unique.*2 duplicate",
        ),
        # a null key
        (
            {
                "staging__stg_invoices": STG.replace(
                    "select invoice_id,", "select null as invoice_id,"
                )
            },
            r"keys \(invoice_id\) must be unique and not null — 0 duplicate\(s\), 3 null\(s\)",
        ),
        # an assert that returns the total row (12.51 >= 10)
        (
            {
                "tests__assert_total_small": "-- the total stays below 10\n"
                "select * from marts.fct_total where total_amount >= 10\n"
            },
            r"assert assert_total_small failed \(the total stays below 10\)",
        ),
        # a column Spark cannot resolve
        (
            {"marts__fct_total": MART.replace("sum(amount)", "sum(no_such_column)")},
            r"model fct_total .* failed on Spark: .*no_such_column",
        ),
        # a construct with no Spark equivalent: named before Spark runs anything
        (
            {"marts__fct_total": MART.replace("select sum(amount)", "select dayofweek(amount)")},
            r"fct_total .*not portable to Spark SQL — dayofweek\(\)",
        ),
    ],
    ids=["duplicate-key", "null-key", "assert", "unknown-column", "not-portable"],
)
def test_a_failure_keeps_the_previous_marts(
    spark: Any, tiny_ledger: Path, tmp_path: Path, files: dict[str, str], match: str
) -> None:
    from arinsight.errors import BuildError

    out = tmp_path / "out"
    _build(spark, tiny_ledger, _project(tmp_path / "ok"), out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(BuildError, match=match):
        _build(spark, tiny_ledger, _project(tmp_path / "bad", **files), out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert _total(out) == [(decimal.Decimal("12.51"), 0.75)]


def test_rebuild_replaces_the_marts(spark: Any, tiny_ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(spark, tiny_ledger, _project(tmp_path / "one"), out)
    doubled = MART.replace("sum(amount)", "sum(amount) * 2")
    _build(spark, tiny_ledger, _project(tmp_path / "two", marts__fct_total=doubled), out)
    # 12.51 * 2 = 25.02
    assert _total(out) == [(decimal.Decimal("25.02"), 0.75)]


def test_input_can_be_a_database_of_spark_tables(
    spark: Any, tiny_ledger: Path, tmp_path: Path
) -> None:
    """Raw tables already in the lakehouse: ``--input <database>`` instead of a directory."""
    spark.sql("create database if not exists ar_lake")
    for table in ("customers", "invoices"):
        frame = spark.read.parquet(str(tiny_ledger / f"{table}.parquet"))
        frame.write.mode("overwrite").saveAsTable(f"ar_lake.{table}")
    out = tmp_path / "out"
    _build(spark, "ar_lake", _project(tmp_path / "sql"), out)
    # the same three invoices: 10.00 + 2.50 + 0.01 = 12.51, 3 / 4 = 0.75
    assert _total(out) == [(decimal.Decimal("12.51"), 0.75)]


def test_an_input_that_is_neither_directory_nor_database_is_named(
    spark: Any, tmp_path: Path
) -> None:
    from arinsight.errors import BuildError

    with pytest.raises(BuildError, match=r"--input no_such_lake: neither a directory"):
        _build(spark, "no_such_lake", _project(tmp_path / "sql"), tmp_path / "out")


def test_a_missing_required_column_is_named(spark: Any, tiny_ledger: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from arinsight.errors import BuildError

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(tiny_ledger / "customers.parquet", src)
    pq.write_table(
        pq.read_table(tiny_ledger / "invoices.parquet").drop_columns(["due_date"]),
        src / "invoices.parquet",
    )
    with pytest.raises(BuildError, match=r"invoices lacks required column\(s\) due_date"):
        _build(spark, src, _project(tmp_path / "sql"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
