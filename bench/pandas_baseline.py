"""The straightforward pandas way to compute the core marts — the baseline we race.

Written the way an analyst would in a notebook: load the ledger into pandas,
loop over month ends, filter, merge, group by. Definitions follow DESIGN.md
(the same ones the SQL marts implement), so on the same ledger the numbers must
agree; ``compare`` checks that, ``run`` times it.

Computes: DSO monthly per segment (AR, 90-day sales, DSO), aging snapshots
(open amount per bucket), stage conversion (entered / converted / progressed
counts per send month, segment and stage) and recovery (overdue amount and
amount recovered within 30/60/90/180 days of due, observed cohorts only).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

BUCKETS = [
    (-(10**9), 0, "not_due"),
    (1, 30, "1-30"),
    (31, 60, "31-60"),
    (61, 90, "61-90"),
    (91, 120, "91-120"),
    (121, 10**9, "121+"),
]
HORIZON_DAYS = 30
SETTLE_TOLERANCE = 0.01


def read_ledger(directory: Path, fmt: str = "csv") -> dict[str, pd.DataFrame]:
    dates = {
        "invoices": ["issue_date", "due_date"],
        "payments": ["paid_at"],
        "adjustments": ["adjusted_at"],
        "dunning_events": ["sent_at"],
    }
    out = {}
    for name in ("customers", "invoices", "payments", "adjustments", "dunning_events"):
        if fmt == "parquet":
            df = pd.read_parquet(directory / f"{name}.parquet")
            for col in ("amount", "fee"):  # decimals arrive as Python Decimals: float, as CSV
                if col in df.columns:
                    df[col] = df[col].astype("float64")
        else:
            df = pd.read_csv(directory / f"{name}.csv")
        for col in dates.get(name, []):
            df[col] = pd.to_datetime(df[col])
        out[name] = df
    return out


def _prepare(led: dict[str, pd.DataFrame]) -> dict[str, object]:
    inv = led["invoices"].merge(led["customers"][["customer_id", "segment"]], on="customer_id")
    pay = led["payments"]
    adj = led["adjustments"]
    ev = led["dunning_events"]
    as_of = max(
        inv["issue_date"].max(), pay["paid_at"].max(), adj["adjusted_at"].max(), ev["sent_at"].max()
    )
    first = inv["issue_date"].min()
    month_ends = pd.date_range(first, as_of, freq="ME")
    # Reductions of each invoice over time (payments, credit notes, write-offs).
    red = pd.concat(
        [
            pay[["invoice_id", "paid_at", "amount"]].rename(columns={"paid_at": "date"}),
            adj[["invoice_id", "adjusted_at", "amount"]].rename(columns={"adjusted_at": "date"}),
        ]
    ).sort_values(["invoice_id", "date"])
    red["cum"] = red.groupby("invoice_id")["amount"].cumsum()
    red = red.merge(
        inv[["invoice_id", "amount", "issue_date"]].rename(columns={"amount": "invoice_amount"}),
        on="invoice_id",
    )
    settled = (
        red[(red["invoice_amount"] - red["cum"]).round(2) <= SETTLE_TOLERANCE]
        .groupby("invoice_id")["date"]
        .min()
        .rename("settled_date")
    )
    inv = inv.merge(settled, on="invoice_id", how="left")
    return {
        "inv": inv,
        "pay": pay,
        "adj": adj,
        "ev": ev,
        "red": red,
        "as_of": as_of,
        "month_ends": month_ends,
    }


def dso_and_aging(p: dict[str, object]) -> tuple[pd.DataFrame, pd.DataFrame]:
    inv: pd.DataFrame = p["inv"]  # type: ignore[assignment]
    red: pd.DataFrame = p["red"]  # type: ignore[assignment]
    adj: pd.DataFrame = p["adj"]  # type: ignore[assignment]
    dso_rows, aging_rows = [], []
    credits = adj[adj["kind"] == "credit_note"].merge(inv[["invoice_id", "segment"]])
    for t in p["month_ends"]:  # type: ignore[attr-defined]
        issued = inv[inv["issue_date"] <= t]
        reduced = red[red["date"] <= t].groupby("invoice_id")["amount"].sum()
        bal = issued.set_index("invoice_id")
        bal = bal.assign(reduced=reduced.reindex(bal.index).fillna(0.0))
        bal["open"] = (bal["amount"] - bal["reduced"]).round(2).clip(lower=0)
        bal = bal[bal["open"] > 0]
        bal["dpd"] = (t - bal["due_date"]).dt.days
        window = inv[(inv["issue_date"] > t - pd.Timedelta(days=90)) & (inv["issue_date"] <= t)]
        cn = credits[
            (credits["adjusted_at"] > t - pd.Timedelta(days=90)) & (credits["adjusted_at"] <= t)
        ]
        for seg in sorted(inv["segment"].unique()):
            b = bal[bal["segment"] == seg]
            ar = b["open"].sum()
            sales = (
                window.loc[window["segment"] == seg, "amount"].sum()
                - cn.loc[cn["segment"] == seg, "amount"].sum()
            )
            dso_rows.append(
                {
                    "month_end_date": t.date(),
                    "segment": seg,
                    "ar_amount": ar,
                    "sales_90d_amount": sales,
                    "dso_90_days": ar / sales * 90 if sales else np.nan,
                }
            )
            for lo, hi, name in BUCKETS:
                sel = b[(b["dpd"] >= lo) & (b["dpd"] <= hi)]
                aging_rows.append(
                    {
                        "month_end_date": t.date(),
                        "segment": seg,
                        "aging_bucket": name,
                        "open_amount": sel["open"].sum(),
                        "count_open_invoices": len(sel),
                    }
                )
    return pd.DataFrame(dso_rows), pd.DataFrame(aging_rows)


def stage_conversion(p: dict[str, object]) -> pd.DataFrame:
    inv: pd.DataFrame = p["inv"]  # type: ignore[assignment]
    ev: pd.DataFrame = p["ev"]  # type: ignore[assignment]
    first = ev.groupby(["invoice_id", "stage"], as_index=False)["sent_at"].min()
    # s_(k+1): the first send of any higher stage (skipped stages are absent):
    # walk each invoice's stages from the top down, keeping the earliest send seen.
    first = first.sort_values(["invoice_id", "stage"], ascending=[True, False])
    earliest_from_here = first.groupby("invoice_id")["sent_at"].cummin()
    first["next_sent"] = earliest_from_here.groupby(first["invoice_id"]).shift(1)
    first = first.merge(inv[["invoice_id", "segment", "settled_date"]], on="invoice_id")
    first = first[first["settled_date"].isna() | (first["settled_date"] >= first["sent_at"])]
    end = first["next_sent"].fillna(first["sent_at"] + pd.Timedelta(days=HORIZON_DAYS))
    first["converted"] = first["settled_date"].notna() & (first["settled_date"] < end)
    first["progressed"] = first["next_sent"].notna()
    first["month_end_date"] = (first["sent_at"] + pd.offsets.MonthEnd(0)).dt.date
    last_complete = max(p["month_ends"]).date()  # type: ignore[call-overload]
    first = first[first["month_end_date"] <= last_complete]
    out = first.groupby(["month_end_date", "segment", "stage"], as_index=False).agg(
        count_entered=("invoice_id", "size"),
        count_converted=("converted", "sum"),
        count_progressed=("progressed", "sum"),
    )
    return out.rename(columns={"stage": "stage_number"})


def recovery(p: dict[str, object]) -> pd.DataFrame:
    inv: pd.DataFrame = p["inv"]  # type: ignore[assignment]
    pay: pd.DataFrame = p["pay"]  # type: ignore[assignment]
    adj: pd.DataFrame = p["adj"]  # type: ignore[assignment]
    as_of = p["as_of"]
    cases = inv[inv["due_date"] < as_of].copy()
    paid_by_due = pay.merge(cases[["invoice_id", "due_date"]])
    paid_by_due = (
        paid_by_due[paid_by_due["paid_at"] <= paid_by_due["due_date"]]
        .groupby("invoice_id")["amount"]
        .sum()
    )
    adj_by_due = adj.merge(cases[["invoice_id", "due_date"]])
    adj_by_due = (
        adj_by_due[adj_by_due["adjusted_at"] <= adj_by_due["due_date"]]
        .groupby("invoice_id")["amount"]
        .sum()
    )
    cases["open_at_due"] = (
        (
            cases["amount"]
            - paid_by_due.reindex(cases["invoice_id"]).fillna(0).values
            - adj_by_due.reindex(cases["invoice_id"]).fillna(0).values
        )
        .round(2)
        .clip(lower=0)
    )
    cases = cases[cases["open_at_due"] > 0]
    cases["month_end_date"] = cases["due_date"] + pd.offsets.MonthEnd(0)
    out = cases.groupby(["month_end_date", "segment"], as_index=False).agg(
        count_overdue_cases=("invoice_id", "size"), overdue_amount=("open_at_due", "sum")
    )
    pays = pay.merge(cases[["invoice_id", "due_date", "open_at_due"]])
    cns = adj[adj["kind"] == "credit_note"].merge(cases[["invoice_id", "due_date"]])
    for h in (30, 60, 90, 180):
        limit = pd.Timedelta(days=h)
        pw = pays[
            (pays["paid_at"] > pays["due_date"]) & (pays["paid_at"] <= pays["due_date"] + limit)
        ]
        cw = cns[
            (cns["adjusted_at"] > cns["due_date"]) & (cns["adjusted_at"] <= cns["due_date"] + limit)
        ]
        got = pw.groupby("invoice_id")["amount"].sum()
        cred = cw.groupby("invoice_id")["amount"].sum()
        c = cases.set_index("invoice_id")
        claim = (c["open_at_due"] - cred.reindex(c.index).fillna(0)).clip(lower=0)
        c[f"rec{h}"] = np.minimum(got.reindex(c.index).fillna(0), claim)
        rec = (
            c.groupby(["month_end_date", "segment"])[f"rec{h}"]
            .sum()
            .rename(f"recovered_{h}d_amount")
            .reset_index()
        )
        out = out.merge(rec, on=["month_end_date", "segment"], how="left")
        observed = out["month_end_date"] + limit <= as_of
        out.loc[~observed, f"recovered_{h}d_amount"] = np.nan
    out["month_end_date"] = out["month_end_date"].dt.date
    return out


def run(directory: Path, fmt: str = "csv") -> tuple[dict[str, pd.DataFrame], float]:
    """Compute every baseline mart from the canonical files (``fmt``: csv or parquet)."""
    start = time.perf_counter()
    p = _prepare(read_ledger(directory, fmt))
    dso, aging = dso_and_aging(p)
    result = {
        "dso": dso,
        "aging": aging,
        "stage_conversion": stage_conversion(p),
        "recovery": recovery(p),
    }
    return result, time.perf_counter() - start


def compare(result: dict[str, pd.DataFrame], db: Path) -> dict[str, int]:
    """Compare the baseline with the marts in ``db``; returns mismatching rows per mart.

    Amounts must agree to the cent, DSO to 1e-6 days, counts exactly.
    """
    import duckdb

    con = duckdb.connect(str(db), read_only=True)

    def mart(sql: str) -> pd.DataFrame:
        return con.sql(sql).df()

    checks = {
        "dso": (
            mart(
                "select month_end_date, segment, ar_amount::double ar_amount, "
                "sales_90d_amount::double sales_90d_amount, dso_90_days "
                "from marts.fct_dso_monthly where segment <> 'all'"
            ),
            ["month_end_date", "segment"],
            ["ar_amount", "sales_90d_amount", "dso_90_days"],
        ),
        "aging": (
            mart(
                "select month_end_date, segment, aging_bucket, open_amount::double "
                "open_amount, count_open_invoices from marts.fct_aging_snapshots "
                "where segment <> 'all'"
            ),
            ["month_end_date", "segment", "aging_bucket"],
            ["open_amount", "count_open_invoices"],
        ),
        "stage_conversion": (
            mart(
                "select month_end_date, segment, stage_number, count_entered,"
                " count_converted, count_progressed "
                "from marts.fct_stage_conversion where segment <> 'all'"
            ),
            ["month_end_date", "segment", "stage_number"],
            ["count_entered", "count_converted", "count_progressed"],
        ),
        "recovery": (
            mart(
                "select month_end_date, segment, count_overdue_cases, "
                "overdue_amount::double overdue_amount, "
                + ", ".join(
                    f"recovered_{h}d_amount::double recovered_{h}d_amount"
                    for h in (30, 60, 90, 180)
                )
                + " from marts.fct_recovery where segment <> 'all'"
            ),
            ["month_end_date", "segment"],
            ["count_overdue_cases", "overdue_amount"]
            + [f"recovered_{h}d_amount" for h in (30, 60, 90, 180)],
        ),
    }
    con.close()
    mismatches: dict[str, int] = {}
    for name, (sql_df, keys, values) in checks.items():
        base = result[name]
        for k in keys:
            if k == "month_end_date":
                sql_df[k] = pd.to_datetime(sql_df[k]).dt.date
                base[k] = pd.to_datetime(base[k]).dt.date
        merged = base.merge(sql_df, on=keys, how="outer", suffixes=("_pd", "_sql"), indicator=True)
        bad = merged["_merge"] != "both"
        for v in values:
            a, b = merged[f"{v}_pd"].astype(float), merged[f"{v}_sql"].astype(float)
            tol = 1e-6 if v.endswith("_days") else 0.005
            same = ((a - b).abs() <= tol) | (a.isna() & b.isna())
            bad |= ~same
        mismatches[name] = int(bad.sum())
        if bad.any():
            print(f"[{name}] {int(bad.sum())} mismatching rows, e.g.:")
            print(merged[bad].head(5).to_string())
    return mismatches


if __name__ == "__main__":
    import sys

    res, secs = run(Path(sys.argv[1]))
    print(f"pandas baseline: {secs:.2f} s")
    if len(sys.argv) > 2:
        print(compare(res, Path(sys.argv[2])))
