"""Test-only server process: ``wattprint server serve`` with one hook that holds every ingest
in flight until the test says so, so a test can signal the server mid-request, deterministically.

Run as ``python tests/server/held_app.py [server flags]``. The hook is on only here: the folder
``WATTPRINT_TEST_HOLD_DIR`` gets ``held`` once an ingest has started reading its body, and the
body is handed over only once ``release`` exists there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from wattprint.cli import build_parser
from wattprint.cli.server import settings_from_args
from wattprint.server import serving


class HoldIngests:
    def __init__(self, app, hold_dir: Path) -> None:
        self.app = app
        self.hold_dir = hold_dir

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/api/v1/ingest":
            await self.app(scope, receive, send)
            return
        first = [True]

        async def held_receive():
            if first[0]:
                first[0] = False
                (self.hold_dir / "held").touch()
                while not (self.hold_dir / "release").exists():
                    await asyncio.sleep(0.005)
            return await receive()

        await self.app(scope, held_receive, send)


def app_from_environ():
    """serving.app_from_environ's app with the hook: what every server process builds."""
    app = serving.app_from_environ()
    app.add_middleware(HoldIngests, hold_dir=Path(os.environ["WATTPRINT_TEST_HOLD_DIR"]))
    return app


def main() -> int:
    settings = settings_from_args(build_parser().parse_args(["server", *sys.argv[1:]]))
    return serving.serve(settings, factory="held_app:app_from_environ")


if __name__ == "__main__":
    sys.exit(main())
