"""The server's configuration file: TOML whose keys are the environment variables' names.

``db = "postgresql+psycopg://..."`` in the file is ``WATTPRINT_SERVER_DB`` in the environment;
the file only fills what the environment leaves unset, and a command-line flag beats both
(flag > environment > file > default). The file is ``--config PATH`` or
``WATTPRINT_SERVER_CONFIG``. Every key and value is checked when the file is read: an unknown
key, a wrong type or a bad value is a :class:`~wattprint.errors.ConfigError` naming the file,
the key and what to write instead. The pepper itself is refused in the file (config files get
copied, committed and pasted): name a file holding it with ``pepper_file``; a relative
``pepper_file`` is relative to the config file's folder.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping

__all__ = ["CONFIG_VARIABLE", "FILE_KEYS", "read_config_file", "with_config_file"]

CONFIG_VARIABLE = "WATTPRINT_SERVER_CONFIG"
_LOG_FORMATS = ("off", "json", "text")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _positive_int(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return str(value) if ok else None


def _port(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536
    return str(value) if ok else None


def _seconds(value: object) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e6
    return repr(float(value)) if ok else None  # type: ignore[arg-type]


def _log_format(value: object) -> str | None:
    return value if value in _LOG_FORMATS else None


# key -> (environment variable, checker returning the variable's text or None, what is allowed)
FILE_KEYS: dict[str, tuple[str, Callable[[object], str | None], str]] = {
    "db": ("WATTPRINT_SERVER_DB", _text, 'a database URL string, e.g. "sqlite:///srv/wp.db"'),
    "host": ("WATTPRINT_SERVER_HOST", _text, 'an address string, e.g. "0.0.0.0"'),
    "port": ("WATTPRINT_SERVER_PORT", _port, "a whole number from 1 to 65535"),
    "workers": ("WATTPRINT_SERVER_WORKERS", _positive_int, "a positive whole number"),
    "max_body_bytes": ("WATTPRINT_SERVER_MAX_BODY_BYTES", _positive_int,
                       "a positive whole number"),
    "max_items": ("WATTPRINT_SERVER_MAX_ITEMS", _positive_int, "a positive whole number"),
    "access_log": ("WATTPRINT_SERVER_ACCESS_LOG", _log_format, '"off", "json" or "text"'),
    "shutdown_timeout_s": ("WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S", _seconds,
                           "a positive number of seconds"),
    "pepper_file": ("WATTPRINT_SERVER_PEPPER_FILE", _text, "a file path string"),
}


def read_config_file(path: str) -> dict[str, str]:
    """The file's settings as environment variables (name -> text), every value checked."""
    from pathlib import Path

    from ..config import _read_toml  # the one TOML reader (tomllib, or tomli on 3.10)
    from ..errors import ConfigError

    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"server config file {file} does not exist: fix --config or "
                          f"{CONFIG_VARIABLE}", source=str(file))
    try:
        table = _read_toml(file)
    except OSError as exc:
        raise ConfigError(f"server config file {file} cannot be read ({exc.strerror}): fix "
                          "its permissions", source=str(file))
    variables: dict[str, str] = {}
    for key, value in table.items():
        if key == "pepper":
            raise ConfigError(f"{file}: key 'pepper' is not allowed in a config file (it gets "
                              "copied and committed): put the pepper in a file of its own "
                              "(mode 0600) and set pepper_file = \"PATH\", or set "
                              "WATTPRINT_SERVER_PEPPER", key=key, source=str(file))
        if key not in FILE_KEYS:
            raise ConfigError(f"{file}: unknown key {key!r}: the keys are "
                              f"{', '.join(sorted(FILE_KEYS))}", key=key, source=str(file))
        variable, check, allowed = FILE_KEYS[key]
        text = check(value)
        if text is None:
            raise ConfigError(f"{file}: {key} = {value!r} is not allowed: write {allowed}",
                              key=key, source=str(file))
        if key == "pepper_file":
            text = str(file.parent / Path(text).expanduser())  # absolute stays absolute
        variables[variable] = text
    return variables


def with_config_file(environ: Mapping[str, str], config_path: str | None) -> dict[str, str]:
    """``environ`` over the config file (``config_path``, else ``WATTPRINT_SERVER_CONFIG``)."""
    path = config_path or environ.get(CONFIG_VARIABLE) or None
    layered = read_config_file(path) if path else {}
    # an empty variable counts as unset, as the settings read them
    layered.update({name: value for name, value in environ.items() if value})
    return layered
