"""What the server runs with: the database URL, the key pepper and the ingestion limits.

Built explicitly (tests, embedding) or from environment variables with
:meth:`Settings.from_environ`; nothing is read or created at import time.

``WATTPRINT_SERVER_DB``      database URL; default ``sqlite:///<WATTPRINT_HOME>/server.db``
``WATTPRINT_SERVER_PEPPER``  the server-side secret API key hashes are keyed with; default: the
                             contents of ``<WATTPRINT_HOME>/server.pepper``, created (mode 0600)
                             on first use. Losing it invalidates every API key.
``WATTPRINT_SERVER_MAX_BODY_BYTES`` / ``WATTPRINT_SERVER_MAX_ITEMS``  ingestion limits
                             (default 10 MB and 10,000 items per request).
``WATTPRINT_SERVER_HOST`` / ``WATTPRINT_SERVER_PORT``  where ``serve`` listens (127.0.0.1:8000).
``WATTPRINT_SERVER_WORKERS``  how many server processes ``serve`` runs (1).
``WATTPRINT_SERVER_ACCESS_LOG``  ``json`` (default), ``text`` or ``off`` (see accesslog.py).
``WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S``  how long a stopping server lets requests finish (30).
``WATTPRINT_SERVER_PEPPER_FILE``  a file holding the pepper (a docker secret, say).
``WATTPRINT_SERVER_CONFIG``  a TOML file with the same settings under short keys (``db``,
                             ``port``, ...): it fills only what the environment leaves unset;
                             see settings_file.py. docs/server-operations.md lists them all.
``WATTPRINT_SERVER_OIDC_*``  optional sign-in through an OpenID provider (issuer, client id and
                             secret, redirect URL, auto-provisioning): see
                             :func:`.oidc.oidc_settings_from_environ`. Off when no issuer is set.
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

    from .oidc import OidcSettings

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
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # server processes (serving.py)
    access_log: str = "json"  # off | json | text
    shutdown_timeout_s: float = 30.0  # in-flight requests get this long after SIGTERM
    pepper_file: str | None = None  # read when no pepper is given
    oidc: OidcSettings | None = None  # None: local accounts only

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, db_url: str | None = None,
                     config_path: str | None = None) -> Settings:
        """Settings from ``WATTPRINT_SERVER_*`` variables over the config file (``config_path``,
        else ``WATTPRINT_SERVER_CONFIG``); ``db_url`` (a flag) wins."""
        from ..config import default_home
        from .oidc import oidc_settings_from_environ
        from .settings_file import with_config_file

        environ = with_config_file(environ, config_path)
        home = default_home(environ)
        url = db_url or environ.get("WATTPRINT_SERVER_DB") or f"sqlite:///{home / 'server.db'}"
        return cls(
            db_url=url,
            pepper=environ.get("WATTPRINT_SERVER_PEPPER") or None,
            max_body_bytes=_positive_int(environ, "WATTPRINT_SERVER_MAX_BODY_BYTES",
                                         DEFAULT_MAX_BODY_BYTES),
            max_items=_positive_int(environ, "WATTPRINT_SERVER_MAX_ITEMS", DEFAULT_MAX_ITEMS),
            home=str(home),
            host=environ.get("WATTPRINT_SERVER_HOST") or "127.0.0.1",
            port=_port(environ, "WATTPRINT_SERVER_PORT", 8000),
            workers=_positive_int(environ, "WATTPRINT_SERVER_WORKERS", 1),
            access_log=_log_format(environ, "WATTPRINT_SERVER_ACCESS_LOG", "json"),
            shutdown_timeout_s=_seconds(environ, "WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S", 30.0),
            pepper_file=environ.get("WATTPRINT_SERVER_PEPPER_FILE") or None,
            oidc=oidc_settings_from_environ(environ),
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


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    from ..errors import ConfigError

    value = _positive_int(environ, name, default)
    if value > 65535:
        raise ConfigError(f"{name}={value} is not a port: set it to 1-65535 or unset it")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    import math

    from ..errors import ConfigError

    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1e6:
        raise ConfigError(f"{name}={text!r} is not a positive number of seconds: set one "
                          f"(default {default:g}) or unset it")
    return value


def _log_format(environ: Mapping[str, str], name: str, default: str) -> str:
    from ..errors import ConfigError

    text = environ.get(name) or default
    if text not in ("off", "json", "text"):
        raise ConfigError(f"{name}={text!r}: choose off, json or text")
    return text


def _pepper_from_file(path: str) -> bytes:
    from pathlib import Path

    from ..errors import ConfigError

    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"pepper_file {path} cannot be read ({exc.strerror}): fix the path "
                          "or its permissions")
    if not text:
        raise ConfigError(f"pepper_file {path} is empty: write the pepper into it")
    return text.encode("utf-8")


def load_pepper(settings: Settings) -> bytes:
    """The pepper: the setting, else ``pepper_file``, else the pepper file in the home
    (created with 32 random bytes, 0600)."""
    if settings.pepper:
        return settings.pepper.encode("utf-8")
    if settings.pepper_file:
        return _pepper_from_file(settings.pepper_file)
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
