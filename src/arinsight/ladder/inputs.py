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


_INVOICE_SQL = """
select
    i.segment,
    i.customer_id,
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
    i.settled_by,
    date_diff('day', i.due_date, i.as_of_date) as asof_rel,
    coalesce(i.is_disputed, false) as disputed,
    i.paid_after_handover_ratio,
    i.experiment_variant
from marts.fct_ladder_invoices as i
cross join (
    select min(issue_date) as first_issue_date from marts.fct_ladder_invoices
) as b
order by i.invoice_id
"""

_CUSTOMER_SQL = """
select
    customer_id,
    segment,
    customer_type,
    coalesce(behaviour_segment, 'unscored') as behaviour_segment,
    date_diff('day', observed_from_date, observed_to_date) + 1 as exposure_days,
    date_diff('day', b.first_issue_date, observed_to_date) as to_day,
    is_churned,
    count_stage_0_events, count_stage_1_events, count_stage_2_events,
    count_stage_3_events, count_stage_4_events, count_stage_5_events,
    total_invoiced_amount
from marts.fct_ladder_customers
cross join (
    select min(issue_date) as first_issue_date from marts.fct_ladder_invoices
) as b
order by customer_id
"""


def _ints(col: Any) -> I64:
    return np.asarray(col.fill_null(NEVER).to_numpy(), dtype=np.int64)


def read_inputs(wh: Any) -> Inputs:
    """Read the recommender's inputs from an open :class:`~arinsight.warehouse.Warehouse`.

    Raises:
        NotEnoughData: the input marts are missing (build not run) or empty.
    """
    marts = set(wh.tables("marts"))
    missing = {"fct_ladder_invoices", "fct_ladder_customers"} - marts
    if missing:
        raise NotEnoughData(
            f"{wh.path}: marts {', '.join(sorted(missing))} missing — "
            "run `arinsight load` and `arinsight build` first"
        )
    inv = wh.sql(_INVOICE_SQL)
    cus = wh.sql(_CUSTOMER_SQL)
    if inv.height == 0 or cus.height == 0:
        raise NotEnoughData(
            f"{wh.path}: no invoices in the warehouse — load a ledger with `arinsight load` "
            "and run `arinsight build`"
        )
    bounds = wh.sql(
        "select min(issue_date) as s, max(as_of_date) as e from marts.fct_ladder_invoices"
    ).row(0)
    segments = sorted(set(cus["segment"].to_list()))
    seg_code = {s: i for i, s in enumerate(segments)}
    cust_ids = cus["customer_id"].to_list()
    cust_code = {c: i for i, c in enumerate(cust_ids)}
    ctypes: dict[str, str] = {}
    for s, t in zip(cus["segment"].to_list(), cus["customer_type"].to_list(), strict=True):
        if t is not None:
            ctypes.setdefault(s, str(t))
    variant_labels = sorted({v for v in inv["experiment_variant"].to_list() if v is not None})
    # the arm holding more invoices is taken as the control ladder
    vcol = inv["experiment_variant"].to_list()
    control = max(variant_labels, key=vcol.count) if variant_labels else None
    variants = [control] + [v for v in variant_labels if v != control] if control else []
    vcode = {v: i for i, v in enumerate(variants)}
    by = inv["settled_by"].to_list()
    by_code = {None: 0, "payment": 1, "write_off": 2, "credit_note": 3}
    seg_of_inv = inv["segment"].to_list()
    return Inputs(
        segments=segments,
        customer_types=ctypes,
        start=bounds[0],
        as_of=bounds[1],
        seg=np.array([seg_code.get(s, -1) for s in seg_of_inv], dtype=np.int64),
        cust=np.array([cust_code.get(c, -1) for c in inv["customer_id"].to_list()], np.int64),
        amount=np.asarray(inv["invoice_amount"].to_numpy(), dtype=np.float64),
        issue_rel=_ints(inv["issue_rel"]),
        due_day=_ints(inv["due_day"]),
        sent=np.stack([_ints(inv[f"s{k}"]) for k in STAGES], axis=1),
        handover_rel=_ints(inv["handover_rel"]),
        settled_rel=_ints(inv["settled_rel"]),
        settled_by=np.array([by_code.get(b, 0) for b in by], dtype=np.int64),
        asof_rel=_ints(inv["asof_rel"]),
        disputed=np.asarray(inv["disputed"].to_numpy(), dtype=np.bool_),
        after_handover_ratio=np.asarray(
            inv["paid_after_handover_ratio"].fill_null(np.nan).to_numpy(), dtype=np.float64
        ),
        variant=np.array([vcode.get(v, 0) if v else 0 for v in vcol], dtype=np.int64),
        variants=variants,
        c_seg=np.array([seg_code[s] for s in cus["segment"].to_list()], dtype=np.int64),
        c_behaviour=[str(b) for b in cus["behaviour_segment"].to_list()],
        c_exposure_days=np.asarray(cus["exposure_days"].to_numpy(), dtype=np.float64),
        c_to_day=np.asarray(cus["to_day"].to_numpy(), dtype=np.int64),
        c_churned=np.asarray(cus["is_churned"].to_numpy(), dtype=np.bool_),
        c_counts=np.stack(
            [np.asarray(cus[f"count_stage_{k}_events"].to_numpy(), np.float64) for k in STAGES],
            axis=1,
        ),
        c_invoiced=np.asarray(cus["total_invoiced_amount"].fill_null(0).to_numpy(), np.float64),
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
