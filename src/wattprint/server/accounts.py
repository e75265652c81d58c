"""Organisations, owners, members, API keys and password sign-in, as plain functions.

``wattprint server admin`` and the tests call them from code; the JSON API
(routes_accounts.py) and the dashboard's settings forms (dashboard/settings_routes.py) both
call them, so a rule (the last owner stays, only an owner touches the owner role, a key is
shown once) lives here once. A refusal is an :class:`AccountError` carrying the HTTP status
and the field it is about; each caller turns it into its own answer (JSON or a page).
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from sqlalchemy.engine import Connection, Engine

    from .sessions import NewSession

__all__ = ["EMAIL_LENGTH", "PROJECT_NAME_LENGTH", "AccountError", "Bootstrap", "CreatedKey",
           "add_member", "bootstrap", "change_role", "create_api_key", "create_org_key", "create_project",
           "list_keys", "list_members", "password_sign_in", "remove_member", "revoke_api_key",
           "revoke_org_key"]


PROJECT_NAME_LENGTH = 200  # models.Project.name and ApiKey.name: String(200) (a test pins it)
EMAIL_LENGTH = 320  # models.User.email: String(320); PostgreSQL refuses longer, SQLite would not


class AccountError(Exception):
    """A refused account change or sign-in: the HTTP status, message and field to answer."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Bootstrap:
    organisation_id: int
    project_id: int
    user_id: int
    api_key: str  # shown once; only its prefix and keyed hash are stored


def _slug(name: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise ValueError(f"organisation name {name!r} has no letters or digits: give another")
    return slug


def create_api_key(connection: Connection, *, project_id: int, pepper: bytes, now_s: float,
                   scopes: Iterable[str] = ("ingest",), name: str = "") -> str:
    """A new key for ``project_id``; returns the whole key (the only time it exists)."""
    from .keys import new_key
    from .models import SCOPES, ApiKey

    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise ValueError(f"scopes {wanted!r}: choose from {', '.join(SCOPES)}")
    key = new_key(pepper)
    from sqlalchemy import insert

    connection.execute(insert(ApiKey).values(
        prefix=key.prefix, secret_hmac=key.secret_hmac, project_id=project_id,
        scopes=" ".join(wanted), name=name or f"key {key.prefix}", created_s=now_s))
    return key.token


def revoke_api_key(connection: Connection, *, prefix: str, now_s: float) -> bool:
    """Revoke the key with ``prefix``; False when there is no such active key."""
    from sqlalchemy import update

    from .models import ApiKey

    result = connection.execute(update(ApiKey).where(
        ApiKey.prefix == prefix, ApiKey.revoked_s.is_(None)).values(revoked_s=now_s))
    return bool(result.rowcount)


def bootstrap(connection: Connection, *, organisation: str, email: str, password: str,
              pepper: bytes, now_s: float, project: str = "default") -> Bootstrap:
    """The first organisation, its owner (argon2 password), a project and an ingest key.

    Raises ``ValueError`` when the database already has an organisation or the input is bad.
    """
    from sqlalchemy import func, insert, select

    from .models import Membership, Organisation, Project, User
    from .passwords import hash_password

    if connection.execute(select(func.count()).select_from(Organisation)).scalar_one():
        raise ValueError("the server already has an organisation: `server admin` only "
                         "bootstraps an empty database")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address: give the owner's address")
    if len(password) < 12:
        raise ValueError("the password has fewer than 12 characters: choose a longer one")
    org_id: int = connection.execute(insert(Organisation).values(
        slug=_slug(organisation), name=organisation, created_s=now_s,
    ).returning(Organisation.id)).scalar_one()
    user_id: int = connection.execute(insert(User).values(
        email=email.strip().lower(), password_hash=hash_password(password), created_s=now_s,
    ).returning(User.id)).scalar_one()
    connection.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id,
                                                 role="owner"))
    project_id: int = connection.execute(insert(Project).values(
        organisation_id=org_id, name=project, created_s=now_s,
    ).returning(Project.id)).scalar_one()
    token = create_api_key(connection, project_id=project_id, pepper=pepper, now_s=now_s,
                           scopes=("ingest",), name="first ingest key")
    return Bootstrap(organisation_id=org_id, project_id=project_id, user_id=user_id,
                     api_key=token)


# -- sign-in ---------------------------------------------------------------------------------

_DUMMY_HASH: list[str] = []  # an argon2 hash checked for unknown e-mails, so timing tells nothing


def password_sign_in(engine: Engine, *, email: str, password: str, address: str,
                     now_s: float) -> tuple[int, NewSession]:
    """Check the password under the login rate limit and start a session: (user id, session).

    A failure is recorded (committed) before the 401, so the rate limit counts it; 429 while
    the account or the address is locked out, even with the right password.
    """
    from sqlalchemy import select

    from .models import User
    from .passwords import hash_password, verify_password
    from .ratelimit import clear_account, locked_out, record_failure
    from .sessions import start_session

    email = email.strip().lower()
    with engine.connect() as connection:
        if locked_out(connection, email=email, address=address, now_s=now_s):
            raise AccountError(429, "too many failed logins for this account or address: "
                                    "wait 15 minutes, or ask an admin")
        user = connection.execute(select(User.id, User.password_hash).where(
            User.email == email)).first()
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("not a password, only for timing"))
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH[0])
    if user is None or not ok:
        with engine.begin() as connection:  # committed: raising inside would roll it back
            record_failure(connection, email=email, address=address, now_s=now_s)
        raise AccountError(401, "wrong e-mail or password")
    with engine.begin() as connection:
        clear_account(connection, email=email)
        session = start_session(connection, user_id=user.id, now_s=now_s)
    user_id: int = user.id
    return user_id, session


# -- members ---------------------------------------------------------------------------------

def list_members(connection: Connection, org_id: int) -> list[dict[str, Any]]:
    """The organisation's members by user id: ``{user_id, email, role}``."""
    from sqlalchemy import select

    from .models import Membership, User

    rows = connection.execute(
        select(User.id, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == org_id).order_by(User.id)).all()
    return [{"user_id": r.id, "email": r.email, "role": r.role} for r in rows]


def _check_role_change(actor_role: str | None, old: str | None, new: str | None) -> None:
    """Only an owner touches the owner role; an admin manages the other three."""
    from .models import ROLES

    if new is not None and new not in ROLES:
        raise AccountError(400, f"role {new!r}: choose from {', '.join(ROLES)}", field="role")
    if "owner" in (old, new) and actor_role != "owner":
        raise AccountError(403, "only an owner can grant, change or remove the owner role")


def _owners_left(connection: Connection, org_id: int, without_user: int) -> int:
    from sqlalchemy import func, select

    from .models import Membership

    count: int = connection.execute(select(func.count()).select_from(Membership).where(
        Membership.organisation_id == org_id, Membership.role == "owner",
        Membership.user_id != without_user)).scalar_one()
    return count


def _current_role(connection: Connection, org_id: int, user_id: int) -> str:
    from sqlalchemy import select

    from .models import Membership

    role: str | None = connection.execute(select(Membership.role).where(
        Membership.user_id == user_id, Membership.organisation_id == org_id)).scalar()
    if role is None:
        raise AccountError(404, f"user {user_id} is not a member of organisation {org_id}")
    return role


def add_member(connection: Connection, *, org_id: int, actor_role: str | None, email: str,
               role: str, password: str | None, now_s: float) -> dict[str, Any]:
    """Add the account with ``email`` (created with ``password`` when new) as ``role``."""
    from sqlalchemy import insert, select

    from .models import Membership, User
    from .passwords import hash_password

    _check_role_change(actor_role, None, role)
    address = email.strip().lower()
    if "@" not in address or len(address) > EMAIL_LENGTH:
        raise AccountError(400, f"{email[:80]!r} is not an e-mail address (at most "
                                f"{EMAIL_LENGTH} characters with an @)", field="email")
    user_id = connection.execute(select(User.id).where(User.email == address)).scalar()
    if user_id is None:
        if password is None or len(password) < 12:
            raise AccountError(400, f"{address} has no account yet: give an initial password "
                                    "of at least 12 characters", field="password")
        user_id = connection.execute(insert(User).values(
            email=address, password_hash=hash_password(password),
            created_s=now_s).returning(User.id)).scalar_one()
    elif connection.execute(select(Membership.role).where(
            Membership.user_id == user_id,
            Membership.organisation_id == org_id)).scalar() is not None:
        raise AccountError(409, f"{address} is already a member: change their role instead")
    connection.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id,
                                                 role=role))
    return {"user_id": user_id, "email": address, "role": role}


def change_role(connection: Connection, *, org_id: int, actor_role: str | None, user_id: int,
                role: str) -> dict[str, Any]:
    from sqlalchemy import update

    from .models import Membership

    old = _current_role(connection, org_id, user_id)
    _check_role_change(actor_role, old, role)
    if old == "owner" and role != "owner" and not _owners_left(connection, org_id, user_id):
        raise AccountError(409, "the last owner cannot be demoted: make someone else owner "
                                "first")
    connection.execute(update(Membership).where(
        Membership.user_id == user_id, Membership.organisation_id == org_id,
    ).values(role=role))
    return {"user_id": user_id, "role": role}


def remove_member(connection: Connection, *, org_id: int, actor_role: str | None,
                  user_id: int) -> dict[str, Any]:
    from sqlalchemy import delete

    from .models import Membership

    old = _current_role(connection, org_id, user_id)
    _check_role_change(actor_role, old, None)
    if old == "owner" and not _owners_left(connection, org_id, user_id):
        raise AccountError(409, "the last owner cannot be removed: make someone else owner "
                                "first")
    connection.execute(delete(Membership).where(
        Membership.user_id == user_id, Membership.organisation_id == org_id))
    return {"user_id": user_id, "removed": True}


# -- API keys of an organisation -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: str  # the whole key: shown once, never stored or logged
    prefix: str
    scopes: tuple[str, ...]
    project_id: int


def list_keys(connection: Connection, org_id: int) -> list[dict[str, Any]]:
    """The organisation's keys, oldest first, by prefix (never a secret), with their project."""
    from sqlalchemy import select

    from .models import ApiKey, Project

    rows = connection.execute(
        select(ApiKey.prefix, ApiKey.name, ApiKey.scopes, ApiKey.project_id, Project.name,
               ApiKey.created_s, ApiKey.revoked_s)
        .join(Project, Project.id == ApiKey.project_id)
        .where(Project.organisation_id == org_id).order_by(ApiKey.id)).all()
    return [{"prefix": r.prefix, "name": r.name, "scopes": r.scopes.split(),
             "project_id": r.project_id, "project": r[4], "created_s": r.created_s,
             "revoked_s": r.revoked_s} for r in rows]


def create_org_key(connection: Connection, *, org_id: int, project_id: int,
                   scopes: Iterable[str], name: str, pepper: bytes,
                   now_s: float) -> CreatedKey:
    """A new key for a project of ``org_id`` (404 for another organisation's project)."""
    from sqlalchemy import select

    from .keys import parse_key
    from .models import Project

    if len(name) > PROJECT_NAME_LENGTH:
        raise AccountError(400, f"a key name of {len(name)} characters: give at most "
                                f"{PROJECT_NAME_LENGTH}", field="name")
    owner_org = connection.execute(select(Project.organisation_id).where(
        Project.id == project_id)).scalar()
    if owner_org != org_id:
        raise AccountError(404, f"no project {project_id} in organisation {org_id}",
                           field="project_id")
    wanted = tuple(sorted(set(scopes)))
    try:
        token = create_api_key(connection, project_id=project_id, pepper=pepper, now_s=now_s,
                               scopes=wanted, name=name)
    except ValueError as exc:
        raise AccountError(400, str(exc), field="scopes") from None
    parsed = parse_key(token)
    assert parsed is not None
    return CreatedKey(key=token, prefix=parsed.prefix, scopes=wanted, project_id=project_id)


def revoke_org_key(connection: Connection, *, org_id: int, prefix: str, now_s: float) -> None:
    """Revoke the organisation's key ``prefix`` (again: a no-op; another's: 404)."""
    from sqlalchemy import select, update

    from .models import ApiKey, Project

    in_org = select(Project.id).where(Project.organisation_id == org_id)
    key_id = connection.execute(select(ApiKey.id).where(
        ApiKey.prefix == prefix, ApiKey.project_id.in_(in_org))).scalar()
    if key_id is None:
        raise AccountError(404, f"no key wp_{prefix}_... in organisation {org_id}")
    connection.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_s.is_(None))
                       .values(revoked_s=now_s))


# -- projects --------------------------------------------------------------------------------

def create_project(connection: Connection, *, org_id: int, name: str,
                   now_s: float) -> dict[str, Any]:
    """A new project of ``org_id`` (what a key is scoped to): ``{id, name}``; 409 if taken."""
    from sqlalchemy import insert, select
    from sqlalchemy.exc import IntegrityError

    from .models import Project

    wanted = name.strip()
    if not wanted:
        raise AccountError(400, "give the project a name", field="name")
    if len(wanted) > PROJECT_NAME_LENGTH:
        raise AccountError(400, f"a project name of {len(wanted)} characters: give at most "
                                f"{PROJECT_NAME_LENGTH}", field="name")
    taken = AccountError(409, f"project {wanted!r} already exists in this organisation: "
                              "create its keys there", field="name")
    if connection.execute(select(Project.id).where(
            Project.organisation_id == org_id, Project.name == wanted)).scalar() is not None:
        raise taken
    try:
        with connection.begin_nested():  # the same name created at the same moment elsewhere
            project_id: int = connection.execute(insert(Project).values(
                organisation_id=org_id, name=wanted, created_s=now_s,
            ).returning(Project.id)).scalar_one()
    except IntegrityError:
        raise taken from None
    return {"id": project_id, "name": wanted}
