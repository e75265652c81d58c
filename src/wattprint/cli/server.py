"""``server``: run the team server, migrate its database, bootstrap its first organisation.

``wattprint server [--db URL] [--host H] [--port P]`` serves (uvicorn);
``wattprint server migrate`` brings the database to the newest schema (``--rebuild-rollups``:
then recomputes the query rollups from the records);
``wattprint server admin`` creates the first organisation, its owner and an ingest key;
``wattprint server backup --to FILE`` copies a live SQLite database consistently.

Settings: flag > ``WATTPRINT_SERVER_*`` variable > config file (``--config`` or
``WATTPRINT_SERVER_CONFIG``, see server/settings_file.py) > default. Serving (server/serving.py)
writes one access line per request to stderr (server/accesslog.py; uvicorn's own access log is
off) and, on SIGTERM or SIGINT, stops accepting connections, lets requests in flight finish (at
most ``shutdown_timeout_s``), closes the database engine and exits 0.

On SQLite (the default, ``<WATTPRINT_HOME>/server.db``) serving and ``admin`` migrate first, so
``wattprint server`` alone works; on PostgreSQL they refuse an unmigrated database and say to
run ``wattprint server migrate`` (a team upgrades its schema on purpose, after a backup).
The server's packages (extra ``server``) are imported only inside these commands.
"""

from __future__ import annotations

import sys
from typing import Any

from .common import EXIT_FAILURE, UsageError, print_json, say

SERVER_EXTRA_HINT = "the server needs its extra: pip install 'wattprint[server]'"


def add_server(sub: Any) -> None:
    server = sub.add_parser(
        "server", help="the team server: serve, `migrate` or `backup` its database, `admin` bootstrap",
        description="Run the team server (FastAPI on uvicorn), migrate or back up its database, "
                    "or create its first organisation, owner and ingest API key. The database is "
                    "WATTPRINT_SERVER_DB or --db (default: SQLite in the wattprint home).")
    server.add_argument("action", nargs="?", choices=("serve", "migrate", "admin", "backup"),
                        default="serve", help="serve (default), migrate, admin, or backup")
    server.add_argument("--config", metavar="FILE",
                        help="a TOML settings file (default: WATTPRINT_SERVER_CONFIG); "
                             "environment variables and flags override it")
    server.add_argument("--db", metavar="URL",
                        help="database URL: sqlite:///PATH or postgresql+psycopg://...")
    server.add_argument("--host", help="address to listen on (serve; default 127.0.0.1)")
    server.add_argument("--port", type=int, help="port to listen on (serve; default 8000)")
    server.add_argument("--workers", type=int, metavar="N",
                        help="server processes (serve; default 1)")
    server.add_argument("--access-log", choices=("off", "json", "text"),
                        help="access log on stderr (serve; default json)")
    server.add_argument("--shutdown-timeout", type=float, metavar="SECONDS",
                        help="on SIGTERM/SIGINT, how long requests in flight may take to "
                             "finish (serve; default 30)")
    server.add_argument("--to", metavar="FILE", help="backup: the new file to write")
    server.add_argument("--rebuild-rollups", action="store_true",
                        help="migrate: then recompute the query rollups from the records "
                             "(after restoring records by hand, say)")
    server.add_argument("--organisation", metavar="NAME", help="organisation name (admin)")
    server.add_argument("--email", metavar="ADDRESS", help="the owner's e-mail (admin)")
    server.add_argument("--project", default="default",
                        help="the first project, which the ingest key writes to (admin)")
    server.add_argument("--password-stdin", action="store_true",
                        help="read the owner's password from the first line of stdin (admin; "
                             "default: ask twice on the terminal)")
    server.add_argument("--json", action="store_true",
                        help="admin: print the result as JSON (with the key, shown once)")
    server.set_defaults(handler=cmd_server)


# flag -> the variable it overrides (a flag beats the environment, which beats the file)
_FLAG_VARIABLES = {"host": "WATTPRINT_SERVER_HOST", "port": "WATTPRINT_SERVER_PORT",
                   "workers": "WATTPRINT_SERVER_WORKERS",
                   "access_log": "WATTPRINT_SERVER_ACCESS_LOG",
                   "shutdown_timeout": "WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S"}


def settings_from_args(args: Any) -> Any:
    import os

    from ..server.settings import Settings

    environ = dict(os.environ)
    for flag, variable in _FLAG_VARIABLES.items():
        value = getattr(args, flag, None)
        if value is not None:
            environ[variable] = str(value)
    return Settings.from_environ(environ, db_url=args.db, config_path=args.config)


def _ready_schema(engine: Any) -> None:
    """SQLite: migrate now. PostgreSQL: refuse a database that is not at the newest schema."""
    from ..server.migrate import current_revision, head_revision, upgrade

    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise UsageError(f"the database is at schema {current or 'none'}, not {head}: run "
                         "`wattprint server migrate` first (after a backup)")


def cmd_server(args: Any) -> int:
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise UsageError(SERVER_EXTRA_HINT)
    settings = settings_from_args(args)
    if args.action == "migrate":
        return _migrate(settings, rebuild_rollups=args.rebuild_rollups)
    if args.action == "admin":
        return _admin(settings, args)
    if args.action == "backup":
        return _backup(settings, args)
    return _serve(settings)


def _backup(settings: Any, args: Any) -> int:
    from ..server.backup import backup_sqlite

    if not args.to:
        raise UsageError("`server backup` needs --to FILE (a new file)")
    try:
        result = backup_sqlite(settings.db_url, args.to)
    except ValueError as exc:
        say(f"server backup: {exc}")
        return EXIT_FAILURE
    say(f"backed up {_safe_url(settings.db_url)} to {result.path} ({result.size_bytes} bytes)")
    return 0


def _migrate(settings: Any, *, rebuild_rollups: bool = False) -> int:
    from ..server.db import make_engine
    from ..server.migrate import current_revision, upgrade

    engine = make_engine(settings.db_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
        if rebuild_rollups:
            from ..server.rollups import rebuild

            with engine.begin() as connection:  # one transaction: readers see old or new sums
                records = rebuild(connection)
    finally:
        engine.dispose()
    say(f"database schema: {before or 'empty'} -> {after}" if before != after
        else f"database schema already at {after}")
    if rebuild_rollups:
        say(f"rollups rebuilt from {records} records")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("owner password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ: run the command again")
    return first


def _admin(settings: Any, args: Any) -> int:
    import time

    from ..server.accounts import bootstrap
    from ..server.db import make_engine
    from ..server.settings import load_pepper

    if not args.organisation or not args.email:
        raise UsageError("`server admin` needs --organisation NAME and --email ADDRESS")
    password = _read_password(args.password_stdin)
    engine = make_engine(settings.db_url)
    try:
        _ready_schema(engine)
        with engine.begin() as connection:
            try:
                made = bootstrap(connection, organisation=args.organisation, email=args.email,
                                 password=password, pepper=load_pepper(settings),
                                 now_s=time.time(), project=args.project)
            except ValueError as exc:
                say(f"server admin: {exc}")
                return EXIT_FAILURE
    finally:
        engine.dispose()
    if args.json:
        print_json({"organisation_id": made.organisation_id, "project_id": made.project_id,
                    "user_id": made.user_id, "api_key": made.api_key})
    else:
        say(f"organisation {args.organisation!r} created, owner {args.email}, project "
            f"{args.project!r}; the ingest API key below is shown once, keep it now")
        print(made.api_key)
    return 0


def _serve(settings: Any) -> int:
    from ..server.db import make_engine
    from ..server.serving import serve

    engine = make_engine(settings.db_url)
    try:
        _ready_schema(engine)
    finally:
        engine.dispose()
    return serve(settings)


def _safe_url(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    rendered: str = make_url(db_url).render_as_string(hide_password=True)
    return rendered
