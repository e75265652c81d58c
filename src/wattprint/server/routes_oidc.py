"""OIDC sign-in routes, present only when an OpenID provider is configured (see oidc.py).

``GET /api/v1/oidc/login?next=/path``  redirects to the provider (state, nonce, PKCE S256)
``GET /api/v1/oidc/callback``          checks the answer, signs the user in with the same
                                       server-side session as ``POST /api/v1/login``, and
                                       redirects to ``next``

Both are open routes (the way in, like ``/api/v1/login``): they are registered only when
``Settings.oidc`` is set, and tests/server/test_oidc.py checks they are the only unguarded
ones they add. Every refusal answers the usual ``{"detail": {"index", "field", "message"}}``
with 400 (start again), 401 (the ID token failed a check), 403 (no account), 502 (the provider
is down, slow or wrong) or 503 (this server's OIDC settings are wrong); it is logged with its
message only, never with a code or token, and leaves no session or user half made.
"""

from __future__ import annotations

# Runtime imports: FastAPI reads these annotations to inject the request.
from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import Request

from .._log import get_logger
from .oidc import OidcError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from .oidc import OidcClient

__all__ = ["BROWSER_COOKIE", "install", "safe_next"]

BROWSER_COOKIE = "wp_oidc"  # binds a sign-in under way to this browser
_COOKIE_PATH = "/api/v1/oidc"
_log = get_logger("wattprint.server.oidc")
router = APIRouter()


def install(app: FastAPI, *, transport: httpx.BaseTransport | None = None) -> None:
    """Add the OIDC routes when the settings configure a provider; else nothing."""
    from .oidc import OidcClient

    settings = app.state.settings.oidc
    if settings is None:
        return
    app.state.oidc = OidcClient(settings, clock=app.state.wall_clock, transport=transport)
    app.include_router(router)

    @app.exception_handler(OidcError)
    async def _refused(_request: Request, exc: OidcError) -> JSONResponse:
        _log.warning("OIDC sign-in refused (%d): %s", exc.status, exc.message)
        return JSONResponse(status_code=exc.status, content={
            "detail": {"index": None, "field": None, "message": exc.message}})


def safe_next(text: str | None) -> str:
    """``next`` when it is a path on this site, else OidcError(400): no open redirect."""
    from urllib.parse import urlsplit

    if not text:
        return "/"
    parts = urlsplit(text)
    # "//host" and "/\\host" are other sites to a browser; control characters can hide either
    if (not text.startswith("/") or text.startswith("//") or "\\" in text or parts.scheme
            or parts.netloc or not text.isprintable() or len(text) > 2000):
        raise OidcError(400, f"next={text[:80]!r} is not a path on this server: give a "
                             "relative path such as /runs")
    return text


def _client(request: Request) -> OidcClient:
    client: OidcClient = request.app.state.oidc
    return client


@router.get("/api/v1/oidc/login")
def oidc_login(request: Request, next: str | None = None) -> RedirectResponse:
    import secrets

    from .oidc_users import PENDING_TTL_S, Pending, add_pending

    next_path = safe_next(next)
    client = _client(request)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43-128
    url = client.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    # one token per browser, kept across tabs so two sign-ins at once both work
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if len(browser) < 32:
        browser = secrets.token_urlsafe(32)
    with request.app.state.engine.begin() as connection:
        add_pending(connection, state=state, browser_token=browser,
                    pending=Pending(nonce=nonce, code_verifier=verifier, next_path=next_path),
                    now_s=request.app.state.wall_clock())
    response = RedirectResponse(url, status_code=302)
    # Lax: the provider's redirect back is a top-level GET, which Lax cookies go with
    response.set_cookie(BROWSER_COOKIE, browser, max_age=int(PENDING_TTL_S), path=_COOKIE_PATH,
                        secure=True, httponly=True, samesite="lax")
    return response


@router.get("/api/v1/oidc/callback")
def oidc_callback(request: Request, state: str | None = None, code: str | None = None,
                  error: str | None = None, iss: str | None = None) -> RedirectResponse:
    from sqlalchemy.exc import IntegrityError

    from .oidc_users import take_pending, user_for_identity
    from .sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL_S, start_session

    app_state = request.app.state
    client = _client(request)
    if not state:
        raise OidcError(400, "the provider's answer has no state: start again at "
                             "/api/v1/oidc/login")
    refused: OidcError | None = None
    with app_state.engine.begin() as connection:  # committed even when refused: used once
        try:
            pending = take_pending(connection, state=state,
                                   browser_token=request.cookies.get(BROWSER_COOKIE, ""),
                                   now_s=app_state.wall_clock())
        except OidcError as exc:
            refused = exc
    if refused is not None:
        raise refused
    if error is not None:
        shown = error[:64] if error.isprintable() else "unknown"
        raise OidcError(403 if error == "access_denied" else 400,
                        f"the identity provider did not sign you in ({shown}): start again at "
                        "/api/v1/oidc/login, or ask the provider's admin")
    if iss is not None and iss != client.settings.issuer:  # RFC 9207: a mixed-up provider
        raise OidcError(400, "the answer comes from another identity provider than this "
                             "sign-in's: start again at /api/v1/oidc/login")
    if not code:
        raise OidcError(400, "the provider's answer has no code: start again at "
                             "/api/v1/oidc/login")
    id_token = client.exchange_code(code, code_verifier=pending.code_verifier)
    identity = client.verify_id_token(id_token, nonce=pending.nonce)
    try:
        with app_state.engine.begin() as connection:  # a refusal rolls all of it back
            user_id = user_for_identity(connection, identity, client.settings,
                                        now_s=app_state.wall_clock())
            session = start_session(connection, user_id=user_id, now_s=app_state.wall_clock())
    except IntegrityError:  # the same new account, linked or created by a sign-in in parallel
        raise OidcError(409, "this account was being set up by another sign-in at the same "
                             "moment: start again at /api/v1/oidc/login")
    _log.info("OIDC sign-in of user %d", user_id)
    response = RedirectResponse(pending.next_path, status_code=303)
    max_age = int(SESSION_TTL_S)  # the same cookies as POST /api/v1/login sets
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, path="/", secure=True,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, path="/",
                        secure=True, httponly=False, samesite="lax")
    response.delete_cookie(BROWSER_COOKIE, path=_COOKIE_PATH, secure=True, httponly=True,
                           samesite="lax")
    return response
