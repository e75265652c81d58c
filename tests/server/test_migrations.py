"""Alembic: an empty database migrates to the models; readiness follows the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from wattprint.server.app import create_app
from wattprint.server.db import make_engine
from wattprint.server.migrate import current_revision, head_revision, upgrade
from wattprint.server.models import Base


def test_migrations_build_exactly_the_models_from_an_empty_database(db_url):
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None and inspect(engine).get_table_names() == []

        upgrade(engine)

        assert current_revision(engine) == head_revision() is not None
        assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
            "alembic_version"}
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []  # a model change without a revision fails here
        upgrade(engine)  # again: nothing to do
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_readyz_is_503_until_the_database_is_migrated(settings, db_url):
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        before = client.get("/readyz")
        upgrade(app.state.engine)
        after = client.get("/readyz")
    app.state.engine.dispose()
    assert before.status_code == 503 and before.json()["status"] == "unmigrated"
    assert "wattprint server migrate" in before.json()["message"]
    assert after.status_code == 200 and after.json() == {"status": "ready", "revision": head_revision()}


def test_the_openapi_document_lists_the_routes(client):
    document = client.get("/openapi.json")

    assert document.status_code == 200
    paths = document.json()["paths"]
    assert {"/healthz", "/readyz", "/api/v1/ingest"} <= set(paths)
    body = paths["/api/v1/ingest"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["items"]


def test_migrating_keeps_the_expression_indexes_and_says_nothing_about_them(db_url):
    import warnings

    engine = make_engine(db_url)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            upgrade(engine)
        assert [str(w.message) for w in caught if "reflection" in str(w.message)] == []
        names = {ix["name"] for ix in inspect(engine).get_indexes("runs")}
        if engine.dialect.name == "sqlite":  # SQLite's inspector leaves expression indexes out
            with engine.connect() as connection:
                names |= {row[0] for row in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs'")}
        assert {"ix_runs_sort", "ix_runs_project_sort"} <= names
    finally:
        engine.dispose()
