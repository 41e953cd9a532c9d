"""Mapping profiles: how a source file's layout maps onto the canonical tables.

The built-in ``canonical`` profile reads files named after the canonical tables
(``invoices.csv``, ``payments.parquet``, ...) with ISO dates and a decimal point.
Profiles for real ERP exports extend the same model (delimiter, encoding,
separators, date formats, renames, constants, value maps).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CsvOptions(_Frozen):
    """How delimited text is read."""

    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    quote: str = '"'


class TableMapping(_Frozen):
    """Which files feed one canonical table and how their columns map."""

    files: tuple[str, ...]
    rename: dict[str, str] = Field(default_factory=dict)


class Profile(_Frozen):
    """A mapping profile (see ``docs/profiles.md``)."""

    name: str
    description: str = ""
    csv: CsvOptions = CsvOptions()
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    true_values: tuple[str, ...] = ("true", "t", "1", "yes", "y")
    false_values: tuple[str, ...] = ("false", "f", "0", "no", "n")
    tables: dict[str, TableMapping]

    def table_for(self, path: Path) -> str | None:
        """The canonical table a file feeds, by the profile's globs (None when none match)."""
        name = path.name.lower()
        for table, mapping in self.tables.items():
            if any(fnmatch.fnmatch(name, pattern.lower()) for pattern in mapping.files):
                return table
        return None


def _canonical() -> Profile:
    from arinsight.contract import TABLES

    return Profile(
        name="canonical",
        description="Files named after the canonical tables; ISO dates; decimal point.",
        tables={
            t: TableMapping(files=(f"{t}.csv", f"{t}.parquet", f"{t}.tsv"))
            for t in TABLES
        },
    )


def get_profile(name: str = "canonical") -> Profile:
    """A built-in profile by name.

    Raises:
        ConfigError: unknown profile name.
    """
    from arinsight.errors import ConfigError

    builtins = {"canonical": _canonical}
    if name not in builtins:
        raise ConfigError(f"unknown profile {name!r}; built-in profiles: {', '.join(builtins)}")
    return builtins[name]()


def resolve_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a profile YAML file by path.

    Raises:
        ConfigError: unknown name, missing file or invalid profile.
    """
    from arinsight.errors import ConfigError

    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        import yaml
        from pydantic import ValidationError

        if not p.exists():
            raise ConfigError(f"profile file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
            return Profile.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"{p}: invalid mapping profile: {exc}") from exc
    return get_profile(name_or_path)
