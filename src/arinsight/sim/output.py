"""Turn a :class:`~arinsight.sim.engine.SimResult` into canonical ledger tables.

Tables are produced in row chunks (``CHUNK_ROWS``) so that writing 10M invoices
never materialises a whole table of strings. Column order and names come from
:mod:`arinsight.contract`; amounts are ``Decimal(18,2)``, dates ``Date``. Only
records dated within the horizon are written (the run-out period used for the
objective is not part of the files).

Files are deterministic: rows are in key order, ids are numbered in that order,
and neither CSV nor Parquet carries a timestamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from arinsight.contract import CHANNELS, FAILURE_REASONS, MESSAGE_KINDS, TABLES
from arinsight.sim.engine import NON_PAYMENT, VOLUNTARY, SimResult

#: Rows per chunk when writing.
CHUNK_ROWS = 1_000_000
#: Rows per Parquet row group: DuckDB reads a file's row groups in parallel, so a
#: 1M-row file in one group is read by one thread (~120k rows keeps both cores busy).
PARQUET_ROW_GROUP_ROWS = 120_000
#: The canonical tables the simulator writes, in write order.
LEDGER_TABLES = ("customers", "invoices", "payments", "adjustments", "dunning_events")
#: Extra table naming each customer's payer archetype (not part of the contract).
ARCHETYPE_TABLE = "sim_customer_archetypes"
#: Optional canonical tables, written when the world simulates them (sim.autopay).
OPTIONAL_TABLES = ("payment_attempts", "message_events")


def written_tables(r: SimResult) -> tuple[str, ...]:
    """The canonical tables a run writes: the ledger tables plus the optional ones it has."""
    extra = tuple(
        name
        for name, arrays in (("payment_attempts", r.attempts), ("message_events", r.messages))
        if arrays is not None
    )
    return (*LEDGER_TABLES, *extra)


#: ASCII digits of 0000..9999, one row per number.
_DIGITS4 = np.array(
    [[48 + (i // 10**p) % 10 for p in (3, 2, 1, 0)] for i in range(10_000)], dtype=np.uint8
)
#: Columns whose values are (nearly) unique: no Parquet dictionary encoding for them.
_UNIQUE = frozenset(
    {"customer_id", "invoice_id", "payment_id", "adjustment_id", "event_id", "name", "amount"}
)


def _words(text: str) -> list[str]:
    return text.split()


_FIRST = _words(
    "Anna Lena Maria Sophie Laura Julia Lea Hannah Sarah Katharina Emma Mia Lisa Johanna "
    "Claudia Sabine Petra Monika Andrea Ursula Lukas Leon Finn Jonas Paul Felix Maximilian "
    "Thomas Michael Andreas Stefan Christian Peter Wolfgang Klaus Jürgen Tobias Jan "
    "Matthias Markus Sebastian Daniel Florian Alexander"
)
_LAST = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
    "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
    "Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler "
    "Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung "
    "Hahn Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann "
    "Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt "
    "Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte "
    "Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold "
    "Wolff Pfeiffer"
)
_TRADE = _words(
    "Logistik Bau Maschinenbau Elektro Metallbau Handel Consulting Software Medien Druck "
    "Immobilien Energie Reisen Gastronomie Technik Automation Design Transporte Systeme "
    "Holzbau Sanitär Kältetechnik Pharma Textil Verpackung Umwelttechnik Feinkost"
)
_LEGAL = ("GmbH", "GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "UG (haftungsbeschränkt)")


def _dec(cents: Any) -> pl.Series:
    """Integer cents as an exact ``Decimal(18,2)`` series."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((c.size, 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = np.where(c < 0, -1, 0)
    arr = pa.Array.from_buffers(pa.decimal128(18, 2), c.size, [None, pa.py_buffer(words.tobytes())])
    out = pl.from_arrow(arr)
    assert isinstance(out, pl.Series)
    return out


def _dates(days: Any, start: dt.date, null_from: int | None = None) -> pl.Series:
    """Day numbers (0 = start) as a ``Date`` series; days >= ``null_from`` become null."""
    epoch = (start - dt.date(1970, 1, 1)).days
    d = np.asarray(days, dtype=np.int64)
    s = pl.Series(d + epoch, dtype=pl.Int64)
    if null_from is not None:
        s = (
            pl.DataFrame({"v": s, "keep": d < null_from})
            .select(pl.when(pl.col("keep")).then(pl.col("v")))
            .to_series()
        )
    return s.cast(pl.Int32).cast(pl.Date)


def _ids(prefix: str, numbers: Any, width: int) -> pl.Series:
    """``prefix`` + zero-padded 1-based number, e.g. ``INV0000001`` (built as fixed-width bytes)."""
    n = np.asarray(numbers, dtype=np.int64) + 1
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = pre.size + width
    buf = np.empty((n.size, size), dtype=np.uint8)
    buf[:, : pre.size] = pre
    rest = n.copy()
    j = size
    while j > pre.size:  # four digits at a time, from the right
        step = min(4, j - pre.size)
        rest, low = np.divmod(rest, 10_000)
        buf[:, j - step : j] = _DIGITS4[low][:, 4 - step :]
        j -= step
    offsets = np.arange(0, (n.size + 1) * size, size, dtype=np.int32)
    arr = pa.Array.from_buffers(
        pa.string(), n.size, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(buf.tobytes())]
    )
    out = pl.from_arrow(arr)
    assert isinstance(out, pl.Series)
    return out


def _pick(values: list[str], codes: Any) -> pl.Series:
    """``values[codes]`` as a String series (codes < 0 become null)."""
    c = np.asarray(codes, dtype=np.int64)
    s = pl.Series(values + [None], dtype=pl.String)
    return s.gather(np.where(c < 0, len(values), c))


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n, 1))))


class _Ids:
    """Id widths for a run (wide enough for every row; fixed minimums)."""

    def __init__(self, r: SimResult, n_pay: int, n_adj: int, n_ev: int) -> None:
        self.c = _width(r.c_segment.size, 6)
        self.i = _width(r.i_issue.size, 7)
        self.p = _width(n_pay, 7)
        self.a = _width(n_adj, 6)
        self.e = _width(n_ev, 8)


class Tables:
    """Chunked producer of the ledger tables of one run (horizon-truncated)."""

    def __init__(self, r: SimResult) -> None:
        self.r = r
        h = r.horizon_days
        self.n_pay = int(np.searchsorted(r.p_day, h))  # rows are sorted by day
        self.n_adj = int(np.searchsorted(r.a_day, h))
        self.n_ev = int(np.searchsorted(r.e_day, h))
        self.ids = _Ids(r, self.n_pay, self.n_adj, self.n_ev)
        self.start = r.world.start_date
        self.n_att = int(np.searchsorted(r.attempts["day"], h)) if r.attempts else 0
        self.n_msg = int(np.searchsorted(r.messages["day"], h)) if r.messages else 0

    def rows(self, table: str) -> int:
        """Number of rows ``table`` has in the files."""
        return {
            "customers": self.r.c_segment.size,
            "invoices": self.r.i_issue.size,
            "payments": self.n_pay,
            "adjustments": self.n_adj,
            "dunning_events": self.n_ev,
            ARCHETYPE_TABLE: self.r.c_segment.size,
            "payment_attempts": self.n_att,
            "message_events": self.n_msg,
        }[table]

    def chunks(self, table: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
        """Yield ``table`` in row chunks (at least one, possibly empty)."""
        n = self.rows(table)
        build = getattr(self, "_" + table)
        lo = 0
        while True:
            hi = min(n, lo + chunk_rows)
            yield build(lo, hi)
            lo = hi
            if lo >= n:
                break

    def frame(self, table: str) -> pl.DataFrame:
        """The whole table as one frame."""
        return pl.concat(list(self.chunks(table)), rechunk=True)

    # ---- builders: rows [lo, hi) ------------------------------------------------

    def _customers(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        sl = slice(lo, hi)
        seg = r.c_segment[sl].astype(np.int64)
        segs = list(r.world.segments.values())
        is_b2b = np.array([s.customer_type == "b2b" for s in segs])[seg]
        first = _pick(_FIRST, r.c_first_name[sl] % len(_FIRST))
        last = _pick(_LAST, r.c_last_name[sl] % len(_LAST))
        trade = _pick(_TRADE, r.c_suffix[sl] % len(_TRADE))
        legal = _pick(list(_LEGAL), (r.c_suffix[sl] // len(_TRADE)) % len(_LEGAL))
        name = (
            pl.DataFrame({"b2b": is_b2b, "f": first, "l": last, "t": trade, "g": legal})
            .select(
                pl.when(pl.col("b2b"))
                .then(pl.concat_str("l", "t", "g", separator=" "))
                .otherwise(pl.concat_str("f", "l", separator=" "))
            )
            .to_series()
        )
        churn = r.c_churn_day[sl]
        reason = np.where(
            churn < r.horizon_days,
            np.where(
                r.c_churn_reason[sl] == NON_PAYMENT,
                1,
                np.where(r.c_churn_reason[sl] == VOLUNTARY, 0, -1),
            ),
            -1,
        )
        terms = np.array([s.payment_terms_days for s in segs], dtype=np.int64)[seg]
        return pl.DataFrame(
            {
                "customer_id": _ids("C", np.arange(lo, hi), self.ids.c),
                "segment": _pick(r.segment_names, seg),
                "name": name,
                "country": _pick(r.country_names, r.c_country[sl]),
                "customer_type": _pick(["b2c", "b2b"], is_b2b.astype(np.int64)),
                "payment_terms_days": pl.Series(terms, dtype=pl.Int64),
                "created_at": _dates(r.c_created[sl], self.start),
                "churned_at": _dates(churn, self.start, null_from=r.horizon_days),
                "churn_reason": _pick(["voluntary", "non_payment"], reason),
            }
        )

    def _invoices(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        sl = slice(lo, hi)
        disputed = r.i_dispute_day[sl] < r.horizon_days
        return pl.DataFrame(
            {
                "invoice_id": _ids("INV", np.arange(lo, hi), self.ids.i),
                "customer_id": _ids("C", r.i_customer[sl], self.ids.c),
                "issue_date": _dates(r.i_issue[sl], self.start),
                "due_date": _dates(r.i_due[sl], self.start),
                "amount": _dec(r.i_amount[sl]),
                "currency": pl.Series([r.world.currency] * (hi - lo), dtype=pl.String),
                "is_disputed": pl.Series(disputed, dtype=pl.Boolean),
            }
        )

    def _payments(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        sl = slice(lo, hi)
        return pl.DataFrame(
            {
                "payment_id": _ids("PAY", np.arange(lo, hi), self.ids.p),
                "invoice_id": _ids("INV", r.p_invoice[sl], self.ids.i),
                "paid_at": _dates(r.p_day[sl], self.start),
                "amount": _dec(r.p_amount[sl]),
                "method": _pick(r.method_names, r.p_method[sl]),
            }
        )

    def _adjustments(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        sl = slice(lo, hi)
        return pl.DataFrame(
            {
                "adjustment_id": _ids("ADJ", np.arange(lo, hi), self.ids.a),
                "invoice_id": _ids("INV", r.a_invoice[sl], self.ids.i),
                "adjusted_at": _dates(r.a_day[sl], self.start),
                "amount": _dec(r.a_amount[sl]),
                "kind": _pick(["credit_note", "write_off"], r.a_kind[sl]),
            }
        )

    def _dunning_events(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        lt = r.ladders
        sl = slice(lo, hi)
        lid = r.e_ladder[sl].astype(np.int64)
        k = r.e_pos[sl].astype(np.int64)
        kmax = lt.offsets.shape[1]
        flat_names = [
            (lt.names[row][j] if j < len(lt.names[row]) else "")
            for row in range(len(lt.names))
            for j in range(kmax)
        ]
        variant = (
            _pick(list(r.variants), lid % 2)
            if r.variants
            else pl.Series([None] * (hi - lo), dtype=pl.String)
        )
        return pl.DataFrame(
            {
                "event_id": _ids("DUN", np.arange(lo, hi), self.ids.e),
                "invoice_id": _ids("INV", r.e_invoice[sl], self.ids.i),
                "stage": pl.Series(lt.stage[lid, k], dtype=pl.Int64),
                "sent_at": _dates(r.e_day[sl], self.start),
                "channel": _pick(list(CHANNELS), lt.channel[lid, k]),
                "stage_name": _pick(flat_names, lid * kmax + k),
                "fee": _dec(lt.fee_cents[lid, k]),
                "variant": variant,
            }
        )

    def _payment_attempts(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        at = r.attempts
        assert at is not None and r.world.auto_pay is not None
        sl = slice(lo, hi)
        codes = r.world.auto_pay.failure_codes
        reason = at["reason"][sl]
        cust = r.i_customer[at["invoice"][sl]]
        return pl.DataFrame(
            {
                "attempt_id": _ids("ATT", np.arange(lo, hi), _width(self.n_att, 7)),
                "invoice_id": _ids("INV", at["invoice"][sl], self.ids.i),
                "attempted_at": _dates(at["day"][sl], self.start),
                "amount": _dec(at["amount"][sl]),
                "method": _pick(r.method_names, r.c_method[cust]),
                "outcome": _pick(["succeeded", "failed"], at["outcome"][sl]),
                "failure_reason": _pick(list(FAILURE_REASONS), reason),
                "failure_code": _pick(
                    [codes.get(x, x.upper()) for x in FAILURE_REASONS],  # type: ignore[call-overload]
                    reason,
                ),
                "retry_number": pl.Series(at["retry"][sl].astype(np.int64), dtype=pl.Int64),
            }
        )

    def _message_events(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        ms = r.messages
        assert ms is not None
        sl = slice(lo, hi)
        n_inv = max(int(r.i_issue.size), 1)
        ev_key = r.e_day[: self.n_ev].astype(np.int64) * n_inv + r.e_invoice[: self.n_ev]
        m_key = ms["sent_day"][sl].astype(np.int64) * n_inv + ms["invoice"][sl]
        ev = np.searchsorted(ev_key, m_key)
        lt = r.ladders
        kmax = lt.offsets.shape[1]
        flat_names = [
            (lt.names[row][j] if j < len(lt.names[row]) else "")
            for row in range(len(lt.names))
            for j in range(kmax)
        ]
        template = r.e_ladder[ev].astype(np.int64) * kmax + r.e_pos[ev].astype(np.int64)
        return pl.DataFrame(
            {
                "message_event_id": _ids("MSG", np.arange(lo, hi), _width(self.n_msg, 8)),
                "event_id": _ids("DUN", ev, self.ids.e),
                "occurred_at": _dates(ms["day"][sl], self.start),
                "kind": _pick(list(MESSAGE_KINDS), ms["kind"][sl]),
                "template": _pick(flat_names, template),
            }
        )

    def _sim_customer_archetypes(self, lo: int, hi: int) -> pl.DataFrame:
        r = self.r
        sl = slice(lo, hi)
        variant = (
            _pick(list(r.variants), r.c_variant[sl])
            if r.variants
            else pl.Series([None] * (hi - lo), dtype=pl.String)
        )
        return pl.DataFrame(
            {
                "customer_id": _ids("C", np.arange(lo, hi), self.ids.c),
                "segment": _pick(r.segment_names, r.c_segment[sl]),
                "archetype": _pick(r.archetype_names, r.c_archetype[sl]),
                "variant": variant,
            }
        )


def frames(r: SimResult) -> dict[str, pl.DataFrame]:
    """All written tables as polars frames (the ledger tables plus the archetype table)."""
    t = Tables(r)
    out = {name: t.frame(name) for name in (*written_tables(r), ARCHETYPE_TABLE)}
    for name in written_tables(r):
        assert out[name].columns == TABLES[name].column_names, name
    return out


def write(r: SimResult, out: Path, formats: tuple[str, ...] = ("csv", "parquet")) -> dict[str, int]:
    """Write the ledger tables (and the archetype table) into ``out``.

    Args:
        r: the run.
        out: target directory (created if missing; files are overwritten).
        formats: any of ``"csv"`` and ``"parquet"``.

    Returns:
        Rows written per table.

    Raises:
        ValueError: an unknown format.
    """
    bad = sorted(set(formats) - {"csv", "parquet"})
    if bad:
        raise ValueError(f"unknown output format(s) {bad}; use csv and/or parquet")
    out.mkdir(parents=True, exist_ok=True)
    t = Tables(r)
    rows: dict[str, int] = {}
    # CSV goes to a helper thread while the main thread writes Parquet (both release the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        for name in (*written_tables(r), ARCHETYPE_TABLE):
            csv_f = open(out / f"{name}.csv", "wb") if "csv" in formats else None  # noqa: SIM115
            pq_w: pq.ParquetWriter | None = None
            pending: Future[None] | None = None
            try:
                for i, chunk in enumerate(t.chunks(name)):
                    if name in TABLES:
                        assert chunk.columns == TABLES[name].column_names, name
                    if pending is not None:
                        pending.result()
                        pending = None
                    if csv_f is not None:
                        pending = pool.submit(_write_csv_chunk, chunk, csv_f, i == 0)
                    if "parquet" in formats:
                        tbl = chunk.to_arrow()
                        if pq_w is None:
                            pq_w = pq.ParquetWriter(
                                out / f"{name}.parquet",
                                tbl.schema,
                                compression="zstd",
                                use_dictionary=[c for c in tbl.column_names if c not in _UNIQUE],
                            )
                        pq_w.write_table(tbl, row_group_size=PARQUET_ROW_GROUP_ROWS)
                if pending is not None:
                    pending.result()
            finally:
                if pending is not None:
                    pending.exception()  # wait before closing the file under it
                if csv_f is not None:
                    csv_f.close()
                if pq_w is not None:
                    pq_w.close()
            rows[name] = t.rows(name)
    return rows


def _write_csv_chunk(chunk: pl.DataFrame, f: BinaryIO, header: bool) -> None:
    chunk.write_csv(f, include_header=header)
