"""Accounts: login/logout, who am I, members and API keys of an organisation.

Every route but login declares its permission through :func:`.authz.authorize` (the table is
there). The work is in :mod:`.accounts`, which the dashboard's settings forms call too.
Sessions, CSRF: :mod:`.sessions`; the login rate limit: :mod:`.ratelimit`.

``POST /api/v1/login``                          ``{email, password}`` -> cookies + csrf_token
``POST /api/v1/logout``                         session
``GET  /api/v1/me``                             session: the user and their organisations
``GET  /api/v1/key``                            any API key: its prefix, scopes, project, org
``GET|POST /api/v1/orgs/{org_id}/members``      members.read | members.manage (add by e-mail)
``PATCH|DELETE .../members/{user_id}``          members.manage (change role, remove)
``GET|POST /api/v1/orgs/{org_id}/keys``         keys.manage (list by prefix | create, shown once)
``DELETE .../keys/{prefix}``                    keys.manage (revoke)
``POST /api/v1/orgs/{org_id}/projects``         projects.manage (create: what keys belong to;
                                                the list is routes_catalog.py's GET)
"""

from __future__ import annotations

# Runtime imports: FastAPI and pydantic read these annotations to parse and inject.
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.requests import Request

from .authz import Principal, authorize
from .schemas import (
    MAX_ID,
    Id,
    KeyItself,
    KeyRevoked,
    KeyView,
    LoginAnswer,
    Me,
    Member,
    MemberRemoved,
    Named,
    NewKey,
    RoleChanged,
    SignedOut,
    errors,
)
from .storable import StorableText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from sqlalchemy.engine import Connection

    from .accounts import AccountError

    T = TypeVar("T")

__all__ = ["router"]

router = APIRouter()

_SESSION = Depends(authorize("session"))
_KEY = Depends(authorize("key"))
_MEMBERS_READ = Depends(authorize("members.read"))
_MEMBERS_MANAGE = Depends(authorize("members.manage"))
_KEYS_MANAGE = Depends(authorize("keys.manage"))
_PROJECTS_MANAGE = Depends(authorize("projects.manage"))


class LoginBody(BaseModel):
    email: StorableText
    password: StorableText


class NewMemberBody(BaseModel):
    email: StorableText
    role: StorableText
    password: StorableText | None = None  # needed only when the e-mail has no account yet


class RoleBody(BaseModel):
    role: StorableText


class NewProjectBody(BaseModel):
    name: StorableText


class NewKeyBody(BaseModel):
    project_id: int = Field(ge=1, le=MAX_ID)
    scopes: list[StorableText] = ["ingest"]
    name: StorableText = ""


def _error(status: int, message: str, field: str | None = None) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=status,
                         detail={"index": None, "field": field, "message": message})


def _refused(exc: AccountError) -> Exception:
    return _error(exc.status, exc.message, field=exc.field)


def _change(request: Request, change: Callable[[Connection], T]) -> T:
    """``change`` in one transaction (rolled back on a refusal, answered as the API's error)."""
    from .accounts import AccountError

    try:
        with request.app.state.engine.begin() as connection:
            return change(connection)
    except AccountError as exc:
        raise _refused(exc) from None


def _now(request: Request) -> float:
    now: float = request.app.state.wall_clock()
    return now


@router.post("/api/v1/login", response_model=LoginAnswer, responses=errors(400, 401, 429))
def login(body: LoginBody, request: Request) -> JSONResponse:
    from .accounts import AccountError, password_sign_in
    from .sessions import set_session_cookies

    try:
        user_id, session = password_sign_in(
            request.app.state.engine, email=body.email, password=body.password,
            address=request.client.host if request.client else "unknown", now_s=_now(request))
    except AccountError as exc:
        raise _refused(exc) from None
    response = JSONResponse({"user_id": user_id, "csrf_token": session.csrf_token,
                             "expires_s": session.expires_s})
    set_session_cookies(response, session)
    return response


@router.post("/api/v1/logout", response_model=SignedOut, responses=errors(400, 401, 403))
def logout(request: Request, principal: Principal = _SESSION) -> JSONResponse:
    from .sessions import SESSION_COOKIE, clear_session_cookies, end_session

    with request.app.state.engine.begin() as connection:
        end_session(connection, request.cookies.get(SESSION_COOKIE, ""))
    response = JSONResponse({"signed_out": True})
    clear_session_cookies(response)
    return response


@router.get("/api/v1/me", response_model=Me, responses=errors(400, 401, 403))
def me(request: Request, principal: Principal = _SESSION) -> dict[str, Any]:
    from sqlalchemy import select

    from .models import Membership, Organisation, User

    with request.app.state.engine.connect() as connection:
        email = connection.execute(select(User.email).where(
            User.id == principal.user_id)).scalar_one()
        rows = connection.execute(
            select(Organisation.id, Organisation.name, Membership.role)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.user_id == principal.user_id).order_by(Organisation.id)).all()
    return {"user_id": principal.user_id, "email": email,
            "organisations": [{"id": r.id, "name": r.name, "role": r.role} for r in rows]}


@router.get("/api/v1/key", response_model=KeyItself, responses=errors(400, 401, 403))
def key_itself(request: Request, principal: Principal = _KEY) -> dict[str, Any]:
    """What the calling API key may do and where it writes (`wattprint login` shows this)."""
    from sqlalchemy import select

    from .models import Organisation, Project

    with request.app.state.engine.connect() as connection:
        row = connection.execute(
            select(Project.name, Organisation.id, Organisation.name)
            .join(Organisation, Organisation.id == Project.organisation_id)
            .where(Project.id == principal.project_id)).one()
    return {"prefix": principal.key_prefix, "scopes": list(principal.scopes),
            "project": {"id": principal.project_id, "name": row[0]},
            "organisation": {"id": row[1], "name": row[2]}}


@router.get("/api/v1/orgs/{org_id}/members", response_model=list[Member],
            responses=errors(400, 401, 403, 404))
def list_members(org_id: Id, request: Request,
                 principal: Principal = _MEMBERS_READ) -> list[dict[str, Any]]:
    from .accounts import list_members

    with request.app.state.engine.connect() as connection:
        return list_members(connection, org_id)


@router.post("/api/v1/orgs/{org_id}/members", status_code=201, response_model=Member,
             responses=errors(400, 401, 403, 404, 409))
def add_member(org_id: Id, body: NewMemberBody, request: Request,
               principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from .accounts import add_member

    return _change(request, lambda c: add_member(
        c, org_id=org_id, actor_role=principal.role, email=body.email, role=body.role,
        password=body.password, now_s=_now(request)))


@router.patch("/api/v1/orgs/{org_id}/members/{user_id}", response_model=RoleChanged,
              responses=errors(400, 401, 403, 404, 409))
def change_role(org_id: Id, user_id: Id, body: RoleBody, request: Request,
                principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from .accounts import change_role

    return _change(request, lambda c: change_role(c, org_id=org_id, actor_role=principal.role,
                                                  user_id=user_id, role=body.role))


@router.delete("/api/v1/orgs/{org_id}/members/{user_id}", response_model=MemberRemoved,
               responses=errors(400, 401, 403, 404, 409))
def remove_member(org_id: Id, user_id: Id, request: Request,
                  principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from .accounts import remove_member

    return _change(request, lambda c: remove_member(c, org_id=org_id, actor_role=principal.role,
                                                    user_id=user_id))


@router.get("/api/v1/orgs/{org_id}/keys", response_model=list[KeyView],
            responses=errors(400, 401, 403, 404))
def list_keys(org_id: Id, request: Request,
              principal: Principal = _KEYS_MANAGE) -> list[dict[str, Any]]:
    from .accounts import list_keys

    with request.app.state.engine.connect() as connection:
        return list_keys(connection, org_id)


@router.post("/api/v1/orgs/{org_id}/keys", status_code=201, response_model=NewKey,
             responses=errors(400, 401, 403, 404))
def create_key(org_id: Id, body: NewKeyBody, request: Request,
               principal: Principal = _KEYS_MANAGE) -> dict[str, Any]:
    from .accounts import create_org_key

    state = request.app.state
    made = _change(request, lambda c: create_org_key(
        c, org_id=org_id, project_id=body.project_id, scopes=body.scopes, name=body.name,
        pepper=state.pepper, now_s=_now(request)))
    return {"key": made.key, "prefix": made.prefix, "scopes": list(made.scopes),
            "project_id": made.project_id,
            "message": "shown once: store it now; only its prefix is kept readable"}


@router.delete("/api/v1/orgs/{org_id}/keys/{prefix}", response_model=KeyRevoked,
               responses=errors(400, 401, 403, 404))
def revoke_key(org_id: Id, prefix: str, request: Request,
               principal: Principal = _KEYS_MANAGE) -> dict[str, Any]:
    from .accounts import revoke_org_key

    _change(request, lambda c: revoke_org_key(c, org_id=org_id, prefix=prefix,
                                              now_s=_now(request)))
    return {"prefix": prefix, "revoked": True}


@router.post("/api/v1/orgs/{org_id}/projects", status_code=201, response_model=Named,
             responses=errors(400, 401, 403, 404, 409))
def create_project(org_id: Id, body: NewProjectBody, request: Request,
                   principal: Principal = _PROJECTS_MANAGE) -> dict[str, Any]:
    from .accounts import create_project

    return _change(request, lambda c: create_project(c, org_id=org_id, name=body.name,
                                                     now_s=_now(request)))
