"""Organisations, owners and API keys, created from code (``wattprint server admin``, tests).

The web routes for managing them come later; these functions are what they will call.
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

    from sqlalchemy.engine import Connection

__all__ = ["Bootstrap", "bootstrap", "create_api_key", "revoke_api_key"]


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
