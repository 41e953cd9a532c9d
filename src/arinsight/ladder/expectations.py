"""The expected effect of a ladder version, stored when it is applied.

``arinsight recommend`` replaces ``marts.ladder_recommendations`` on every run,
so nothing would link a later ladder review to the recommendation a version
came from. :func:`record_expectations` (called by ``ladder apply`` for a new
version) copies each segment's *whole ladder* row (``stage_number = -1``: the
proposal against the ladder in force, with its 80 % intervals) into
``meta.ladder_expectations`` together with whether the applied ladder is the
proposal for that segment: ``is_as_recommended`` is true when every stage
row of the segment has the applied offset equal to ``proposed_offset_days``
(a dropped stage: absent from the applied ladder). When it is false the
expected effect does not describe what was applied, and the review says so
instead of comparing.

No third-party import at module level (``ladder apply`` is a light verb).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from arinsight.config import Ladder

EXPECTATIONS_DDL = """
create table if not exists meta.ladder_expectations (
    version INTEGER not null,
    segment VARCHAR not null,
    is_as_recommended BOOLEAN not null,
    count_stages_differing INTEGER not null,
    delta_dso_days DOUBLE,
    delta_dso_days_low DOUBLE,
    delta_dso_days_high DOUBLE,
    delta_recovery_pct DOUBLE,
    delta_recovery_pct_low DOUBLE,
    delta_recovery_pct_high DOUBLE,
    delta_net_value_amount DOUBLE,
    delta_net_value_amount_low DOUBLE,
    delta_net_value_amount_high DOUBLE,
    recommended_at TIMESTAMP,
    ladder_source VARCHAR,
    primary key (version, segment)
)
"""

#: The recommendation columns copied with each segment's whole-ladder row.
EFFECT_COLUMNS = (
    "delta_dso_days",
    "delta_dso_days_low",
    "delta_dso_days_high",
    "delta_recovery_pct",
    "delta_recovery_pct_low",
    "delta_recovery_pct_high",
    "delta_net_value_amount",
    "delta_net_value_amount_low",
    "delta_net_value_amount_high",
)


def applied_offsets(ladder: Ladder, segment: str) -> dict[int, int]:
    """Stage number -> days after due of ``segment``'s stages under ``ladder``."""
    stages = ladder.for_segment(segment)
    return {s.stage: int(o) for s, o in zip(stages, ladder.due_offsets(segment), strict=True)}


def differing_stages(recs: list[dict[str, Any]], applied: dict[int, int]) -> int:
    """How many of a segment's stage rows the applied ladder does not follow.

    ``recs``: the segment's rows with ``stage_number >= 0`` (``proposed_offset_days``
    None = the proposal drops the stage).
    """
    differing = 0
    for r in recs:
        proposed = r.get("proposed_offset_days")
        got = applied.get(int(r["stage_number"]))
        if proposed is None:
            differing += got is not None
        else:
            differing += got != int(proposed)
    return differing


def record_expectations(con: duckdb.DuckDBPyConnection, version: int, ladder: Ladder) -> int:
    """Store the recommender's expected effect per segment with ladder ``version``.

    Does nothing (returns 0) when ``marts.ladder_recommendations`` is absent or
    has no whole-ladder rows. Returns the number of segments recorded.
    """
    has = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'ladder_recommendations'"
    ).fetchall()[0][0]
    if not has:
        return 0
    cols = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'ladder_recommendations'"
        ).fetchall()
    ]
    needed = {"segment", "stage_number", "proposed_offset_days", *EFFECT_COLUMNS}
    if not needed <= set(cols):
        return 0
    cur = con.execute("select * from marts.ladder_recommendations order by segment, stage_number")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    con.execute(EXPECTATIONS_DDL)
    out: list[tuple[Any, ...]] = []
    for segment in sorted({str(r["segment"]) for r in rows}):
        whole = [r for r in rows if r["segment"] == segment and int(r["stage_number"]) < 0]
        if not whole:
            continue
        stages = [r for r in rows if r["segment"] == segment and int(r["stage_number"]) >= 0]
        differing = differing_stages(stages, applied_offsets(ladder, segment))
        w = whole[0]
        out.append(
            (
                version,
                segment,
                differing == 0,
                differing,
                *(w.get(c) for c in EFFECT_COLUMNS),
                w.get("recommended_at"),
                w.get("ladder_source"),
            )
        )
    if out:
        marks = ", ".join("?" * (4 + len(EFFECT_COLUMNS) + 2))
        con.executemany(f"insert into meta.ladder_expectations values ({marks})", out)
    return len(out)
