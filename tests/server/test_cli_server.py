"""`wattprint server migrate` and `wattprint server admin`; the tracker never loads the server."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from wattprint.cli import main
from wattprint.errors import ConfigError
from wattprint.server.app import create_app
from wattprint.server.db import make_engine
from wattprint.server.migrate import current_revision, head_revision
from wattprint.server.models import Membership, Organisation, User
from wattprint.server.passwords import verify_password
from wattprint.server.settings import Settings

PASSWORD = "a long enough password"


def admin(monkeypatch, db_url, *extra, password=PASSWORD, migrate=True):
    if migrate:
        assert main(["server", "migrate", "--db", db_url]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    return main(["server", "admin", "--db", db_url, "--organisation", "Acme Research",
                 "--email", "Owner@Acme.test", "--password-stdin", *extra])


def test_migrate_brings_an_empty_database_to_the_newest_schema(db_url, capsys):
    assert main(["server", "migrate", "--db", db_url]) == 0
    assert f"empty -> {head_revision()}" in capsys.readouterr().err
    assert main(["server", "migrate", "--db", db_url]) == 0
    assert f"already at {head_revision()}" in capsys.readouterr().err
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_admin_bootstraps_the_owner_and_prints_a_working_ingest_key(db_url, monkeypatch, capsys,
                                                                    run_objects):
    assert admin(monkeypatch, db_url) == 0
    captured = capsys.readouterr()
    key = captured.out.strip()
    assert key.startswith("wp_") and "shown once" in captured.err
    engine = make_engine(db_url)
    with engine.connect() as connection:
        org = connection.execute(select(Organisation)).one()
        user = connection.execute(select(User)).one()
        membership = connection.execute(select(Membership)).one()
    engine.dispose()
    assert (org.name, org.slug) == ("Acme Research", "acme-research")
    assert user.email == "owner@acme.test" and membership.role == "owner"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert verify_password(PASSWORD, user.password_hash)
    assert not verify_password("wrong", user.password_hash)
    # the pepper file the CLI created is the one the server reads
    items, _ = run_objects
    app = create_app(Settings.from_environ({"WATTPRINT_HOME": str(_home())}, db_url=db_url))
    with TestClient(app) as client:
        response = client.post("/api/v1/ingest", json={"items": items},
                               headers={"Authorization": f"Bearer {key}"})
    app.state.engine.dispose()
    assert response.status_code == 200 and response.json()["accepted"] == len(items)


def _home():
    import os
    from pathlib import Path

    return Path(os.environ["WATTPRINT_HOME"])


def test_admin_refuses_a_second_bootstrap_and_bad_input(db_url, monkeypatch, capsys):
    assert admin(monkeypatch, db_url, "--json") == 0
    assert json.loads(capsys.readouterr().out)["api_key"].startswith("wp_")

    assert admin(monkeypatch, db_url) == 1
    assert "already has an organisation" in capsys.readouterr().err
    assert main(["server", "admin", "--db", db_url]) == 2
    assert "--organisation" in capsys.readouterr().err


def test_admin_refuses_a_short_password(db_url, monkeypatch, capsys):
    assert admin(monkeypatch, db_url, password="short") == 1
    assert "12 characters" in capsys.readouterr().err


def test_on_sqlite_admin_migrates_first(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # zero set-up: no `migrate` before
    assert admin(monkeypatch, url, migrate=False) == 0
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_on_postgresql_admin_refuses_an_unmigrated_database(db_url, monkeypatch, capsys):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite migrates on the way (see above)")
    assert admin(monkeypatch, db_url, migrate=False) == 2
    assert "wattprint server migrate" in capsys.readouterr().err


def test_settings_come_from_the_environment_and_are_checked(tmp_path):
    settings = Settings.from_environ({"WATTPRINT_HOME": str(tmp_path),
                                      "WATTPRINT_SERVER_MAX_ITEMS": "500"})
    assert settings.db_url == f"sqlite:///{tmp_path / 'server.db'}"
    assert settings.max_items == 500 and settings.max_body_bytes == 10_000_000
    assert not (tmp_path / "server.db").exists()  # nothing created by reading settings
    with pytest.raises(ConfigError, match="WATTPRINT_SERVER_MAX_ITEMS"):
        Settings.from_environ({"WATTPRINT_SERVER_MAX_ITEMS": "-3"})


def test_the_tracker_and_the_cli_help_load_no_server_package():
    code = ("import sys, wattprint; from wattprint import Tracker; "
            "from wattprint.cli import build_parser; build_parser(); "
            "heavy = {'fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'argon2', 'starlette', "
            "'jsonschema', 'psycopg', 'wattprint.server'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
