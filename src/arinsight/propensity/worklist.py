"""A collector's worklist: the open invoices worth acting on today, with the reason in words.

Ranked by the expected value of acting, ``value_of_acting_amount`` in
``marts.fct_open_invoice_scores``: open amount × how much the ladder's next
step raises the model's probability of payment within 14 days. An invoice the
customer will pay anyway (high probability already) or that a reminder does
not move ranks low, however large it is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from arinsight.errors import ArinsightError

if TYPE_CHECKING:
    import polars as pl

    from arinsight.warehouse import Warehouse


def _pct(x: float | None, lang: str = "en") -> str:
    if x is None:
        return "n/a" if lang == "en" else "k. A."
    return f"{100 * x:.0f} %"


def _days(n: int, lang: str = "en", *, dative: bool = False) -> str:
    """``n`` days; German after "vor" / "in" takes the dative plural ("vor 5 Tagen")."""
    if lang == "de":
        return f"{n} Tag" if abs(n) == 1 else (f"{n} Tagen" if dative else f"{n} Tage")
    return f"{n} day" if abs(n) == 1 else f"{n} days"


#: The reason's phrases (en, de); ``{}`` fields are filled in :func:`reason`.
PHRASES: dict[str, tuple[str, str]] = {
    "overdue": ("{days} overdue", "{days} überfällig"),
    "due_today": ("due today", "heute fällig"),
    "due_in": ("due in {days}", "fällig in {days}"),
    "no_reminder": ("{due}, no reminder yet", "{due}, noch keine Erinnerung"),
    "stage_sent": ("{due}, stage {stage} sent {days} ago", "{due}, Stufe {stage} vor {days}"),
    "no_history": ("no payment history", "keine Zahlungshistorie"),
    "history": (
        "customer paid {late} of earlier invoices late, median {days} late",
        "Kunde zahlte {late} der früheren Rechnungen verspätet, im Median {days} zu spät",
    ),
    "next_step": (
        "{now} likely to pay within 14 days as is, {next} after {step} ({channel})",
        "zahlt mit {now} in 14 Tagen ohne Schritt, mit {next} nach {step} ({channel})",
    ),
    "agency_next": (
        "{now} likely to pay within 14 days; next step is the agency",
        "zahlt mit {now} in 14 Tagen; nächster Schritt ist das Inkasso",
    ),
    "disputed": (
        "{now} likely to pay within 14 days; disputed: settle the dispute first, no reminder",
        "zahlt mit {now} in 14 Tagen; bestritten: erst den Streitfall klären, keine Mahnung",
    ),
}


def _say(key: str, lang: str, **fields: Any) -> str:
    en, de = PHRASES[key]
    return (de if lang == "de" else en).format(**fields)


def reason(row: dict[str, Any], lang: str = "en") -> str:
    """One sentence a collector can act on, from a scores row (pure; see the tests).

    ``lang``: "en" or "de" (the settings' dashboard language). A disputed invoice
    never gets a reminder suggested: its action is to settle the dispute.
    """
    parts: list[str] = []
    stage, since = row.get("stage_reached"), row.get("days_since_stage")
    dpd = int(row["days_past_due"])
    if dpd > 0:
        due = _say("overdue", lang, days=_days(dpd, lang))
    elif dpd == 0:
        due = _say("due_today", lang)
    else:
        due = _say("due_in", lang, days=_days(-dpd, lang, dative=True))
    if stage is None:
        parts.append(_say("no_reminder", lang, due=due))
    else:
        parts.append(
            _say(
                "stage_sent",
                lang,
                due=due,
                stage=stage,
                days=_days(int(since or 0), lang, dative=True),
            )
        )
    median = row.get("median_days_late")
    if median is None:
        parts.append(_say("no_history", lang))
    else:
        parts.append(
            _say(
                "history",
                lang,
                late=_pct(row.get("late_ratio"), lang),
                days=_days(round(float(median)), lang),
            )
        )
    now, nxt = row.get("paid_within_14d_ratio"), row.get("paid_within_14d_if_next_step_ratio")
    if row.get("is_disputed"):
        parts.append(_say("disputed", lang, now=_pct(now, lang)))
    elif row.get("next_step_name") and nxt is not None:
        parts.append(
            _say(
                "next_step",
                lang,
                now=_pct(now, lang),
                next=_pct(nxt, lang),
                step=row["next_step_name"],
                channel=row["next_step_channel"],
            )
        )
    else:
        parts.append(_say("agency_next", lang, now=_pct(now, lang)))
    return "; ".join(parts)


def worklist(
    wh: Warehouse,
    *,
    segment: str | None = None,
    top: int = 25,
    as_of: dt.date | None = None,
    lang: str = "en",
) -> pl.DataFrame:
    """The ``top`` overdue invoices by value of acting at the latest (or given) scoring date.

    Only invoices past their due date are listed (before it, the ladder's
    pre-due reminder is the automatic step), and only where the next step is a
    reminder, not the agency handover; a disputed invoice is never among them
    (no reminder while disputed; ``score_frame`` gives it no next step).
    ``lang``: language of ``reason`` ("en" or "de").

    Raises:
        ArinsightError: no scores yet (the message says to run `arinsight score`).
    """
    import polars as pl

    if "fct_open_invoice_scores" not in wh.tables("marts"):
        raise ArinsightError(f"{wh.path} has no payment scores yet — run `arinsight score` first")
    day = (
        as_of or wh.sql("select max(scoring_date) as d from marts.fct_open_invoice_scores")["d"][0]
    )
    rows = wh.sql(
        "select * from marts.fct_open_invoice_scores "
        "where scoring_date = ? and (? is null or segment = ?) and value_of_acting_amount > 0 "
        "and days_past_due > 0 and not coalesce(is_disputed, false) "
        "order by value_of_acting_amount desc, invoice_id limit ?",
        [day, segment, segment, top],
    )
    return rows.with_columns(
        reason=pl.Series([reason(r, lang) for r in rows.iter_rows(named=True)], dtype=pl.String)
    ).select(
        "scoring_date",
        "invoice_id",
        "customer_id",
        "segment",
        "open_amount",
        "days_past_due",
        "stage_reached",
        "paid_within_14d_ratio",
        "paid_within_14d_if_next_step_ratio",
        "value_of_acting_amount",
        "expected_paid_date",
        "reason",
    )
