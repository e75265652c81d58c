"""OIDC sign-in, the database's side: sign-ins under way, and which user an identity is.

A sign-in under way is a row keyed by the SHA-256 of its ``state`` holding the nonce, the PKCE
verifier, where to go after, and the SHA-256 of a random per-browser token kept in the
``wp_oidc`` cookie: :func:`take_pending` deletes the row as it reads it, so a state works
once, and only in the browser that started it (no login CSRF).

:func:`user_for_identity` decides who signed in, in this order:

1. a user already linked to the provider's (issuer, subject);
2. else the user with the same e-mail, only when the provider says ``email_verified``; the
   identity is linked to them, so a later change of address at the provider changes nothing;
3. else, only when auto-provisioning is on and the verified address's domain is allowed, a new
   user without a password, a viewer of the configured organisation;
4. else a refusal saying to ask an admin to add the address.
"""

from __future__ import annotations

from .._struct import dataclass
from .oidc import OidcError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .oidc import Identity, OidcSettings

__all__ = ["NO_PASSWORD", "PENDING_TTL_S", "Pending", "add_pending", "take_pending",
           "user_for_identity"]

PENDING_TTL_S = 600.0
# Not an argon2 hash, so verify_password() is always False: such a user signs in through OIDC.
NO_PASSWORD = "!no password: signs in through OpenID Connect"


@dataclass(frozen=True, slots=True)
class Pending:
    nonce: str
    code_verifier: str
    next_path: str


def _digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_pending(connection: Connection, *, state: str, browser_token: str, pending: Pending,
                now_s: float) -> None:
    from sqlalchemy import delete, insert

    from .models import OidcPendingLogin

    connection.execute(delete(OidcPendingLogin).where(OidcPendingLogin.expires_s <= now_s))
    connection.execute(insert(OidcPendingLogin).values(
        state_sha256=_digest(state), browser_sha256=_digest(browser_token),
        nonce=pending.nonce, code_verifier=pending.code_verifier,
        next_path=pending.next_path, expires_s=now_s + PENDING_TTL_S))


def take_pending(connection: Connection, *, state: str, browser_token: str,
                 now_s: float) -> Pending:
    """The sign-in ``state`` names, removed so it cannot be used again; else OidcError(400)."""
    import hmac

    from sqlalchemy import delete, select

    from .models import OidcPendingLogin

    key = OidcPendingLogin.state_sha256 == _digest(state)
    row = connection.execute(select(OidcPendingLogin).where(key)).first()
    # rowcount: of two callbacks racing with one state, only one deletes the row
    taken = row is not None and connection.execute(delete(OidcPendingLogin).where(key)).rowcount
    if row is None or not taken or row.expires_s <= now_s:
        raise OidcError(400, "this sign-in is unknown, already used or expired: start again at "
                             "/api/v1/oidc/login")
    if not hmac.compare_digest(row.browser_sha256, _digest(browser_token)):
        raise OidcError(400, "this sign-in was started in another browser (or its cookies were "
                             "cleared): start again at /api/v1/oidc/login in this browser")
    return Pending(nonce=row.nonce, code_verifier=row.code_verifier, next_path=row.next_path)


def user_for_identity(connection: Connection, identity: Identity, settings: OidcSettings, *,
                      now_s: float) -> int:
    """The id of the user ``identity`` signs in as (see the module docstring), linking it."""
    from sqlalchemy import insert, select, update

    from .models import User, UserIdentity

    linked = (UserIdentity.issuer == identity.issuer) & (
        UserIdentity.subject == identity.subject)
    user_id: int | None = connection.execute(select(UserIdentity.user_id).where(linked)).scalar()
    if user_id is not None:
        connection.execute(update(UserIdentity).where(linked).values(last_login_s=now_s))
        return user_id
    if not identity.email or not identity.email_verified:
        raise OidcError(403, "no wattprint account is linked to this identity and the provider "
                             "did not confirm its e-mail address (email_verified): sign in "
                             "with your password, or verify the address at the provider")
    user_id = connection.execute(select(User.id).where(User.email == identity.email)).scalar()
    if user_id is None:
        user_id = _provision(connection, identity.email, settings, now_s=now_s)
    connection.execute(insert(UserIdentity).values(
        issuer=identity.issuer, subject=identity.subject, user_id=user_id,
        email=identity.email, created_s=now_s, last_login_s=now_s))
    return user_id


def _provision(connection: Connection, email: str, settings: OidcSettings, *,
               now_s: float) -> int:
    from sqlalchemy import insert, select

    from .models import Membership, Organisation, User

    domain = email.rpartition("@")[2]
    if not settings.auto_provision or domain not in settings.allowed_domains:
        raise OidcError(403, f"there is no wattprint account for {email}: ask an admin of your "
                             "organisation to add this address as a member, then sign in again")
    org_id = connection.execute(select(Organisation.id).where(
        Organisation.slug == settings.default_organisation)).scalar()
    if org_id is None:
        raise OidcError(503, f"new accounts join organisation "
                             f"{settings.default_organisation!r}, which this server does not "
                             "have: an admin must set WATTPRINT_SERVER_OIDC_DEFAULT_ORG (or "
                             "oidc_default_org in the config file) to an "
                             "existing organisation's slug")
    user_id: int = connection.execute(insert(User).values(
        email=email, password_hash=NO_PASSWORD, created_s=now_s).returning(User.id)).scalar_one()
    connection.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id,
                                                 role="viewer"))
    return user_id
