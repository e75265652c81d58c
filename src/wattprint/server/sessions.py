"""Browser sessions: server-side rows, found by the SHA-256 of a random cookie token.

The ``wp_session`` cookie (Secure, HttpOnly, SameSite=Lax, Path=/) holds 32 random bytes; the
table holds only their SHA-256 (the token is high-entropy, so no pepper or slow hash is needed,
and a stolen table signs nobody in). Server-side rather than signed tokens so logout ends the
session at once. Each session has its own CSRF token, answered by the login and also set in
the readable ``wp_csrf`` cookie for scripts; see authz.py for where it is checked. Browsers
accept Secure cookies from http://localhost, so local use still works; anywhere else the server
belongs behind HTTPS.
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from starlette.responses import Response

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "SESSION_TTL_S", "NewSession", "SessionRow",
           "clear_session_cookies", "end_session", "find_session", "set_session_cookies",
           "start_session"]

SESSION_COOKIE = "wp_session"
CSRF_COOKIE = "wp_csrf"
SESSION_TTL_S = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # for the cookie only; never stored
    csrf_token: str
    expires_s: float


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_id: int
    csrf_token: str


def _digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(connection: Connection, *, user_id: int, now_s: float) -> NewSession:
    import secrets

    from sqlalchemy import delete, insert

    from .models import LoginSession

    connection.execute(delete(LoginSession).where(LoginSession.expires_s <= now_s))
    new = NewSession(token=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32),
                     expires_s=now_s + SESSION_TTL_S)
    connection.execute(insert(LoginSession).values(
        token_sha256=_digest(new.token), csrf_token=new.csrf_token, user_id=user_id,
        created_s=now_s, expires_s=new.expires_s))
    return new


def find_session(engine: Engine, token: str, *, now_s: float) -> SessionRow | None:
    """The live session the cookie names, else None (unknown, ended or expired)."""
    from sqlalchemy import select

    from .models import LoginSession

    if not token:
        return None
    with engine.connect() as connection:
        row = connection.execute(select(LoginSession.user_id, LoginSession.csrf_token).where(
            LoginSession.token_sha256 == _digest(token),
            LoginSession.expires_s > now_s)).first()
    return None if row is None else SessionRow(user_id=row.user_id, csrf_token=row.csrf_token)


def end_session(connection: Connection, token: str) -> None:
    from sqlalchemy import delete

    from .models import LoginSession

    connection.execute(delete(LoginSession).where(LoginSession.token_sha256 == _digest(token)))


def set_session_cookies(response: Response, session: NewSession) -> None:
    """The session's two cookies on ``response`` (the JSON login and the sign-in form)."""
    max_age = int(SESSION_TTL_S)
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, path="/", secure=True,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, path="/",
                        secure=True, httponly=False, samesite="lax")


def clear_session_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=True, samesite="lax")
