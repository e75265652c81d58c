"""The REAL team server for the client tests: a fresh migrated SQLite database with the first
organisation bootstrapped, and the app under uvicorn on 127.0.0.1 (stoppable and restartable
on one port). Imported by name, like run_items.py beside it."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from wattprint.server.accounts import bootstrap
from wattprint.server.app import create_app
from wattprint.server.db import make_engine
from wattprint.server.migrate import upgrade
from wattprint.server.settings import Settings

PEPPER = "client-test-pepper"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bootstrapped(tmp_path: Path, pepper: str = PEPPER) -> tuple[str, Any, Any]:
    """(database URL, engine, bootstrapped organisation) of a fresh server database."""
    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        org = bootstrap(connection, organisation="Acme", email="owner@acme.test",
                        password="correct horse battery", pepper=pepper.encode(),
                        now_s=time.time())
    return db_url, engine, org


class RealServer:
    """The server app under uvicorn on 127.0.0.1, stoppable and restartable on one port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.project_id = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def down(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10.0)
            self._server = None
