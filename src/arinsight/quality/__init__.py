"""Quality gate: great-expectations suites (as code) on raw tables and marts.

``arinsight check`` runs :func:`arinsight.quality.runner.run_check`; the
suites are declared in :mod:`arinsight.quality.suites`. Nothing heavy is
imported by this package itself.
"""
