"""The team-server login: ``<user config dir>/credentials.json``, written by ``wattprint login``.

One JSON object ``{"server_url": ..., "api_key": ...}`` in the directory of the user config file
(``$WATTPRINT_CONFIG``'s folder, else ``$XDG_CONFIG_HOME/wattprint``). It is kept apart from
``config.toml`` because it holds a secret: it is created with mode 0600 (owner only) through a
temporary file and a rename, so a reader never sees half a file and the key is never, even
briefly, readable by others. JSON rather than TOML because the standard library writes JSON.

The http sink reads it when ``server_url`` / ``server_api_key`` are not set by the config
(arguments, ``WATTPRINT_SERVER_URL`` / ``WATTPRINT_SERVER_API_KEY``, config files).
"""

from __future__ import annotations

import os

from ._struct import dataclass, field
from .errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

__all__ = ["Credentials", "credentials_path", "load_credentials", "save_credentials"]

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    server_url: str
    api_key: str = field(repr=False)  # never printed


def credentials_path(environ: Mapping[str, str]) -> Path:
    from .config import user_config_path

    return user_config_path(environ).parent / FILE_NAME


def load_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """The saved login, or None when there is none; a damaged file is a clear error."""
    import json

    path = credentials_path(environ)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the saved login {path}: {exc}; run `wattprint login URL` "
                          "again", source=str(path)) from exc
    try:
        data = json.loads(text)
        url, key = data["server_url"], data["api_key"]
        if not (isinstance(url, str) and isinstance(key, str) and url and key):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"the saved login {path} is damaged (expected server_url and api_key); "
                          "run `wattprint login URL` again", source=str(path)) from None
    return Credentials(server_url=url.rstrip("/"), api_key=key)


def save_credentials(environ: Mapping[str, str], credentials: Credentials) -> Path:
    """Write the login with mode 0600, replacing any earlier one; returns the file's path."""
    import json
    import secrets

    path = credentials_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{FILE_NAME}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    data = json.dumps({"server_url": credentials.server_url, "api_key": credentials.api_key},
                      indent=2) + "\n"
    # O_EXCL + 0600 from the start: the secret is never in a file others can read.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return path
