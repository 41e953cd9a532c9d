"""Ladder versions stored in the warehouse (``meta.ladders``, ``meta.ladder_stages``).

A version is a ladder YAML applied from an effective date on. The version in
force on a date is the one with the greatest ``effective_date <= date`` (ties:
the greatest version). Applying the same YAML text with the same effective date
again changes nothing. ``meta.ladder_stages`` holds each version's stages with
anchors resolved to offsets from the due date (segment ``'*'`` = the default
stages), which is how the SQL marts join the ladder in force at an event's date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from arinsight.config import Ladder, _validate, resolve_offsets
from arinsight.errors import ConfigError

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from arinsight.warehouse import Warehouse

#: Segment key of the default stages in ``meta.ladder_stages``.
DEFAULT_SEGMENT = "*"


def _con(wh_or_con: Warehouse | duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    from arinsight.warehouse import Warehouse

    return wh_or_con.con if isinstance(wh_or_con, Warehouse) else wh_or_con


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'meta' and table_name = 'ladders'"
    ).fetchall()
    return bool(rows[0][0])


def parse_ladder_text(text: str, source: str) -> Ladder:
    """Validate ladder YAML text.

    Raises:
        ConfigError: not YAML, or not a valid ladder (naming ``source`` and the key).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    ladder: Ladder = _validate(Ladder, data, source)
    return ladder


def sha256_text(text: str) -> str:
    """Hex sha256 of the UTF-8 text (what ``meta.ladders.sha256`` holds)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Applied:
    """Outcome of :func:`apply_ladder`: the version, and whether it is new."""

    version: int
    effective_date: dt.date
    name: str
    sha256: str
    is_new: bool
    #: segments whose expected effect (marts.ladder_recommendations) was stored
    count_expectations: int = 0


def stage_rows(ladder: Ladder, version: int) -> list[tuple[Any, ...]]:
    """``meta.ladder_stages`` rows of ``ladder`` (offsets resolved from the due date)."""
    rows: list[tuple[Any, ...]] = []
    for segment, stages in [(DEFAULT_SEGMENT, ladder.default), *ladder.segments.items()]:
        for s, offset in zip(stages, resolve_offsets(stages), strict=True):
            rows.append((version, segment, s.stage, s.name, offset, s.channel, s.fee))
    return rows


def apply_ladder(
    wh_or_con: Warehouse | duckdb.DuckDBPyConnection,
    yaml_text: str,
    effective: dt.date,
    source: str = "ladder",
) -> Applied:
    """Record ``yaml_text`` as a ladder version in force from ``effective`` on.

    Idempotent: the same text (same sha256) with the same effective date returns
    the existing version and writes nothing.

    Raises:
        ConfigError: the text is not a valid ladder.
    """
    from arinsight.ladder.expectations import record_expectations
    from arinsight.warehouse import META_DDL, transaction

    ladder = parse_ladder_text(yaml_text, source)
    digest = sha256_text(yaml_text)
    con = _con(wh_or_con)
    for ddl in META_DDL:
        con.execute(ddl)
    same = con.execute(
        "select version from meta.ladders where sha256 = ? and effective_date = ? "
        "order by version desc limit 1",
        [digest, effective],
    ).fetchall()
    if same:
        return Applied(int(same[0][0]), effective, ladder.name, digest, is_new=False)
    with transaction(con):
        version = int(
            con.execute("select coalesce(max(version), 0) + 1 from meta.ladders").fetchall()[0][0]
        )
        con.execute(
            "insert into meta.ladders values (?, ?, ?, ?, ?, current_timestamp)",
            [version, effective, ladder.name, yaml_text, digest],
        )
        con.executemany(
            "insert into meta.ladder_stages values (?, ?, ?, ?, ?, ?, ?)",
            stage_rows(ladder, version),
        )
        # the recommender's expected effect, kept with the version for the review
        expected = record_expectations(con, version, ladder)
    return Applied(
        version, effective, ladder.name, digest, is_new=True, count_expectations=expected
    )


def ladder_versions(wh_or_con: Warehouse | duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every stored version, oldest first.

    Columns: version, effective_date, name, sha256, applied_at, yaml_text
    (empty frame with these columns when nothing was applied yet).
    """
    import polars as pl

    con = _con(wh_or_con)
    if not _has_table(con):
        return pl.DataFrame(
            schema={
                "version": pl.Int32,
                "effective_date": pl.Date,
                "name": pl.String,
                "sha256": pl.String,
                "applied_at": pl.Datetime,
                "yaml_text": pl.String,
            }
        )
    frame: pl.DataFrame = con.sql(
        "select version, effective_date, name, sha256, applied_at, yaml_text "
        "from meta.ladders order by effective_date, version"
    ).pl()
    return frame


def version_in_force(
    wh_or_con: Warehouse | duckdb.DuckDBPyConnection, on: dt.date | None = None
) -> tuple[int, dt.date, str] | None:
    """``(version, effective_date, yaml_text)`` in force on ``on`` (default today), or None."""
    con = _con(wh_or_con)
    if not _has_table(con):
        return None
    day = on or dt.date.today()
    rows = con.execute(
        "select version, effective_date, yaml_text from meta.ladders "
        "where effective_date <= ? order by effective_date desc, version desc limit 1",
        [day],
    ).fetchall()
    if not rows:
        return None
    return int(rows[0][0]), rows[0][1], str(rows[0][2])


def ladder_in_force(
    wh_or_con: Warehouse | duckdb.DuckDBPyConnection, on: dt.date | None = None
) -> Ladder | None:
    """The ladder in force on ``on`` (default: today), or None when no version applies.

    The version in force is the one with the greatest ``effective_date <= on``;
    among versions with that date, the greatest version number.
    """
    found = version_in_force(wh_or_con, on)
    if found is None:
        return None
    version, _, text = found
    return parse_ladder_text(text, f"meta.ladders version {version}")
