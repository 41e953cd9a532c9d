"""Mapping profiles: how a source file's layout maps onto the canonical tables.

A profile (YAML, documented in ``docs/profiles.md``) says which files feed
which canonical table (globs), how they are read (format, delimiter, encoding,
decimal and thousands separators, date formats), how their columns map
(renames, constants, value maps, sign conventions) and which further tables a
file yields (*derived* tables: a cleared-items list yields ``invoices`` and
``payments``; customer master fields on invoice rows yield ``customers``).

Built-in profiles: ``canonical`` (generated from the contract), and the YAML
files in ``arinsight/ingest/builtin/`` (``german_erp``, ``cleared_items``).
Unknown keys anywhere are an error that names the key and the allowed ones.

Only the standard library, pydantic and PyYAML are imported here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import hashlib
import json
import re
import types
import typing
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arinsight.contract import TABLES
from arinsight.errors import ConfigError

Scalar = str | int | float | bool
Format = Literal["auto", "csv", "tsv", "xlsx", "parquet"]

#: File suffix → format, for ``format: auto``.
SUFFIX_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Pseudo date format: Excel serial day numbers (days since 1899-12-30).
EXCEL_DATE = "excel"
#: Work column that names the invoice a credit note reduces (``negative_amounts: credit_note``).
CREDIT_NOTE_REFERENCE = "reference_invoice_id"

_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CsvOptions(_Frozen):
    """How delimited text is read (``csv:``)."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: Literal["utf-8", "cp1252", "latin-1", "auto"] = "utf-8"
    quote: str = Field(default='"', min_length=1, max_length=1)
    decimal: Literal[".", ","] = "."
    thousands: Literal[".", ",", " ", "'", "\u00a0"] | None = None

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvOptions:
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal separators are both {self.decimal!r}")
        return self


class XlsxOptions(_Frozen):
    """How a workbook is read (``xlsx:``)."""

    sheet: str | int = 0
    header_row: int = Field(
        default=1, ge=1, description="Excel row number of the header (1 = first)."
    )


class DerivedTable(_Frozen):
    """Another canonical table built from the same rows (``tables.<t>.derive.<table>``).

    ``columns`` maps each column of the derived table to a column of the source
    table after renaming (a canonical name or a work name from ``rename``), to
    a list of them (the first non-empty wins), or to a template such as
    ``"{invoice_id}-settled"``. ``when`` lists columns that must be non-empty
    for a row to yield a derived row. Derived rows are unique by the derived
    table's key; when several rows give the same key, the last one in the
    file wins by default, ``on_conflict`` picks another rule (``latest``: the
    row with the latest date of the source table, e.g. the invoice's issue date;
    ``most_frequent``: the attributes most rows give, ties to the latest), and
    the load reports how many keys had conflicting rows, with examples.
    """

    columns: dict[str, str | list[str]]
    constants: dict[str, Scalar] = Field(default_factory=dict)
    when: list[str] = Field(default_factory=list)
    #: which row's attributes a key keeps when its rows disagree (see docs/profiles.md)
    on_conflict: Literal["latest", "most_frequent", "last_row"] = "latest"
    amount_sign: Literal["as_is", "negate"] = "as_is"


class TableMapping(_Frozen):
    """Which files feed one canonical table and how their columns map."""

    files: list[str] = Field(min_length=1)
    format: Format = "auto"
    sheet: str | int | None = None
    rename: dict[str, str | list[str]] = Field(default_factory=dict)
    constants: dict[str, Scalar] = Field(default_factory=dict)
    value_maps: dict[str, dict[str, Scalar]] = Field(default_factory=dict)
    amount_sign: Literal["as_is", "negate"] = "as_is"
    negative_amounts: Literal["reject", "credit_note"] = "reject"
    derive: dict[str, DerivedTable] = Field(default_factory=dict)

    def targets_of(self, source_column: str) -> list[str]:
        value = self.rename[source_column]
        return [value] if isinstance(value, str) else list(value)

    def work_columns(self) -> set[str]:
        """Names the derivations and credit-note routing read from the renamed rows."""
        used: set[str] = set()
        for spec in self.derive.values():
            for src in spec.columns.values():
                for item in [src] if isinstance(src, str) else src:
                    fields = _TEMPLATE_FIELD.findall(item)
                    used.update(fields if fields else [item])
            used.update(spec.when)
        if self.negative_amounts == "credit_note":
            used.add(CREDIT_NOTE_REFERENCE)
        return used


class Plausibility(_Frozen):
    """Dates a real ledger cannot have (``plausibility:``); failing rows are quarantined.

    ``export_date``: the day the export was taken; rows dated after it are
    quarantined (``arinsight load --export-date`` overrides it). Without it the
    export date is taken as the latest invoice issue date, ignoring issue
    dates that lie more than ``max_days_after_last_issue`` beyond the rest
    (a lone typo must not move it); payments, adjustments and dunning events
    dated more than ``max_days_after_last_issue`` after it are quarantined,
    those dated after it within that margin are loaded and counted in a note.
    """

    export_date: dt.date | None = None
    max_days_after_last_issue: int = Field(default=366, ge=0)
    max_payment_terms_days: int = Field(default=365, ge=0)


class Profile(_Frozen):
    """A mapping profile (see ``docs/profiles.md``)."""

    name: str = Field(min_length=1)
    description: str = ""
    csv: CsvOptions = CsvOptions()
    xlsx: XlsxOptions = XlsxOptions()
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    true_values: list[str] = Field(
        default_factory=lambda: ["true", "t", "1", "yes", "y", "ja", "j", "wahr"]
    )
    false_values: list[str] = Field(
        default_factory=lambda: ["false", "f", "0", "no", "n", "nein", "falsch"]
    )
    #: currency of invoices whose file has no currency column (or leaves it empty)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    plausibility: Plausibility = Plausibility()
    tables: dict[str, TableMapping] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        errors: list[str] = []
        for fmt in self.date_formats:
            if fmt != EXCEL_DATE and "%" not in fmt:
                errors.append(
                    f"date_formats: {fmt!r} is neither a strftime pattern "
                    f"(like '%d.%m.%Y') nor {EXCEL_DATE!r}"
                )
        both = {v.lower() for v in self.true_values} & {v.lower() for v in self.false_values}
        if both:
            errors.append(f"true_values and false_values share {sorted(both)}")
        for table, mapping in self.tables.items():
            errors += _check_mapping(table, mapping)
        if errors:
            raise ValueError("\n".join(errors))
        return self

    def table_for(self, path: Path) -> str | None:
        """The canonical table a file feeds, by the profile's globs (None when none match)."""
        name = path.name.lower()
        for table, mapping in self.tables.items():
            if any(fnmatch.fnmatch(name, pattern.lower()) for pattern in mapping.files):
                return table
        return None

    def format_for(self, path: Path, table: str) -> str:
        """``csv``, ``tsv``, ``xlsx`` or ``parquet`` for ``path`` (``auto``: by suffix)."""
        fmt = self.tables[table].format
        if fmt != "auto":
            return fmt
        return SUFFIX_FORMATS.get(path.suffix.lower(), "csv")

    def fingerprint(self) -> str:
        """Short hash of the profile's content: a changed profile re-reads unchanged files."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        """``name@fingerprint``, as recorded in ``meta.loads.profile``."""
        return f"{self.name}@{self.fingerprint()}"


def _check_mapping(table: str, m: TableMapping) -> list[str]:
    """Cross-field checks of one table mapping; messages name the profile key."""
    if table not in TABLES:
        return [f"tables.{table}: not a canonical table ({', '.join(TABLES)})"]
    errors: list[str] = []
    cols = set(TABLES[table].column_names)
    work = m.work_columns()
    allowed = cols | work
    for src, target in m.rename.items():
        for t in [target] if isinstance(target, str) else target:
            if t not in allowed:
                errors.append(
                    f"tables.{table}.rename: {src!r} → {t!r} is not a column of {table}"
                    f"{_suggest(t, allowed)} (and no derive entry reads it)"
                )
    for key in ("constants", "value_maps"):
        for col in getattr(m, key):
            if col not in allowed:
                errors.append(
                    f"tables.{table}.{key}: {col!r} is not a column of "
                    f"{table}{_suggest(col, allowed)}"
                )
    if m.negative_amounts == "credit_note" and table != "invoices":
        errors.append(f"tables.{table}.negative_amounts: credit_note applies to invoices only")
    if m.amount_sign == "negate" and "amount" not in cols:
        errors.append(f"tables.{table}.amount_sign: {table} has no amount column")
    for dname, spec in m.derive.items():
        where = f"tables.{table}.derive.{dname}"
        if dname not in TABLES:
            errors.append(f"{where}: not a canonical table{_suggest(dname, set(TABLES))}")
            continue
        if dname == table:
            errors.append(f"{where}: a table cannot derive itself")
            continue
        dcols = set(TABLES[dname].column_names)
        if spec.amount_sign == "negate" and "amount" not in dcols:
            errors.append(f"{where}.amount_sign: {dname} has no amount column")
        for col in [*spec.columns, *spec.constants]:
            if col not in dcols:
                errors.append(f"{where}: {col!r} is not a column of {dname}{_suggest(col, dcols)}")
        for req in TABLES[dname].required:
            if req not in spec.columns and req not in spec.constants:
                errors.append(
                    f"{where}: required column {req!r} of {dname} is neither in "
                    "columns nor in constants"
                )
    return errors


def _suggest(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- YAML


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader that reads ``Yes``/``No``/``on``/``off`` as strings (YAML 1.2 booleans).

    Value maps such as ``{Yes: true, No: false}`` then mean what they say.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"profile file not found: {path}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile is a YAML mapping (name:, tables:, ...)")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, everything else is replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _builtin_dir() -> Path:
    return Path(str(resources.files("arinsight.ingest") / "builtin"))


def builtin_names() -> list[str]:
    """Names of the built-in profiles."""
    return ["canonical", *sorted(p.stem for p in _builtin_dir().glob("*.yaml"))]


def _raw_profile(ref: str, base_dir: Path | None, seen: tuple[str, ...]) -> dict[str, Any]:
    """The profile mapping for a built-in name or a path, with ``extends`` resolved."""
    if ref in seen:
        raise ConfigError(f"profile extends itself: {' → '.join([*seen, ref])}")
    if ref == "canonical":
        return _canonical_dict()
    builtin = _builtin_dir() / f"{ref}.yaml"
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        if not builtin.exists():
            raise ConfigError(
                f"unknown profile {ref!r}; built-in profiles: "
                f"{', '.join(builtin_names())}, or give a YAML file path"
            )
        path = builtin
    else:
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise ConfigError(f"profile file not found: {path}")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: extends: names one profile (a built-in or a path)")
        data = _merge(_raw_profile(parent, path.parent, (*seen, ref)), data)
    data["__source__"] = str(path)
    return data


def _canonical_dict() -> dict[str, Any]:
    return {
        "name": "canonical",
        "description": "Files named after the canonical tables (customers.csv, "
        "invoices.parquet, ...); ISO dates; decimal point.",
        "tables": {
            t: {"files": [f"{t}.csv", f"{t}.tsv", f"{t}.txt", f"{t}.parquet", f"{t}.xlsx"]}
            for t in TABLES
        },
    }


def _mapping_errors(data: dict[str, Any]) -> list[str]:
    """Cross-field problems of every table mapping that is valid on its own.

    Pydantic runs ``Profile._check`` only when every field validated, so a
    profile with an unknown key would hide its mapping problems until a second
    run; these are collected here so one run reports everything.
    """
    tables = data.get("tables")
    out: list[str] = []
    for table, raw in tables.items() if isinstance(tables, dict) else ():
        try:
            mapping = TableMapping.model_validate(raw)
        except ValidationError:
            continue
        out += _check_mapping(str(table), mapping)
    return out


def _explain(exc: ValidationError, source: str, data: dict[str, Any] | None = None) -> str:
    lines = [f"{source}: invalid mapping profile:"]
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            parent, key = err["loc"][:-1], str(err["loc"][-1])
            allowed = _allowed_keys(parent)
            hint = _suggest(key, set(allowed))
            lines.append(f"  {loc}: unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            for part in msg.splitlines():
                line = f"  {loc}: {part}" if loc else f"  {part}"
                if line not in lines:
                    lines.append(line)
    for problem in _mapping_errors(data or {}):
        if f"  {problem}" not in lines:
            lines.append(f"  {problem}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside a Profile."""
    model: Any = Profile
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            if field is None:
                return []
            model = field.annotation
        else:  # dict[str, X] → X
            model = typing.get_args(model)[1] if typing.get_args(model) else None
        while isinstance(model, types.UnionType) or typing.get_origin(model) is typing.Union:
            model = next(a for a in typing.get_args(model) if a is not type(None))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _validate(data: dict[str, Any]) -> Profile:
    source = data.pop("__source__", data.get("name", "profile"))
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, str(source), data)) from None


@cache
def get_profile(name: str = "canonical") -> Profile:
    """A built-in profile by name.

    Raises:
        ConfigError: unknown profile name.
    """
    if name not in builtin_names():
        raise ConfigError(
            f"unknown profile {name!r}; built-in profiles: "
            f"{', '.join(builtin_names())}, or give a YAML file path"
        )
    return _validate(_raw_profile(name, None, ()))


def load_profile_file(path: str | Path) -> Profile:
    """A profile from a YAML file (``extends`` resolved relative to the file).

    Raises:
        ConfigError: missing file, invalid YAML, unknown keys or inconsistent mapping.
    """
    return _validate(_raw_profile(str(path), None, ()))


def resolve_profile(name_or_path: str | Profile) -> Profile:
    """A built-in profile by name, or a profile YAML file by path.

    Raises:
        ConfigError: unknown name, missing file or invalid profile.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return load_profile_file(p)
    return get_profile(name_or_path)
