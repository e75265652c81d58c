"""The dashboard on the team server: the same pages, per organisation, behind a session.

Routes (not in the OpenAPI document: they answer HTML; every one but the sign-in page declares
its permission through :func:`..authz.authorize`, which tests/server/test_dashboard_server.py
checks by walking the app's routes):

``GET /dashboard/login?next=``                  the sign-in form (open). It posts JSON to the
                                                server's own ``POST /api/v1/login`` (password
                                                check, rate limit, cookies: nothing repeated)
``GET /dashboard/``                             ``session``: the organisation picker (one
                                                organisation: straight to its overview)
``GET /dashboard/orgs/{org_id}/...``            ``read``: overview, runs, runs.csv/.json, one
                                                run and its live records, the comparison
                                                (``compare?run=A&run=B``) and every table's
                                                download (``export/...``), over
                                                :class:`.server_data.ServerData`
``/dashboard/static/``                          templates' CSS and scripts (public files)

Signing out posts to ``POST /api/v1/logout`` with the CSRF header (static/session.js).
authorize answers 404 for an organisation the user is not a member of, so a member of A
cannot even learn which ids B has. A page asked without a session redirects to the sign-in
page; the JSON and CSV routes keep the API's 401.
"""

from __future__ import annotations

import inspect
from urllib.parse import urlencode

# Runtime imports: FastAPI reads the route functions' annotations to inject them.
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..authz import Principal, authorize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fastapi import FastAPI

    from .app import Pages

__all__ = ["DASHBOARD_PREFIX", "LOGIN_PATH", "install", "router"]

DASHBOARD_PREFIX = "/dashboard"
LOGIN_PATH = f"{DASHBOARD_PREFIX}/login"
STATIC_PATH = f"{DASHBOARD_PREFIX}/static"

router = APIRouter(include_in_schema=False)
_READ = Depends(authorize("read"))
_SESSION = Depends(authorize("session"))


def _safe_next(target: str | None) -> str:
    """Only a dashboard path of this site: never another host (an open redirect)."""
    if (not target or not target.startswith(f"{DASHBOARD_PREFIX}/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return f"{DASHBOARD_PREFIX}/"
    return target


def _secured(response: Response) -> Response:
    from .app import CSP_HEADERS

    for name, value in CSP_HEADERS:  # the dashboard's CSP: its own scripts and styles only
        response.headers[name.decode()] = value.decode()
    response.headers["cache-control"] = "no-store"  # an organisation's figures: never cached
    return response


def _render(name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    from .app import templates

    html = templates().get_template(name).render(static=STATIC_PATH, **context)
    return _secured(HTMLResponse(html, status_code=status_code))


@router.get(LOGIN_PATH)
def login_page(request: Request) -> Response:
    return _render("login.html", {"title": "Sign in", "bare": True,
                                  "next": _safe_next(request.query_params.get("next"))})


def _organisations(request: Request, user_id: int) -> list[Any]:
    from sqlalchemy import select

    from ..models import Membership, Organisation

    with request.app.state.engine.connect() as connection:
        return list(connection.execute(
            select(Organisation.id, Organisation.name, Membership.role)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.user_id == user_id).order_by(Organisation.name)).all())


@router.get(f"{DASHBOARD_PREFIX}/")
def organisations(request: Request, principal: Principal = _SESSION) -> Response:
    assert principal.user_id is not None  # "session" is never a key
    found = _organisations(request, principal.user_id)
    if len(found) == 1:
        return RedirectResponse(f"{DASHBOARD_PREFIX}/orgs/{found[0].id}/", status_code=303)
    return _render("organisations.html", {"title": "Organisations", "bare": True,
                                          "organisations": found})


def _pages(request: Request, org_id: int) -> Pages:
    from sqlalchemy import select

    from ..models import Organisation
    from .app import Pages
    from .server_data import ServerData

    state = request.app.state
    with state.engine.connect() as connection:
        name = connection.execute(select(Organisation.name).where(
            Organisation.id == org_id)).scalar()
    data = ServerData(state.engine, org_id, clock=state.wall_clock)
    return Pages(data, base=f"{DASHBOARD_PREFIX}/orgs/{org_id}", static=STATIC_PATH,
                 extra={"account": {"organisation": name, "organisation_id": org_id}})


_ORG = f"{DASHBOARD_PREFIX}/orgs/{{org_id}}"


@router.get(f"{_ORG}/")
def overview(org_id: int, request: Request, principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).overview(request))


@router.get(f"{_ORG}/runs")
def runs(org_id: int, request: Request, principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).runs(request))


@router.get(f"{_ORG}/runs.{{kind}}")
def runs_export(org_id: int, kind: str, request: Request,
                principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).runs_export(request))


@router.get(f"{_ORG}/runs/{{run_id}}/records.json")
def live(org_id: int, run_id: str, request: Request, principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).live(request))


@router.get(f"{_ORG}/runs/{{run_id}}")
def run(org_id: int, run_id: str, request: Request, principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).run(request))


@router.get(f"{_ORG}/compare")
def compare(org_id: int, request: Request, principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).compare(request))


@router.get(f"{_ORG}/export/overview/{{table}}.{{kind}}")
def overview_export(org_id: int, table: str, kind: str, request: Request,
                    principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).overview_export(request))


@router.get(f"{_ORG}/export/runs/{{run_id}}/{{table}}.{{kind}}")
def run_export(org_id: int, run_id: str, table: str, kind: str, request: Request,
               principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).run_export(request))


@router.get(f"{_ORG}/export/compare/{{table}}.{{kind}}")
def compare_export(org_id: int, table: str, kind: str, request: Request,
                   principal: Principal = _READ) -> Response:
    return _secured(_pages(request, org_id).compare_export(request))


def install(app: FastAPI) -> None:
    """Add the dashboard's routes and static files to the team server's ``app``; call after
    the app's own HTTPException handler is registered (this one wraps it)."""
    from starlette.exceptions import HTTPException
    from starlette.staticfiles import StaticFiles

    from .app import HERE

    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="dashboard-static")
    api_answer = app.exception_handlers[HTTPException]

    async def dashboard_refusal(request: Request, exc: Exception) -> Response:
        path = request.url.path
        status = getattr(exc, "status_code", 500)
        if not path.startswith(f"{DASHBOARD_PREFIX}/") or path.endswith((".json", ".csv")):
            answer = api_answer(request, exc)  # the app's own handler is async (app.py)
            return await answer if inspect.isawaitable(answer) else answer
        if status == 401:  # not signed in (or expired): to the sign-in page, then back here
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': target})}",
                                    status_code=303)
        detail = getattr(exc, "detail", None)
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
        return _render("error.html", {"title": "Cannot show this", "bare": True,
                                      "message": message}, status)

    app.add_exception_handler(HTTPException, dashboard_refusal)
