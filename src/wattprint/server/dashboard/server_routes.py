"""The dashboard on the team server: the same pages, per organisation, behind a session.

Routes (not in the OpenAPI document: they answer HTML; every one but the sign-in page declares
its permission through :func:`..authz.authorize`, which tests/server/test_dashboard_server.py
checks by walking the app's routes):

``GET|POST /dashboard/login?next=``             the sign-in form (open), a plain HTML form
                                                that works without JavaScript: the POST runs
                                                the JSON login's own password check, rate
                                                limit and session (accounts.password_sign_in),
                                                sets the cookies and answers 303 to ``next``
                                                (this site's dashboard only); a refusal shows
                                                the form again with the message. A cookie and
                                                hidden field pair stops another site from
                                                signing a browser into its own account.
``POST /dashboard/logout``                      ``session``: ends the session (form, CSRF
                                                field), 303 to the sign-in page
``GET /dashboard/``                             ``session``: the organisation picker (one
                                                organisation: straight to its overview)
``GET /dashboard/orgs/{org_id}/...``            ``read``: overview, runs, runs.csv/.json, one
                                                run and its live records, the comparison
                                                (``compare?run=A&run=B``) and every table's
                                                download (``export/...``), over
                                                :class:`.server_data.ServerData`
``/dashboard/orgs/{org_id}/settings/...``       members, projects, API keys: see
                                                settings_routes.py
``/dashboard/static/``                          templates' CSS and scripts (public files)

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
from ..forms import form_fields

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
_FORM = Depends(form_fields)
LOGOUT_PATH = f"{DASHBOARD_PREFIX}/logout"
_LOGIN_COOKIE = "wp_login"  # the sign-in form's own token: a login CSRF guard


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


render = _render  # the settings pages (settings_routes.py) render through it too


def _login_form(request: Request, *, next_path: str, email: str = "", error: str | None = None,
                status_code: int = 200) -> Response:
    import secrets

    token = secrets.token_urlsafe(32)
    oidc = getattr(request.app.state, "oidc", None) is not None
    response = _render("login.html", {
        "title": "Sign in", "bare": True, "next": next_path, "email": email, "error": error,
        "login_token": token, "oidc_url": f"/api/v1/oidc/login?{urlencode({'next': next_path})}"
        if oidc else None}, status_code)
    # Strict: only this site's own form sends it back; HttpOnly: no script needs it
    response.set_cookie(_LOGIN_COOKIE, token, max_age=3600, path=LOGIN_PATH, secure=True,
                        httponly=True, samesite="strict")
    return response


@router.get(LOGIN_PATH)
def login_page(request: Request) -> Response:
    return _login_form(request, next_path=_safe_next(request.query_params.get("next")))


@router.post(LOGIN_PATH)
def login(request: Request, form: dict[str, str] = _FORM) -> Response:
    import hmac

    from ..accounts import AccountError, password_sign_in
    from ..sessions import set_session_cookies

    next_path = _safe_next(form.get("next"))
    email = form.get("email", "")
    sent, kept = form.get("login_token", ""), request.cookies.get(_LOGIN_COOKIE, "")
    if not sent or not hmac.compare_digest(sent.encode(), kept.encode()):
        return _login_form(request, next_path=next_path, email=email, status_code=400,
                           error="This sign-in form has expired or came from another page: "
                                 "sign in again here.")
    state = request.app.state
    try:
        _, session = password_sign_in(
            state.engine, email=email, password=form.get("password", ""),
            address=request.client.host if request.client else "unknown",
            now_s=state.wall_clock())
    except AccountError as exc:
        return _login_form(request, next_path=next_path, email=email, error=exc.message,
                           status_code=exc.status)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, session)
    response.delete_cookie(_LOGIN_COOKIE, path=LOGIN_PATH, secure=True, httponly=True,
                           samesite="strict")
    return _secured(response)


@router.post(LOGOUT_PATH)
def logout(request: Request, form: dict[str, str] = _FORM,
           principal: Principal = _SESSION) -> Response:
    from ..sessions import SESSION_COOKIE, clear_session_cookies, end_session

    with request.app.state.engine.begin() as connection:
        end_session(connection, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookies(response)
    return _secured(response)


def account_context(request: Request, org_id: int) -> dict[str, Any]:
    """The signed-in account in ``org_id`` for the templates: the organisation's name, the
    user's role (what the page offers) and the session's CSRF token (for its forms)."""
    from sqlalchemy import select

    from ..models import Organisation

    with request.app.state.engine.connect() as connection:
        name = connection.execute(select(Organisation.name).where(
            Organisation.id == org_id)).scalar()
    principal = getattr(request.state, "principal", None)
    return {"organisation": name, "organisation_id": org_id,
            "role": getattr(principal, "role", None),
            "csrf_token": getattr(request.state, "csrf_token", "")}


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
                                          "organisations": found,
                                          "csrf_token": request.state.csrf_token})


def _pages(request: Request, org_id: int) -> Pages:
    from .app import Pages
    from .server_data import ServerData

    state = request.app.state
    data = ServerData(state.engine, org_id, clock=state.wall_clock)
    return Pages(data, base=f"{DASHBOARD_PREFIX}/orgs/{org_id}", static=STATIC_PATH,
                 extra={"account": account_context(request, org_id)})


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
    from .settings_routes import router as settings_router

    app.include_router(router)
    app.include_router(settings_router)
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
            if request.method != "GET":  # a form's target is no page to come back to
                target = f"{DASHBOARD_PREFIX}/"
            return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': target})}",
                                    status_code=303)
        detail = getattr(exc, "detail", None)
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
        return _render("error.html", {"title": "Cannot show this", "bare": True,
                                      "message": message}, status)

    app.add_exception_handler(HTTPException, dashboard_refusal)
