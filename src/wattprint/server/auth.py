"""API key authentication: one dependency resolves ``Authorization: Bearer <key>`` to its
project and organisation and checks the scope the route needs.

401 when the key is missing, malformed, unknown, wrong or revoked (with ``WWW-Authenticate:
Bearer``); 403 when the key is valid but lacks the scope. The key itself is never logged or
echoed: messages name its prefix at most.
"""

from __future__ import annotations

# A runtime import: FastAPI reads the dependency's annotation to inject the request.
from starlette.requests import Request

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

__all__ = ["KeyIdentity", "require_scope"]


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    key_id: int
    prefix: str
    project_id: int
    organisation_id: int
    scopes: frozenset[str]


def _unauthorised(message: str) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"},
                         detail={"index": None, "field": None, "message": message})


def resolve_key(request: Request) -> KeyIdentity:
    from sqlalchemy import select

    from .keys import parse_key, secrets_match
    from .models import ApiKey, Project

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("no API key: send the header `Authorization: Bearer wp_...` "
                            "(`wattprint server admin` prints the first one)")
    parsed = parse_key(token)
    if parsed is None:
        raise _unauthorised("malformed API key: expected wp_<8 hex digits>_<43 characters>")
    state = request.app.state
    with state.engine.connect() as connection:
        row = connection.execute(
            select(ApiKey.id, ApiKey.secret_hmac, ApiKey.scopes, ApiKey.revoked_s,
                   ApiKey.project_id, Project.organisation_id)
            .join(Project, Project.id == ApiKey.project_id)
            .where(ApiKey.prefix == parsed.prefix)).first()
    if row is None or not secrets_match(parsed.secret, row.secret_hmac, state.pepper):
        raise _unauthorised(f"unknown API key wp_{parsed.prefix}_...: check the key, or "
                            "create one")
    if row.revoked_s is not None:
        raise _unauthorised(f"API key wp_{parsed.prefix}_... was revoked: create a new one")
    return KeyIdentity(key_id=row.id, prefix=parsed.prefix, project_id=row.project_id,
                       organisation_id=row.organisation_id,
                       scopes=frozenset(row.scopes.split()))


def require_scope(scope: str) -> Callable[[Request], KeyIdentity]:
    """A FastAPI dependency: the request's key, which must carry ``scope``."""

    def dependency(request: Request) -> KeyIdentity:
        from fastapi import HTTPException

        identity = resolve_key(request)
        request.state.principal = identity  # the access log names the caller (accesslog.py)
        if scope not in identity.scopes:
            raise HTTPException(status_code=403, detail={
                "index": None, "field": None,
                "message": f"API key wp_{identity.prefix}_... lacks the {scope!r} scope: "
                           f"use a key created with it"})
        return identity

    # authz.is_authorized_route counts this key-only form of the one authorisation check
    dependency._wattprint_permission = scope  # type: ignore[attr-defined]
    return dependency
