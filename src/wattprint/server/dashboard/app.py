"""The dashboard's ASGI app: routes, templates, static files, headers. Read-only (GET only).

``create_dashboard_app(data)`` serves any :class:`~.data.DashboardData`. Requests whose Host is
not in ``allowed_hosts`` are refused: a page on another site must not read a loopback
dashboard through DNS rebinding.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

# Runtime imports: the dashboard is served by Starlette (a FastAPI dependency) with Jinja2.
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ... import __version__
from . import UPLOT_VERSION, exports, fmt, report_download, views
from .compare import RunNotFound, compare_context
from .data import DashboardData, DataError
from .tables import FORMATS, Table, export_response_parts

__all__ = ["CSP_HEADERS", "LOOPBACK_HOSTS", "UPLOT_VERSION", "Pages", "create_dashboard_app",
           "templates"]

HERE = Path(__file__).resolve().parent
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# No inline script anywhere (the run page's data travels in a JSON <script> block, which is
# not executed); uPlot sets inline styles on its elements, hence style-src 'unsafe-inline'.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'")
CSP_HEADERS = [(b"content-security-policy", _CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + CSP_HEADERS
            await send(message)

        await self.app(scope, receive, add_headers)


@functools.lru_cache(maxsize=1)  # one environment (compiled templates) for every app
def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(fmt.FILTERS)
    # root: the path the pages are served under; static: where static/ is mounted; account:
    # the signed-in organisation on the team server (None: the local dashboard)
    env.globals.update(fmt=fmt, version=__version__, uplot_version=UPLOT_VERSION, qs=_qs,
                       root="", static="/static", account=None)
    return env


def _qs(params: dict[str, Any], **changes: Any) -> str:
    """``params`` with ``changes`` as a query string (None drops a key), for links."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v is not None and v != ""})


class Pages:
    """Each page as a request handler over one :class:`DashboardData`; ``base`` and
    ``static`` are where the pages and static/ are served (the team server mounts them under
    an organisation's path), ``extra`` more template context (the signed-in account)."""

    def __init__(self, data: DashboardData, *, base: str = "", static: str = "/static",
                 extra: dict[str, Any] | None = None) -> None:
        self.data = data
        self.base = base
        self.context = {"root": base, "static": static, **(extra or {})}

    def page(self, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
        html = templates().get_template(name).render(**self.context, **context)
        return HTMLResponse(html, status_code=status_code)

    def refused(self, request: Request, exc: DataError, status_code: int = 400) -> Response:
        if request.url.path.endswith((".json", ".csv")):
            return JSONResponse({"detail": str(exc)}, status_code=status_code)
        return self.page("error.html", {"message": str(exc), "title": "Cannot show this"},
                         status_code)

    def overview(self, request: Request) -> Response:
        name = request.query_params.get("period") or "30d"
        try:
            return self.page("overview.html", views.overview_context(self.data, name))
        except DataError as exc:
            return self.refused(request, exc)

    def runs(self, request: Request) -> Response:
        try:
            query = views.runs_query(dict(request.query_params))
            return self.page("runs.html", views.runs_context(
                self.data, query, request.query_params.getlist("run")))
        except DataError as exc:
            return self.refused(request, exc)

    def runs_export(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("csv", "json"):
            return self.refused(request, DataError(
                f"no export as {kind!r}: use runs.csv or runs.json"), 404)
        try:
            rows = views.export_rows(self.data, views.runs_query(dict(request.query_params)))
        except DataError as exc:
            return self.refused(request, exc)
        return self.download(request, lambda: {"runs": exports.runs_table(rows)}, "runs", kind)

    def download(self, request: Request, tables_of: Callable[[], dict[str, Table]],
                 name: str | None = None, kind: str | None = None) -> Response:
        """Table ``name`` of a page (its ``{table}.{kind}`` path), streamed as CSV or JSON."""
        name = name or request.path_params["table"]
        kind = kind or request.path_params["kind"]
        try:
            if kind not in FORMATS:
                raise DataError(f"no export as {kind!r}: use {name}.csv or {name}.json")
            tables = tables_of()
            if name not in tables:
                raise DataError(f"no table {name!r} here; choose one of {', '.join(tables)}")
        except DataError as exc:
            return self.refused(request, exc, 404)
        body, media_type, headers = export_response_parts(tables[name], kind)
        return StreamingResponse(body, media_type=media_type, headers=headers)

    def overview_export(self, request: Request) -> Response:
        name = request.query_params.get("period") or "30d"
        return self.download(request, lambda: views.overview_tables(self.data, name))

    def run_export(self, request: Request) -> Response:
        from .advice_view import ADVICE_TABLES, advice_tables

        run_id, table = request.path_params["run_id"], request.path_params["table"]
        if table in ADVICE_TABLES:
            return self.download(request, lambda: advice_tables(
                self.data, run_id, table, request.query_params))
        return self.download(request, lambda: views.run_tables(self.data, run_id))

    def compare(self, request: Request) -> Response:
        try:
            return self.page("compare.html", compare_context(
                self.data, request.query_params.getlist("run")))
        except DataError as exc:
            return self.refused(request, exc, 404 if isinstance(exc, RunNotFound) else 400)

    def compare_export(self, request: Request) -> Response:
        ids = request.query_params.getlist("run")
        return self.download(request, lambda: compare_context(self.data, ids)["tables"])

    def run(self, request: Request) -> Response:
        from .advice_view import advice_context

        try:
            context = views.run_context(self.data, request.path_params["run_id"],
                                        base=self.base)
            context.update(advice_context(self.data, context["detail"], request.query_params))
            context["report_links"] = report_download.available(self.data)
            return self.page("run.html", context)
        except DataError as exc:
            return self.refused(request, exc, 404)

    def run_report(self, request: Request) -> Response:
        return report_download.report_response(self.data, request.path_params["run_id"],
                                                request.path_params["kind"])

    def live(self, request: Request) -> Response:
        text = request.query_params.get("since_seq")
        try:
            try:
                since_seq = None if text in (None, "") else int(text)
            except ValueError:
                raise DataError(f"since_seq must be a whole number, not {text!r}") from None
            payload = views.live_payload(self.data, request.path_params["run_id"], since_seq)
        except DataError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404 if _since_seq_ok(text)
                                else 400)
        return JSONResponse(payload, headers={"cache-control": "no-store"})


def _since_seq_ok(text: str | None) -> bool:
    return text in (None, "") or text.lstrip("-").isdigit()


def create_dashboard_app(data: DashboardData, *,
                         allowed_hosts: Sequence[str] = LOOPBACK_HOSTS) -> Starlette:
    pages = Pages(data)
    routes = [
        Route("/", pages.overview, name="overview"),
        Route("/runs", pages.runs, name="runs"),
        Route("/runs.{kind:str}", pages.runs_export, name="runs_export"),
        Route("/runs/{run_id:str}/records.json", pages.live, name="live"),
        Route("/runs/{run_id:str}/report.{kind:str}", pages.run_report, name="run_report"),
        Route("/runs/{run_id:str}", pages.run, name="run"),
        Route("/compare", pages.compare, name="compare"),
        Route("/export/overview/{table:str}.{kind:str}", pages.overview_export),
        Route("/export/runs/{run_id:str}/{table:str}.{kind:str}", pages.run_export),
        Route("/export/compare/{table:str}.{kind:str}", pages.compare_export),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
        Middleware(_SecurityHeaders),
    ])
    return app
