"""What the server runs with: the database URL, the key pepper and the ingestion limits.

Built explicitly (tests, embedding) or from environment variables with
:meth:`Settings.from_environ`; nothing is read or created at import time.

``WATTPRINT_SERVER_DB``      database URL; default ``sqlite:///<WATTPRINT_HOME>/server.db``
``WATTPRINT_SERVER_PEPPER``  the server-side secret API key hashes are keyed with; default: the
                             contents of ``<WATTPRINT_HOME>/server.pepper``, created (mode 0600)
                             on first use. Losing it invalidates every API key.
``WATTPRINT_SERVER_MAX_BODY_BYTES`` / ``WATTPRINT_SERVER_MAX_ITEMS``  ingestion limits
                             (default 10 MB and 10,000 items per request).
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_ITEMS", "Settings", "load_pepper"]

DEFAULT_MAX_BODY_BYTES = 10_000_000
DEFAULT_MAX_ITEMS = 10_000


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str
    # None: read (or create) the pepper file beside the default database, see load_pepper()
    pepper: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_items: int = DEFAULT_MAX_ITEMS
    home: str | None = None  # where the pepper file lives when no pepper is given

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, db_url: str | None = None) -> Settings:
        """Settings from ``WATTPRINT_SERVER_*`` variables; ``db_url`` (a flag) wins."""
        from ..config import default_home

        home = default_home(environ)
        url = db_url or environ.get("WATTPRINT_SERVER_DB") or f"sqlite:///{home / 'server.db'}"
        return cls(
            db_url=url,
            pepper=environ.get("WATTPRINT_SERVER_PEPPER") or None,
            max_body_bytes=_positive_int(environ, "WATTPRINT_SERVER_MAX_BODY_BYTES",
                                         DEFAULT_MAX_BODY_BYTES),
            max_items=_positive_int(environ, "WATTPRINT_SERVER_MAX_ITEMS", DEFAULT_MAX_ITEMS),
            home=str(home),
        )


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    from ..errors import ConfigError

    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{name}={text!r} is not a positive whole number: set it to one "
                          f"(default {default}) or unset it")
    return value


def load_pepper(settings: Settings) -> bytes:
    """The pepper: the setting, else the pepper file (created with 32 random bytes, 0600)."""
    if settings.pepper:
        return settings.pepper.encode("utf-8")
    import os
    import secrets
    from pathlib import Path

    if settings.home is None:
        from ..errors import ConfigError

        raise ConfigError("no API key pepper: set WATTPRINT_SERVER_PEPPER or give Settings a "
                          "pepper or a home directory")
    path: Path = Path(settings.home) / "server.pepper"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two servers starting together agree on the first one's pepper
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="ascii").strip().encode("utf-8")
