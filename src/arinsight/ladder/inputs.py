"""What the recommender learns from: two marts of the warehouse and the ladder in force.

Only ``marts.fct_ladder_invoices`` and ``marts.fct_ladder_customers`` (built by
``arinsight build`` from the ledger and the dunning log) and the ladder in force
(``--ladder`` or ``meta.ladders``) are read: never world files, ``truth.json``
or simulator side tables. Days are integers relative to each invoice's due
date; amounts in the reporting currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from arinsight.config import Ladder, load_ladder
from arinsight.errors import ArinsightError, ConfigError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: Stage numbers the input marts carry a first-send date for.
STAGES = tuple(range(6))
#: "Not sent" / "never" as a day offset.
NEVER = 1 << 20


class NotEnoughData(ArinsightError):
    """The warehouse holds too little to fit the response model."""


@dataclass
class Inputs:
    """Per-invoice and per-customer arrays (row order: invoice / customer id).

    Invoice arrays: ``seg`` (segment code), ``cust`` (customer row), ``amount``,
    ``issue_rel`` (issue - due, days), ``due_day`` (due - first issue date),
    ``sent`` ([n, 6] first send of stage k, days after due; NEVER = not sent),
    ``handover_rel``, ``settled_rel`` (NEVER = open), ``settled_by``
    (0 open, 1 payment, 2 write-off, 3 credit note), ``asof_rel``,
    ``disputed``, ``after_handover_ratio``, ``variant`` (0 none/control, 1 other).
    Customer arrays: ``c_seg``, ``c_behaviour`` (label), ``c_exposure_days``,
    ``c_to_day`` (end of observation, days after the first issue date),
    ``c_churned``, ``c_counts`` ([n, 6] events per stage before churn / end),
    ``c_invoiced``.
    """

    segments: list[str]
    customer_types: dict[str, str]
    start: dt.date
    as_of: dt.date
    seg: I64
    cust: I64
    amount: F64
    issue_rel: I64
    due_day: I64
    sent: I64
    handover_rel: I64
    settled_rel: I64
    settled_by: I64
    asof_rel: I64
    disputed: BoolArr
    after_handover_ratio: F64
    variant: I64
    variants: list[str]
    c_seg: I64
    c_behaviour: list[str]
    c_exposure_days: F64
    c_to_day: I64
    c_churned: BoolArr
    c_counts: F64
    c_invoiced: F64

    @property
    def n_invoices(self) -> int:
        return int(self.seg.size)


#: Codes are computed in SQL (one pass each, no per-row Python): ``customer_row``
#: is the customer's row in customer-id order, ``segment_code`` the position of
#: the customer's segment among the sorted segments of ``fct_ladder_customers``
#: (-1: an invoice whose customer or segment is unknown there), ``settled_code``
#: 0 open, 1 payment, 2 write-off, 3 credit note.
_CUSTOMER_SQL = """
with
bounds as (
    select min(issue_date) as first_issue_date from marts.fct_ladder_invoices
),

segments as (
    select
        segment,
        cast(row_number() over (order by segment) - 1 as bigint) as segment_code
    from (select distinct segment from marts.fct_ladder_customers)
),

final as (
    select
        c.customer_id,
        c.segment,
        s.segment_code,
        c.customer_type,
        coalesce(c.behaviour_segment, 'unscored') as behaviour_segment,
        date_diff('day', c.observed_from_date, c.observed_to_date)
        + 1 as exposure_days,
        date_diff('day', b.first_issue_date, c.observed_to_date) as to_day,
        c.is_churned,
        c.count_stage_0_events,
        c.count_stage_1_events,
        c.count_stage_2_events,
        c.count_stage_3_events,
        c.count_stage_4_events,
        c.count_stage_5_events,
        coalesce(c.total_invoiced_amount, 0) as total_invoiced_amount,
        cast(row_number() over (order by c.customer_id) - 1 as bigint)
            as customer_row
    from marts.fct_ladder_customers as c
    inner join segments as s on c.segment = s.segment
    cross join bounds as b
)

select * from final
order by customer_row
"""

_INVOICE_SQL = """
select
    coalesce(s.segment_code, -1) as segment_code,
    coalesce(c.customer_row, -1) as customer_row,
    i.invoice_amount,
    date_diff('day', i.due_date, i.issue_date) as issue_rel,
    date_diff('day', b.first_issue_date, i.due_date) as due_day,
    date_diff('day', i.due_date, i.stage_0_sent_date) as s0,
    date_diff('day', i.due_date, i.stage_1_sent_date) as s1,
    date_diff('day', i.due_date, i.stage_2_sent_date) as s2,
    date_diff('day', i.due_date, i.stage_3_sent_date) as s3,
    date_diff('day', i.due_date, i.stage_4_sent_date) as s4,
    date_diff('day', i.due_date, i.stage_5_sent_date) as s5,
    date_diff('day', i.due_date, i.agency_handover_date) as handover_rel,
    date_diff('day', i.due_date, i.settled_date) as settled_rel,
    case i.settled_by
        when 'payment' then 1
        when 'write_off' then 2
        when 'credit_note' then 3
        else 0
    end as settled_code,
    date_diff('day', i.due_date, i.as_of_date) as asof_rel,
    coalesce(i.is_disputed, false) as disputed,
    i.paid_after_handover_ratio,
    i.experiment_variant
from marts.fct_ladder_invoices as i
cross join (
    select min(issue_date) as first_issue_date from marts.fct_ladder_invoices
) as b
left join recommend_customer_rows as c on i.customer_id = c.customer_id
left join recommend_segment_codes as s on i.segment = s.segment
order by i.invoice_id
"""


def _ints(col: Any) -> I64:
    return np.asarray(col.fill_null(NEVER).to_numpy(), dtype=np.int64)


def read_inputs(wh: Any) -> Inputs:
    """Read the recommender's inputs from an open :class:`~arinsight.warehouse.Warehouse`.

    Raises:
        NotEnoughData: the input marts are missing (build not run) or empty.
    """
    import polars as pl

    marts = set(wh.tables("marts"))
    missing = {"fct_ladder_invoices", "fct_ladder_customers"} - marts
    if missing:
        raise NotEnoughData(
            f"{wh.path}: marts {', '.join(sorted(missing))} missing — "
            "run `arinsight load` and `arinsight build` first"
        )
    cus = wh.sql(_CUSTOMER_SQL)
    segments_frame = cus.select("segment", "segment_code").unique().sort("segment_code")
    customer_keys = cus.select("customer_id", "customer_row")
    con = wh.con
    con.register("recommend_customer_rows", customer_keys)
    con.register("recommend_segment_codes", segments_frame)
    try:
        inv = con.sql(_INVOICE_SQL).pl()
    finally:
        con.unregister("recommend_customer_rows")
        con.unregister("recommend_segment_codes")
    if inv.height == 0 or cus.height == 0:
        raise NotEnoughData(
            f"{wh.path}: no invoices in the warehouse — load a ledger with `arinsight load` "
            "and run `arinsight build`"
        )
    bounds = wh.sql(
        "select min(issue_date) as s, max(as_of_date) as e from marts.fct_ladder_invoices"
    ).row(0)
    segments = [str(x) for x in segments_frame["segment"].to_list()]
    ctypes: dict[str, str] = {}
    for s, t in cus.select("segment", "customer_type").unique(maintain_order=True).iter_rows():
        if t is not None:
            ctypes.setdefault(s, str(t))
    # the arm holding more invoices is taken as the control ladder (ties: first label)
    arms = (
        inv.group_by("experiment_variant")
        .len()
        .drop_nulls("experiment_variant")
        .sort("experiment_variant")
    )
    labels = [str(v) for v in arms["experiment_variant"].to_list()]
    sizes = arms["len"].to_list()
    control = labels[sizes.index(max(sizes))] if labels else None
    variants = [control] + [v for v in labels if v != control] if control else []
    vcode = {v: i for i, v in enumerate(variants)}
    variant = (
        inv["experiment_variant"]
        .replace_strict(vcode, default=0, return_dtype=pl.Int64)
        .fill_null(0)
    )
    return Inputs(
        segments=segments,
        customer_types=ctypes,
        start=bounds[0],
        as_of=bounds[1],
        seg=np.asarray(inv["segment_code"].to_numpy(), dtype=np.int64),
        cust=np.asarray(inv["customer_row"].to_numpy(), dtype=np.int64),
        amount=np.asarray(inv["invoice_amount"].to_numpy(), dtype=np.float64),
        issue_rel=_ints(inv["issue_rel"]),
        due_day=_ints(inv["due_day"]),
        sent=np.stack([_ints(inv[f"s{k}"]) for k in STAGES], axis=1),
        handover_rel=_ints(inv["handover_rel"]),
        settled_rel=_ints(inv["settled_rel"]),
        settled_by=np.asarray(inv["settled_code"].to_numpy(), dtype=np.int64),
        asof_rel=_ints(inv["asof_rel"]),
        disputed=np.asarray(inv["disputed"].to_numpy(), dtype=np.bool_),
        after_handover_ratio=np.asarray(
            inv["paid_after_handover_ratio"].fill_null(np.nan).to_numpy(), dtype=np.float64
        ),
        variant=np.asarray(variant.to_numpy(), dtype=np.int64),
        variants=variants,
        c_seg=np.asarray(cus["segment_code"].to_numpy(), dtype=np.int64),
        c_behaviour=[str(b) for b in cus["behaviour_segment"].to_list()],
        c_exposure_days=np.asarray(cus["exposure_days"].to_numpy(), dtype=np.float64),
        c_to_day=np.asarray(cus["to_day"].to_numpy(), dtype=np.int64),
        c_churned=np.asarray(cus["is_churned"].to_numpy(), dtype=np.bool_),
        c_counts=np.stack(
            [np.asarray(cus[f"count_stage_{k}_events"].to_numpy(), np.float64) for k in STAGES],
            axis=1,
        ),
        c_invoiced=np.asarray(cus["total_invoiced_amount"].to_numpy(), np.float64),
    )


def ladder_in_force(wh: Any, ladder_path: Path | str | None, on: dt.date) -> tuple[Ladder, str]:
    """The ladder to improve on: ``ladder_path`` if given, else the stored version in force.

    The stored version in force on ``on`` is the ``meta.ladders`` row with the greatest
    ``effective_date <= on`` (ties: greatest version).

    Returns:
        ``(ladder, source)`` where source says where it came from.

    Raises:
        ConfigError: no ``--ladder`` and no stored version in force.
    """
    if ladder_path is not None:
        return load_ladder(ladder_path), str(ladder_path)
    if "ladders" in set(wh.tables("meta")):
        rows = wh.sql(
            "select version, yaml_text from meta.ladders where effective_date <= ? "
            "order by effective_date desc, version desc limit 1",
            [on],
        )
        if rows.height:
            import yaml

            from arinsight.config import Ladder

            version, text = rows.row(0)
            try:
                ladder = Ladder.model_validate(yaml.safe_load(text))
            except Exception as exc:  # a stored version that no longer validates
                raise ConfigError(f"meta.ladders version {version}: invalid ladder: {exc}") from exc
            return ladder, f"meta.ladders version {version}"
    raise ConfigError(
        "no ladder in force: run `arinsight ladder apply FILE --effective DATE` "
        "or pass `--ladder FILE`"
    )


def stratified_sample(strata: I64, cap: int, seed: int | tuple[int, ...]) -> tuple[I64, F64]:
    """A seeded sample of about ``cap`` rows, stratified, with weights that scale back.

    Every stratum ``h`` (a value of ``strata``, e.g. a behaviour segment) of ``N_h``
    rows keeps ``n_h = min(N_h, max(1, round(cap * N_h / N)))`` rows drawn without
    replacement, each with weight ``N_h / n_h``; so the weights of a stratum sum to
    its size exactly and a weighted total is an unbiased estimate of the full total.
    With ``N <= cap`` (or ``cap <= 0``) every row is kept with weight 1.

    Args:
        strata: stratum code per row.
        cap: target sample size.
        seed: seed of the draw (same seed and strata: same sample).

    Returns:
        ``(rows, weights)``: sampled row indices in ascending order and their weights.
    """
    n = int(strata.size)
    if cap <= 0 or n <= cap:
        return np.arange(n, dtype=np.int64), np.ones(n)
    rng = np.random.default_rng(seed)
    codes, inverse = np.unique(strata, return_inverse=True)
    picked: list[I64] = []
    weights: list[F64] = []
    for h in range(codes.size):
        members = np.flatnonzero(inverse == h)
        size = members.size
        take = min(size, max(1, int(np.rint(cap * size / n))))
        chosen = np.sort(rng.choice(members, size=take, replace=False))
        picked.append(chosen)
        weights.append(np.full(take, size / take))
    rows = np.concatenate(picked)
    w = np.concatenate(weights)
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.int64), w[order]
