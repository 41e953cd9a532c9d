"""The global filters, kept in the URL query string so a view can be bookmarked.

``?segment=smb&behaviour=chronic&period=2025-11-30&lang=de``.
Unknown or malformed values fall back to the defaults (a hand-edited URL never
breaks a page); values only ever reach SQL as bound parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

BEHAVIOURS = ("reliable", "occasional", "chronic", "unscored")
#: There is no currency filter: every mart holds amounts in the reporting
#: currency only (converted at the invoice's issue-date rate, sql/intermediate),
#: so the header states that basis instead of offering a choice (docs/dashboard.md).


@dataclass(frozen=True)
class Filters:
    """segment ('all' or a master-data segment), behaviour segment (None = any),
    period (a month end; None = the latest), label language."""

    segment: str = "all"
    behaviour: str | None = None
    period: dt.date | None = None
    lang: str = "en"

    def to_search(self) -> str:
        """The query string (with ``?``), defaults left out."""
        params: dict[str, str] = {}
        if self.segment != "all":
            params["segment"] = self.segment
        if self.behaviour:
            params["behaviour"] = self.behaviour
        if self.period:
            params["period"] = self.period.isoformat()
        params["lang"] = self.lang
        return "?" + urlencode(params)

    def with_(self, **changes: object) -> Filters:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse(
    search: str | None,
    *,
    segments: list[str] | None = None,
    periods: list[dt.date] | None = None,
    default_lang: str = "en",
) -> Filters:
    """Filters from a query string; values outside the known sets are dropped.

    Args:
        search: ``?a=b&...`` (or None).
        segments: known master-data segments (None: accept any non-empty value).
        periods: known month ends (None: accept any ISO date).
        default_lang: the settings' language when the URL has none.
    """
    q = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items() if v}
    segment = q.get("segment", "all")
    if segment != "all" and (not segment or (segments is not None and segment not in segments)):
        segment = "all"
    behaviour = q.get("behaviour")
    if behaviour not in BEHAVIOURS:
        behaviour = None
    period: dt.date | None = None
    if "period" in q:
        try:
            period = dt.date.fromisoformat(q["period"])
        except ValueError:
            period = None
        if period is not None and periods is not None and period not in periods:
            period = None
    lang = q.get("lang", default_lang)
    if lang not in ("en", "de"):
        lang = default_lang if default_lang in ("en", "de") else "en"
    return Filters(segment=segment, behaviour=behaviour, period=period, lang=lang)
