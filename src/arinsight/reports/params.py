"""Report parameters, checked before a kernel starts.

Every check raises :class:`~arinsight.errors.ArinsightError` with one line that
names the parameter and the fix, so ``arinsight report`` fails the same way
whether the notebook would have failed in cell 3 or cell 30.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from arinsight.errors import ArinsightError, WarehouseMissing

if TYPE_CHECKING:
    from arinsight.warehouse import Warehouse

LANGS = ("en", "de")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_end_of(month: str) -> dt.date:
    """``"2025-06"`` → ``2025-06-30``.

    Raises:
        ArinsightError: not ``YYYY-MM`` or not a calendar month.
    """
    m = _MONTH.match(month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ArinsightError(f"--month {month!r} is not a month: write it as YYYY-MM, e.g. 2025-06")
    year, mon = int(m.group(1)), int(m.group(2))
    first_next = dt.date(year + mon // 12, mon % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def month_label(month_end: dt.date) -> str:
    return f"{month_end.year:04d}-{month_end.month:02d}"


@dataclass(frozen=True)
class ReportParams:
    """Checked parameters of a report run.

    Attributes:
        db: warehouse file (absolute).
        month_end: the reported month's last day.
        segment: one master-data segment, or None for every segment.
        lang: ``en`` or ``de``.
        ladder: the ladder YAML in force, when given.
    """

    db: Path
    month_end: dt.date
    segment: str | None
    lang: str
    ladder: Path | None = None

    @property
    def month(self) -> str:
        return month_label(self.month_end)

    def as_papermill(self) -> dict[str, str | None]:
        """The notebook's ``parameters`` cell values (plain strings)."""
        return {
            "month": self.month,
            "db": str(self.db),
            "ladder": str(self.ladder) if self.ladder else None,
            "segment": self.segment,
            "lang": self.lang,
        }


def month_ends(wh: Warehouse) -> list[dt.date]:
    """Built month ends, oldest first (empty when the warehouse has no marts)."""
    if not wh.has_marts():
        return []
    rows = wh.con.execute(
        "select distinct month_end_date from marts.fct_dso_monthly order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def check_params(
    db: str | Path | None,
    month: str | None,
    segment: str | None = None,
    lang: str = "en",
    ladder: str | Path | None = None,
) -> ReportParams:
    """Validate report parameters against the warehouse; ``month`` None = the latest.

    Raises:
        WarehouseMissing: no warehouse file.
        ArinsightError: unknown language, empty warehouse, month outside the
            data, month without activity, unknown segment, missing ladder file.
    """
    from arinsight.warehouse import Warehouse, resolve_db_path

    if lang not in LANGS:
        raise ArinsightError(f"--lang {lang!r} is not supported: use one of {', '.join(LANGS)}")
    ladder_path = Path(ladder).resolve() if ladder else None
    if ladder_path is not None and not ladder_path.is_file():
        raise ArinsightError(f"ladder file {ladder} not found: pass an existing ladder YAML")
    wanted = month_end_of(month) if month else None
    path = resolve_db_path(db)
    if not path.exists():
        raise WarehouseMissing(
            f"no warehouse at {path} — run `arinsight load` and `arinsight build` "
            "(or `arinsight demo`) first, or pass --db"
        )
    with Warehouse.open_snapshot(path) as wh:
        ends = month_ends(wh)
        if not wh.has_marts():
            raise ArinsightError(
                f"{path} has no marts yet — run `arinsight build --db {path}` first"
            )
        if not ends:
            raise ArinsightError(
                f"{path} holds no complete month of data — load a ledger with "
                "`arinsight load` and run `arinsight build`"
            )
        month_end = wanted or ends[-1]
        if month_end not in ends:
            raise ArinsightError(
                f"no data for {month_label(month_end)}: {path} covers complete months "
                f"{month_label(ends[0])} to {month_label(ends[-1])} — pick --month in that "
                "range, or load newer exports and rebuild"
            )
        segments = [
            r[0]
            for r in wh.con.execute(
                "select distinct segment from marts.fct_dso_monthly where segment <> 'all' "
                "order by 1"
            ).fetchall()
        ]
        if segment is not None and segment not in segments:
            raise ArinsightError(
                f"unknown --segment {segment!r}: the warehouse has {', '.join(segments)}"
            )
        activity = wh.con.execute(
            "select ar_amount, sales_window_amount, sales_month_amount "
            "from marts.fct_dso_monthly where month_end_date = ? and segment = ?",
            [month_end, segment or "all"],
        ).fetchone()
        if activity is None or not any(float(v or 0) for v in activity):
            who = f"segment {segment}" if segment else "the ledger"
            raise ArinsightError(
                f"{month_label(month_end)} has no data for {who} (no receivables and no "
                "sales in the DSO window) — pick a later --month"
            )
    return ReportParams(path.resolve(), month_end, segment, lang, ladder_path)
