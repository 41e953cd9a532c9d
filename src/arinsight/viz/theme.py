"""One look for every chart: palette, plotly template, number formats, labels.

The palette is Okabe & Ito's (2008) colour-blind-safe set; the aging buckets use
an ordered subset of it (cool = young, warm = old). Formats follow the language:
English ``€1,234,567`` / ``30.9 days`` / ``23.5 %``, German ``1.234.567 €`` /
``30,9 Tage`` / ``23,5 %``. Labels live in one table (:data:`LABELS`) looked up
with :func:`t`; a key without a translation raises ``KeyError`` (a typo must not
show up as a blank axis title).
"""

from __future__ import annotations

import math
from typing import Literal

import plotly.graph_objects as go
import plotly.io as pio

Lang = Literal["en", "de"]
LANGS: tuple[Lang, ...] = ("en", "de")

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
#: Default trace order (yellow last: weakest contrast on white).
PALETTE = [
    OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")
]
#: Aging bucket colours, young to old.
AGING_COLOURS = {
    "not_due": OKABE_ITO["blue"],
    "1-30": OKABE_ITO["sky"],
    "31-60": OKABE_ITO["yellow"],
    "61-90": OKABE_ITO["orange"],
    "91-120": OKABE_ITO["vermillion"],
    "121+": OKABE_ITO["purple"],
}
NEUTRAL = "#6b6b6b"
GRID = "#e5e5e5"
FONT = "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
TEMPLATE_NAME = "arinsight"

pio.templates[TEMPLATE_NAME] = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 13, "color": "#222222"},
        title={
            "font": {"size": 16},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.985,
            "yref": "container",
            "yanchor": "top",
        },
        colorway=PALETTE,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 95, "b": 50},
        xaxis={"gridcolor": GRID, "linecolor": "#999999", "zeroline": False, "automargin": True},
        yaxis={
            "gridcolor": GRID,
            "linecolor": "#999999",
            "zerolinecolor": "#bbbbbb",
            "automargin": True,
        },
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.01,
            "x": 0.0,
            "traceorder": "normal",
        },
        hoverlabel={"font": {"family": FONT}},
        hovermode="x unified",
    )
)

#: label key -> (English, German)
LABELS: dict[str, tuple[str, str]] = {
    # generic
    "month_end": ("Month end", "Monatsende"),
    "days": ("days", "Tage"),
    "amount": ("Amount", "Betrag"),
    "share_pct": ("Share (%)", "Anteil (%)"),
    "no_data": ("No data for this selection", "Keine Daten für diese Auswahl"),
    "n": ("n", "n"),
    "target": ("Target", "Ziel"),
    "all": ("All segments", "Alle Segmente"),
    # payment behaviour (dim_customers.behaviour_segment)
    "reliable": ("reliable", "zuverlässig"),
    "occasional": ("occasionally late", "gelegentlich verspätet"),
    "chronic": ("chronically late", "chronisch verspätet"),
    "unscored": ("not scored yet", "noch nicht bewertet"),
    "behaviour_title": (
        "Customers by payment behaviour",
        "Kunden nach Zahlungsverhalten",
    ),
    "share_of_customers": ("Share of active customers (%)", "Anteil aktiver Kunden (%)"),
    # KPIs
    "dso": ("DSO", "DSO"),
    "best_possible_dso": ("Best possible DSO", "Bestmögliche DSO"),
    "add": ("Average days delinquent (ADD)", "Durchschn. Verzugstage (ADD)"),
    "countback_dso": ("Countback DSO", "Countback-DSO"),
    "cei": ("Collection effectiveness (CEI)", "Inkasso-Effektivität (CEI)"),
    "overdue_share": ("Overdue share of AR", "Überfälliger Anteil der Forderungen"),
    "cash_collected": ("Cash collected this month", "Zahlungseingang im Monat"),
    "vs_last_month": ("vs last month", "ggü. Vormonat"),
    "vs_last_year": ("vs last year", "ggü. Vorjahr"),
    "dso_days": ("DSO (days)", "DSO (Tage)"),
    # AR
    "ar": ("Receivables (AR)", "Forderungen"),
    "current_ar": ("Not yet due", "Noch nicht fällig"),
    "overdue_ar": ("Overdue", "Überfällig"),
    "dso_trend_title": ("DSO trend", "DSO-Verlauf"),
    "outstanding_title": ("Outstanding vs overdue", "Offen vs. überfällig"),
    "segment_title": ("By segment", "Nach Segment"),
    "cash_title": ("Cash collected vs billed", "Zahlungseingang vs. Rechnungsstellung"),
    "billed": ("Billed (net of credit notes)", "Fakturiert (abzgl. Gutschriften)"),
    "collected": ("Cash collected", "Zahlungseingang"),
    # aging
    "aging_title": ("Aging of receivables", "Altersstruktur der Forderungen"),
    "bucket_not_due": ("Not due", "Nicht fällig"),
    "bucket_1-30": ("1–30 days past due", "1–30 Tage überfällig"),
    "bucket_31-60": ("31–60 days", "31–60 Tage"),
    "bucket_61-90": ("61–90 days", "61–90 Tage"),
    "bucket_91-120": ("91–120 days", "91–120 Tage"),
    "bucket_121+": ("121+ days", "121+ Tage"),
    "roll_title": (
        "What became of last month's open invoices",
        "Was aus den offenen Posten des Vormonats wurde",
    ),
    "from_bucket": ("Bucket at previous month end", "Stufe am Vormonatsende"),
    "rolled": ("Rolled to older bucket", "In ältere Stufe gerutscht"),
    "stayed": ("Stayed", "Geblieben"),
    "cured": ("Paid / cleared", "Bezahlt / ausgeglichen"),
    "written_off": ("Written off", "Abgeschrieben"),
    "cohort_title": (
        "Billing cohorts: share of invoiced amount paid within",
        "Rechnungskohorten: Anteil bezahlt innerhalb von",
    ),
    "issue_month": ("Invoice month", "Rechnungsmonat"),
    "within_30": ("30 days", "30 Tagen"),
    "within_60": ("60 days", "60 Tagen"),
    "within_90": ("90 days", "90 Tagen"),
    # dunning
    "funnel_title": ("Dunning stages: what happened after each", "Mahnstufen: Ergebnis je Stufe"),
    "stage": ("Stage", "Stufe"),
    "entered": ("Reached the stage", "Stufe erreicht"),
    "converted": ("Paid before the next stage", "Vor nächster Stufe bezahlt"),
    "progressed": ("Escalated to the next stage", "Weiter eskaliert"),
    "pending": ("Still pending", "Noch offen"),
    "invoices": ("Invoices", "Rechnungen"),
    "survival_title": (
        "Share still unpaid after each stage (95 % band)",
        "Anteil noch unbezahlt nach jeder Stufe (95-%-Band)",
    ),
    "days_since_send": ("Days since the stage was sent", "Tage seit Versand der Stufe"),
    "still_open": ("Still unpaid", "Noch unbezahlt"),
    "channel_title": ("Conversion by channel", "Erfolgsquote je Kanal"),
    "channel": ("Channel", "Kanal"),
    "email": ("E-mail", "E-Mail"),
    "letter": ("Letter", "Brief"),
    "sms": ("SMS", "SMS"),
    "phone": ("Phone call", "Anruf"),
    "collection_agency": ("Collection agency", "Inkassobüro"),
    "unknown": ("Unknown channel", "Kanal unbekannt"),
    "conversion_pct": ("Paid before the next stage (%)", "Vor nächster Stufe bezahlt (%)"),
    "guardrail_title": ("Guardrail findings", "Auffälligkeiten im Mahnlauf"),
    "reminder_after_settlement": (
        "Reminder sent after payment",
        "Mahnung nach Zahlungseingang",
    ),
    "skipped_stage": ("Stage skipped", "Stufe übersprungen"),
    "reminder_on_disputed_invoice": (
        "Reminder on disputed invoice",
        "Mahnung trotz Reklamation",
    ),
    "findings": ("Findings", "Befunde"),
    # recovery & churn
    "recovery_title": (
        "Overdue amount recovered within … days of due date",
        "Überfälliger Betrag eingebracht innerhalb von … Tagen nach Fälligkeit",
    ),
    "due_month": ("Due month (cohort)", "Fälligkeitsmonat (Kohorte)"),
    "recovered_pct": ("Recovered (%)", "Eingebracht (%)"),
    "h30": ("30 days", "30 Tage"),
    "h60": ("60 days", "60 Tage"),
    "h90": ("90 days", "90 Tage"),
    "h180": ("180 days", "180 Tage"),
    "closed_case": ("Closed-case recovery", "Quote abgeschlossener Fälle"),
    "agency_recovery": ("Agency recovery", "Inkasso-Quote"),
    "fee_yield": ("Fee yield", "Gebührenertrag"),
    "maturing": (
        "still maturing (< 180 days since due)",
        "noch nicht ausgereift (< 180 Tage seit Fälligkeit)",
    ),
    "churn_title": (
        "Customer churn by highest dunning stage reached",
        "Kundenabwanderung nach höchster erreichter Mahnstufe",
    ),
    "highest_stage": ("Highest stage reached", "Höchste erreichte Stufe"),
    "never_dunned": ("Never dunned", "Nie gemahnt"),
    "churn_rate_pct": ("Churn rate (%)", "Abwanderungsquote (%)"),
    "relative_risk": ("Relative risk vs never dunned", "Relatives Risiko ggü. nie gemahnt"),
    "customers": ("Customers", "Kunden"),
    "involuntary_churn": ("Involuntary churn rate", "Unfreiwillige Abwanderung"),
    "churn_trend_title": (
        "Customer churn per month (% of active customers)",
        "Kundenabwanderung je Monat (% der aktiven Kunden)",
    ),
    "all_churn": ("All churn", "Abwanderung gesamt"),
    # ladder
    "ladder_title": ("Dunning ladder in force", "Gültige Mahnstufen"),
    "ladder_title_proposed": (
        "Dunning ladder in force and the proposal",
        "Gültige Mahnstufen und der Vorschlag",
    ),
    "days_after_due": ("Days after due date", "Tage nach Fälligkeit"),
    "segment": ("Segment", "Segment"),
    "current_ladder": ("In force", "Gültig"),
    "proposed_ladder": ("Proposed", "Vorgeschlagen"),
    "proposed_dropped": ("Proposed: dropped", "Vorschlag: entfällt"),
    "due_date": ("Due date", "Fälligkeit"),
}


def t(key: str, lang: str = "en") -> str:
    """The label ``key`` in ``lang`` ("en" or "de").

    Raises:
        KeyError: unknown key or language.
    """
    if lang not in LANGS:
        raise KeyError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    en, de = LABELS[key]
    return de if lang == "de" else en


def bucket_label(bucket: str, lang: str = "en") -> str:
    """Display name of an aging bucket (``fct_aging_snapshots.aging_bucket``)."""
    return t(f"bucket_{bucket}", lang)


def separators(lang: str) -> str:
    """Plotly ``layout.separators`` (decimal, thousands) for ``lang``."""
    return ",." if lang == "de" else ".,"


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: float, decimals: int, lang: str) -> str:
    text = f"{value:,.{decimals}f}"
    if lang == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def fmt_eur(
    value: float | int | None, lang: str = "en", *, decimals: int = 0, compact: bool = False
) -> str:
    """An amount in EUR: ``€1,234,567`` (en) / ``1.234.567 €`` (de); ``–`` for missing.

    ``compact`` shortens to thousands / millions (``€1.2M`` / ``1,2 Mio. €``).
    """
    if _missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    sign = "−" if v < 0 else ""
    v = abs(v)
    suffix = ""
    if compact and v >= 1_000_000:
        v, suffix, decimals = v / 1_000_000, ("M" if lang == "en" else " Mio."), 1
    elif compact and v >= 10_000:
        v, suffix, decimals = v / 1_000, ("k" if lang == "en" else " Tsd."), 0
    body = _number(v, decimals, lang) + suffix
    return f"{sign}€{body}" if lang == "en" else f"{sign}{body} €"


def fmt_days(value: float | int | None, lang: str = "en", *, decimals: int = 1) -> str:
    """A number of days: ``30.9 days`` / ``30,9 Tage``; ``–`` for missing."""
    if _missing(value):
        return "–"
    unit = "days" if lang == "en" else "Tage"
    if abs(float(value)) == 1 and decimals == 0:  # type: ignore[arg-type]
        unit = "day" if lang == "en" else "Tag"
    return f"{_number(float(value), decimals, lang)} {unit}"  # type: ignore[arg-type]


def fmt_count(value: float | int | None, lang: str = "en") -> str:
    """A count: ``29,509`` / ``29.509`` (German groups with dots); ``–`` for missing."""
    if _missing(value):
        return "–"
    return _number(float(value), 0, lang)  # type: ignore[arg-type]


def fmt_pct(value: float | int | None, lang: str = "en", *, decimals: int = 1) -> str:
    """A percentage given on the 0-100 scale: ``23.5 %`` / ``23,5 %``; ``–`` for missing."""
    if _missing(value):
        return "–"
    return f"{_number(float(value), decimals, lang)} %"  # type: ignore[arg-type]


def fmt_signed(value: float | int | None, unit: str, lang: str = "en", decimals: int = 1) -> str:
    """A change with its sign: ``+1.2 days``, ``−0.4 pp``, ``+€1,200`` (unit days|pp|eur)."""
    if _missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    sign = "+" if v > 0 else ("−" if v < 0 else "±")
    if unit == "eur":
        return sign + fmt_eur(abs(v), lang, compact=True).lstrip("−")
    if unit == "days":
        return sign + fmt_days(abs(v), lang, decimals=decimals)
    return f"{sign}{_number(abs(v), decimals, lang)} {'pp' if lang == 'en' else 'Pp.'}"
