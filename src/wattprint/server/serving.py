"""Serving the app under uvicorn, in one process or several, with a graceful stop.

``serve(settings)`` is what ``wattprint server serve`` runs. The app is built by a factory named
``"module:function"`` that reads its settings from the environment, because uvicorn's worker
processes (``workers`` > 1) can only import an app by name: the resolved settings (flags, file,
environment) are written to ``WATTPRINT_SERVER_*`` variables first (:func:`settings_environ`),
so every process builds the same app. One process builds it the same way, so both paths are one.

On SIGTERM or SIGINT the listening socket closes, requests in flight get up to
``shutdown_timeout_s`` to finish, and ``serve`` returns 0. With several workers uvicorn's
supervisor passes the signal on to each worker, which stops the same way; until the last worker
is gone the supervisor's copy of the socket still queues new connections, which are then reset
unanswered (a tracker's sink sends them again later).
"""

from __future__ import annotations

import contextlib
import signal
import threading

# Imported at once: this module is loaded only to serve, and the server class below extends it.
import uvicorn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from fastapi import FastAPI

    from .oidc import OidcSettings
    from .settings import Settings

__all__ = ["APP_FACTORY", "app_from_environ", "serve", "settings_environ"]

APP_FACTORY = "wattprint.server.serving:app_from_environ"


def settings_environ(settings: Settings) -> dict[str, str]:
    """The variables that make :meth:`Settings.from_environ` give back ``settings``."""
    variables = {
        "WATTPRINT_SERVER_DB": settings.db_url,
        "WATTPRINT_SERVER_HOST": settings.host,
        "WATTPRINT_SERVER_PORT": str(settings.port),
        "WATTPRINT_SERVER_WORKERS": str(settings.workers),
        "WATTPRINT_SERVER_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "WATTPRINT_SERVER_MAX_ITEMS": str(settings.max_items),
        "WATTPRINT_SERVER_ACCESS_LOG": settings.access_log,
        "WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S": repr(settings.shutdown_timeout_s),
    }
    if settings.home:
        variables["WATTPRINT_HOME"] = settings.home
    if settings.pepper:
        variables["WATTPRINT_SERVER_PEPPER"] = settings.pepper
    if settings.pepper_file:
        variables["WATTPRINT_SERVER_PEPPER_FILE"] = settings.pepper_file
    variables.update(_oidc_environ(settings.oidc))
    return variables


def _oidc_environ(oidc: OidcSettings | None) -> dict[str, str]:
    """The ``WATTPRINT_SERVER_OIDC_*`` variables of ``oidc``; an empty one reads as unset, so
    a variable the process inherited cannot turn on (or change) what was resolved."""
    prefix = "WATTPRINT_SERVER_OIDC_"
    if oidc is None:
        return {prefix + "ISSUER": ""}
    # a secret read from a file goes on as the file's path, not into the workers' environment
    secret = {"CLIENT_SECRET": "", "CLIENT_SECRET_FILE": oidc.client_secret_file} \
        if oidc.client_secret_file else {"CLIENT_SECRET": oidc.client_secret}
    return {prefix + name: value for name, value in {
        "ISSUER": oidc.issuer, "CLIENT_ID": oidc.client_id, **secret,
        "REDIRECT_URL": oidc.redirect_url,
        "AUTO_PROVISION": "true" if oidc.auto_provision else "false",
        "ALLOWED_DOMAINS": ",".join(oidc.allowed_domains),
        "DEFAULT_ORG": oidc.default_organisation or "",
    }.items()}


def app_from_environ() -> FastAPI:
    """The app from ``WATTPRINT_SERVER_*`` variables, its access log configured (each worker)."""
    import os

    from .accesslog import configure_access_log
    from .app import create_app
    from .settings import Settings

    settings = Settings.from_environ(os.environ)
    configure_access_log(settings.access_log)
    return create_app(settings)


def _import_factory(name: str) -> Any:
    import importlib

    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def serve(settings: Settings, *, factory: str = APP_FACTORY) -> int:
    """Serve until SIGTERM/SIGINT, finish in-flight requests, close the database, return 0."""
    import logging
    import logging.config
    import math
    import os

    from .accesslog import configure_access_log, uvicorn_log_config

    environ = settings_environ(settings)
    os.environ.update(environ)
    # the variables now say everything: a config file read again could only disagree
    os.environ.pop("WATTPRINT_SERVER_CONFIG", None)
    configure_access_log(settings.access_log)
    log_config = uvicorn_log_config(settings.access_log)
    # now, not when uvicorn does it: this first line is in the log's own format too
    logging.config.dictConfig(log_config)
    processes = f" with {settings.workers} worker processes" if settings.workers > 1 else ""
    logging.getLogger("wattprint.server").info(
        "serving on http://%s:%s%s (database %s)", settings.host, settings.port, processes,
        _safe_url(settings.db_url))
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "access_log": False,
        "log_config": log_config,
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_timeout_s)}
    if settings.workers > 1:
        uvicorn.run(factory, factory=True, workers=settings.workers, **options)
        return 0
    app = _import_factory(factory)()
    config = uvicorn.Config(app, **options)
    try:
        _GracefulServer(config).run()
    finally:
        app.state.engine.dispose()
    return 0


def _safe_url(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    rendered: str = make_url(db_url).render_as_string(hide_password=True)
    return rendered


class _GracefulServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version re-raises the signal once shut down, so a graceful stop would
        # end as "killed by SIGTERM" (143); a finished shutdown is a success (0).
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
