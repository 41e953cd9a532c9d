"""Errors a user can act on. Each message says what is wrong and what to do next."""

from __future__ import annotations


class ArinsightError(Exception):
    """Base class; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class ConfigError(ArinsightError):
    """A settings, ladder, world or profile file is missing or invalid."""

    exit_code = 2


class WarehouseMissing(ArinsightError):
    """No warehouse file where one was expected."""


class InputError(ArinsightError):
    """An input file cannot be read as a whole (not row-level: rows go to quarantine)."""


class BuildError(ArinsightError):
    """A model failed, a key check failed, or a SQL assert returned rows."""


class WarehouseBusy(ArinsightError):
    """Another process holds the warehouse file (DuckDB allows one writer, no other opener)."""

    exit_code = 75  # EX_TEMPFAIL: try again later
