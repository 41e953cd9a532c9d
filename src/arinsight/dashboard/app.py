"""The Dash app: shell (title, page links, global filters in the URL), pages from
``dashboards/pages``, basic auth off loopback, served by waitress.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arinsight.errors import ArinsightError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
USER_ENV = "ARINSIGHT_DASHBOARD_USER"
PASSWORD_ENV = "ARINSIGHT_DASHBOARD_PASSWORD"
#: How often the browser asks whether a new build was published (ms).
VERSION_POLL_MS = 5_000

#: (page module, id prefix) in menu order; each module registers its own path.
PAGES = ("overview", "aging", "dunning", "recovery", "ladder", "quality", "worklist")

#: Menu names (en, de).
PAGE_NAMES = {
    "overview": ("Overview", "Überblick"),
    "aging": ("Aging", "Altersstruktur"),
    "dunning": ("Dunning funnel", "Mahnstufen"),
    "recovery": ("Recovery & churn", "Einbringung & Abwanderung"),
    "ladder": ("Ladder", "Mahnplan"),
    "quality": ("Data quality", "Datenqualität"),
    "worklist": ("Worklist", "Arbeitsliste"),
}

_app: Any = None


class DashboardError(ArinsightError):
    """The dashboard cannot start (e.g. no credentials for a public interface)."""

    exit_code = 2


def pages_dir() -> Path:
    """``dashboards/pages``: the repository's in a checkout, else the packaged copy."""
    here = Path(__file__).resolve()
    repo = here.parents[3] / "dashboards" / "pages"
    if repo.is_dir():
        return repo
    return here.parents[1] / "_dashboards" / "pages"


def credentials(host: str, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """Basic-auth credentials from the environment; required off loopback.

    Raises:
        DashboardError: ``host`` is not a loopback address and the user or the
            password variable is unset or empty.
    """
    env = os.environ if env is None else env
    user, password = env.get(USER_ENV, ""), env.get(PASSWORD_ENV, "")
    if user and password:
        return user, password
    if host in LOOPBACK:
        return None
    raise DashboardError(
        f"refusing to serve on {host} without credentials: set {USER_ENV} and "
        f"{PASSWORD_ENV} (basic auth), or serve on 127.0.0.1 (the default)"
    )


def create_app(db: str | Path, *, auth: tuple[str, str] | None = None) -> Any:
    """The Dash app reading the warehouse at ``db`` (created once per process).

    A second call re-points the same app at ``db`` (Dash registers page
    callbacks process-wide, so one app per process).
    """
    global _app
    from arinsight.dashboard import data

    data.configure(db)
    if _app is not None:
        return _app

    import dash
    from dash import Input, Output, State, ctx, dcc, html, no_update

    from arinsight.config import load_settings
    from arinsight.dashboard import filters as flt
    from arinsight.dashboard.components import month_label

    full_settings = load_settings()
    settings = full_settings.dashboard
    currency = full_settings.reporting_currency
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(pages_dir()),
        assets_folder=str(Path(__file__).parent / "assets"),
        suppress_callback_exceptions=True,
        title="arinsight",
        update_title="",
    )
    app.index_string = index_string(app.config.requests_pathname_prefix)
    if auth is not None:
        import dash_auth

        user, password = auth

        def check(u: str, p: str) -> bool:
            return hmac.compare_digest(u, user) & hmac.compare_digest(p, password)

        dash_auth.BasicAuth(app, auth_func=check)

    def options() -> tuple[list[str], list[Any]]:
        from arinsight import metrics

        try:
            return data.read(metrics.segments), data.read(metrics.month_ends)
        except data.NeedsCommand:
            return [], []

    def serve_layout() -> Any:
        segs, months = options()
        lang = settings.language
        basis = "Berichtswährung" if lang == "de" else "reporting currency"
        currency_label = f"{currency} ({basis})"
        nav = [
            dcc.Link(p["name"], href=p["relative_path"], id=f"nav-{p['module'].split('.')[-1]}")
            for p in dash.page_registry.values()
        ]
        return html.Div(
            [
                dcc.Location(id="url", refresh=False),
                dcc.Store(id="data-version", data=data.version()),
                dcc.Interval(id="version-poll", interval=VERSION_POLL_MS),
                html.Header(
                    [
                        html.Div(
                            [html.Span("arinsight", className="brand"), html.Nav(nav, id="nav")],
                            className="topline",
                        ),
                        html.Div(
                            [
                                _labelled(
                                    "segment",
                                    dcc.Dropdown(
                                        id="flt-segment",
                                        options=[{"label": "all", "value": "all"}]
                                        + [{"label": s, "value": s} for s in segs],
                                        value="all",
                                        clearable=False,
                                    ),
                                ),
                                _labelled(
                                    "behaviour",
                                    dcc.Dropdown(
                                        id="flt-behaviour",
                                        options=[{"label": "any", "value": "any"}]
                                        + [{"label": b, "value": b} for b in flt.BEHAVIOURS],
                                        value="any",
                                        clearable=False,
                                    ),
                                ),
                                _labelled(
                                    "period",
                                    dcc.Dropdown(
                                        id="flt-period",
                                        options=[{"label": "latest", "value": "latest"}]
                                        + [
                                            {"label": month_label(m, lang), "value": m.isoformat()}
                                            for m in reversed(months)
                                        ],
                                        value="latest",
                                        clearable=False,
                                    ),
                                ),
                                _labelled(
                                    "currency",
                                    html.Span(
                                        currency_label,
                                        id="flt-currency",
                                        className="flt-static",
                                        title=(
                                            "Alle Beträge in der Berichtswährung, umgerechnet zum "
                                            "Kurs am Rechnungsdatum."
                                            if lang == "de"
                                            else "Every amount is in the reporting currency, "
                                            "converted at the invoice's issue-date rate."
                                        ),
                                    ),
                                ),
                                _labelled(
                                    "language",
                                    dcc.RadioItems(
                                        id="flt-lang",
                                        options=[
                                            {"label": " EN", "value": "en"},
                                            {"label": " DE", "value": "de"},
                                        ],
                                        value=lang,
                                        inline=True,
                                    ),
                                ),
                            ],
                            className="filters",
                            id="filters",
                        ),
                    ]
                ),
                html.Main(dash.page_container, id="main"),
                html.Footer(id="footer", children=f"warehouse: {data.db_path()}"),
            ]
        )

    app.layout = serve_layout

    @app.callback(
        Output("url", "search"),
        Output("flt-segment", "value"),
        Output("flt-behaviour", "value"),
        Output("flt-period", "value"),
        Output("flt-lang", "value"),
        Input("url", "search"),
        Input("flt-segment", "value"),
        Input("flt-behaviour", "value"),
        Input("flt-period", "value"),
        Input("flt-lang", "value"),
    )
    def sync_filters(
        search: str | None, segment: str, behaviour: str, period: str, lang: str
    ) -> tuple[Any, ...]:
        """URL → controls on load and navigation; controls → URL on a change."""
        segs, months = options()
        if ctx.triggered_id in (None, "url"):
            f = flt.parse(search, segments=segs, periods=months, default_lang=settings.language)
            return (
                no_update,
                f.segment,
                f.behaviour or "any",
                f.period.isoformat() if f.period else "latest",
                f.lang,
            )
        chosen = flt.Filters(
            segment=segment or "all",
            behaviour=None if behaviour in (None, "any") else behaviour,
            period=None if period in (None, "latest") else _date(period),
            lang=lang or settings.language,
        )
        # through parse() again: only known values make it into the URL
        search_new = flt.parse(
            chosen.to_search(), segments=segs, periods=months, default_lang=settings.language
        ).to_search()
        return (search_new if search_new != search else no_update, *([no_update] * 4))

    @app.callback(
        [Output(f"nav-{p}", "href") for p in PAGES]
        + [Output(f"nav-{p}", "children") for p in PAGES],
        Input("url", "search"),
    )
    def nav_links(search: str | None) -> list[str]:
        """Page links keep the filters and follow the language."""
        paths = {
            p["module"].split(".")[-1]: p["relative_path"] for p in dash.page_registry.values()
        }
        lang = flt.parse(search, default_lang=settings.language).lang
        names = [PAGE_NAMES[p][1 if lang == "de" else 0] for p in PAGES]
        return [paths[p] + (search or "") for p in PAGES] + names

    # plotly.js starts once the first callbacks are on their way (see EARLY_SCRIPTS),
    # except on pages without charts (registered with charts=False)
    chartless = [
        p["relative_path"] for p in dash.page_registry.values() if p.get("charts") is False
    ]
    start_plotly = (
        "function (pathname) { if (!CHARTLESS.includes(pathname)) "
        "{ window.arinsightLoadPlotly(); } }"
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        start_plotly.replace("CHARTLESS", json.dumps(chartless)), Input("url", "pathname")
    )

    @app.callback(
        Output("data-version", "data"),
        Input("version-poll", "n_intervals"),
        State("data-version", "data"),
    )
    def poll_version(_: int | None, known: str | None) -> Any:
        """A new published build re-renders the page (no restart, no reload)."""
        current = data.version()
        return current if current != known else no_update

    _app = app
    return app


#: plotly.js (4.8 MB; 1.3-3.3 s of main-thread start-up measured on the loaded
#: 2-core VM, bench/README.md) off the critical path. dcc.Graph loads it only once the first
#: figure has arrived (after _dash-layout and the page's callback), then downloads it
#: and starts it before drawing. Here the download starts with the page (a preload),
#: and the script runs once the app has sent its first callbacks (``loadPlotly`` from
#: the clientside callback in :func:`create_app`), so start-up overlaps the server's
#: work on the page. dcc.Graph fetches plotly.js itself only while ``window.Plotly``
#: is unset and otherwise waits on whatever it holds (``Promise.resolve``): a thenable
#: that starts the script if nobody has yet and settles when it has run; the script
#: then sets the real ``window.Plotly``. The graph chunk is preloaded too.
#: (dash 4.4: dash/dcc/dash_core_components.js, "_dashPlotlyJSURL".)
#:
#: dcc.Graph draws all charts of a page in one task (0.5 s for the overview's six at
#: load 11, nothing on screen meanwhile): ``Plotly.react`` is wrapped to draw one chart per
#: task, in the order they were asked for (page order), so each shows when drawn;
#: a chart whose element left the page before its turn (navigation) is skipped.
EARLY_SCRIPTS = """<link rel="preload" as="script" href="{prefix}{plotly}">
<link rel="preload" as="script" href="{prefix}{graph}">
<script>
(function () {
  var started = null;
  window.arinsightLoadPlotly = function () {
    if (started === null) {
      started = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "{prefix}{plotly}";
        s.async = true;
        s.onload = function () {
          oneAtATime(window.Plotly);
          resolve();
        };
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return started;
  };
  window.Plotly = {
    then: function (ok, fail) { return window.arinsightLoadPlotly().then(ok, fail); }
  };
  function oneAtATime(plotly) {
    var react = plotly.react;
    var queue = Promise.resolve();
    plotly.react = function (gd) {
      var args = arguments;
      var drawn = queue
        .then(function () { return new Promise(function (next) { setTimeout(next, 0); }); })
        .then(function () {
          return typeof gd === "string" || gd.isConnected ? react.apply(plotly, args) : gd;
        });
      queue = drawn.catch(function () {});
      return drawn;
    };
  }
})();
</script>"""
PLOTLY_JS = "_dash-component-suites/plotly/package_data/plotly.min.js"
GRAPH_JS = "_dash-component-suites/dash/dcc/async-graph.js"


def index_string(prefix: str) -> str:
    """Dash's page skeleton with :data:`EARLY_SCRIPTS` in the head, before the
    stylesheets (an inline script after a stylesheet waits for it)."""
    import dash

    early = (
        EARLY_SCRIPTS.replace("{prefix}", prefix)
        .replace("{plotly}", PLOTLY_JS)
        .replace("{graph}", GRAPH_JS)
    )
    title = "<title>{%title%}</title>"
    template: str = dash.dash._default_index
    if title not in template:  # pragma: no cover - a dash upgrade changed the skeleton
        raise DashboardError("dash's index template has no <title>: update index_string()")
    return template.replace(title, title + "\n" + early, 1)


def _date(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _labelled(key: str, control: Any) -> Any:
    from dash import html

    labels = {
        "segment": "Segment",
        "behaviour": "Behaviour / Zahlverhalten",
        "period": "Period / Monat",
        "currency": "Currency / Währung",
        "language": "Language / Sprache",
    }
    return html.Label([html.Span(labels[key], className="flt-label"), control], className="flt")


def _warm_up() -> None:
    """Pay the one-off import costs (polars, pyarrow, yaml, pydantic) before the
    first visitor does: read what every page needs once."""
    from arinsight import metrics
    from arinsight.dashboard import data

    try:
        with data.request():
            data.read(metrics.segments)
            data.read(metrics.month_ends)
            data.read(metrics.ladder_in_force, None)
    except data.NeedsCommand:
        pass


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8050, *, threads: int = 8) -> None:
    """Serve the dashboard with waitress until interrupted.

    Raises:
        DashboardError: off loopback without credentials.
    """
    auth = credentials(host)
    app = create_app(db, auth=auth)
    import click
    import waitress

    _warm_up()
    # bind first, then print the URL: whoever reads it can connect at once
    server = waitress.create_server(app.server, host=host, port=port, threads=threads)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"arinsight dashboard: {db} at http://{shown}:{port}/  (Ctrl+C to stop)")
    try:
        server.run()
    finally:
        server.close()
