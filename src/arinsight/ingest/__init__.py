"""Ingest: source files → typed canonical rows in ``raw.*``; bad rows → ``meta.quarantine``."""

from arinsight.ingest.loader import LoadResult, load_sources

__all__ = ["LoadResult", "load_sources"]
