"""``arinsight dashboard``: the Dash app over the marts.

The app shell, data access and shared components live here; the pages (one
module per page) live in the repository's ``dashboards/pages/`` and ship in the
wheel as ``arinsight/_dashboards/pages``. Pages call :mod:`arinsight.metrics`
readers through :mod:`arinsight.dashboard.data` (short-lived read-only
connections, results cached per published warehouse version) and draw with
:mod:`arinsight.viz`.
"""
