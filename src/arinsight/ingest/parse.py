"""Typing and row-level checks of one canonical table, vectorised in polars.

Input: a frame whose columns carry canonical names, plus ``_source_line``.
Output: the typed frame plus two columns, ``_field`` (first failing field) and
``_reason`` (every failure of the row, joined with "; "), null for good rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from arinsight.contract import Column, Table

if TYPE_CHECKING:
    from arinsight.ingest.profiles import Profile

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "date": pl.Date(),
    "amount": pl.Decimal(18, 2),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "rate": pl.Decimal(18, 8),
}

_AMOUNT_RE = r"^[+-]?\d+(\.\d{1,2})?$"
_RATE_RE = r"^\d+(\.\d{1,8})?$"
_INT_RE = r"^[+-]?\d+$"


def _text(name: str) -> pl.Expr:
    """The raw value as trimmed text, empty → null."""
    s = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _parse_text(col: Column, profile: Profile) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, error message or null) for a text source column."""
    s = _text(col.name)
    name = col.name
    if col.type == "str":
        return s, pl.lit(None, pl.String)
    if col.type == "date":
        parsed = pl.coalesce([s.str.to_date(f, strict=False) for f in profile.date_formats])
        fmts = " or ".join(profile.date_formats)
        hint = f"is not a date ({fmts} expected by profile {profile.name})"
    elif col.type in ("amount", "rate"):
        norm = s
        if profile.csv.thousands:
            norm = norm.str.replace_all(profile.csv.thousands, "", literal=True)
        if profile.csv.decimal != ".":
            norm = norm.str.replace_all(profile.csv.decimal, ".", literal=True)
        pattern = _AMOUNT_RE if col.type == "amount" else _RATE_RE
        parsed = (
            pl.when(norm.str.contains(pattern))
            .then(norm)
            .otherwise(None)
            .cast(POLARS_TYPES[col.type], strict=False)
        )
        sep = "decimal comma" if profile.csv.decimal == "," else "decimal point"
        places = "2" if col.type == "amount" else "8"
        hint = (
            f"is not a number (digits with a {sep} and at most {places} decimals expected "
            f"by profile {profile.name})"
        )
    elif col.type == "int":
        parsed = pl.when(s.str.contains(_INT_RE)).then(s).otherwise(None).cast(pl.Int64,
                                                                             strict=False)
        hint = "is not a whole number"
    elif col.type == "bool":
        low = s.str.to_lowercase()
        parsed = (
            pl.when(low.is_in(list(profile.true_values))).then(True)
            .when(low.is_in(list(profile.false_values))).then(False)
            .otherwise(None)
        )
        ok = ", ".join(profile.true_values[:2] + profile.false_values[:2])
        hint = f"is not a yes/no value ({ok} expected by profile {profile.name})"
    else:  # pragma: no cover - contract types are closed
        raise AssertionError(col.type)
    err = pl.when(s.is_not_null() & parsed.is_null()).then(
        pl.format(f"{name} '{{}}' {hint}", s)
    )
    return parsed, err


def _parse_typed(col: Column, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr] | None:
    """(typed value, error) for an already-typed (Parquet) column, or None to go via text."""
    target = POLARS_TYPES[col.type]
    c = pl.col(col.name)
    none = pl.lit(None, pl.String)
    if dtype == target or (col.type == "amount" and isinstance(dtype, pl.Decimal)
                           and dtype.scale <= 2):
        return c.cast(target), none
    if col.type == "date" and isinstance(dtype, pl.Datetime):
        return c.dt.date(), none
    if col.type == "int" and dtype.is_integer():
        return c.cast(pl.Int64), none
    if col.type in ("amount", "rate") and (dtype.is_float() or dtype.is_integer()):
        scale = 2 if col.type == "amount" else 8
        rounded = c.cast(pl.Float64).round(scale)
        bad = (c.cast(pl.Float64) - rounded).abs() > 1e-6
        value = pl.when(bad).then(None).otherwise(rounded.cast(target, strict=False))
        err = pl.when(c.is_not_null() & value.is_null()).then(
            pl.format(f"{col.name} {{}} has more than {scale} decimals", c)
        )
        return value, err
    return None


def parse_table(df: pl.DataFrame, table: Table, profile: Profile) -> pl.DataFrame:
    """Type ``df`` (canonical column names) against ``table`` and flag bad rows.

    Returns:
        The frame with every contract column typed (absent optional columns as
        nulls), ``_source_line``, ``_raw`` (the source row as JSON), and
        ``_field`` / ``_reason`` (null when the row is good).
    """
    typed: list[pl.Expr] = []
    errors: list[tuple[str, pl.Expr]] = []
    for col in table.columns:
        target = POLARS_TYPES[col.type]
        if col.name not in df.columns:
            typed.append(pl.lit(None, target).alias(col.name))
            continue
        pair = None
        dtype = df.schema[col.name]
        if dtype != pl.String:
            pair = _parse_typed(col, dtype)
            if pair is None:
                df = df.with_columns(pl.col(col.name).cast(pl.String))
        value, err = pair if pair is not None else _parse_text(col, profile)
        typed.append(value.alias(col.name))
        errors.append((col.name, err))
        if col.required:
            errors.append((col.name, pl.when(pl.col(col.name).is_null()
                                             | (_text(col.name).is_null()
                                                if dtype == pl.String else pl.lit(False)))
                           .then(pl.lit(f"{col.name} is empty (required)"))))

    raw_cols = [c for c in df.columns if not c.startswith("_")]
    raw_json = pl.struct(raw_cols).struct.json_encode() if raw_cols else pl.lit("{}")
    out = df.select(pl.col("_source_line"), raw_json.alias("_raw"), *typed,
                    *[e.alias(f"_err_{i}") for i, (_, e) in enumerate(errors)])

    # Rules across columns and on typed values.
    rules: list[tuple[str, pl.Expr]] = []
    for col in table.columns:
        c = pl.col(col.name)
        if col.allowed:
            rules.append((col.name, pl.when(c.is_not_null() & ~c.is_in(list(col.allowed))).then(
                pl.format(f"{col.name} '{{}}' is not one of {', '.join(col.allowed)}", c))))
        if col.non_negative and col.type in ("amount", "int", "rate"):
            rules.append((col.name, pl.when(c < 0).then(
                pl.format(f"{col.name} {{}} is negative", c))))
    if table.name == "invoices":
        rules.append(("due_date", pl.when(pl.col("due_date") < pl.col("issue_date")).then(
            pl.format("due_date {} is before issue_date {}", pl.col("due_date"),
                      pl.col("issue_date")))))
    out = out.with_columns(e.alias(f"_err_{len(errors) + i}") for i, (_, e) in enumerate(rules))
    fields = [f for f, _ in errors] + [f for f, _ in rules]
    err_cols = [f"_err_{i}" for i in range(len(fields))]
    first_field = pl.coalesce(
        [pl.when(pl.col(c).is_not_null()).then(pl.lit(f)) for c, f in zip(err_cols, fields,
                                                                          strict=True)]
        + [pl.lit(None, pl.String)]
    )
    reason = pl.concat_str([pl.col(c) for c in err_cols], separator="; ", ignore_nulls=True)
    out = out.with_columns(
        first_field.alias("_field"),
        pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in err_cols]) if err_cols
                else pl.lit(False)).then(reason).alias("_reason"),
    ).drop(err_cols)
    return out
