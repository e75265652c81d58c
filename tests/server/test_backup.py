"""Backups: `wattprint server backup --to FILE` copies a live SQLite database consistently while
another process writes, and the copy restores; the documented pg_dump/pg_restore steps round-trip
a PostgreSQL database (docs/server-operations.md)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pg_harness
import pytest
from fastapi.testclient import TestClient
from server_constants import PEPPER  # tests/server is on sys.path (see conftest)
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from wattprint.cli import main
from wattprint.server.app import create_app
from wattprint.server.db import make_engine
from wattprint.server.migrate import current_revision, head_revision
from wattprint.server.models import IntervalRecord, Summary
from wattprint.server.settings import Settings

# Another process writing as fast as it can: each transaction adds a row and bumps a counter,
# so a copy taken at one moment has exactly as many rows as its counter says.
WRITER = """
import sqlite3, sys, pathlib
db, started, stop = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
connection = sqlite3.connect(db, timeout=30, isolation_level=None)
connection.execute("CREATE TABLE probe_rows (n INTEGER PRIMARY KEY, padding TEXT)")
connection.execute("CREATE TABLE probe_counter (n INTEGER)")
connection.execute("INSERT INTO probe_counter VALUES (0)")
n = 0
while not stop.exists():
    n += 1
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO probe_rows VALUES (?, ?)", (n, "x" * 2000))
    connection.execute("UPDATE probe_counter SET n = ?", (n,))
    connection.execute("COMMIT")
    if n == 200:
        started.touch()
"""


def _until(condition, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_backup_of_a_live_sqlite_database_is_consistent_and_restores(tmp_path, capsys):
    live = tmp_path / "server.db"
    url = f"sqlite:///{live}"
    assert main(["server", "migrate", "--db", url]) == 0
    started, stop = tmp_path / "started", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(live), str(started), str(stop)])
    try:
        _until(started.exists, "the writer's first 200 transactions")
        backup = tmp_path / "backups" / "server-1.db"
        backup.parent.mkdir()
        assert main(["server", "backup", "--db", url, "--to", str(backup)]) == 0
        copied_while_writing = writer.poll() is None
    finally:
        stop.touch()
        assert writer.wait(30) == 0
    assert copied_while_writing
    assert f"to {backup} ({backup.stat().st_size} bytes)" in capsys.readouterr().err
    assert not backup.with_name("server-1.db.partial").exists()

    copy = sqlite3.connect(backup)
    counter = copy.execute("SELECT n FROM probe_counter").fetchone()[0]
    rows = [n for (n,) in copy.execute("SELECT n FROM probe_rows ORDER BY n")]
    assert counter >= 200 and rows == list(range(1, counter + 1))  # one moment, no torn write
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    copy.close()
    with sqlite3.connect(live) as original:
        written = original.execute("SELECT n FROM probe_counter").fetchone()[0]
        first_rows = original.execute("SELECT n, padding FROM probe_rows WHERE n <= ? ORDER BY n",
                                      (counter,)).fetchall()
    assert written > counter  # the writer went on after the copy
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT n, padding FROM probe_rows ORDER BY n").fetchall() == first_rows

    # restore, as documented: the server stopped, the backup copied into place, started again
    restored = tmp_path / "restored" / "server.db"
    restored.parent.mkdir()
    shutil.copyfile(backup, restored)
    app = create_app(Settings(db_url=f"sqlite:///{restored}", pepper=PEPPER))
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"status": "ready", "revision": head_revision()}
    app.state.engine.dispose()


def test_backup_refuses_to_overwrite_and_says_what_to_do_otherwise(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    assert main(["server", "migrate", "--db", url]) == 0
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"an older backup")
    assert main(["server", "backup", "--db", url, "--to", str(taken)]) == 1
    assert "exists: a backup never overwrites" in capsys.readouterr().err
    assert taken.read_bytes() == b"an older backup"
    assert main(["server", "backup", "--db", url]) == 2
    assert "needs --to FILE" in capsys.readouterr().err
    assert main(["server", "backup", "--db", "postgresql+psycopg://u@/db?host=/nowhere",
                 "--to", str(tmp_path / "x")]) == 1
    assert "back up PostgreSQL with pg_dump" in capsys.readouterr().err
    assert main(["server", "backup", "--db", f"sqlite:///{tmp_path / 'absent.db'}",
                 "--to", str(tmp_path / "y")]) == 1
    assert "no database at" in capsys.readouterr().err


def _pg_bindir() -> Path:
    # as tools/pg_test_server.sh finds it: the highest installed major version
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"),
                   key=lambda path: int(path.parent.parent.name))
    if not found:
        pytest.fail("no pg_dump under /usr/lib/postgresql/*/bin: run tools/pg_test_server.sh "
                    "start (it installs PostgreSQL)")
    return found[-1].parent


def _libpq_args(db_url: str) -> list[str]:
    url = make_url(db_url)
    return ["--host", str(url.query["host"]), "--port", str(url.query.get("port", 5432)),
            "--username", str(url.username), "--dbname", str(url.database)]


def test_the_documented_pg_dump_and_pg_restore_steps_round_trip(db_url, client, auth, engine,
                                                                 run_objects, tmp_path,
                                                                 pg_admin_engine):
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_dump is for PostgreSQL; SQLite has `wattprint server backup`")
    items, summary = run_objects
    assert client.post("/api/v1/ingest", json={"items": items}, headers=auth).status_code == 200
    bindir, dump = _pg_bindir(), tmp_path / "wattprint.dump"
    subprocess.run([str(bindir / "pg_dump"), "--format=custom", f"--file={dump}",
                    *_libpq_args(db_url)], check=True)
    name = pg_harness.new_database_name()
    restored_url = pg_harness.create_database(pg_admin_engine, name)
    try:
        subprocess.run([str(bindir / "pg_restore"), "--clean", "--if-exists", "--no-owner",
                        *_libpq_args(restored_url), str(dump)], check=True)
        restored = make_engine(restored_url)
        with restored.connect() as connection:
            records = connection.execute(select(func.count()).select_from(IntervalRecord)).scalar()
            energy = connection.execute(select(Summary.energy_j)).scalar()
        assert current_revision(restored) == head_revision()
        assert records == summary.records and energy == pytest.approx(summary.energy_j["total"])
        restored.dispose()
        # the restored database serves: the same batch again is all duplicates, keys still work
        app = create_app(Settings(db_url=restored_url, pepper=PEPPER))
        with TestClient(app) as again:
            answer = again.post("/api/v1/ingest", json={"items": items}, headers=auth).json()
        app.state.engine.dispose()
        assert answer["duplicates"] >= summary.records
    finally:
        pg_harness.drop_database(pg_admin_engine, name)
