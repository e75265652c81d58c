"""Authorisation: ONE dependency, ``authorize(permission)``, on every route but the open ones.

A route declares what it needs and gets the caller back::

    from fastapi import Depends
    from .authz import Principal, authorize

    _READ = Depends(authorize("read"))

    @router.get("/api/v1/orgs/{org_id}/runs")
    def runs(org_id: int, principal: Principal = _READ) -> ...:
        ...  # principal.organisation_id == org_id is already checked

The caller is either an API key (``Authorization: Bearer wp_...``, resolved by
:func:`.auth.resolve_key`) or a browser session (the ``wp_session`` cookie, see
:mod:`.sessions`). When the path has ``{org_id}``, the caller must belong to that organisation
(a key: its project's organisation; a user: a membership), else 404, so a member of A cannot
even learn which ids B has. Cookie-authenticated unsafe methods (POST, PUT, PATCH, DELETE) must
also carry the session's CSRF token in ``X-CSRF-Token``, or in the ``csrf_token`` field of a
URL-encoded form (the dashboard's forms, which work without JavaScript: :mod:`.forms`): a
synchroniser token stored with the session; a bearer key needs none, since browsers never
attach it by themselves.

Permission table (a key's scopes grant the permission of the same name only):

================  =====  =====  ======  ======  =========
permission        owner  admin  member  viewer  key scope
================  =====  =====  ======  ======  =========
read              yes    yes    yes     yes     read
ingest            yes    yes    yes     no      ingest
members.read      yes    yes    yes     yes     -
members.manage    yes    yes    no      no      -
keys.manage       yes    yes    no      no      -
projects.manage   yes    yes    no      no      -
session           any signed-in user (no organisation needed), never a key
key               any valid API key, whatever its scopes (it describes itself), never a user
================  =====  =====  ======  ======  =========

An admin manages admins, members and viewers; only an owner grants, changes or removes the
owner role (see routes_accounts.py), and the last owner cannot be removed or demoted.
"""

from __future__ import annotations

# Runtime imports: FastAPI reads the dependency's annotations to inject the request and form.
from fastapi import Depends
from starlette.requests import Request

from .._struct import dataclass
from .forms import CSRF_FIELD, form_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

__all__ = ["MAX_ID", "PERMISSIONS", "Principal", "authorize", "is_authorized_route"]

_ALL = ("owner", "admin", "member", "viewer")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": _ALL,
    "ingest": ("owner", "admin", "member"),
    "members.read": _ALL,
    "members.manage": ("owner", "admin"),
    "keys.manage": ("owner", "admin"),
    "projects.manage": ("owner", "admin"),
    "session": (),
    "key": (),
}
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)
_KEY_PERMISSIONS = {"read", "ingest"}  # a key's scope grants the permission of that name
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_MARK = "_wattprint_permission"  # set on every dependency authorize() builds
_FORM = Depends(form_fields)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (session) or an API key, and in which organisation."""

    permission: str
    user_id: int | None = None
    key_prefix: str | None = None
    project_id: int | None = None  # a key's project
    organisation_id: int | None = None  # the path's organisation, checked; else a key's
    role: str | None = None  # the user's role in organisation_id
    scopes: tuple[str, ...] = ()  # a key's scopes, sorted


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=status, headers=headers,
                         detail={"index": None, "field": None, "message": message})


def _path_org(request: Request) -> int | None:
    text = request.path_params.get("org_id")
    if text is None:
        return None
    try:
        org_id = int(text)
    except ValueError:
        raise _error(404, f"no organisation {text!r}")
    if not 1 <= org_id <= MAX_ID:  # no such row; SQLite could not even bind a larger int
        raise _error(404, f"no organisation {text!r}")
    return org_id


def _by_key(request: Request, permission: str, org_id: int | None) -> Principal:
    from .auth import resolve_key

    identity = resolve_key(request)
    if permission == "key":
        return Principal(permission=permission, key_prefix=identity.prefix,
                         project_id=identity.project_id,
                         organisation_id=identity.organisation_id,
                         scopes=tuple(sorted(identity.scopes)))
    if permission not in _KEY_PERMISSIONS:
        raise _error(403, f"an API key cannot {permission!r}: sign in as a user")
    if org_id is not None and org_id != identity.organisation_id:
        raise _error(404, f"no organisation {org_id} for this key")
    if permission not in identity.scopes:
        raise _error(403, f"API key wp_{identity.prefix}_... lacks the {permission!r} scope: "
                          "use a key created with it")
    return Principal(permission=permission, key_prefix=identity.prefix,
                     project_id=identity.project_id,
                     organisation_id=identity.organisation_id,
                     scopes=tuple(sorted(identity.scopes)))


def _by_session(request: Request, permission: str, org_id: int | None,
                form: dict[str, str]) -> Principal:
    import hmac

    from sqlalchemy import select

    from .models import Membership
    from .sessions import SESSION_COOKIE, find_session

    if permission == "key":
        raise _error(401, "this route describes an API key: send Authorization: Bearer wp_...",
                     {"WWW-Authenticate": "Bearer"})
    state = request.app.state
    session = find_session(state.engine, request.cookies.get(SESSION_COOKIE, ""),
                           now_s=state.wall_clock())
    if session is None:
        raise _error(401, "not signed in: POST /api/v1/login, or send an API key "
                          "(Authorization: Bearer wp_...)", {"WWW-Authenticate": "Bearer"})
    if request.method in _UNSAFE_METHODS:
        sent = request.headers.get("x-csrf-token") or form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise _error(403, "missing or wrong X-CSRF-Token header: send the csrf_token "
                              "the login answered (also in the wp_csrf cookie); on a "
                              "dashboard form, reload the page and send it again")
    request.state.csrf_token = session.csrf_token  # for the forms of the page it renders
    if org_id is None:
        if permission != "session":  # a route of no organisation: its key says which
            raise _error(403, f"{permission!r} here takes an API key: send "
                              "Authorization: Bearer wp_...")
        return Principal(permission=permission, user_id=session.user_id)
    with state.engine.connect() as connection:
        role = connection.execute(select(Membership.role).where(
            Membership.user_id == session.user_id,
            Membership.organisation_id == org_id)).scalar()
    if role is None:
        raise _error(404, f"no organisation {org_id} among yours")
    if permission != "session" and role not in PERMISSIONS[permission]:
        raise _error(403, f"your role {role!r} does not allow {permission!r}: ask an owner "
                          "or admin")
    return Principal(permission=permission, user_id=session.user_id,
                     organisation_id=org_id, role=role)


def authorize(permission: str) -> Callable[[Request], Principal]:
    """The FastAPI dependency for a route needing ``permission`` (a key of PERMISSIONS)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}: choose from "
                         f"{', '.join(PERMISSIONS)}")

    def dependency(request: Request, form: dict[str, str] = _FORM) -> Principal:
        org_id = _path_org(request)
        if request.headers.get("authorization"):
            principal = _by_key(request, permission, org_id)
        else:
            principal = _by_session(request, permission, org_id, form)
        request.state.principal = principal  # the access log names the caller (accesslog.py)
        return principal

    setattr(dependency, _MARK, permission)
    return dependency


def is_authorized_route(dependencies: list[object]) -> bool:
    """Whether a route's dependency callables include one built by authorize()."""
    return any(getattr(call, _MARK, None) for call in dependencies)
