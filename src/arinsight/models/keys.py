"""Keys proven unique by the SQL's structure, so the build can skip counting them.

A model may declare ``-- keys_unique_by: construction`` in its header. The
runner then proves from the SQL alone that its keys cannot repeat, and skips
the run-time ``count(distinct keys)`` (the null check stays: a ``group by``
keeps a NULL group). A model whose SQL does not prove it is refused when the
models are read, naming the model and the fix; a header can never buy a
skipped check the SQL does not earn.

What counts as proof (conservative: anything else proves nothing):

* ``group by`` on plain columns: the grouped output is unique on them; an
  aggregate without ``group by`` returns at most one row;
* ``row_number() over (partition by P ...) as n``: unique on (P, n);
* ``qualify lead(d) over (partition by P order by d, ...) is distinct from d``
  (one peer of each d per partition, the last in the window's order): unique
  on (P, d);
* ``select distinct``: unique on all its columns;
* a relation read by name keeps its keys: a CTE by this same analysis,
  another model by its declared keys (checked when it was built, or proven);
* filters (``where``, ``having``, ``qualify``), window columns, ``order by``
  and ``limit`` keep keys; a projection keeps a key when every column of it
  is selected as a plain column (renaming allowed);
* ``inner``/``left`` join, semi and anti join: the left side's keys survive
  when the join's ``on`` equates columns covering a key of the right side (at
  most one match per left row); a ``cross join`` with a relation of at most one
  row keeps them too; an inner join also keeps the right side's keys when the
  equalities cover a key of the left side;
* ``union all``, ``full``/``right`` joins, table functions and raw tables:
  no keys (raw keys are the loader's guarantee, not the SQL's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlglot import exp

#: the header value that asks for a proof
CONSTRUCTION = "construction"

KeySet = frozenset[str]


@dataclass(frozen=True)
class Rel:
    """What the analysis knows of a relation: sets of columns it is unique on,
    and whether it has at most one row."""

    keys: tuple[KeySet, ...] = ()
    single: bool = False
    #: output column names, when known (None: unknown, e.g. ``select *`` of a model)
    columns: tuple[str, ...] | None = None


@dataclass
class _Scope:
    """The FROM clause of one select: relation per alias, and the keys of the
    joined rows as sets of (alias, column)."""

    rels: dict[str, Rel] = field(default_factory=dict)
    keys: list[frozenset[tuple[str, str]]] = field(default_factory=list)
    single: bool = False


def _norm(name: str) -> str:
    return name.lower()


def _eq_pairs(on: exp.Expr | None) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Column = column equalities of a top-level conjunction, as ((alias, col), (alias, col))."""
    from sqlglot import exp

    if on is None:
        return []
    out = []
    for cond in on.flatten() if isinstance(on, exp.And) else [on]:
        if (
            isinstance(cond, exp.EQ)
            and isinstance(cond.this, exp.Column)
            and isinstance(cond.expression, exp.Column)
            and cond.this.table
            and cond.expression.table
        ):
            a, b = cond.this, cond.expression
            out.append(((_norm(a.table), _norm(a.name)), (_norm(b.table), _norm(b.name))))
    return out


class KeyProver:
    """Infers keys of a model's query (see the module docstring)."""

    def __init__(self, models: Mapping[str, Rel]) -> None:
        #: relations read by name: other models, by their declared (checked) keys
        self.models = {_norm(k): v for k, v in models.items()}

    def query(self, node: exp.Expr, ctes: Mapping[str, Rel]) -> Rel:
        from sqlglot import exp

        local = dict(ctes)
        with_ = node.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                local[_norm(cte.alias_or_name)] = self.query(cte.this, local)
        if isinstance(node, exp.Subquery):
            return self.query(node.this, local)
        if isinstance(node, exp.Union) and node.args.get("distinct"):
            rel = self.query(node.this, local)
            return Rel((frozenset(rel.columns),) if rel.columns else (), False, rel.columns)
        if isinstance(node, exp.Select):
            return self._select(node, local)
        return Rel()

    def _relation(self, node: exp.Expr, ctes: Mapping[str, Rel]) -> Rel:
        from sqlglot import exp

        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            name = _norm(node.name)
            if not node.db and name in ctes:
                return ctes[name]
            if node.db in ("", "staging", "intermediate", "marts") and name in self.models:
                return self.models[name]
            return Rel()
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes)
        return Rel()  # table functions (unnest, generate_series, ...)

    def _scope(self, select: exp.Select, ctes: Mapping[str, Rel]) -> _Scope | None:
        from_ = select.args.get("from_")
        if from_ is None:
            return _Scope(single=True)
        first = from_.this
        alias = _norm(first.alias_or_name)
        rel = self._relation(first, ctes)
        scope = _Scope({alias: rel}, [frozenset((alias, c) for c in k) for k in rel.keys])
        scope.single = rel.single
        for join in select.args.get("joins") or []:
            other = join.this
            o_alias = _norm(other.alias_or_name)
            if o_alias in scope.rels:
                return None
            o_rel = self._relation(other, ctes)
            o_keys = [frozenset((o_alias, c) for c in k) for k in o_rel.keys]
            side, kind = (join.side or "").upper(), (join.kind or "").upper()
            if kind in ("SEMI", "ANTI"):
                continue  # left rows kept or dropped, never repeated; nothing added
            scope.rels[o_alias] = o_rel
            if side in ("RIGHT", "FULL") or kind not in ("", "INNER", "CROSS", "OUTER"):
                scope.keys, scope.single = [], False
                continue
            if kind == "OUTER" and side != "LEFT":
                scope.keys, scope.single = [], False
                continue
            pairs = _eq_pairs(join.args.get("on"))
            right_cols = {b[1] for a, b in pairs if b[0] == o_alias and a[0] != o_alias} | {
                a[1] for a, b in pairs if a[0] == o_alias and b[0] != o_alias
            }
            left_cols = {a for a, b in pairs if b[0] == o_alias and a[0] != o_alias} | {
                b for a, b in pairs if a[0] == o_alias and b[0] != o_alias
            }
            at_most_one = o_rel.single or any(k <= right_cols for k in o_rel.keys)
            left_unique = any(k <= left_cols for k in scope.keys)
            new_keys: list[frozenset[tuple[str, str]]] = []
            if at_most_one:
                new_keys += scope.keys
            if side != "LEFT" and (left_unique or scope.single):
                new_keys += o_keys
            # a pair of rows is always unique on (left key, right key) for inner joins
            if side != "LEFT":
                new_keys += [lk | rk for lk in scope.keys for rk in o_keys]
            scope.keys = list(dict.fromkeys(new_keys))
            scope.single = scope.single and o_rel.single
        return scope

    def _select(self, select: exp.Select, ctes: Mapping[str, Rel]) -> Rel:
        from sqlglot import exp

        set_returning = (exp.Explode, exp.Unnest, exp.UDTF, exp.GenerateSeries, exp.Posexplode)
        if any(e.find(*set_returning) for e in select.expressions):
            return Rel()  # unnest(...) in the select list: one row in, many out
        scope = self._scope(select, ctes)
        if scope is None:
            return Rel()
        single_alias = next(iter(scope.rels)) if len(scope.rels) == 1 else None

        def source(col: exp.Expr) -> tuple[str, str] | None:
            """(alias, column) a plain column reference reads, when unambiguous."""
            if not isinstance(col, exp.Column) or isinstance(col.this, exp.Star):
                return None
            if col.table:
                return (_norm(col.table), _norm(col.name))
            return (single_alias, _norm(col.name)) if single_alias else None

        # what each output column is: a plain column of the scope, or something else
        outputs: dict[str, tuple[str, str] | None] = {}
        names: list[str] = []
        name: str | None
        star_from: list[str] = []
        windows: list[tuple[str, exp.Window]] = []
        for item in select.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                star = item if isinstance(item, exp.Star) else item.this
                modifiers = ("replace", "except", "except_", "exclude", "rename")
                if any(node.args.get(a) for node in (item, star) for a in modifiers):
                    return Rel()  # * exclude / replace / rename: not analysed
                alias = _norm(item.table) if isinstance(item, exp.Column) else single_alias
                if alias is None:
                    return Rel()  # a bare * over a join: column clashes unknown
                star_from.append(alias)
                continue
            out_name = _norm(item.alias_or_name)
            names.append(out_name)
            outputs[out_name] = source(inner)
            if isinstance(inner, exp.Window) and isinstance(inner.this, exp.RowNumber):
                windows.append((out_name, inner))

        def output_of(src: tuple[str, str]) -> str | None:
            for name, s in outputs.items():
                if s == src:
                    return name
            if src[0] in star_from and src[1] not in outputs:
                return src[1]
            return None

        def project(keys: list[frozenset[tuple[str, str]]]) -> list[KeySet]:
            out = []
            for k in keys:
                mapped = [output_of(c) for c in k]
                if all(m is not None for m in mapped):
                    out.append(frozenset(m for m in mapped if m is not None))
            return out

        columns: tuple[str, ...] | None = None
        if not star_from:
            columns = tuple(names)
        elif len(star_from) == 1 and scope.rels[star_from[0]].columns is not None:
            columns = tuple(dict.fromkeys([*(scope.rels[star_from[0]].columns or ()), *names]))

        group = select.args.get("group")
        has_agg = any(_has_aggregate(e) for e in select.expressions)
        if group is not None:
            if any(group.args.get(a) for a in ("all", "rollup", "cube", "grouping_sets")):
                return Rel(columns=columns)
            group_out: list[str] = []
            for g in group.expressions:
                name = None
                if isinstance(g, exp.Literal) and g.is_int:
                    idx = int(g.this) - 1
                    if 0 <= idx < len(select.expressions) and not star_from:
                        name = names[idx]
                elif isinstance(g, exp.Column):
                    src = source(g)
                    if src is not None:
                        name = output_of(src)
                    elif (hit := outputs.get(_norm(g.name))) and hit[1] == _norm(g.name):
                        name = _norm(g.name)  # bare column of a join, selected as t.<same>
                else:
                    for item, out_name in zip(select.expressions, names, strict=False):
                        inner = item.this if isinstance(item, exp.Alias) else item
                        if inner == g and not star_from:
                            name = out_name
                if name is None:
                    return Rel(columns=columns)  # a grouped expression not selected as such
                group_out.append(name)
            if not group_out:
                return Rel(columns=columns)
            keys: list[KeySet] = [frozenset(group_out)]
            single = False
        elif has_agg:
            keys, single = [], True
        else:
            keys, single = project(scope.keys), scope.single
        for name, win in windows:
            parts = [source(p) for p in win.args.get("partition_by") or []]
            if all(p is not None for p in parts):
                mapped = [output_of(p) for p in parts if p is not None]
                if all(m is not None for m in mapped):
                    keys.append(frozenset([name, *(m for m in mapped if m is not None)]))
        qualify = select.args.get("qualify")
        if qualify is not None:
            last = _last_of_peers(qualify.this, source)
            if last is not None:
                parts, d = last
                mapped = [output_of(c) for c in (*parts, d) if c is not None]
                if None not in (*parts, d) and all(m is not None for m in mapped):
                    keys.append(frozenset(m for m in mapped if m is not None))
        if select.args.get("distinct") and columns is not None:
            if select.args["distinct"].args.get("on"):
                return Rel(columns=columns)
            keys.append(frozenset(columns))
        return Rel(tuple(dict.fromkeys(keys)), single, columns)


def _last_of_peers(
    cond: exp.Expr, source: Callable[[exp.Expr], tuple[str, str] | None]
) -> tuple[list[tuple[str, str] | None], tuple[str, str] | None] | None:
    """(P, d) when ``cond`` (a ``qualify``) keeps only rows whose next row in
    ``partition by P order by d`` has another d: ``lead(d) over (...) is distinct
    from d`` as one conjunct, written inline, ``d`` first in the order, lead with
    its default offset (1) and no default value. Of the rows with one (P, d) the
    window sorts side by side, only the last passes, so (P, d) is unique."""
    from sqlglot import exp

    for part in cond.flatten() if isinstance(cond, exp.And) else [cond]:
        if not isinstance(part, exp.NullSafeNEQ):
            continue
        for win, other in ((part.this, part.expression), (part.expression, part.this)):
            if not (isinstance(win, exp.Window) and isinstance(win.this, exp.Lead)):
                continue
            lead = win.this
            if lead.args.get("offset") is not None or lead.args.get("default") is not None:
                continue
            if win.args.get("spec") is not None or win.args.get("alias") is not None:
                continue  # a named or framed window: not analysed
            order = win.args.get("order")
            first = order.expressions[0].this if order and order.expressions else None
            d = source(lead.this)
            if d is None or source(other) != d or first is None or source(first) != d:
                continue
            return [source(p) for p in win.args.get("partition_by") or []], d
    return None


def _has_aggregate(node: exp.Expr) -> bool:
    """Whether ``node`` aggregates rows of this select (not inside a window or a subquery)."""
    from sqlglot import exp

    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, exp.Window | exp.Subquery | exp.Select):
        return False
    return any(_has_aggregate(child) for child in node.iter_expressions())


def explain(rel: Rel, keys: tuple[str, ...]) -> str | None:
    """Why ``rel`` does not prove ``keys`` unique (None: it does; a proven subset of
    the keys is enough)."""
    want = frozenset(_norm(k) for k in keys)
    if any(k <= want for k in rel.keys):
        return None
    found = "; ".join("(" + ", ".join(sorted(k)) + ")" for k in rel.keys) or "none"
    return (
        f"the SQL proves no subset of ({', '.join(keys)}) unique (keys it proves: {found}; "
        "proof is a group by on them, row_number(), select distinct, or joins on a unique "
        "key of the joined relation — see arinsight.models.keys)"
    )
