"""The organisation's settings pages on the team server: members and roles, projects, API keys.

Every action is an HTML form that POSTs (URL-encoded, with the session's ``csrf_token`` field
checked by :func:`..authz.authorize`) and works without JavaScript; each answers a redirect
to the page it came from (303, so a reload does not post again), or the same page again with
the server's own refusal and the status it carries. The rules live in :mod:`..accounts`, which
the JSON API calls too: nothing here decides who may do what beyond the permission each route
declares (the table is in authz.py).

Under ``/dashboard/orgs/{org_id}/settings``:

``GET  /members``                        members.read: members and roles
``POST /members``                        members.manage: add by e-mail (a new account takes an
                                         initial password)
``POST /members/{user_id}/role``         members.manage: change a role
``GET|POST /members/{user_id}/remove``   members.manage: confirm, then remove
``GET  /projects``                       read: projects with their runs, energy and keys
``POST /projects``                       projects.manage: create one (keys belong to one)
``GET  /keys``                           keys.manage: keys by prefix (never a secret)
``POST /keys``                           keys.manage: create; the answer is the only page that
                                         ever shows the key (no-store, not a redirect)
``GET|POST /keys/{prefix}/revoke``       keys.manage: confirm, then revoke
"""

from __future__ import annotations

# Runtime imports: FastAPI reads the route functions' annotations to inject them.
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..authz import MAX_ID, Principal, authorize
from ..forms import form_fields, form_values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from sqlalchemy.engine import Connection

    T = TypeVar("T")

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_SETTINGS = "/dashboard/orgs/{org_id}/settings"
_READ = Depends(authorize("read"))
_MEMBERS_READ = Depends(authorize("members.read"))
_MEMBERS_MANAGE = Depends(authorize("members.manage"))
_KEYS_MANAGE = Depends(authorize("keys.manage"))
_PROJECTS_MANAGE = Depends(authorize("projects.manage"))
_FORM = Depends(form_fields)
_PAGE = 100  # projects a page


def _base(org_id: int) -> str:
    return f"/dashboard/orgs/{org_id}"


def _page(request: Request, org_id: int, name: str, context: dict[str, Any],
          status_code: int = 200) -> Response:
    from ..authz import PERMISSIONS
    from .server_routes import account_context, render

    account = account_context(request, org_id)
    role = account["role"]
    return render(name, {"root": _base(org_id), "account": account, "bare": False,
                         "nav": "settings",
                         "can": {p: role in roles for p, roles in PERMISSIONS.items()},
                         **context}, status_code)


def _done(org_id: int, tab: str, **query: str) -> Response:
    from urllib.parse import urlencode

    target = f"{_base(org_id)}/settings/{tab}"
    return RedirectResponse(f"{target}?{urlencode(query)}" if query else target,
                            status_code=303)


def _change(request: Request, change: Callable[[Connection], T]) -> T:
    """``change`` in one transaction; an AccountError propagates (rolled back)."""
    with request.app.state.engine.begin() as connection:
        return change(connection)


def _now(request: Request) -> float:
    now: float = request.app.state.wall_clock()
    return now


def _user_id(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_ID else None


# -- members ---------------------------------------------------------------------------------

def _members_page(request: Request, org_id: int, *, error: str | None = None,
                  status_code: int = 200, entered: dict[str, str] | None = None) -> Response:
    from ..accounts import list_members
    from ..models import ROLES

    with request.app.state.engine.connect() as connection:
        members = list_members(connection, org_id)
    notice = None
    query = request.query_params
    by_id = {str(m["user_id"]): m for m in members}
    if query.get("added") in by_id:
        member = by_id[query["added"]]
        notice = f"Added {member['email']} as {member['role']}."
    elif query.get("changed") in by_id:
        member = by_id[query["changed"]]
        notice = f"{member['email']} is now {member['role']}."
    elif query.get("removed"):
        notice = "Member removed."
    return _page(request, org_id, "settings_members.html", {
        "title": "Members", "tab": "members", "members": members, "roles": ROLES,
        "error": error, "notice": notice, "entered": entered or {}}, status_code)


@router.get(f"{_SETTINGS}/members")
def members(org_id: int, request: Request, principal: Principal = _MEMBERS_READ) -> Response:
    return _members_page(request, org_id)


@router.post(f"{_SETTINGS}/members")
def add_member(org_id: int, request: Request, form: dict[str, str] = _FORM,
               principal: Principal = _MEMBERS_MANAGE) -> Response:
    from ..accounts import AccountError, add_member

    email, role = form.get("email", ""), form.get("role", "")
    try:
        added = _change(request, lambda c: add_member(
            c, org_id=org_id, actor_role=principal.role, email=email, role=role,
            password=form.get("password") or None, now_s=_now(request)))
    except AccountError as exc:
        return _members_page(request, org_id, error=exc.message, status_code=exc.status,
                             entered={"email": email, "role": role})
    return _done(org_id, "members", added=str(added["user_id"]))


@router.post(f"{_SETTINGS}/members/{{user_id}}/role")
def change_role(org_id: int, user_id: str, request: Request, form: dict[str, str] = _FORM,
                principal: Principal = _MEMBERS_MANAGE) -> Response:
    from ..accounts import change_role

    return _change_member(request, org_id, user_id, lambda c, member: change_role(
        c, org_id=org_id, actor_role=principal.role, user_id=member, role=form.get("role", "")),
        done=lambda member: {"changed": str(member)})


def _change_member(request: Request, org_id: int, user_id: str,
                   change: Callable[[Connection, int], object],
                   done: Callable[[int], dict[str, str]]) -> Response:
    """``change`` (connection, the member's user id) applied to a member: the members page
    again with the refusal as the API words it, or the redirect with ``done``'s notice."""
    from ..accounts import AccountError

    member = _user_id(user_id)
    try:
        if member is None:
            raise AccountError(404, f"user {user_id[:40]!r} is not a member of organisation "
                                    f"{org_id}")
        _change(request, lambda c: change(c, member))
    except AccountError as exc:
        return _members_page(request, org_id, error=exc.message, status_code=exc.status)
    return _done(org_id, "members", **done(member))


def _member(request: Request, org_id: int, user_id: str) -> dict[str, Any] | None:
    from ..accounts import list_members

    with request.app.state.engine.connect() as connection:
        found = [m for m in list_members(connection, org_id) if str(m["user_id"]) == user_id]
    return found[0] if found else None


@router.get(f"{_SETTINGS}/members/{{user_id}}/remove")
def confirm_remove(org_id: int, user_id: str, request: Request,
                   principal: Principal = _MEMBERS_MANAGE) -> Response:
    member = _member(request, org_id, user_id)
    if member is None:
        return _members_page(request, org_id, status_code=404,
                             error=f"user {user_id[:40]!r} is not a member of this organisation")
    return _confirm(
        request, org_id, "members", f"{member['user_id']}/remove", title="Remove a member",
        question=f"Remove {member['email']} ({member['role']}) from this organisation?",
        consequence="They lose access to its runs and settings at once; their account and "
                    "the runs stay.", button="Remove member")


def _confirm(request: Request, org_id: int, tab: str, action: str, *, title: str,
             question: str, consequence: str, button: str) -> Response:
    """The confirmation page of an action on ``tab`` that posts to ``tab``/``action``."""
    return _page(request, org_id, "settings_confirm.html", {
        "title": title, "tab": tab, "question": question, "consequence": consequence,
        "action": f"{_base(org_id)}/settings/{tab}/{action}",
        "button": button, "cancel": f"{_base(org_id)}/settings/{tab}"})


@router.post(f"{_SETTINGS}/members/{{user_id}}/remove")
def remove_member(org_id: int, user_id: str, request: Request, form: dict[str, str] = _FORM,
                  principal: Principal = _MEMBERS_MANAGE) -> Response:
    from ..accounts import remove_member

    return _change_member(request, org_id, user_id, lambda c, member: remove_member(
        c, org_id=org_id, actor_role=principal.role, user_id=member),
        done=lambda _member: {"removed": "1"})


# -- projects --------------------------------------------------------------------------------

@router.get(f"{_SETTINGS}/projects")
def projects(org_id: int, request: Request, principal: Principal = _READ) -> Response:
    return _projects_page(request, org_id)


@router.post(f"{_SETTINGS}/projects")
def create_project(org_id: int, request: Request, form: dict[str, str] = _FORM,
                   principal: Principal = _PROJECTS_MANAGE) -> Response:
    from ..accounts import AccountError, create_project

    name = form.get("name", "")
    try:
        made = _change(request, lambda c: create_project(c, org_id=org_id, name=name,
                                                         now_s=_now(request)))
    except AccountError as exc:
        return _projects_page(request, org_id, error=exc.message, status_code=exc.status,
                              entered={"name": name})
    return _done(org_id, "projects", created=str(made["id"]))


def _projects_page(request: Request, org_id: int, *, error: str | None = None,
                   status_code: int = 200, entered: dict[str, str] | None = None) -> Response:
    from sqlalchemy import func, select

    from ..catalog import list_projects
    from ..models import ApiKey, Project
    from ..query import QueryError

    cursor = request.query_params.get("cursor") or None
    with request.app.state.engine.connect() as connection:
        try:
            page = list_projects(connection, org_id, limit=_PAGE, cursor=cursor)
        except QueryError as exc:
            return _page(request, org_id, "error.html", {"title": "Cannot show this",
                                                         "message": str(exc)}, 400)
        keys = dict(connection.execute(
            select(Project.name, func.count(ApiKey.id))
            .join(ApiKey, ApiKey.project_id == Project.id)
            .where(Project.organisation_id == org_id, ApiKey.revoked_s.is_(None))
            .group_by(Project.name)).all())
        created = connection.execute(select(Project.name).where(
            Project.organisation_id == org_id,
            Project.id == (_user_id(request.query_params.get("created", "")) or 0))).scalar()
    return _page(request, org_id, "settings_projects.html", {
        "title": "Projects", "tab": "projects", "projects": page["projects"],
        "active_keys": keys, "next_cursor": page["next_cursor"], "cursor": cursor,
        "error": error, "entered": entered or {},
        "notice": f"Project {created} created: give it a key on the API keys tab."
        if created else None}, status_code)


# -- API keys --------------------------------------------------------------------------------

def _project_choices(connection: Connection, org_id: int) -> list[Any]:
    from sqlalchemy import select

    from ..models import Project

    return list(connection.execute(select(Project.id, Project.name).where(
        Project.organisation_id == org_id).order_by(Project.name)).all())


def _keys_page(request: Request, org_id: int, *, error: str | None = None,
               status_code: int = 200, entered: dict[str, Any] | None = None) -> Response:
    from ..accounts import list_keys
    from ..models import SCOPES

    with request.app.state.engine.connect() as connection:
        keys = list_keys(connection, org_id)
        choices = _project_choices(connection, org_id)
    revoked = request.query_params.get("revoked")
    notice = (f"Key wp_{revoked}_... revoked: it is refused from now on."
              if revoked and any(k["prefix"] == revoked for k in keys) else None)
    return _page(request, org_id, "settings_keys.html", {
        "title": "API keys", "tab": "keys", "keys": keys, "projects": choices,
        "scopes": SCOPES, "error": error, "notice": notice,
        "entered": entered or {"scopes": ["ingest"]}}, status_code)


@router.get(f"{_SETTINGS}/keys")
def keys(org_id: int, request: Request, principal: Principal = _KEYS_MANAGE) -> Response:
    return _keys_page(request, org_id)


@router.post(f"{_SETTINGS}/keys")
def create_key(org_id: int, request: Request, form: dict[str, str] = _FORM,
               principal: Principal = _KEYS_MANAGE) -> Response:
    from ..accounts import AccountError, create_org_key

    state = request.app.state
    scopes = form_values(request, "scope")  # one a checked box
    name = form.get("name", "").strip()
    project = form.get("project_id", "")
    try:
        project_id = _user_id(project)  # the same bounds as any id
        if project_id is None:
            raise AccountError(400, "choose the key's project", field="project_id")
        made = _change(request, lambda c: create_org_key(
            c, org_id=org_id, project_id=project_id, scopes=scopes, name=name,
            pepper=state.pepper, now_s=_now(request)))
    except AccountError as exc:
        return _keys_page(request, org_id, error=exc.message, status_code=exc.status,
                          entered={"name": name, "project_id": project, "scopes": scopes})
    with state.engine.connect() as connection:
        project_name = dict(_project_choices(connection, org_id)).get(made.project_id)
    # the only answer that ever holds the key: not a redirect (the key would have to be kept
    # somewhere for the next request), and no-store like every dashboard answer
    return _page(request, org_id, "settings_key_created.html", {
        "title": "New API key", "tab": "keys", "key": made.key, "prefix": made.prefix,
        "scopes": made.scopes, "project": project_name, "name": name or f"key {made.prefix}"},
        201)


@router.get(f"{_SETTINGS}/keys/{{prefix}}/revoke")
def confirm_revoke(org_id: int, prefix: str, request: Request,
                   principal: Principal = _KEYS_MANAGE) -> Response:
    from ..accounts import list_keys

    with request.app.state.engine.connect() as connection:
        found = [k for k in list_keys(connection, org_id) if k["prefix"] == prefix]
    if not found:
        return _keys_page(request, org_id, status_code=404,
                          error=f"no key wp_{prefix[:16]}_... in this organisation")
    key = found[0]
    if key["revoked_s"] is not None:
        return _keys_page(request, org_id, status_code=409,
                          error=f"key wp_{prefix}_... is already revoked")
    return _confirm(
        request, org_id, "keys", f"{prefix}/revoke", title="Revoke an API key",
        question=f"Revoke key wp_{prefix}_... ({key['name']}, project {key['project']}, "
                 f"scopes {' '.join(key['scopes'])})?",
        consequence="Every program that sends it is refused from now on; this cannot be "
                    "undone (create a new key instead).", button="Revoke key")


@router.post(f"{_SETTINGS}/keys/{{prefix}}/revoke")
def revoke_key(org_id: int, prefix: str, request: Request, form: dict[str, str] = _FORM,
               principal: Principal = _KEYS_MANAGE) -> Response:
    from ..accounts import AccountError, revoke_org_key

    try:
        _change(request, lambda c: revoke_org_key(c, org_id=org_id, prefix=prefix,
                                                  now_s=_now(request)))
    except AccountError as exc:
        return _keys_page(request, org_id, error=exc.message, status_code=exc.status)
    return _done(org_id, "keys", revoked=prefix)
