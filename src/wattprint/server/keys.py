"""API keys: ``wp_<prefix>_<secret>``, stored as the prefix and a keyed hash of the secret.

The secret is 32 random bytes (URL-safe base64), so a fast keyed hash (HMAC-SHA256 with a
server-side pepper) is the right tool: there is nothing to brute-force, unlike a password
(:mod:`.passwords` uses argon2 for those). Without the pepper, a stolen database is not a list
of usable key hashes. The prefix (8 hex digits) finds the row; the full key is shown once.
"""

from __future__ import annotations

from .._lazy_re import lazy_re
from .._struct import dataclass

__all__ = ["NewKey", "ParsedKey", "hash_secret", "new_key", "parse_key", "secrets_match"]

_KEY = lazy_re(r"wp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    secret: str


@dataclass(frozen=True, slots=True)
class NewKey:
    token: str  # the whole key, to show once
    prefix: str
    secret_hmac: str


def parse_key(token: str) -> ParsedKey | None:
    """The parts of a well-formed key, else None."""
    match = _KEY.fullmatch(token.strip())
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), secret=match.group(2))


def hash_secret(secret: str, pepper: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(pepper, secret.encode("ascii"), hashlib.sha256).hexdigest()


def secrets_match(secret: str, stored_hmac: str, pepper: bytes) -> bool:
    import hmac

    return hmac.compare_digest(hash_secret(secret, pepper), stored_hmac)


def new_key(pepper: bytes) -> NewKey:
    import secrets

    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 characters, no padding
    return NewKey(token=f"wp_{prefix}_{secret}", prefix=prefix,
                  secret_hmac=hash_secret(secret, pepper))
