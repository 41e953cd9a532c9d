"""The "what changed" narrative: the month's DSO change attributed, in words.

Pure functions over two :class:`MonthFigures` (figures read from the marts by
:func:`arinsight.reports.review.month_figures`); nothing here touches the
warehouse, so the attribution is tested from hand-made month pairs.

The attribution is exact. With ``D`` the DSO window, ``S`` the window's sales
and ``A[s, b]`` the open amount of segment ``s`` in aging bucket ``b`` (the
buckets of a month end sum to its AR), ``DSO = D * sum(A) / S`` and::

    DSO1 - DSO0 = sum over (s, b) of D * (A1[s, b] - A0[s, b]) / S1   (receivables)
                + sum over s of -D * A0 * (S1[s] - S0[s]) / (S0 * S1)  (sales)

The first sum says which segment's bucket grew or shrank, measured at this
month's sales; the second how much of the change comes from the window's sales
moving (less invoiced → higher DSO at the same AR), split by segment. Together
they add up to the change to rounding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["de", "en"]

#: Aging buckets in order (as in marts.fct_aging_snapshots).
BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")


@dataclass(frozen=True)
class RollRate:
    """One from-bucket's fate over a month (a row of marts.fct_aging_roll_rates).

    Rates are amount-weighted percentages (0-100) of the opening amount;
    ``count_open_invoices`` is the number of invoices they rest on.
    """

    count_open_invoices: int
    cure_rate_pct: float | None
    roll_rate_pct: float | None


@dataclass(frozen=True)
class MonthFigures:
    """What the narrative needs of one month end, in the reporting currency.

    Attributes:
        month_end: the month end.
        window_days: DSO window D (days).
        sales_window: segment → net sales in the window (t - D, t].
        open_by_bucket: (segment, aging bucket) → open amount at the month end.
        roll_rates: (segment, from bucket) → what became of that bucket's
            invoices between the previous month end and this one.
    """

    month_end: dt.date
    window_days: int
    sales_window: Mapping[str, float]
    open_by_bucket: Mapping[tuple[str, str], float]
    roll_rates: Mapping[tuple[str, str], RollRate] = field(default_factory=dict)

    @property
    def ar(self) -> float:
        return float(sum(self.open_by_bucket.values()))

    @property
    def sales(self) -> float:
        return float(sum(self.sales_window.values()))

    @property
    def dso_days(self) -> float | None:
        """``AR / S * D``; None when the window has no sales."""
        return self.ar / self.sales * self.window_days if self.sales > 0 else None


@dataclass(frozen=True)
class Contribution:
    """Days of the DSO change owed to one segment's bucket (or its sales)."""

    segment: str
    bucket: str | None  # None: the sales effect of the segment
    days: float


@dataclass(frozen=True)
class DsoAttribution:
    """The DSO change of a month pair, split into contributions that add up to it."""

    dso_before_days: float
    dso_after_days: float
    receivables: tuple[Contribution, ...]  # by |days|, largest first
    sales: tuple[Contribution, ...]  # per segment, by |days|, largest first

    @property
    def change_days(self) -> float:
        return self.dso_after_days - self.dso_before_days

    @property
    def sales_days(self) -> float:
        return sum(c.days for c in self.sales)


def attribute_dso_change(before: MonthFigures, after: MonthFigures) -> DsoAttribution | None:
    """Split ``after.dso_days - before.dso_days`` by segment x aging bucket and sales.

    Returns None when either month has no sales in its window (DSO undefined).

    Raises:
        ValueError: the two months use different DSO windows.
    """
    if before.window_days != after.window_days:
        raise ValueError(
            f"DSO windows differ ({before.window_days} vs {after.window_days} days); "
            "compare months built with the same dso_window_days"
        )
    s0, s1 = before.sales, after.sales
    dso0, dso1 = before.dso_days, after.dso_days
    if dso0 is None or dso1 is None:
        return None
    d = after.window_days
    keys = sorted(set(before.open_by_bucket) | set(after.open_by_bucket), key=_bucket_key)
    receivables = [
        Contribution(
            seg,
            bucket,
            d
            * (
                after.open_by_bucket.get((seg, bucket), 0.0)
                - before.open_by_bucket.get((seg, bucket), 0.0)
            )
            / s1,
        )
        for seg, bucket in keys
    ]
    a0 = before.ar
    segments = sorted(set(before.sales_window) | set(after.sales_window))
    sales = [
        Contribution(
            seg,
            None,
            -d
            * a0
            * (after.sales_window.get(seg, 0.0) - before.sales_window.get(seg, 0.0))
            / (s0 * s1),
        )
        for seg in segments
    ]
    return DsoAttribution(
        dso_before_days=dso0,
        dso_after_days=dso1,
        receivables=tuple(sorted(receivables, key=lambda c: -abs(c.days))),
        sales=tuple(sorted(sales, key=lambda c: -abs(c.days))),
    )


def _bucket_key(key: tuple[str, str]) -> tuple[str, int]:
    seg, bucket = key
    return seg, BUCKETS.index(bucket) if bucket in BUCKETS else len(BUCKETS)


# --- words -------------------------------------------------------------------------


def fmt_number(value: float, digits: int, lang: Lang) -> str:
    """``1234.5`` → ``1,234.5`` (en) / ``1.234,5`` (de)."""
    text = f"{value:,.{digits}f}"
    if lang == "de":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def bucket_label(bucket: str, lang: Lang) -> str:
    """Aging bucket as a reader says it: ``31-60`` → ``31–60 days`` / ``31–60 Tage``."""
    if bucket == "not_due":
        return "not-yet-due" if lang == "en" else "noch nicht fällig"
    unit = "days" if lang == "en" else "Tage"
    return f"{bucket.replace('-', '–')} {unit}"


_WORDS: dict[str, dict[Lang, str]] = {
    "rose": {
        "en": "DSO rose {d} days, from {a} to {b}.",
        "de": "Die DSO stieg um {d} Tage von {a} auf {b}.",
    },
    "fell": {
        "en": "DSO fell {d} days, from {a} to {b}.",
        "de": "Die DSO sank um {d} Tage von {a} auf {b}.",
    },
    "flat": {
        "en": "DSO held at {b} days (previous month {a}).",
        "de": "Die DSO blieb bei {b} Tagen (Vormonat {a}).",
    },
    "undefined": {
        "en": "DSO cannot be compared: a month without sales in its {w}-day window.",
        "de": "Die DSO ist nicht vergleichbar: ein Monat ohne Umsatz im {w}-Tage-Fenster.",
    },
    "lead": {"en": "{n} of them come from {what}", "de": "{n} davon kommen aus {what}"},
    "lead_flat": {"en": "Underneath: {what}", "de": "Darunter: {what}"},
    "bucket_of": {"en": "{seg}'s {bucket} bucket", "de": "dem Bucket {bucket} von {seg}"},
    "and": {"en": " and ", "de": " und "},
    "offset": {
        "en": "Pulling the other way: {seg}'s {bucket} bucket ({n} days).",
        "de": "Gegenläufig: Bucket {bucket} von {seg} ({n} Tage).",
    },
    "sales_up": {
        "en": "Lower sales in the {w}-day window added {n} days at the same receivables.",
        "de": "Geringerer Umsatz im {w}-Tage-Fenster brachte bei gleichen Forderungen "
        "{n} Tage mehr.",
    },
    "sales_down": {
        "en": "Higher sales in the {w}-day window took {n} days off.",
        "de": "Höherer Umsatz im {w}-Tage-Fenster nahm {n} Tage weg.",
    },
    "cured_faster": {
        "en": "Faster cures in {seg}: {r1} % of its {bucket} amount was collected in the "
        "month, up from {r0} % (n = {n} invoices).",
        "de": "Schnellere Zahlung bei {seg}: {r1} % des Betrags im Bucket {bucket} gingen im "
        "Monat ein, nach {r0} % (n = {n} Rechnungen).",
    },
    "cured_slower": {
        "en": "Slower cures in {seg}: {r1} % of its {bucket} amount was collected in the "
        "month, down from {r0} % (n = {n} invoices).",
        "de": "Langsamere Zahlung bei {seg}: {r1} % des Betrags im Bucket {bucket} gingen im "
        "Monat ein, nach {r0} % (n = {n} Rechnungen).",
    },
    "rolled_more": {
        "en": "{r1} % of {seg}'s {bucket} amount rolled into the next bucket, up from {r0} % "
        "(n = {n} invoices).",
        "de": "{r1} % des Betrags von {seg} im Bucket {bucket} rutschten in den nächsten Bucket, "
        "nach {r0} % (n = {n} Rechnungen).",
    },
    "rolled_less": {
        "en": "Only {r1} % of {seg}'s {bucket} amount rolled into the next bucket, down from "
        "{r0} % (n = {n} invoices).",
        "de": "Nur {r1} % des Betrags von {seg} im Bucket {bucket} rutschten in den nächsten "
        "Bucket, nach {r0} % (n = {n} Rechnungen).",
    },
}


def _w(key: str, lang: Lang, **kw: str) -> str:
    return _WORDS[key][lang].format(**kw)


def _signed(days: float, lang: Lang) -> str:
    """``+1.2`` / ``−0.4`` (a real minus sign)."""
    return ("+" if days >= 0 else "−") + fmt_number(abs(days), 1, lang)


def _what(c: Contribution, lang: Lang) -> str:
    return _w("bucket_of", lang, seg=c.segment, bucket=bucket_label(c.bucket or "", lang))


@dataclass(frozen=True)
class NarrativeRules:
    """Thresholds of the narrative (what is worth a sentence).

    Attributes:
        top: at most this many buckets named as drivers.
        min_days: a contribution smaller than this (days) is not named.
        flat_days: a DSO change smaller than this (days) counts as unchanged.
        min_invoices: a cure/roll rate resting on fewer invoices (in either
            month) is not compared.
        min_rate_change_pts: a cure/roll rate change smaller than this
            (percentage points) is not mentioned.
    """

    top: int = 2
    min_days: float = 0.1
    flat_days: float = 0.05
    min_invoices: int = 30
    min_rate_change_pts: float = 5.0


def what_changed(
    before: MonthFigures,
    after: MonthFigures,
    lang: Lang = "en",
    rules: NarrativeRules | None = None,
) -> list[str]:
    """Sentences explaining the DSO change from ``before`` to ``after``.

    The first sentence states the change; then the buckets that drove it (the
    largest contributions in the direction of the change), the largest one
    that pulled the other way, the sales effect, and the largest cure and roll
    rate changes with their n. Numbers: one decimal, de with a decimal comma.

    Raises:
        ValueError: the months use different DSO windows.
    """
    r = rules or NarrativeRules()
    attribution = attribute_dso_change(before, after)
    if attribution is None:
        return [_w("undefined", lang, w=str(after.window_days))]

    def f(v: float) -> str:
        return fmt_number(v, 1, lang)

    change = attribution.change_days
    a, b = attribution.dso_before_days, attribution.dso_after_days
    out: list[str] = []
    if abs(change) < r.flat_days:
        out.append(_w("flat", lang, a=f(a), b=f(b)))
        movers = [c for c in attribution.receivables if abs(c.days) >= r.min_days][: r.top]
        if movers:
            parts = [f"{_what(c, lang)} {_signed(c.days, lang)}" for c in movers]
            out.append(_w("lead_flat", lang, what="; ".join(parts)) + ".")
    else:
        sign = 1.0 if change > 0 else -1.0
        out.append(_w("rose" if sign > 0 else "fell", lang, d=f(abs(change)), a=f(a), b=f(b)))
        drivers = [c for c in attribution.receivables if c.days * sign >= r.min_days][: r.top]
        if drivers:
            parts = [
                _w("lead", lang, n=f(abs(c.days)), what=_what(c, lang))
                if i == 0
                else f"{f(abs(c.days))} {'from' if lang == 'en' else 'aus'} {_what(c, lang)}"
                for i, c in enumerate(drivers)
            ]
            out.append("; ".join(parts) + ".")
        against = [c for c in attribution.receivables if -c.days * sign >= r.min_days]
        if against:
            c = against[0]
            label = bucket_label(c.bucket or "", lang)
            out.append(_w("offset", lang, seg=c.segment, bucket=label, n=_signed(c.days, lang)))
    sales_days = attribution.sales_days
    if abs(sales_days) >= r.min_days:
        out.append(
            _w(
                "sales_up" if sales_days > 0 else "sales_down",
                lang,
                w=str(after.window_days),
                n=f(abs(sales_days)),
            )
        )
    out.extend(_rate_sentences(before, after, lang, r))
    return out


def _rate_sentences(
    before: MonthFigures, after: MonthFigures, lang: Lang, r: NarrativeRules
) -> list[str]:
    """The largest cure-rate change and the largest roll-rate change worth a sentence."""
    cure: list[tuple[float, str, str, float, float, int]] = []
    roll: list[tuple[float, str, str, float, float, int]] = []
    for key in sorted(set(before.roll_rates) & set(after.roll_rates), key=_bucket_key):
        seg, bucket = key
        r0, r1 = before.roll_rates[key], after.roll_rates[key]
        n = min(r0.count_open_invoices, r1.count_open_invoices)
        if n < r.min_invoices:
            continue
        if r0.cure_rate_pct is not None and r1.cure_rate_pct is not None:
            delta = r1.cure_rate_pct - r0.cure_rate_pct
            if abs(delta) >= r.min_rate_change_pts:
                cure.append(
                    (delta, seg, bucket, r0.cure_rate_pct, r1.cure_rate_pct, r1.count_open_invoices)
                )
        if r0.roll_rate_pct is not None and r1.roll_rate_pct is not None:
            delta = r1.roll_rate_pct - r0.roll_rate_pct
            if abs(delta) >= r.min_rate_change_pts:
                roll.append(
                    (delta, seg, bucket, r0.roll_rate_pct, r1.roll_rate_pct, r1.count_open_invoices)
                )
    out = []

    def f(v: float) -> str:
        return fmt_number(v, 0, lang)

    for items, up, down in (
        (cure, "cured_faster", "cured_slower"),
        (roll, "rolled_more", "rolled_less"),
    ):
        if not items:
            continue
        delta, seg, bucket, p0, p1, n = max(items, key=lambda x: abs(x[0]))
        out.append(
            _w(
                up if delta > 0 else down,
                lang,
                seg=seg,
                bucket=bucket_label(bucket, lang),
                r0=f(p0),
                r1=f(p1),
                n=fmt_number(n, 0, lang),
            )
        )
    return out
