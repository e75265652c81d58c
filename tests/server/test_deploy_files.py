"""The Dockerfile, compose.yaml and the image's entrypoint, checked without Docker (no daemon
and no registry here): the compose file parses and names only settings and files that exist or
that the documented set-up creates, the Dockerfile copies only what the build context holds,
the entrypoint migrates and serves a real server, and the image's HEALTHCHECK command tells a
live server from none."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from wattprint.server.settings_file import CONFIG_VARIABLE, FILE_KEYS

yaml = pytest.importorskip("yaml", reason="PyYAML (test group) reads compose.yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
OPERATIONS_DOC = (ROOT / "docs" / "server-operations.md").read_text()
SERVER_VARIABLES = {variable for variable, _, _ in FILE_KEYS.values()} | {
    "WATTPRINT_SERVER_PEPPER", CONFIG_VARIABLE}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines()
            if line.split(None, 1)[:1] == [name]]


def _dockerignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
               for pattern in patterns)


def test_compose_runs_the_server_beside_a_healthy_postgres_16(compose):
    db, server = compose["services"]["db"], compose["services"]["server"]
    assert db["image"] == "postgres:16"
    volume, mount = db["volumes"][0].split(":", 1)
    assert mount == "/var/lib/postgresql/data" and volume in compose["volumes"]  # named volume
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert server["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert server["build"] == "." and (ROOT / "Dockerfile").is_file()
    # the database URL points at the db service and its database and user
    url = server["environment"]["WATTPRINT_SERVER_DB"]
    assert url.startswith("postgresql+psycopg://wattprint:") and url.endswith(
        "@db:5432/wattprint")
    assert (db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_DB"]) == (
        "wattprint", "wattprint")
    # the stop grace period outlasts the server's own shutdown timeout
    timeout_s = float(server["environment"]["WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S"])
    assert float(server["stop_grace_period"].rstrip("s")) > timeout_s


def test_compose_names_only_known_settings_and_hard_codes_no_secret(compose):
    server, db = compose["services"]["server"], compose["services"]["db"]
    wattprint_variables = {name for name in server["environment"] if name.startswith("WATTPRINT")}
    assert wattprint_variables <= SERVER_VARIABLES
    assert "WATTPRINT_SERVER_PEPPER" not in server["environment"]  # the pepper is a secret file
    [secret] = server["secrets"]
    assert server["environment"]["WATTPRINT_SERVER_PEPPER_FILE"] == f"/run/secrets/{secret}"
    secret_file = compose["secrets"][secret]["file"]
    # the operator creates it (documented) and git never sees it
    assert secret_file == "./secrets/pepper" and "secrets/pepper" in OPERATIONS_DOC
    assert "/secrets/" in (ROOT / ".gitignore").read_text() and _dockerignored("secrets")
    # the database password comes from .env, required, never written in the file
    for value in (db["environment"]["POSTGRES_PASSWORD"], server["environment"]["WATTPRINT_SERVER_DB"]):
        assert "${WATTPRINT_DB_PASSWORD:?" in value
    assert "WATTPRINT_DB_PASSWORD=" in OPERATIONS_DOC and _dockerignored(".env")


def test_dockerfile_builds_from_the_source_tree_as_a_non_root_user():
    assert _instructions("FROM") == ["python:3.11-slim"]
    [user] = _instructions("USER")
    assert user not in ("root", "0")
    assert "useradd" in " ".join(_instructions("RUN"))
    for copy in _instructions("COPY"):
        *sources, _target = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is not in the tree"
            assert not _dockerignored(source), f"COPY source {source} is in .dockerignore"
    assert any('pip install ".[server]"' in run for run in _instructions("RUN"))
    assert _instructions("EXPOSE") == ["8000"]
    env = " ".join(_instructions("ENV"))
    assert "WATTPRINT_SERVER_HOST=0.0.0.0" in env and "WATTPRINT_SERVER_PORT=8000" in env
    assert json.loads(_instructions("ENTRYPOINT")[0]) == ["wattprint-entrypoint"]
    assert "docker/entrypoint.sh /usr/local/bin/wattprint-entrypoint" in " ".join(
        _instructions("COPY"))
    # the build context leaves out the virtualenv, the git history and local databases
    assert all(_dockerignored(path) for path in (".venv", ".git", ".pgtest", "server.db"))


def _healthcheck_command() -> list[str]:
    [healthcheck] = _instructions("HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python" and "curl" not in healthcheck  # the slim image has no curl
    return [sys.executable, *command[1:]]


def test_the_entrypoint_is_valid_sh_that_migrates_then_execs_the_server():
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)
    assert os.access(ENTRYPOINT, os.X_OK)
    commands = [line for line in ENTRYPOINT.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert commands == ["set -eu", "wattprint server migrate",
                        'exec wattprint server serve "$@"']


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_entrypoint_serves_sqlite_and_the_healthcheck_sees_it(tmp_path):
    port = _free_port()
    environ = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "WATTPRINT_HOME": str(tmp_path / "home"), "WATTPRINT_SERVER_PORT": str(port),
               "WATTPRINT_SERVER_DB": f"sqlite:///{tmp_path / 'server.db'}"}
    healthcheck = _healthcheck_command()
    # nothing listens yet: the check fails, so it can tell
    assert subprocess.run(healthcheck, env=environ).returncode == 1
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(["sh", str(ENTRYPOINT)], env=environ,
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30.0
        while subprocess.run(healthcheck, env=environ).returncode != 0:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server never became healthy"
            time.sleep(0.05)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["status"] == "ready"  # migrated by the entrypoint before serving
        server.send_signal(signal.SIGTERM)  # exec: the signal reaches the server itself
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    text = log.read_text()
    assert re.search(r"database schema: empty -> \w+", text)
    assert '"path":"/readyz"' in text and '"message":"Shutting down"' in text
