"""Account passwords: argon2id (argon2-cffi's defaults, RFC 9106's recommended profile)."""

from __future__ import annotations

__all__ = ["hash_password", "verify_password"]


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    if not password:
        raise ValueError("the password is empty: give one")
    hashed: str = PasswordHasher().hash(password)
    return hashed


def verify_password(password: str, hashed: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(PasswordHasher().verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False
