"""Ingest: source files → typed canonical rows in ``raw.*``; bad rows → ``meta.quarantine``.

``load_sources(con, sources, profile)`` is the entry point; profiles are in
:mod:`arinsight.ingest.profiles` (``resolve_profile(name_or_path)``).
"""

from arinsight.ingest.loader import LoadResult, load_sources
from arinsight.ingest.profiles import Profile, resolve_profile

__all__ = ["LoadResult", "Profile", "load_sources", "resolve_profile"]
