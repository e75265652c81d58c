"""The server's configuration file: TOML whose keys are the environment variables' names.

``db = "postgresql+psycopg://..."`` in the file is ``WATTPRINT_SERVER_DB`` in the environment;
the file only fills what the environment leaves unset, and a command-line flag beats both
(flag > environment > file > default). The file is ``--config PATH`` or
``WATTPRINT_SERVER_CONFIG``. Every key and value is checked when the file is read: an unknown
key, a wrong type or a bad value is a :class:`~wattprint.errors.ConfigError` naming the file,
the key and what to write instead. The pepper itself is refused in the file (config files get
copied, committed and pasted): name a file holding it with ``pepper_file``; a relative
``pepper_file`` is relative to the config file's folder. The same goes for the OpenID client
secret (``oidc_client_secret_file``, never ``oidc_client_secret``). The ``oidc_*`` keys are
oidc.py's ``WATTPRINT_SERVER_OIDC_*`` variables; what needs several of them together (a client
id once an issuer is set, say) is checked once environment and file are layered.
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


def _flag(value: object) -> str | None:
    return ("true" if value else "false") if isinstance(value, bool) else None


def _web_url(value: object) -> str | None:
    # the variable's rule, checked here too so that the refusal names the key and the file
    from .oidc import is_web_url

    return value.strip() if isinstance(value, str) and is_web_url(value.strip()) else None


def _callback_url(value: object) -> str | None:
    from .oidc import CALLBACK_PATH

    url = _web_url(value)
    return url if url is not None and url.endswith(CALLBACK_PATH) else None


def _domains(value: object) -> str | None:
    # a TOML list of domains; the variable is the same list comma-separated
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(d, str) and d.strip() and "," not in d for d in value):
        return None
    return ",".join(d.strip() for d in value)


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
    "oidc_issuer": ("WATTPRINT_SERVER_OIDC_ISSUER", _web_url,
                    'the provider\'s https:// issuer URL, e.g. "https://idp.example.com/realms/'
                    'acme" (http only for localhost)'),
    "oidc_client_id": ("WATTPRINT_SERVER_OIDC_CLIENT_ID", _text,
                       "the client id string registered at the provider"),
    "oidc_client_secret_file": ("WATTPRINT_SERVER_OIDC_CLIENT_SECRET_FILE", _text,
                                "a file path string"),
    "oidc_redirect_url": ("WATTPRINT_SERVER_OIDC_REDIRECT_URL", _callback_url,
                          "this server's public https:// URL ending in /api/v1/oidc/callback"),
    "oidc_auto_provision": ("WATTPRINT_SERVER_OIDC_AUTO_PROVISION", _flag, "true or false"),
    "oidc_allowed_domains": ("WATTPRINT_SERVER_OIDC_ALLOWED_DOMAINS", _domains,
                             'a list of e-mail domains, e.g. ["acme.example"]'),
    "oidc_default_org": ("WATTPRINT_SERVER_OIDC_DEFAULT_ORG", _text,
                         "the slug string of the organisation new users join"),
}
# secrets that must come from a file of their own: key -> the key (or variable) to use instead
_SECRET_KEYS = {
    "pepper": ("pepper_file", "WATTPRINT_SERVER_PEPPER"),
    "oidc_client_secret": ("oidc_client_secret_file", "WATTPRINT_SERVER_OIDC_CLIENT_SECRET"),
}
_RELATIVE_TO_FILE = ("pepper_file", "oidc_client_secret_file")


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
        if key in _SECRET_KEYS:  # the value is never echoed
            file_key, variable = _SECRET_KEYS[key]
            raise ConfigError(f"{file}: key {key!r} is not allowed in a config file (it gets "
                              "copied and committed): put the secret in a file of its own "
                              f"(mode 0600) and set {file_key} = \"PATH\", or set {variable}",
                              key=key, source=str(file))
        if key not in FILE_KEYS:
            raise ConfigError(f"{file}: unknown key {key!r}: the keys are "
                              f"{', '.join(sorted(FILE_KEYS))}", key=key, source=str(file))
        variable, check, allowed = FILE_KEYS[key]
        text = check(value)
        if text is None:
            raise ConfigError(f"{file}: {key} = {value!r} is not allowed: write {allowed}",
                              key=key, source=str(file))
        if key in _RELATIVE_TO_FILE:
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
