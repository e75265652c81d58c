"""Accounts: login/logout, who am I, members and API keys of an organisation.

Every route but login declares its permission through :func:`.authz.authorize` (the table is
there). Sessions, CSRF: :mod:`.sessions`; the login rate limit: :mod:`.ratelimit`.

``POST /api/v1/login``                          ``{email, password}`` -> cookies + csrf_token
``POST /api/v1/logout``                         session
``GET  /api/v1/me``                             session: the user and their organisations
``GET  /api/v1/key``                            any API key: its prefix, scopes, project, org
``GET|POST /api/v1/orgs/{org_id}/members``      members.read | members.manage (add by e-mail)
``PATCH|DELETE .../members/{user_id}``          members.manage (change role, remove)
``GET|POST /api/v1/orgs/{org_id}/keys``         keys.manage (list by prefix | create, shown once)
``DELETE .../keys/{prefix}``                    keys.manage (revoke)
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
    NewKey,
    RoleChanged,
    SignedOut,
    errors,
)
from .storable import StorableText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["router"]

router = APIRouter()

_SESSION = Depends(authorize("session"))
_KEY = Depends(authorize("key"))
_MEMBERS_READ = Depends(authorize("members.read"))
_MEMBERS_MANAGE = Depends(authorize("members.manage"))
_KEYS_MANAGE = Depends(authorize("keys.manage"))
_DUMMY_HASH: list[str] = []  # an argon2 hash checked for unknown e-mails, so timing tells nothing


class LoginBody(BaseModel):
    email: StorableText
    password: StorableText


class NewMemberBody(BaseModel):
    email: StorableText
    role: StorableText
    password: StorableText | None = None  # needed only when the e-mail has no account yet


class RoleBody(BaseModel):
    role: StorableText


class NewKeyBody(BaseModel):
    project_id: int = Field(ge=1, le=MAX_ID)
    scopes: list[StorableText] = ["ingest"]
    name: StorableText = ""


def _error(status: int, message: str, field: str | None = None) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=status,
                         detail={"index": None, "field": field, "message": message})


def _now(request: Request) -> float:
    now: float = request.app.state.wall_clock()
    return now


@router.post("/api/v1/login", response_model=LoginAnswer, responses=errors(400, 401, 429))
def login(body: LoginBody, request: Request) -> JSONResponse:
    from sqlalchemy import select

    from .models import User
    from .passwords import hash_password, verify_password
    from .ratelimit import clear_account, locked_out, record_failure
    from .sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL_S, start_session

    email = body.email.strip().lower()
    address = request.client.host if request.client else "unknown"
    now_s = _now(request)
    engine = request.app.state.engine
    with engine.connect() as connection:
        if locked_out(connection, email=email, address=address, now_s=now_s):
            raise _error(429, "too many failed logins for this account or address: wait 15 "
                              "minutes, or ask an admin")
        user = connection.execute(select(User.id, User.password_hash).where(
            User.email == email)).first()
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("not a password, only for timing"))
    ok = verify_password(body.password, user.password_hash if user else _DUMMY_HASH[0])
    if user is None or not ok:
        with engine.begin() as connection:  # committed: raising inside would roll it back
            record_failure(connection, email=email, address=address, now_s=now_s)
        raise _error(401, "wrong e-mail or password")
    with engine.begin() as connection:
        clear_account(connection, email=email)
        session = start_session(connection, user_id=user.id, now_s=now_s)
    response = JSONResponse({"user_id": user.id, "csrf_token": session.csrf_token,
                             "expires_s": session.expires_s})
    max_age = int(SESSION_TTL_S)
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, path="/", secure=True,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, path="/",
                        secure=True, httponly=False, samesite="lax")
    return response


@router.post("/api/v1/logout", response_model=SignedOut, responses=errors(400, 401, 403))
def logout(request: Request, principal: Principal = _SESSION) -> JSONResponse:
    from .sessions import CSRF_COOKIE, SESSION_COOKIE, end_session

    with request.app.state.engine.begin() as connection:
        end_session(connection, request.cookies.get(SESSION_COOKIE, ""))
    response = JSONResponse({"signed_out": True})
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=True, samesite="lax")
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
    from sqlalchemy import select

    from .models import Membership, User

    with request.app.state.engine.connect() as connection:
        rows = connection.execute(
            select(User.id, User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == org_id).order_by(User.id)).all()
    return [{"user_id": r.id, "email": r.email, "role": r.role} for r in rows]


def _check_role_change(principal: Principal, old: str | None, new: str | None) -> None:
    """Only an owner touches the owner role; an admin manages the other three."""
    from .models import ROLES

    if new is not None and new not in ROLES:
        raise _error(400, f"role {new!r}: choose from {', '.join(ROLES)}", field="role")
    if "owner" in (old, new) and principal.role != "owner":
        raise _error(403, "only an owner can grant, change or remove the owner role")


def _owners_left(connection: Any, org_id: int, without_user: int) -> int:
    from sqlalchemy import func, select

    from .models import Membership

    count: int = connection.execute(select(func.count()).select_from(Membership).where(
        Membership.organisation_id == org_id, Membership.role == "owner",
        Membership.user_id != without_user)).scalar_one()
    return count


@router.post("/api/v1/orgs/{org_id}/members", status_code=201, response_model=Member,
             responses=errors(400, 401, 403, 404, 409))
def add_member(org_id: Id, body: NewMemberBody, request: Request,
               principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from sqlalchemy import insert, select

    from .models import Membership, User
    from .passwords import hash_password

    _check_role_change(principal, None, body.role)
    email = body.email.strip().lower()
    if "@" not in email:
        raise _error(400, f"{body.email!r} is not an e-mail address", field="email")
    with request.app.state.engine.begin() as connection:
        user_id = connection.execute(select(User.id).where(User.email == email)).scalar()
        if user_id is None:
            if body.password is None or len(body.password) < 12:
                raise _error(400, f"{email} has no account yet: give an initial password of "
                                  "at least 12 characters", field="password")
            user_id = connection.execute(insert(User).values(
                email=email, password_hash=hash_password(body.password),
                created_s=_now(request)).returning(User.id)).scalar_one()
        elif connection.execute(select(Membership.role).where(
                Membership.user_id == user_id,
                Membership.organisation_id == org_id)).scalar() is not None:
            raise _error(409, f"{email} is already a member: change their role instead")
        connection.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id,
                                                     role=body.role))
    return {"user_id": user_id, "email": email, "role": body.role}


def _current_role(connection: Any, org_id: int, user_id: int) -> str:
    from sqlalchemy import select

    from .models import Membership

    role: str | None = connection.execute(select(Membership.role).where(
        Membership.user_id == user_id, Membership.organisation_id == org_id)).scalar()
    if role is None:
        raise _error(404, f"user {user_id} is not a member of organisation {org_id}")
    return role


@router.patch("/api/v1/orgs/{org_id}/members/{user_id}", response_model=RoleChanged,
              responses=errors(400, 401, 403, 404, 409))
def change_role(org_id: Id, user_id: Id, body: RoleBody, request: Request,
                principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from sqlalchemy import update

    from .models import Membership

    with request.app.state.engine.begin() as connection:
        old = _current_role(connection, org_id, user_id)
        _check_role_change(principal, old, body.role)
        if old == "owner" and body.role != "owner" and not _owners_left(connection, org_id,
                                                                         user_id):
            raise _error(409, "the last owner cannot be demoted: make someone else owner first")
        connection.execute(update(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == org_id,
        ).values(role=body.role))
    return {"user_id": user_id, "role": body.role}


@router.delete("/api/v1/orgs/{org_id}/members/{user_id}", response_model=MemberRemoved,
               responses=errors(400, 401, 403, 404, 409))
def remove_member(org_id: Id, user_id: Id, request: Request,
                  principal: Principal = _MEMBERS_MANAGE) -> dict[str, Any]:
    from sqlalchemy import delete

    from .models import Membership

    with request.app.state.engine.begin() as connection:
        old = _current_role(connection, org_id, user_id)
        _check_role_change(principal, old, None)
        if old == "owner" and not _owners_left(connection, org_id, user_id):
            raise _error(409, "the last owner cannot be removed: make someone else owner first")
        connection.execute(delete(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == org_id))
    return {"user_id": user_id, "removed": True}


@router.get("/api/v1/orgs/{org_id}/keys", response_model=list[KeyView],
            responses=errors(400, 401, 403, 404))
def list_keys(org_id: Id, request: Request,
              principal: Principal = _KEYS_MANAGE) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from .models import ApiKey, Project

    with request.app.state.engine.connect() as connection:
        rows = connection.execute(
            select(ApiKey.prefix, ApiKey.name, ApiKey.scopes, ApiKey.project_id,
                   ApiKey.created_s, ApiKey.revoked_s)
            .join(Project, Project.id == ApiKey.project_id)
            .where(Project.organisation_id == org_id).order_by(ApiKey.id)).all()
    return [{"prefix": r.prefix, "name": r.name, "scopes": r.scopes.split(),
             "project_id": r.project_id, "created_s": r.created_s, "revoked_s": r.revoked_s}
            for r in rows]


@router.post("/api/v1/orgs/{org_id}/keys", status_code=201, response_model=NewKey,
             responses=errors(400, 401, 403, 404))
def create_key(org_id: Id, body: NewKeyBody, request: Request,
               principal: Principal = _KEYS_MANAGE) -> dict[str, Any]:
    from sqlalchemy import select

    from .accounts import create_api_key
    from .keys import parse_key
    from .models import Project

    state = request.app.state
    with state.engine.begin() as connection:
        owner_org = connection.execute(select(Project.organisation_id).where(
            Project.id == body.project_id)).scalar()
        if owner_org != org_id:
            raise _error(404, f"no project {body.project_id} in organisation {org_id}",
                         field="project_id")
        try:
            token = create_api_key(connection, project_id=body.project_id, pepper=state.pepper,
                                   now_s=_now(request), scopes=body.scopes, name=body.name)
        except ValueError as exc:
            raise _error(400, str(exc), field="scopes")
    parsed = parse_key(token)
    assert parsed is not None
    return {"key": token, "prefix": parsed.prefix, "scopes": sorted(set(body.scopes)),
            "project_id": body.project_id,
            "message": "shown once: store it now; only its prefix is kept readable"}


@router.delete("/api/v1/orgs/{org_id}/keys/{prefix}", response_model=KeyRevoked,
               responses=errors(400, 401, 403, 404))
def revoke_key(org_id: Id, prefix: str, request: Request,
               principal: Principal = _KEYS_MANAGE) -> dict[str, Any]:
    from sqlalchemy import select, update

    from .models import ApiKey, Project

    with request.app.state.engine.begin() as connection:
        in_org = select(Project.id).where(Project.organisation_id == org_id)
        key_id = connection.execute(select(ApiKey.id).where(
            ApiKey.prefix == prefix, ApiKey.project_id.in_(in_org))).scalar()
        if key_id is None:
            raise _error(404, f"no key wp_{prefix}_... in organisation {org_id}")
        connection.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_s.is_(None))
                           .values(revoked_s=_now(request)))
    return {"prefix": prefix, "revoked": True}
