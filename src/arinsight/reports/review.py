"""What the monthly review notebook shows, section by section.

The notebook stays a template: each section is one call here. Everything is
*selected* from the marts (the figures' definitions live in ``sql/marts``); the
only arithmetic is the DSO attribution (:mod:`arinsight.reports.narrative`) and
the before/after comparison of a ladder change. Tables come back as
:class:`Html` (rendered by Jupyter), figures from :mod:`arinsight.viz`.

Optional tables are read when present and described when absent:
``marts.ladder_recommendations`` (``arinsight recommend``) and ``meta.ladders``
(``arinsight ladder apply``).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arinsight.reports.narrative import (
    DsoAttribution,
    Lang,
    MonthFigures,
    RollRate,
    attribute_dso_change,
    bucket_label,
    fmt_number,
    what_changed,
)
from arinsight.reports.params import ReportParams, check_params, month_label

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import polars as pl

    from arinsight.warehouse import Warehouse


class Html(str):
    """A string Jupyter renders as HTML (the last expression of a cell)."""

    def _repr_html_(self) -> str:
        return str(self)


# --- words ------------------------------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {
    "dso_days": {"en": "DSO (days)", "de": "DSO (Tage)"},
    "countback_dso_days": {"en": "Countback DSO (days)", "de": "Countback-DSO (Tage)"},
    "best_possible_dso_days": {"en": "Best possible DSO (days)", "de": "Best-possible DSO (Tage)"},
    "add_days": {"en": "Average days delinquent (days)", "de": "Ø Verzugstage ADD (Tage)"},
    "cei_pct": {"en": "Collection effectiveness CEI (%)", "de": "Inkasso-Effektivität CEI (%)"},
    "ar_amount": {"en": "Receivables (AR)", "de": "Forderungsbestand"},
    "overdue_ar_pct": {"en": "Overdue share of AR (%)", "de": "Überfälliger Anteil (%)"},
    "weighted_dbt_days": {"en": "Weighted days beyond terms", "de": "Gew. Tage über Ziel (DBT)"},
    "churn_rate_pct": {"en": "Customer churn (%)", "de": "Kundenabwanderung (%)"},
    "involuntary_churn_rate_pct": {
        "en": "Involuntary churn (%)",
        "de": "Unfreiwillige Abwanderung (%)",
    },
    "count_guardrail_findings": {"en": "Guardrail findings", "de": "Guardrail-Befunde"},
}

_TEXT: dict[str, dict[str, str]] = {
    "metric": {"en": "Figure", "de": "Kennzahl"},
    "this_month": {"en": "{m}", "de": "{m}"},
    "vs_prev": {"en": "Δ vs {m}", "de": "Δ zu {m}"},
    "year_ago": {"en": "{m}", "de": "{m}"},
    "vs_year": {"en": "Δ vs {m}", "de": "Δ zu {m}"},
    "bucket": {"en": "Aging bucket", "de": "Altersband"},
    "open_amount": {"en": "Open amount ({c})", "de": "Offener Betrag ({c})"},
    "share": {"en": "Share of AR (%)", "de": "Anteil (%)"},
    "invoices": {"en": "Open invoices", "de": "Offene Rechnungen"},
    "total": {"en": "Total", "de": "Summe"},
    "segment": {"en": "Segment", "de": "Segment"},
    "contribution": {"en": "Days of the DSO change", "de": "Tage der DSO-Veränderung"},
    "sales_effect": {
        "en": "change in sales in the DSO window",
        "de": "Umsatzänderung im DSO-Fenster",
    },
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _fmt(value: float | None, unit: str, lang: str, signed: bool = False) -> str:
    """Number as the report prints it: days/pct 1 decimal, amounts and counts whole.

    ``signed`` adds ``+`` / ``−``; a change that rounds to zero has no sign.
    """
    if value is None:
        return "–"
    digits = 0 if unit in ("amount", "count") else 1
    v = float(value)
    text = fmt_number(abs(v) if signed else v, digits, lang)  # type: ignore[arg-type]
    if signed and round(abs(v), digits) != 0:
        text = ("+" if v > 0 else "−") + text
    return text


# --- the review -------------------------------------------------------------------

#: Read-snapshot connections shared by a report's sections: path -> (version, warehouse).
_SHARED: dict[str, tuple[str, Warehouse]] = {}


@dataclass(frozen=True)
class Review:
    """A monthly review: checked parameters plus the months it compares.

    Attributes:
        params: the checked parameters (month end, warehouse, segment, language).
        previous_month_end: the month end before, when built.
        year_ago_month_end: the same month end a year earlier, when built.
        first_month_end / last_month_end: the data's range.
        currency: the reporting currency.
    """

    params: ReportParams
    previous_month_end: dt.date | None
    year_ago_month_end: dt.date | None
    first_month_end: dt.date
    last_month_end: dt.date
    currency: str

    @property
    def lang(self) -> Lang:
        return "de" if self.params.lang == "de" else "en"

    @property
    def month_end(self) -> dt.date:
        return self.params.month_end

    @property
    def segment(self) -> str:
        """The mart segment the figures are read for ('all' without a filter)."""
        return self.params.segment or "all"

    def connect(self) -> AbstractContextManager[Warehouse]:
        """The warehouse, read-only (use as a context manager).

        Every section of a report reads through one connection: the current read
        snapshot is opened once and kept (a snapshot is never written, so holding
        it blocks no load or build), and reopened when a newer one is published.
        A warehouse without snapshots (or a Parquet marts folder) is opened per
        call and closed after it, as it holds the file's lock.
        """
        from contextlib import nullcontext

        from arinsight import connect
        from arinsight.warehouse import read_version

        key = str(self.params.db)
        version = read_version(key)
        if version is None:
            return connect(key)
        held = _SHARED.get(key)
        if held is not None and held[0] == version:
            return nullcontext(held[1])
        if held is not None:
            held[1].close()
            del _SHARED[key]
        wh = connect(key)
        if wh.source == wh.path:  # fell back to the file itself: do not keep it
            return wh
        _SHARED[key] = (version, wh)
        return nullcontext(wh)


def start(
    month: str | None = None,
    db: str | None = None,
    ladder: str | None = None,
    segment: str | None = None,
    lang: str = "en",
    *,
    plotly_renderer: str | None = "notebook",
) -> Review:
    """Check the notebook's parameters and set up the charts' renderer.

    ``plotly_renderer`` "notebook" embeds plotly.js once in the output, so the
    exported HTML opens offline.

    Raises:
        ArinsightError: a parameter does not fit the warehouse (see
            :func:`arinsight.reports.params.check_params`).
    """
    from arinsight.config import load_settings

    params = check_params(db, month, segment, lang, ladder)
    if plotly_renderer:
        import plotly.io as pio

        pio.renderers.default = plotly_renderer
    from arinsight import connect

    with connect(str(params.db)) as wh:
        from arinsight.reports.params import month_ends

        ends = month_ends(wh)
    prev = _month_end_before(params.month_end, 1)
    year = _month_end_before(params.month_end, 12)
    return Review(
        params=params,
        previous_month_end=prev if prev in ends else None,
        year_ago_month_end=year if year in ends else None,
        first_month_end=ends[0],
        last_month_end=ends[-1],
        currency=load_settings().reporting_currency,
    )


def _month_end_before(month_end: dt.date, months: int) -> dt.date:
    index = month_end.year * 12 + month_end.month - 1 - months
    year, month = divmod(index, 12)
    first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def title(
    rv: Review,
    heading_en: str = "Monthly receivables review",
    heading_de: str = "Monatsbericht Forderungen",
) -> Html:
    """The report's heading: name, month, scope, data range."""
    scope = rv.params.segment or ("all segments" if rv.lang == "en" else "alle Segmente")
    head = heading_en if rv.lang == "en" else heading_de
    sub = (
        f"{month_label(rv.month_end)} · {scope} · {rv.currency} · data "
        f"{month_label(rv.first_month_end)} – {month_label(rv.last_month_end)}"
        if rv.lang == "en"
        else f"{month_label(rv.month_end)} · {scope} · {rv.currency} · Daten "
        f"{month_label(rv.first_month_end)} – {month_label(rv.last_month_end)}"
    )
    return Html(
        STYLE
        + f'<div class="ai-title"><h1>{html.escape(head)}</h1>'
        + f'<p class="ai-sub">{html.escape(sub)}</p></div>'
    )


# --- KPIs ---------------------------------------------------------------------------


def kpis(rv: Review) -> pl.DataFrame:
    """``marts.fct_report_kpis`` rows of the month and segment, in table order."""
    with rv.connect() as wh:
        return wh.sql(
            "select * from marts.fct_report_kpis where month_end_date = ? and segment = ? "
            "order by kpi_order",
            [rv.month_end, rv.segment],
        )


def kpi_table(rv: Review) -> Html:
    """Headline figures: this month, change vs the previous month and vs a year ago."""
    frame = kpis(rv)
    lang = rv.lang
    prev = month_label(rv.previous_month_end) if rv.previous_month_end else "–"
    year = month_label(rv.year_ago_month_end) if rv.year_ago_month_end else "–"
    head = [
        _t("metric", lang),
        month_label(rv.month_end),
        _t("vs_prev", lang, m=prev),
        year,
        _t("vs_year", lang, m=year),
    ]
    rows = []
    for r in frame.iter_rows(named=True):
        unit = r["kpi_unit"]
        label = _LABELS.get(r["kpi_name"], {}).get(lang, r["kpi_name"])
        if unit == "amount":
            label = f"{label} ({rv.currency})"
        rows.append(
            (
                r["kpi_name"],
                [
                    label,
                    _fmt(r["kpi_value"], unit, lang),
                    _fmt(r["change_vs_previous_month"], unit, lang, signed=True),
                    _fmt(r["year_ago_value"], unit, lang),
                    _fmt(r["change_vs_year_ago"], unit, lang, signed=True),
                ],
            )
        )
    return Html(_table("ai-kpi", head, rows))


def _is_number(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "+−-–") and not text[-1].isalpha()


def _table(css: str, head: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """An HTML table; numeric cells right-aligned, text left; ``data-key`` names each row."""
    numeric = [
        all(_is_number(cells[i]) for _, cells in rows if i < len(cells)) and i > 0
        for i in range(len(head))
    ]
    th = "".join(
        f'<th class="{"num" if numeric[i] else "txt"}">{html.escape(h)}</th>'
        for i, h in enumerate(head)
    )
    body = "".join(
        f'<tr data-key="{html.escape(key)}">'
        + "".join(
            f'<td class="{"num" if numeric[i] else "txt"}">{html.escape(c)}</td>'
            for i, c in enumerate(cells)
        )
        + "</tr>"
        for key, cells in rows
    )
    return (
        f'<table class="ai-table {css}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'
    )


# --- what changed -------------------------------------------------------------------


def month_figures(wh: Warehouse, month_end: dt.date, segment: str | None) -> MonthFigures:
    """The narrative's inputs at one month end, selected from the marts.

    ``segment`` None: every master-data segment (their buckets sum to 'all').
    """
    seg_filter = "segment <> 'all'" if segment is None else "segment = ?"
    args: list[Any] = [month_end] + ([] if segment is None else [segment])
    sales = wh.sql(
        "select segment, cast(sales_window_amount as double) as s, dso_window_days "
        f"from marts.fct_dso_monthly where month_end_date = ? and {seg_filter} order by segment",
        args,
    )
    aging = wh.sql(
        "select segment, aging_bucket, cast(open_amount as double) as a "
        f"from marts.fct_aging_snapshots where month_end_date = ? and {seg_filter} "
        "order by segment, bucket_order",
        args,
    )
    rolls = wh.sql(
        "select segment, from_aging_bucket, count_open_invoices, cure_rate_pct, roll_rate_pct "
        f"from marts.fct_aging_roll_rates where month_end_date = ? and {seg_filter} "
        "order by segment, from_bucket_order",
        args,
    )
    window = int(sales["dso_window_days"][0]) if sales.height else 90
    return MonthFigures(
        month_end=month_end,
        window_days=window,
        sales_window={s: float(v or 0.0) for s, v, _ in sales.rows()},
        open_by_bucket={(s, b): float(a or 0.0) for s, b, a in aging.rows()},
        roll_rates={
            (s, b): RollRate(int(n or 0), _opt(c), _opt(r)) for s, b, n, c, r in rolls.rows()
        },
    )


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def narrative(rv: Review) -> tuple[list[str], DsoAttribution | None]:
    """The "what changed" sentences and the attribution behind them (None: no previous month)."""
    if rv.previous_month_end is None:
        first = (
            "This is the first month in the warehouse: there is no previous month to compare."
            if rv.lang == "en"
            else "Dies ist der erste Monat im Warehouse: kein Vormonat zum Vergleich."
        )
        return [first], None
    with rv.connect() as wh:
        before = month_figures(wh, rv.previous_month_end, rv.params.segment)
        after = month_figures(wh, rv.month_end, rv.params.segment)
    return what_changed(before, after, rv.lang), attribute_dso_change(before, after)


def narrative_html(rv: Review) -> Html:
    """The "what changed" sentences as one paragraph."""
    sentences, _ = narrative(rv)
    return Html(f'<p class="ai-narrative">{html.escape(" ".join(sentences))}</p>')


def attribution_table(rv: Review, top: int = 6) -> Html:
    """The largest contributions to the DSO change (segment x bucket) and the sales effect."""
    _, attribution = narrative(rv)
    if attribution is None:
        return Html("")
    lang = rv.lang
    rows: list[tuple[str, list[str]]] = []
    for c in attribution.receivables[:top]:
        rows.append(
            (
                f"{c.segment}|{c.bucket}",
                [c.segment, bucket_label(c.bucket or "", lang), _fmt(c.days, "days", lang, True)],
            )
        )
    rest = sum(c.days for c in attribution.receivables[top:])
    if len(attribution.receivables) > top:
        rows.append(
            (
                "rest",
                [
                    "other" if lang == "en" else "übrige",
                    f"{len(attribution.receivables) - top} "
                    + ("buckets" if lang == "en" else "Buckets"),
                    _fmt(rest, "days", lang, True),
                ],
            )
        )
    rows.append(
        (
            "sales",
            [
                ("all segments" if lang == "en" else "alle Segmente")
                if rv.params.segment is None
                else rv.segment,
                _t("sales_effect", lang),
                _fmt(attribution.sales_days, "days", lang, True),
            ],
        )
    )
    rows.append(
        (
            "change",
            [
                "DSO",
                "Δ " + ("vs previous month" if lang == "en" else "zum Vormonat"),
                _fmt(attribution.change_days, "days", lang, True),
            ],
        )
    )
    head = [_t("segment", lang), _t("bucket", lang), _t("contribution", lang)]
    return Html(_table("ai-attr", head, rows))


# --- aging ------------------------------------------------------------------------


def aging_table(rv: Review) -> Html:
    """Open amount, share of AR and invoice count per aging bucket at the month end."""
    with rv.connect() as wh:
        frame = wh.sql(
            "select aging_bucket, cast(open_amount as double) as open_amount, share_of_ar_pct, "
            "count_open_invoices from marts.fct_aging_snapshots "
            "where month_end_date = ? and segment = ? order by bucket_order",
            [rv.month_end, rv.segment],
        )
        total = wh.sql(
            "select cast(ar_amount as double) as ar, count_open_invoices from "
            "marts.fct_dso_monthly where month_end_date = ? and segment = ?",
            [rv.month_end, rv.segment],
        )
    lang = rv.lang
    rows = [
        (
            bucket,
            [
                bucket_label(bucket, lang),
                _fmt(amount, "amount", lang),
                _fmt(pct, "pct", lang),
                _fmt(n, "count", lang),
            ],
        )
        for bucket, amount, pct, n in frame.rows()
    ]
    if total.height:
        ar, n = total.row(0)
        rows.append(
            (
                "total",
                [
                    _t("total", lang),
                    _fmt(ar, "amount", lang),
                    _fmt(100.0, "pct", lang),
                    _fmt(n, "count", lang),
                ],
            )
        )
    head = [
        _t("bucket", lang),
        _t("open_amount", lang, c=rv.currency),
        _t("share", lang),
        _t("invoices", lang),
    ]
    return Html(_table("ai-aging", head, rows))


# --- optional tables ----------------------------------------------------------------


def _has_table(wh: Warehouse, schema: str, table: str) -> bool:
    return table in wh.tables(schema)


def ladder_recommendations(rv: Review) -> pl.DataFrame | None:
    """``marts.ladder_recommendations`` (the scope's segment only), None when absent."""
    with rv.connect() as wh:
        if not _has_table(wh, "marts", "ladder_recommendations"):
            return None
        frame = wh.sql("select * from marts.ladder_recommendations")
    if rv.params.segment is not None and "segment" in frame.columns:
        import polars as pl

        frame = frame.filter(pl.col("segment") == rv.params.segment)
    order = [c for c in ("segment", "stage_number", "stage") if c in frame.columns]
    return frame.sort(order) if order else frame


#: Columns of the recommendation table, in the order a reader approves them.
_REC_COLUMNS = (
    ("segment", {"en": "Segment", "de": "Segment"}),
    ("stage_number", {"en": "Stage", "de": "Stufe"}),
    ("stage", {"en": "Stage", "de": "Stufe"}),
    ("stage_name", {"en": "Name", "de": "Bezeichnung"}),
    ("current_offset_days", {"en": "Offset now (days)", "de": "Versatz jetzt (Tage)"}),
    ("proposed_offset_days", {"en": "Proposed (days)", "de": "Vorschlag (Tage)"}),
    ("current_channel", {"en": "Channel now", "de": "Kanal jetzt"}),
    ("proposed_channel", {"en": "Proposed channel", "de": "Kanal Vorschlag"}),
    ("current_fee_amount", {"en": "Fee now", "de": "Gebühr jetzt"}),
    ("proposed_fee_amount", {"en": "Proposed fee", "de": "Gebühr Vorschlag"}),
    ("rationale", {"en": "Rationale", "de": "Begründung"}),
    ("count_evidence", {"en": "Evidence n", "de": "Evidenz n"}),
    ("evidence_n", {"en": "Evidence n", "de": "Evidenz n"}),
    ("evidence_count_invoices", {"en": "Evidence n (invoices)", "de": "Evidenz n (Rechnungen)"}),
    ("evidence_count_events", {"en": "Evidence n (sends)", "de": "Evidenz n (Mahnungen)"}),
    ("confidence", {"en": "Confidence", "de": "Konfidenz"}),
)


def recommendations_html(rv: Review) -> Html:
    """The ladder recommendations to approve or reject, or how to produce them."""
    import polars as pl

    frame = ladder_recommendations(rv)
    lang = rv.lang
    if frame is None:
        return Html(
            '<p class="ai-note">'
            + (
                "No ladder recommendations in this warehouse yet: run "
                "<code>arinsight recommend</code>, then render the report again."
                if lang == "en"
                else "Noch keine Empfehlungen im Warehouse: <code>arinsight recommend</code> "
                "ausführen und den Bericht neu erzeugen."
            )
            + "</p>"
        )
    if frame.height == 0:
        return Html(
            '<p class="ai-note">'
            + (
                "The recommender proposes no change to the ladder in force."
                if lang == "en"
                else "Der Empfehler schlägt keine Änderung der Mahnstufen vor."
            )
            + "</p>"
            + retry_recommendations_html(rv)
        )
    cols: list[tuple[str, str]] = []
    seen_labels: set[str] = set()
    # channel / fee columns only when the proposal changes one (else a note says so);
    # the rationale goes below the table, so the table fits a printed page
    same = [
        (now, new)
        for now, new in (
            ("current_channel", "proposed_channel"),
            ("current_fee_amount", "proposed_fee_amount"),
        )
        if now in frame.columns
        and new in frame.columns
        and all(a == b or b is None for a, b in frame.select(now, new).rows())
    ]
    hidden = {c for pair in same for c in pair} | {"rationale"}
    # invoices the fit used: one figure per segment, said once in the note
    per_segment_n = ""
    if "evidence_count_invoices" in frame.columns and "segment" in frame.columns:
        n_by_seg = frame.group_by("segment", maintain_order=True).agg(
            pl.col("evidence_count_invoices").drop_nulls().unique()
        )
        if all(len(v) <= 1 for v in n_by_seg["evidence_count_invoices"].to_list()):
            hidden.add("evidence_count_invoices")
            label = dict(_REC_COLUMNS)["evidence_count_invoices"][lang]
            per_segment_n = (
                f" {label}: "
                + "; ".join(f"{seg} {_cell(v[0]) if len(v) else '–'}" for seg, v in n_by_seg.rows())
                + "."
            )
    for name, labels in _REC_COLUMNS:
        if name in frame.columns and labels[lang] not in seen_labels and name not in hidden:
            cols.append((name, labels[lang]))
            seen_labels.add(labels[lang])
    # Expected effects with their 80 % intervals: every column the recommender
    # names delta_* or expected_* (value, *_low, *_high) is shown as "value [low, high]".
    expected = [
        c
        for c in frame.columns
        if c.startswith(("delta_", "expected_"))
        and not c.endswith(("_low", "_high", "_lower", "_upper"))
    ]
    # two tables that each fit a printed page: the proposal with its approve /
    # reject box, then the expected effects of the same rows
    head = [label for _, label in cols] + ["✓ / ✗"]
    keys = [n for n, _ in cols if n in ("segment", "stage_number", "stage", "stage_name")]
    effect_head = [label for n, label in cols if n in keys] + [
        _expected_label(c, lang) for c in expected
    ]
    rows = []
    effect_rows = []
    for i, r in enumerate(frame.iter_rows(named=True)):
        cells = [_cell(r[name]) for name, _ in cols]
        cells.append("☐ / ☐")
        rows.append((str(i), cells))
        effects = [_cell(r[name]) for name in keys]
        for c in expected:
            low = _first(r, (f"{c}_low", f"{c}_lower"))
            high = _first(r, (f"{c}_high", f"{c}_upper"))
            d = 0 if c.endswith("_amount") else 1  # money in whole units
            text = _cell(r[c], signed=True, digits=d)
            if low is not None and high is not None:
                # non-breaking inside the interval: a narrow column wraps before "["
                lo, hi = _cell(low, signed=True, digits=d), _cell(high, signed=True, digits=d)
                text += f" [{lo},\u00a0{hi}]"
            effects.append(text)
        effect_rows.append((str(i), effects))
    note = (
        "Intervals: 80 %. Tick approve or reject per row; small n is flagged by the "
        "recommender's confidence. Stage −1 = the segment's whole ladder (all its changes "
        "together)."
        if lang == "en"
        else "Intervalle: 80 %. Pro Zeile genehmigen oder ablehnen; kleines n zeigt die "
        "Konfidenz des Empfehlers. Stufe −1 = der ganze Mahnplan des Segments (alle "
        "Änderungen zusammen)."
    )
    note += per_segment_n
    if same:
        note += (
            " Channels and fees stay as they are."
            if lang == "en"
            else " Kanäle und Gebühren bleiben unverändert."
        )
    reasons = ""
    if "rationale" in frame.columns:
        items = "".join(
            f"<li><b>{html.escape(str(r.get('segment', '')))} · "
            f"{html.escape(str(_first(r, ('stage_number', 'stage'))))}"
            + (f" {html.escape(str(r['stage_name']))}" if r.get("stage_name") else "")
            + f"</b>: {html.escape(str(r['rationale']))}</li>"
            for r in frame.iter_rows(named=True)
            if r.get("rationale")
        )
        if items:
            title = "Rationale" if lang == "en" else "Begründung"
            reasons = f'<h4 class="ai-h4">{title}</h4><ul class="ai-reasons">{items}</ul>'
    effect_title = (
        "Expected effect of each row (80 % interval)"
        if lang == "en"
        else "Erwartete Wirkung je Zeile (80-%-Intervall)"
    )
    effect_table = (
        f'<h4 class="ai-h4">{effect_title}</h4>' + _table("ai-rec", effect_head, effect_rows)
        if expected
        else ""
    )
    return Html(
        _table("ai-rec", head, rows)
        + effect_table
        + f'<p class="ai-note">{html.escape(note)}</p>'
        + reasons
        + retry_recommendations_html(rv)
    )


def retry_recommendations_html(rv: Review) -> str:
    """``marts.retry_recommendations`` as a table (retry schedule per failure reason,
    then the scope's stages whose channel bounces); "" when absent or without rows
    (a ledger without payment attempts)."""
    import polars as pl

    with rv.connect() as wh:
        if not _has_table(wh, "marts", "retry_recommendations"):
            return ""
        frame = wh.sql(
            "select * from marts.retry_recommendations "
            "order by advice desc, failure_reason, segment, stage_number"
        )
    if rv.params.segment is not None:
        frame = frame.filter(
            (pl.col("advice") == "retry_schedule") | (pl.col("segment") == rv.params.segment)
        )
    if frame.height == 0:
        return ""
    en = rv.lang == "en"
    rows = []
    for i, r in enumerate(frame.iter_rows(named=True)):
        schedule = r["advice"] == "retry_schedule"
        if schedule:
            what = str(r["failure_reason"])
            tag = "" if r["is_changed"] else (" (keep)" if en else " (behalten)")
            n = r["evidence_count_attempts"]
        else:
            what = f"{r['segment']} · {'stage' if en else 'Stufe'} {r['stage_number']}"
            tag = (
                (" (in the proposed ladder)" if en else " (im Vorschlag)")
                if r["is_changed"]
                else (" (advice only)" if en else " (Hinweis)")
            )
            n = r["evidence_count_sends"]
        rows.append(
            (
                f"retry-{i}",
                [what, str(r["current"]), f"{r['proposed']}{tag}", _cell(n), str(r["rationale"])],
            )
        )
    head = (
        ["Failure reason / stage", "Now", "Proposed", "n", "Rationale"]
        if en
        else ["Fehlgrund / Stufe", "Jetzt", "Vorschlag", "n", "Begründung"]
    )
    title = (
        "Retry schedules of failed payments and channel advice"
        if en
        else "Wiederholungen fehlgeschlagener Abbuchungen und Kanalhinweise"
    )
    note = (
        "n = retries (schedule, ladder-wide) or sends (channel). A channel is flagged "
        "where its sends bounce clearly more than 10 %; the proposed ladder keeps the "
        "channel. Method: docs/payments.md."
        if en
        else "n = Wiederholungen (Plan, für den ganzen Mahnplan) bzw. Sendungen (Kanal). "
        "Ein Kanal wird markiert, wo klar mehr als 10 % der Sendungen unzustellbar sind; "
        "der Vorschlag behält den Kanal. Methode: docs/payments.md."
    )
    return (
        f'<h4 class="ai-h4">{html.escape(title)}</h4>'
        + _table("ai-retry-rec", head, rows)
        + f'<p class="ai-note">{html.escape(note)}</p>'
    )


def _first(r: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in r and r[n] is not None:
            return r[n]
    return None


_EFFECT_LABELS = {
    "dso_days": ("DSO (days)", "DSO (Tage)"),
    "dso_change_days": ("DSO (days)", "DSO (Tage)"),
    "recovery_pct": ("recovery (pp)", "Realisierung (pp)"),
    "involuntary_churn": ("involuntary churn", "unfreiw. Abwanderung"),
    "net_value_amount": ("net value (EUR)", "Nettowert (EUR)"),
}


def _expected_label(column: str, lang: str) -> str:
    """``delta_dso_days`` → ``Expected Δ DSO (days)``."""
    key = column.removeprefix("expected_").removeprefix("delta_")
    en, de = _EFFECT_LABELS.get(key, (key.replace("_", " "), key.replace("_", " ")))
    return f"Expected Δ {en}" if lang == "en" else f"Erwartet Δ {de}"


def _cell(value: Any, signed: bool = False, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        text = f"{abs(value) if signed else value:,.{digits}f}"
        return (("+" if value >= 0 else "−") + text) if signed else text
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- the last ladder change -----------------------------------------------------------


@dataclass(frozen=True)
class LadderChange:
    """The last ladder change and its realised effect (difference in differences).

    DSO is averaged over up to ``months`` month ends before the change and
    the month ends from the change to the report month; ``changed`` are the
    segments whose stages differ between the two versions, ``unchanged`` the
    comparison group.
    """

    version_before: str
    version_after: str
    effective_date: dt.date
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    table: pl.DataFrame  # segment, group, dso before, dso after, change, n months,
    #                      change vs unchanged segments, expected change (80 % interval)
    did_days: float | None  # change in changed segments minus change in unchanged ones
    #: meta.ladder_expectations rows of the new version (None: nothing was recorded,
    #: e.g. applied without a recommendation, or before expectations were stored)
    expected: pl.DataFrame | None = None


def ladder_versions(wh: Warehouse) -> pl.DataFrame | None:
    """``meta.ladders`` ordered by effective date, None when the table is absent."""
    if not _has_table(wh, "meta", "ladders"):
        return None
    return wh.sql("select * from meta.ladders order by effective_date, version")


def segment_stages(yaml_text: str, segments: list[str]) -> dict[str, Any]:
    """Each segment's stage list under a ladder YAML (``segments`` override ``default``)."""
    import yaml

    doc = yaml.safe_load(yaml_text) or {}
    default = doc.get("default") or []
    per = doc.get("segments") or {}
    return {s: per.get(s, default) for s in segments}


def last_ladder_change(rv: Review, months: int = 3) -> LadderChange | None:
    """Review of the latest ladder version against the one before (None: < 2 versions)."""
    import polars as pl

    with rv.connect() as wh:
        versions = ladder_versions(wh)
        if versions is None or versions.height < 2:
            return None
        versions = versions.filter(pl.col("effective_date").cast(pl.Date) <= rv.month_end)
        if versions.height < 2:
            return None
        old, new = versions.row(-2, named=True), versions.row(-1, named=True)
        segments = [
            r[0]
            for r in wh.con.execute(
                "select distinct segment from marts.fct_dso_monthly where segment <> 'all' "
                "order by 1"
            ).fetchall()
        ]
        eff = new["effective_date"]
        eff = eff.date() if isinstance(eff, dt.datetime) else eff
        dso = wh.sql(
            "select segment, month_end_date, dso_days from marts.fct_dso_monthly "
            "where segment <> 'all' and month_end_date <= ? order by segment, month_end_date",
            [rv.month_end],
        )
        expected = None
        if _has_table(wh, "meta", "ladder_expectations"):
            expected = wh.sql(
                "select * from meta.ladder_expectations where version = ? order by segment",
                [new["version"]],
            )
            if expected.height == 0:
                expected = None
    before_st = segment_stages(str(old["yaml_text"]), segments)
    after_st = segment_stages(str(new["yaml_text"]), segments)
    changed = tuple(s for s in segments if before_st[s] != after_st[s])
    unchanged = tuple(s for s in segments if s not in changed)
    pre = dso.filter(pl.col("month_end_date") < eff).group_by("segment").tail(months)
    post = dso.filter(pl.col("month_end_date") >= eff)
    table = (
        pre.group_by("segment")
        .agg(pl.col("dso_days").mean().alias("dso_before_days"))
        .join(
            post.group_by("segment").agg(
                pl.col("dso_days").mean().alias("dso_after_days"),
                pl.len().alias("count_months_after"),
            ),
            on="segment",
            how="full",
            coalesce=True,
        )
        .with_columns(
            (pl.col("dso_after_days") - pl.col("dso_before_days")).alias("dso_change_days"),
            pl.col("segment").is_in(list(changed)).alias("is_ladder_changed"),
        )
        .sort("segment")
    )
    did = None
    means = table.group_by("is_ladder_changed").agg(pl.col("dso_change_days").mean())
    got = dict(means.rows())
    if got.get(True) is not None and got.get(False) is not None:
        did = float(got[True]) - float(got[False])
    # per changed segment: its change minus the unchanged segments' mean change
    base = got.get(False)
    table = table.with_columns(
        pl.when(pl.col("is_ladder_changed") & pl.lit(base is not None))
        .then(pl.col("dso_change_days") - pl.lit(base, dtype=pl.Float64))
        .otherwise(None)
        .alias("dso_change_vs_unchanged_days")
    )
    effect_cols = [
        "is_as_recommended",
        "delta_dso_days",
        "delta_dso_days_low",
        "delta_dso_days_high",
    ]
    if expected is not None:
        table = table.join(
            expected.select("segment", *effect_cols), on="segment", how="left"
        ).with_columns(
            # an expected effect describes what was applied only where the ladder is the proposal
            *(
                pl.when(pl.col("is_as_recommended").fill_null(False))
                .then(pl.col(c))
                .otherwise(None)
                .alias(f"expected_{c}")
                for c in effect_cols[1:]
            )
        )
    else:
        table = table.with_columns(
            pl.lit(None, dtype=pl.Boolean).alias("is_as_recommended"),
            *(pl.lit(None, dtype=pl.Float64).alias(f"expected_{c}") for c in effect_cols[1:]),
        )
    return LadderChange(
        version_before=str(old["version"]),
        version_after=str(new["version"]),
        effective_date=eff,
        changed=changed,
        unchanged=unchanged,
        table=table,
        did_days=did,
        expected=expected,
    )


def ladder_change_html(rv: Review) -> Html:
    """The last ladder change: realised before/after DSO, changed vs unchanged segments."""
    change = last_ladder_change(rv)
    lang = rv.lang
    if change is None:
        return Html(
            '<p class="ai-note">'
            + (
                "No ladder change to review: meta.ladders holds fewer than two versions "
                "(record them with <code>arinsight ladder apply</code>)."
                if lang == "en"
                else "Keine Änderung zu prüfen: meta.ladders enthält weniger als zwei Versionen "
                "(<code>arinsight ladder apply</code>)."
            )
            + "</p>"
        )
    rows = [
        (
            str(r["segment"]),
            [
                str(r["segment"]),
                ("changed" if lang == "en" else "geändert")
                if r["is_ladder_changed"]
                else ("unchanged" if lang == "en" else "unverändert"),
                _fmt(r["dso_before_days"], "days", lang),
                _fmt(r["dso_after_days"], "days", lang),
                _fmt(r["dso_change_days"], "days", lang, signed=True),
                _fmt(r["dso_change_vs_unchanged_days"], "days", lang, signed=True),
                _expected_cell(r, lang),
                _fmt(r["count_months_after"], "count", lang),
            ],
        )
        for r in change.table.iter_rows(named=True)
    ]
    head = (
        [
            "Segment",
            "Ladder",
            "DSO before",
            "DSO after",
            "Change",
            "Realised vs unchanged",
            "Expected (80 %)",
            "Months after",
        ]
        if lang == "en"
        else [
            "Segment",
            "Mahnstufen",
            "DSO vorher",
            "DSO nachher",
            "Veränderung",
            "Realisiert ggü. unverändert",
            "Erwartet (80 %)",
            "Monate nachher",
        ]
    )
    if change.did_days is None:
        verdict = (
            "Every segment changed ladder: there is no comparison group, so the change "
            "cannot be separated from the season."
            if lang == "en"
            else "Alle Segmente wurden geändert: ohne Vergleichsgruppe ist der Effekt nicht "
            "von der Saison zu trennen."
        )
    else:
        d = _fmt(change.did_days, "days", lang, signed=True)
        verdict = (
            f"Version {change.version_after} (in force from {change.effective_date}) replaced "
            f"{change.version_before}. Against segments whose ladder did not change, DSO in the "
            f"changed segments ({', '.join(change.changed) or '–'}) moved {d} days."
            if lang == "en"
            else f"Version {change.version_after} (gültig ab {change.effective_date}) ersetzte "
            f"{change.version_before}. Gegenüber Segmenten ohne Änderung bewegte sich die DSO "
            f"der geänderten Segmente ({', '.join(change.changed) or '–'}) um {d} Tage."
        )
    return Html(
        f'<p class="ai-narrative">{html.escape(verdict)}</p>'
        + f'<p class="ai-note">{html.escape(_expected_note(change, lang))}</p>'
        + _table("ai-ladder", head, rows)
    )


def _expected_cell(r: dict[str, Any], lang: str) -> str:
    """``−2.1 (−3.0 to −1.2)`` for a changed segment applied as recommended, else –."""
    if not r["is_ladder_changed"] or r.get("expected_delta_dso_days") is None:
        return "–"
    point = _fmt(r["expected_delta_dso_days"], "days", lang, signed=True)
    low = _fmt(r["expected_delta_dso_days_low"], "days", lang, signed=True)
    high = _fmt(r["expected_delta_dso_days_high"], "days", lang, signed=True)
    return f"{point} ({low} {'to' if lang == 'en' else 'bis'} {high})"


def _expected_note(change: LadderChange, lang: str) -> str:
    """What the expected column compares, and why a segment has none."""
    en = lang == "en"
    if change.expected is None:
        return (
            f"No expected effect is stored with version {change.version_after}: it was applied "
            "without recommendations in the warehouse. Run `arinsight recommend` before "
            "`arinsight ladder apply` to keep the expected effect with the next version."
            if en
            else f"Zu Version {change.version_after} ist keine erwartete Wirkung gespeichert: "
            "sie wurde ohne Empfehlungen im Warehouse angewendet. `arinsight recommend` vor "
            "`arinsight ladder apply` speichert sie mit der nächsten Version."
        )
    off = [
        str(r["segment"])
        for r in change.expected.iter_rows(named=True)
        if r["segment"] in change.changed and not r["is_as_recommended"]
    ]
    when = change.expected["recommended_at"].drop_nulls()
    stamp = str(when[0])[:10] if when.len() else "–"
    text = (
        f"Expected = the recommender's Δ of amount-weighted days outstanding (what DSO "
        f"averages to) for the whole ladder, 80 % interval, from the recommendation of "
        f"{stamp} stored when version {change.version_after} was applied; compare it with "
        "the realised change against the unchanged segments."
        if en
        else f"Erwartet = die vom Empfehlungsmodell geschätzte Änderung der betragsgewichteten "
        f"offenen Tage (Mittel der DSO) für den ganzen Mahnplan, 80-%-Intervall, aus der "
        f"Empfehlung vom {stamp}, gespeichert bei Anwendung von Version "
        f"{change.version_after}; zu vergleichen mit der realisierten Änderung ggü. den "
        "unveränderten Segmenten."
    )
    if off:
        text += (
            f" Applied differently from the recommendation (no expected effect): {', '.join(off)}."
            if en
            else f" Anders als empfohlen angewendet (keine erwartete Wirkung): {', '.join(off)}."
        )
    return text


# --- data quality -----------------------------------------------------------------------


_GUARD = {
    "reminder_after_settlement": {
        "en": "Reminder sent after the invoice was settled",
        "de": "Mahnung nach Ausgleich der Rechnung",
    },
    "reminder_on_disputed_invoice": {
        "en": "Reminder on a disputed invoice",
        "de": "Mahnung trotz Reklamation",
    },
    "skipped_stage": {"en": "Stage skipped", "de": "Stufe übersprungen"},
}


def _checks_html(checks: pl.DataFrame | None, lang: str) -> str:
    """The latest ``arinsight check`` run (``meta.checks``): summary and failed expectations."""
    en = lang == "en"
    if checks is None or checks.height == 0:
        return (
            '<p class="ai-note">'
            + (
                "No quality check is stored for this warehouse: run "
                "<code>arinsight check</code> (it stores its results in meta.checks)."
                if en
                else "Für dieses Warehouse ist keine Qualitätsprüfung gespeichert: "
                "<code>arinsight check</code> ausführen (speichert in meta.checks)."
            )
            + "</p>"
        )
    rows = checks.to_dicts()
    ran = [r for r in rows if r["success"] is not None]
    failed = [r for r in ran if not r["success"]]
    skipped = len(rows) - len(ran)
    stamp = str(rows[0]["checked_at"])[:16]
    summary = (
        f"Latest <code>arinsight check</code> ({stamp} UTC): {len(ran) - len(failed)} of "
        f"{len(ran)} expectations met, {len(failed)} failed"
        + (f", {skipped} suite(s) skipped." if skipped else ".")
        if en
        else f"Letzte Prüfung <code>arinsight check</code> ({stamp} UTC): "
        f"{len(ran) - len(failed)} von {len(ran)} Erwartungen erfüllt, {len(failed)} verletzt"
        + (f", {skipped} Suite(n) übersprungen." if skipped else ".")
    )
    out = f'<p class="ai-note">{summary}</p>'
    if failed:
        head = (
            ["Table", "Column", "Expectation failed", "Rows failing", "Rows checked"]
            if en
            else ["Tabelle", "Spalte", "Verletzte Erwartung", "Zeilen verletzt", "Zeilen geprüft"]
        )
        out += _table(
            "ai-checks",
            head,
            [
                (
                    f"{r['suite']}|{r['expectation']}",
                    [
                        str(r["table_name"]),
                        str(r["column_names"] or "–"),
                        str(r["expectation"]),
                        _fmt(r["unexpected_count"], "count", lang),
                        _fmt(r["row_count"], "count", lang),
                    ],
                )
                for r in failed
            ],
        )
    return out


def data_quality_html(rv: Review) -> Html:
    """Latest loads, quarantine reasons, guardrail findings of the month, expectation runs."""
    lang = rv.lang
    parts: list[str] = []
    with rv.connect() as wh:
        loads = wh.sql(
            "select file, table_name, rows_read, rows_loaded, rows_quarantined, "
            "cast(loaded_at as varchar) as loaded_at from meta.loads "
            "qualify load_id = max(load_id) over (partition by file, table_name) "
            "order by table_name, file"
        )
        quarantine = wh.sql(
            "select table_name, reason, count(*) as n from meta.quarantine "
            "group by all order by n desc, table_name, reason limit 10"
        )
        guard = wh.sql(
            "select finding_kind, sum(count_findings) as n, sum(count_events_sent) as sent "
            "from marts.fct_guardrails where month_end_date = ? and segment = ? "
            "group by finding_kind order by finding_kind",
            [rv.month_end, rv.segment],
        )
        from arinsight import metrics

        check_frame = metrics.checks(wh)
    h_loads = (
        ["File", "Table", "Read", "Loaded", "Quarantined", "Loaded at"]
        if lang == "en"
        else ["Datei", "Tabelle", "Gelesen", "Geladen", "Quarantäne", "Geladen am"]
    )
    rows = [
        (
            f"{f}|{t}",
            [
                Path(f).name,
                str(t),
                _fmt(a, "count", lang),
                _fmt(b, "count", lang),
                _fmt(c, "count", lang),
                str(d)[:16],
            ],
        )
        for f, t, a, b, c, d in loads.rows()
    ]
    parts.append(_table("ai-loads", h_loads, rows))
    if quarantine.height:
        h_q = ["Table", "Reason", "Rows"] if lang == "en" else ["Tabelle", "Grund", "Zeilen"]
        parts.append(
            _table(
                "ai-quarantine",
                h_q,
                [
                    (str(i), [str(t), str(r), _fmt(n, "count", lang)])
                    for i, (t, r, n) in enumerate(quarantine.rows())
                ],
            )
        )
    else:
        parts.append(
            '<p class="ai-note">'
            + ("No row is in quarantine." if lang == "en" else "Keine Zeile in Quarantäne.")
            + "</p>"
        )
    if guard.height:
        h_g = (
            ["Guardrail finding in the month", "Reminders", "Reminders sent"]
            if lang == "en"
            else ["Guardrail-Befund im Monat", "Mahnungen", "Mahnungen gesamt"]
        )
        parts.append(
            _table(
                "ai-guard",
                h_g,
                [
                    (
                        str(k),
                        [
                            _GUARD.get(str(k), {}).get(lang, str(k)),
                            _fmt(n, "count", lang),
                            _fmt(s, "count", lang),
                        ],
                    )
                    for k, n, s in guard.rows()
                ],
            )
        )
    parts.append(_checks_html(check_frame, lang))
    return Html("".join(parts))


def subsection(title_en: str, title_de: str, rv: Review) -> Html:
    """A heading inside a section (no page break)."""
    return Html(
        f'<h3 class="ai-sub-section">{html.escape(title_en if rv.lang == "en" else title_de)}</h3>'
    )


def section(title_en: str, title_de: str, rv: Review, *, new_page: bool = True) -> Html:
    """A section heading (starts a new page in the PDF unless ``new_page`` is False)."""
    css = "ai-section" if new_page else "ai-section ai-first"
    return Html(f'<h2 class="{css}">{html.escape(title_en if rv.lang == "en" else title_de)}</h2>')


#: CSS of the report's tables and headings (screen and print).
STYLE = """<style>
.ai-title h1 { font-size: 1.8em; margin: 0 0 .2em 0; }
.ai-sub { color: #555; margin: 0 0 1em 0; }
.ai-section { margin-top: 1.2em; border-bottom: 2px solid #1f3b57; padding-bottom: .2em; }
.ai-narrative { font-size: 1.1em; line-height: 1.5; max-width: 60em; }
.ai-note { color: #555; font-style: italic; }
table.ai-table { border-collapse: collapse; margin: .6em 0 1em 0; font-size: .95em; }
table.ai-table th { background: #1f3b57; color: #fff; padding: 4px 10px; white-space: nowrap; }
table.ai-table td { padding: 3px 10px; border-bottom: 1px solid #ddd; white-space: nowrap; }
table.ai-table .num { text-align: right; font-variant-numeric: tabular-nums; }
table.ai-table .txt { text-align: left; }
table.ai-table td.txt { white-space: normal; }
table.ai-table tr:last-child td { border-bottom: 1px solid #1f3b57; }
table.ai-rec th, table.ai-rec td.num, table.ai-ladder th { white-space: normal; }
table.ai-rec th { font-size: .9em; vertical-align: bottom; }
table.ai-rec td.txt:last-child { white-space: nowrap; }
ul.ai-reasons { font-size: .9em; line-height: 1.4; padding-left: 1.2em; }
ul.ai-reasons li { margin-bottom: .3em; break-inside: avoid; }
@media print {
  .ai-section { break-before: page; }
  .ai-section.ai-first { break-before: auto; }
  table.ai-table, .jp-OutputArea-output { break-inside: avoid; }
  table.ai-table { font-size: .82em; }
  table.ai-rec { font-size: .74em; }
  /* a long recommendations table may break across pages (row by row) */
  table.ai-rec, .jp-OutputArea-output:has(table.ai-rec),
  .jp-OutputArea-child:has(table.ai-rec) { break-inside: auto; }
  table.ai-rec tr { break-inside: avoid; }
  table.ai-table th, table.ai-table td { padding: 3px 6px; }
}
</style>"""


# --- charts ---------------------------------------------------------------------------


def frames(rv: Review) -> dict[str, pl.DataFrame]:
    """The mart rows the charts draw, read in one short connection.

    Keys: ``dso``, ``aging``, ``roll``, ``conversion``, ``survival``,
    ``recovery``, ``churn_by_stage``, ``churn`` (each up to the report month).
    """
    import polars as pl

    from arinsight import metrics

    seg = rv.params.segment
    with rv.connect() as wh:
        until = pl.col("month_end_date") <= rv.month_end
        out = {
            "dso": metrics.dso_monthly(wh).filter(until),
            "aging": metrics.aging_snapshots(wh).filter(until),
            "roll": metrics.aging_roll_rates(wh, segment=rv.segment).filter(until),
            "conversion": metrics.stage_conversion(wh, segment=rv.segment).filter(until),
            "recovery": metrics.recovery(wh).filter(until),
            "churn_by_stage": metrics.churn_by_stage(wh, segment=rv.segment).filter(until),
            "churn": metrics.churn(wh).filter(until),
        }
        bands = metrics.has_relation(wh, "marts", "fct_dash_survival_bands")
        out["survival"] = (
            metrics.stage_survival_bands(wh, segment=rv.segment)
            if bands
            else metrics.stage_survival(wh, segment=rv.segment)
        )
    del seg
    return out


def ladder_in_force(rv: Review) -> tuple[pl.DataFrame, str]:
    """The ladder per segment x stage (``metrics.ladder_in_force`` columns) and its source.

    The ``ladder`` parameter's YAML when given, else the version of
    ``meta.ladders`` in force at the month end, else the shipped default.

    Raises:
        ConfigError: the ladder file is not a valid ladder.
    """
    import polars as pl

    from arinsight import metrics

    with rv.connect() as wh:
        if rv.params.ladder is None:
            return metrics.ladder_in_force(wh, rv.month_end)
        segments = metrics.segments(wh)
    from arinsight.config import load_ladder

    ladder = load_ladder(rv.params.ladder)
    rows = [
        {
            "segment": seg,
            "stage_number": stage.stage,
            "stage_name": stage.name,
            "due_offset_days": offset,
            "channel": stage.channel,
            "fee_amount": float(stage.fee),
        }
        for seg in segments
        for stage, offset in zip(ladder.for_segment(seg), ladder.due_offsets(seg), strict=True)
    ]
    return pl.DataFrame(rows), str(rv.params.ladder)


def stage_names(rv: Review) -> dict[int, str]:
    """Stage number → name of the ladder in force at the month end (where segments agree)."""
    ladder, _ = ladder_in_force(rv)
    if rv.params.segment is not None:
        ladder = ladder.filter(ladder["segment"] == rv.params.segment)
    names: dict[int, set[str]] = {}
    for k, name in ladder.select("stage_number", "stage_name").iter_rows():
        names.setdefault(int(k), set()).add(str(name))
    return {k: next(iter(v)) for k, v in names.items() if len(v) == 1}


def show(fig: Any, height: int = 400) -> None:
    """Display a figure at the page's width and a fixed height.

    On an A4 page the dashboard's legend (above the plot) runs into the title;
    here the title sits at the top of the figure and the legend between it and
    the plot, with the top margin to hold both. Otherwise the figure is the
    dashboard's, unchanged.
    """
    import plotly.graph_objects as go

    # The builders skip plotly's validation for the dashboard's speed, which
    # leaves the template as a bare name that plotly's HTML output cannot read;
    # a validated copy resolves it (the figure is otherwise the same).
    fig = go.Figure(fig.to_dict())
    shown = [tr for tr in fig.data if getattr(tr, "showlegend", None) is not False]
    fig.update_layout(height=height, width=None, autosize=True)
    if len(shown) > 1:
        rows = 2 if len(shown) > 3 else 1
        fig.update_layout(
            title={"y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 6}},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "xanchor": "left"},
            margin={"t": 50 + 24 * rows + 12},
        )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    fig.show(config={"displaylogo": False, "responsive": True})
