"""Figure builders (arinsight.viz) on hand-built frames shaped like the readers' output.

Expected values come from the input rows themselves (what the chart must show),
never from a builder's output.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import plotly.graph_objects as go
import polars as pl
import pytest

from arinsight import viz
from arinsight.viz import theme
from arinsight.viz.theme import LABELS, fmt_days, fmt_eur, fmt_pct, t

M1, M2, M3 = dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)
# monthly charts plot a month end at the first day of its month (axis labels sit there)
X2, X3 = dt.date(2025, 2, 1), dt.date(2025, 3, 1)


@pytest.fixture(autouse=True)
def validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builders run with plotly's property validation on: a typo'd property fails here."""
    monkeypatch.setattr("arinsight.viz.figures.VALIDATE", True)


def _names(fig: go.Figure) -> list[str]:
    return [tr.name for tr in fig.data]


def _trace(fig: go.Figure, name: str) -> go.BaseTraceType:
    hits = [tr for tr in fig.data if tr.name == name]
    assert len(hits) == 1, (name, _names(fig))
    return hits[0]


def _is_empty(fig: go.Figure, lang: str = "en") -> bool:
    return len(fig.data) == 0 and any(a.text == t("no_data", lang) for a in fig.layout.annotations)


# ---------------------------------------------------------------- theme


@pytest.mark.parametrize(
    ("value", "lang", "kwargs", "expected"),
    [
        (1234567.4, "en", {}, "€1,234,567"),  # thousands comma, no cents by default
        (1234567.4, "de", {}, "1.234.567 €"),  # German: dot thousands, symbol after
        (1234.5, "de", {"decimals": 2}, "1.234,50 €"),  # decimal comma
        (-2500, "en", {}, "−€2,500"),  # a real minus sign before the symbol
        (1_250_000, "en", {"compact": True}, "€1.2M"),  # 1.25 -> 1.2 (banker's rounding)
        (1_260_000, "de", {"compact": True}, "1,3 Mio. €"),
        (45_000, "en", {"compact": True}, "€45k"),
        (None, "en", {}, "–"),  # missing is a dash, never "None" or "nan"
        (float("nan"), "de", {}, "–"),
    ],
)
def test_fmt_eur(value: float | None, lang: str, kwargs: dict[str, object], expected: str) -> None:
    assert fmt_eur(value, lang, **kwargs) == expected  # type: ignore[arg-type]


def test_fmt_days_and_pct() -> None:
    assert fmt_days(30.94) == "30.9 days"
    assert fmt_days(30.94, "de") == "30,9 Tage"
    assert fmt_days(1, decimals=0) == "1 day"
    assert fmt_days(None) == "–"
    assert fmt_pct(23.456) == "23.5 %"
    assert fmt_pct(23.456, "de") == "23,5 %"
    assert fmt_pct(1234.5, "de", decimals=0) == "1.234 %"  # 1234.5 rounds half to even


def test_every_label_has_both_languages() -> None:
    for key, (en, de) in LABELS.items():
        assert en.strip() and de.strip(), key
        assert t(key, "en") == en and t(key, "de") == de
    with pytest.raises(KeyError):
        t("no_such_label")
    with pytest.raises(KeyError):
        t("dso", "fr")


def test_palette_is_okabe_ito_and_distinct() -> None:
    assert len(set(theme.PALETTE)) == len(theme.PALETTE)
    assert set(theme.PALETTE) <= set(theme.OKABE_ITO.values())
    assert len(set(theme.AGING_COLOURS.values())) == 6
    assert set(theme.AGING_COLOURS.values()) <= set(theme.OKABE_ITO.values())


# ---------------------------------------------------------------- overview

DSO = pl.DataFrame(
    {
        "month_end_date": [M1, M1, M2, M2, M3, M3],
        "segment": ["all", "smb", "all", "smb", "all", "smb"],
        "dso_days": [70.0, 60.0, 31.0, 25.0, 29.5, 24.0],
        "countback_dso_days": [65.0, 55.0, 30.0, 24.0, 28.0, 23.0],
        "best_possible_dso_days": [50.0, 40.0, 22.0, 15.0, 21.0, 14.0],
        "is_window_complete": [False, False, True, True, True, True],
        "current_ar_amount": [
            D("100.00"),
            D("40.00"),
            D("700.00"),
            D("300.00"),
            D("650.00"),
            D("250.00"),
        ],
        "overdue_ar_amount": [
            D("10.00"),
            D("5.00"),
            D("300.00"),
            D("100.00"),
            D("250.00"),
            D("90.00"),
        ],
    }
)


def test_dso_trend_draws_the_segment_and_skips_incomplete_windows() -> None:
    fig = viz.dso_trend(DSO, segment="smb", target_days=30)
    # January's 90-day window reaches before the first invoice: left out.
    assert list(_trace(fig, "DSO").x) == [X2, X3]
    assert fig.layout.xaxis.hoverformat == "%b %Y"
    assert list(_trace(fig, "DSO").y) == [25.0, 24.0]
    assert list(_trace(fig, "Countback DSO").y) == [24.0, 23.0]
    assert list(_trace(fig, "Best possible DSO").y) == [15.0, 14.0]
    targets = [s for s in fig.layout.shapes if s.y0 == 30 and s.y1 == 30]
    assert len(targets) == 1


def test_dso_trend_german_and_empty() -> None:
    fig = viz.dso_trend(DSO, segment="all", lang="de")
    assert _names(fig) == ["DSO", "Countback-DSO", "Bestmögliche DSO"]
    assert fig.layout.separators == ",."  # decimal comma in hover and ticks
    assert not fig.layout.shapes  # no target given, no line
    assert _is_empty(viz.dso_trend(DSO, segment="consumer", lang="de"), "de")


def test_outstanding_vs_overdue_stacks_current_and_overdue() -> None:
    fig = viz.outstanding_vs_overdue(DSO, segment="all")
    assert fig.layout.barmode == "stack"
    assert list(_trace(fig, "Not yet due").y) == [100.0, 700.0, 650.0]
    assert list(_trace(fig, "Overdue").y) == [10.0, 300.0, 250.0]


def test_segment_breakdown_excludes_all_and_labels_dso() -> None:
    fig = viz.segment_breakdown(DSO, month_end=M2)
    bars = _trace(fig, "Overdue")
    assert list(bars.y) == ["smb<br>DSO 25.0 days"]
    assert list(bars.x) == [100.0]


# ---------------------------------------------------------------- aging

BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-120", "121+")
AGING = pl.DataFrame(
    {
        "month_end_date": [M1] * 6 + [M2] * 6,
        "segment": ["all"] * 12,
        "aging_bucket": list(BUCKETS) * 2,
        "bucket_order": list(range(1, 7)) * 2,
        "open_amount": [D(x) for x in ("500", "200", "100", "50", "0", "150")]
        + [D(x) for x in ("600", "100", "80", "20", "10", "190")],
        "share_of_ar_pct": [50.0, 20.0, 10.0, 5.0, 0.0, 15.0, 60.0, 10.0, 8.0, 2.0, 1.0, 19.0],
    }
)


def test_aging_stacked_buckets_in_order_and_sum_to_ar() -> None:
    fig = viz.aging_stacked(AGING, segment="all")
    assert _names(fig) == [theme.bucket_label(b) for b in BUCKETS]
    assert [tr.marker.color for tr in fig.data] == [theme.AGING_COLOURS[b] for b in BUCKETS]
    # AR = 500+200+100+50+0+150 = 1,000 in January; 600+100+80+20+10+190 = 1,000 in February
    totals = [sum(tr.y[i] for tr in fig.data) for i in range(2)]
    assert totals == [1000.0, 1000.0]


ROLL = pl.DataFrame(
    {
        "month_end_date": [M2, M2, M3, M3],
        "segment": ["all"] * 4,
        "from_aging_bucket": ["not_due", "1-30", "not_due", "1-30"],
        "from_bucket_order": [1, 2, 1, 2],
        "count_open_invoices": [40, 10, 50, 20],
        "cure_rate_pct": [80.0, 60.0, 70.0, 50.0],
        "stay_rate_pct": [0.0, 0.0, 0.0, 0.0],
        "roll_rate_pct": [20.0, 35.0, 30.0, 45.0],
        "write_off_rate_pct": [0.0, 5.0, 0.0, 5.0],
    }
)


def test_roll_rate_matrix_latest_month_by_default() -> None:
    fig = viz.roll_rate_matrix(ROLL)
    (heat,) = fig.data
    # March rows: not_due 70/0/30/0, 1-30 50/0/45/5 (cured, stayed, rolled, written off)
    assert [list(r) for r in heat.z] == [[70.0, 0.0, 30.0, 0.0], [50.0, 0.0, 45.0, 5.0]]
    assert [sum(r) for r in heat.z] == [100.0, 100.0]
    assert "2025-03-31" in fig.layout.title.text
    feb = viz.roll_rate_matrix(ROLL, month_end=M2).data[0]
    assert list(feb.z[0]) == [80.0, 0.0, 20.0, 0.0]
    assert [c[0] for c in feb.customdata] == [40, 10]  # n behind each row


def test_billing_cohorts_lines() -> None:
    cohorts = pl.DataFrame(
        {
            "month_end_date": [M1, M2],
            "segment": ["all", "all"],
            "count_invoices": [3, 1],
            "paid_within_30d_pct": [28.6, 0.0],
            "paid_within_60d_pct": [42.9, None],
            "paid_within_90d_pct": [42.9, None],
        }
    )
    fig = viz.billing_cohorts(cohorts)
    assert list(_trace(fig, "30 days").y) == [28.6, 0.0]
    assert list(_trace(fig, "60 days").y) == [42.9, None]  # horizon not observed: a gap


# ---------------------------------------------------------------- dunning

CONVERSION = pl.DataFrame(
    {
        "month_end_date": [M3, M3, M2],
        "segment": ["all", "all", "all"],
        "stage_number": [1, 2, 1],
        "count_entered": [100, 40, 90],
        "count_converted": [55, 20, 50],
        "count_progressed": [40, 15, 35],
        "count_pending": [5, 5, 5],
        "conversion_pct": [55.0, 50.0, 55.6],
    }
)


def test_stage_funnel_counts_and_labels() -> None:
    fig = viz.stage_funnel(CONVERSION, stage_names={1: "Zahlungserinnerung", 2: "1. Mahnung"})
    entered = _trace(fig, "Reached the stage")
    assert list(entered.x) == ["1<br>Zahlungserinnerung", "2<br>1. Mahnung"]
    assert list(entered.y) == [100, 40]
    paid = _trace(fig, "Paid before the next stage")
    assert list(paid.y) == [55, 20]
    assert list(paid.text) == ["55 %", "50 %"]
    assert list(_trace(fig, "Escalated to the next stage").y) == [40, 15]
    assert list(viz.stage_funnel(CONVERSION, month_end=M2).data[0].y) == [90]


SURVIVAL = pl.DataFrame(
    {
        "segment": ["all"] * 4,
        "stage_number": [1, 1, 2, 2],
        "days_since_send": [1, 3, 2, 200],
        "count_at_risk": [10, 6, 5, 1],
        "still_open_ratio": [0.8, 0.4, 0.6, 0.3],
        "lower_ratio": [0.7, 0.3, 0.5, 0.2],
        "upper_ratio": [0.9, 0.5, 0.7, 0.4],
    }
)


def test_survival_curves_start_at_100_percent_with_bands() -> None:
    fig = viz.survival_curves(SURVIVAL)
    curve = _trace(fig, "Stage 1")
    assert list(curve.x) == [0, 1, 3]
    assert list(curve.y) == pytest.approx([100.0, 80.0, 40.0])
    assert curve.line.shape == "hv"  # a Kaplan-Meier curve is a step function
    band = _trace(fig, "Stage 1 95 %")
    # upper edge forward, lower edge back: 100, 90, 50 | 30, 70, 100
    assert list(band.y) == pytest.approx([100.0, 90.0, 50.0, 30.0, 70.0, 100.0])
    # day 200 is beyond the default 120-day window
    assert list(_trace(fig, "Stage 2").x) == [0, 2]


def test_survival_curves_without_band_columns() -> None:
    fig = viz.survival_curves(SURVIVAL.drop("lower_ratio", "upper_ratio"), max_days=None)
    assert _names(fig) == ["Stage 1", "Stage 2"]
    assert list(_trace(fig, "Stage 2").x) == [0, 2, 200]


# ---------------------------------------------------------------- recovery, churn


def test_recovery_by_horizon_keeps_unobserved_gaps() -> None:
    rec = pl.DataFrame(
        {
            "month_end_date": [M1, M2],
            "segment": ["all", "all"],
            "count_overdue_cases": [12, 9],
            "recovery_30d_pct": [50.0, 40.0],
            "recovery_60d_pct": [70.0, 65.0],
            "recovery_90d_pct": [80.0, None],
            "recovery_180d_pct": [None, None],
        }
    )
    fig = viz.recovery_by_horizon(rec)
    assert _names(fig) == ["30 days", "60 days", "90 days", "180 days"]
    assert list(_trace(fig, "90 days").y) == [80.0, None]
    assert list(_trace(fig, "30 days").customdata) == [12, 9]


def test_churn_by_stage_labels_and_relative_risk() -> None:
    churn = pl.DataFrame(
        {
            "month_end_date": [M3] * 3,
            "segment": ["all"] * 3,
            "highest_stage_number": [0, 1, 2],
            "count_customers": [200, 50, 10],
            "count_churned": [2, 2, 1],
            "churn_rate_pct": [1.0, 4.0, 10.0],
            "relative_risk_ratio": [1.0, 4.0, 10.0],
        }
    )
    (bars,) = viz.churn_by_stage(churn).data
    assert list(bars.x) == ["Never dunned", "Stage 1", "Stage 2"]
    assert list(bars.y) == [1.0, 4.0, 10.0]
    assert bars.text[1] == "RR 4.0×<br>n=50"


# ---------------------------------------------------------------- ladder

LADDER = pl.DataFrame(
    {
        "segment": ["smb", "smb", "enterprise", "enterprise"],
        "stage_number": [1, 2, 1, 2],
        "stage_name": ["Zahlungserinnerung", "1. Mahnung"] * 2,
        "due_offset_days": [7, 21, 7, 21],
        "channel": ["email", "letter", "email", "letter"],
        "fee_amount": [0.0, 5.0, 0.0, 5.0],
    }
)


def test_ladder_timeline_current_only() -> None:
    fig = viz.ladder_timeline(LADDER)
    email = _trace(fig, "In force: E-mail")
    assert list(email.x) == [7, 7]
    assert sorted(email.y) == ["enterprise", "smb"]
    assert list(_trace(fig, "In force: Letter").x) == [21, 21]
    assert fig.layout.title.text == "Dunning ladder in force"


def test_ladder_timeline_with_proposal_draws_an_arrow_per_change() -> None:
    proposed = pl.DataFrame(
        {"segment": ["smb", "smb"], "stage_number": [1, 2], "proposed_offset_days": [3, 21]}
    )
    fig = viz.ladder_timeline(LADDER, proposed)
    assert list(_trace(fig, "Proposed").x) == [3, 21]
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    # only stage 1 of smb moves (7 -> 3); stage 2 stays at 21
    assert [(a.ax, a.x) for a in arrows] == [(7, 3)]
    # the title names what is drawn: the ladder in force and the proposal
    assert fig.layout.title.text == "Dunning ladder in force and the proposal"
    german = viz.ladder_timeline(LADDER, proposed, lang="de")
    assert german.layout.title.text == "Gültige Mahnstufen und der Vorschlag"


def test_ladder_timeline_proposal_shows_the_proposed_channel() -> None:
    # smb stage 2 moves from letter (day 21) to a phone call on day 25; stage 1 stays email
    proposed = pl.DataFrame(
        {
            "segment": ["smb", "smb"],
            "stage_number": [1, 2],
            "proposed_offset_days": [7, 25],
            "proposed_channel": ["email", "phone"],
        }
    )
    fig = viz.ladder_timeline(LADDER, proposed)
    email = _trace(fig, "Proposed: E-mail")
    phone = _trace(fig, "Proposed: Phone call")
    assert list(email.x) == [7] and list(phone.x) == [25]
    # the e-mail diamond is outlined in the colour of the e-mail stages in force;
    # the phone call gets a colour no channel in force has
    assert email.marker.line.color == _trace(fig, "In force: E-mail").marker.color
    in_force = {tr.marker.color for tr in fig.data if tr.name.startswith("In force")}
    assert phone.marker.line.color not in in_force
    assert [(a.ax, a.x) for a in fig.layout.annotations if a.showarrow] == [(21, 25)]


def test_ladder_timeline_marks_a_dropped_stage_on_its_current_day() -> None:
    # smb drops stage 2 (letter, day 21 in force); stage 1 stays; the segment's total
    # row (stage -1, no stage in force) draws nothing
    proposed = pl.DataFrame(
        {
            "segment": ["smb", "smb", "smb"],
            "stage_number": [-1, 1, 2],
            "proposed_offset_days": [None, 7, None],
            "proposed_channel": [None, "email", None],
        },
        schema_overrides={"proposed_offset_days": pl.Int64},
    )
    fig = viz.ladder_timeline(LADDER, proposed)
    dropped = _trace(fig, "Proposed: dropped")
    assert list(dropped.x) == [21] and list(dropped.y) == ["smb"]
    assert list(_trace(fig, "Proposed: E-mail").x) == [7]
    assert not [a for a in fig.layout.annotations if a.showarrow]


def test_empty_frames_say_so() -> None:
    empty = pl.DataFrame()
    assert _is_empty(viz.ladder_timeline(empty))
    assert _is_empty(viz.aging_stacked(AGING.clear()))
    assert _is_empty(viz.stage_funnel(CONVERSION.clear()))


def test_cash_vs_billed_bars() -> None:
    cash = pl.DataFrame(
        {
            "month_end_date": [M1, M2],
            "segment": ["all", "all"],
            "collected_amount": [D("900.00"), D("1100.50")],
            "billed_amount": [D("1000.00"), D("1000.00")],
        }
    )
    fig = viz.cash_vs_billed(cash)
    assert list(_trace(fig, "Cash collected").y) == [900.0, 1100.5]
    assert list(_trace(fig, "Billed (net of credit notes)").y) == [1000.0, 1000.0]


@pytest.mark.parametrize("validate", [True, False])
def test_served_figures_carry_the_template(monkeypatch: pytest.MonkeyPatch, validate: bool) -> None:
    """Without validation plotly does not resolve a template name: the object must go in."""
    monkeypatch.setattr("arinsight.viz.figures.VALIDATE", validate)
    spec = viz.dso_trend(DSO, segment="all").to_plotly_json()
    template = spec["layout"]["template"]
    assert isinstance(template, dict), template
    assert template["layout"]["legend"]["orientation"] == "h"
    assert template["layout"]["colorway"][0] == theme.PALETTE[0]


def test_behaviour_mix_stacks_shares_and_highlights() -> None:
    mix = pl.DataFrame(
        {
            "month_end_date": [M1, M1, M1, M2, M2],
            "segment": ["all"] * 5,
            "behaviour_segment": ["reliable", "chronic", "unscored", "reliable", "chronic"],
            "count_customers": [6, 2, 2, 7, 3],
            "share_of_customers_pct": [60.0, 20.0, 20.0, 70.0, 30.0],
        }
    )
    fig = viz.behaviour_mix(mix, highlight="chronic")
    assert _names(fig) == ["reliable", "chronically late", "not scored yet"]
    assert list(_trace(fig, "reliable").y) == [60.0, 70.0]
    assert _trace(fig, "chronically late").opacity == 1.0
    assert _trace(fig, "reliable").opacity == pytest.approx(0.3)
    assert list(_trace(fig, "not scored yet").x) == [dt.date(2025, 1, 1)]  # only where present


def test_channel_comparison_bars_per_stage_and_channel() -> None:
    rows = pl.DataFrame(
        {
            "segment": ["all"] * 4,
            "stage_number": [1, 1, 1, 2],
            "channel": ["email", "sms", "all", "letter"],
            # stage 1: 30 of 40 by email, 5 of 20 by sms; the 'all' rollup is left out
            "count_entered": [40, 20, 60, 10],
            "conversion_pct": [75.0, 25.0, 35 / 60 * 100, 50.0],
        }
    )
    fig = viz.channel_comparison(rows, stage_names={1: "Reminder", 2: "Letter"})
    # legend in the order channels first appear along the ladder
    assert [tr.name for tr in fig.data] == ["E-mail", "SMS", "Letter"]
    email = _trace(fig, "E-mail")
    assert list(email.x) == ["1<br>Reminder"] and list(email.y) == [75.0]
    assert list(_trace(fig, "SMS").text) == ["n=20"]
    assert list(_trace(fig, "Letter").x) == ["2<br>Letter"]
    assert list(fig.layout.xaxis.categoryarray) == ["1<br>Reminder", "2<br>Letter"]


def test_recovery_rates_shade_cohorts_still_maturing() -> None:
    rec = pl.DataFrame(
        {
            "month_end_date": [dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)],
            "segment": ["all"] * 3,
            # January's 180 days are observed; February and March are not yet
            "recovery_180d_pct": [90.0, None, None],
            "closed_case_recovery_pct": [95.0, 96.0, 97.0],
            "agency_recovery_pct": [40.0, 20.0, 5.0],
            "fee_yield_pct": [60.0, 50.0, 30.0],
            "count_closed_cases": [10, 10, 10],
            "count_handed_over": [3, 3, 3],
            "count_overdue_cases": [20, 20, 20],
        }
    )
    fig = viz.recovery_rates(rec)
    (shade,) = fig.layout.shapes
    # from half a month before February's point (plotted at Feb 1) past March's end
    assert str(shade.x0)[:10] == "2025-01-17" and str(shade.x1)[:10] == "2025-04-01"
    assert "still maturing" in fig.layout.annotations[-1].text
    assert (
        viz.recovery_rates(rec.with_columns(pl.lit(80.0).alias("recovery_180d_pct"))).layout.shapes
        == ()
    )
