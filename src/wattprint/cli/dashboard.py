"""``dashboard``: the web dashboard over the local store, read-only, on this machine only.

``wattprint dashboard [--port N] [--host H] [--open] [--store PATH]`` prints the URL and serves
until Ctrl-C. It binds 127.0.0.1 by default and refuses any non-loopback address: the local
dashboard has no login, which comes with the team server's dashboard. Starlette, Jinja2 and
uvicorn (extra ``server``) are imported only inside the command.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from .common import UsageError, reading_settings, say

__all__ = ["add_dashboard", "check_loopback", "cmd_dashboard"]

DASHBOARD_EXTRA_HINT = "the dashboard needs the server extra: pip install 'wattprint[server]'"


def add_dashboard(sub: Any) -> None:
    dash = sub.add_parser(
        "dashboard", help="the web dashboard over the local store (read-only, this machine)",
        description="Serve the web dashboard over the stored runs: overview, runs table with "
                    "export, and each run's power, energy and intensity over time. Read-only, "
                    "no login: it listens on a loopback address only. Ctrl-C stops it.")
    dash.add_argument("--host", default="127.0.0.1",
                      help="loopback address to listen on (default: 127.0.0.1; other addresses "
                           "are refused: it has no login; the team server's /dashboard/ has "
                           "one)")
    dash.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0: any free)")
    dash.add_argument("--open", action="store_true", help="open the dashboard in a web browser")
    dash.add_argument("--store", metavar="PATH",
                      help="store file (or its directory) to read (default: the configured store)")
    dash.set_defaults(handler=cmd_dashboard)


def check_loopback(host: str) -> None:
    """Raise :class:`UsageError` unless ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"refusing to serve the dashboard on {host!r}: it has no login, so it listens on a "
            "loopback address only (127.0.0.1, ::1 or localhost). To look from another machine, "
            "forward the port over SSH: ssh -L 8765:127.0.0.1:8765 THIS-HOST")


def cmd_dashboard(args: Any) -> int:
    check_loopback(args.host)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise UsageError(DASHBOARD_EXTRA_HINT)
    from pathlib import Path

    from ..server.dashboard.app import LOOPBACK_HOSTS, create_dashboard_app
    from ..server.dashboard.local import LocalStoreData
    from ..store import open_repository

    store_path = Path(args.store).expanduser() if args.store else reading_settings().store_path
    repo = open_repository(store_path)
    for notice in repo.notices:
        say(notice)
    app = create_dashboard_app(LocalStoreData(repo), allowed_hosts=LOOPBACK_HOSTS)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    try:
        _serve(server, args)
    finally:
        repo.close()
    return 0


def _serve(server: Any, args: Any) -> None:
    import asyncio
    import socket
    import webbrowser

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host.strip("[]"), args.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); choose "
                         "another --port, or 0 for any free one")
    # Listening before the URL is printed: a client that reads it and connects at once queues
    # in the backlog until uvicorn accepts, instead of being refused.
    sock.listen(128)
    port = sock.getsockname()[1]
    shown = f"[{args.host.strip('[]')}]" if family == socket.AF_INET6 else args.host
    url = f"http://{shown}:{port}/"
    print(url, flush=True)  # stdout is data: the URL alone, for scripts
    say("dashboard: serving the local store read-only; Ctrl-C stops it")
    if args.open:
        webbrowser.open(url)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    sys.stdout.flush()
