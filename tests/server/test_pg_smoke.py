"""The database harness itself: each ``db_url`` is a fresh, working database on its engine, and the
PostgreSQL half never turns silently into a skip."""

from __future__ import annotations

import pg_harness
import pytest
from sqlalchemy import create_engine, inspect, text


def test_each_db_url_is_a_fresh_database_that_stores_and_returns_rows(db_url):
    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == []  # a database of its own, never a reused one
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, energy_j FLOAT NOT NULL)"))
            connection.execute(text("INSERT INTO probe (id, energy_j) VALUES (1, 12.5), (2, 0.25)"))
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, energy_j FROM probe ORDER BY id")).all()
            if db_url.startswith("postgresql"):
                assert engine.dialect.driver == "psycopg"
                assert connection.execute(text("SELECT version()")).scalar().startswith("PostgreSQL ")
                assert connection.execute(text("SELECT current_database()")).scalar() == engine.url.database
            else:
                assert engine.dialect.name == "sqlite"
        assert [tuple(row) for row in rows] == [(1, 12.5), (2, 0.25)]
    finally:
        engine.dispose()


def test_without_the_server_url_the_postgresql_tests_fail_saying_how_to_start_it():
    with pytest.raises(pytest.fail.Exception, match="run `make test`") as failure:
        pg_harness.server_url({})
    assert "tools/pg_test_server.sh start" in str(failure.value)
    assert "WATTPRINT_TEST_NO_PG=1" in str(failure.value)


def test_only_the_explicit_opt_out_skips_them():
    with pytest.raises(pytest.skip.Exception, match="WATTPRINT_TEST_NO_PG=1"):
        pg_harness.server_url({"WATTPRINT_TEST_NO_PG": "1"})
    with pytest.raises(pytest.fail.Exception):
        pg_harness.server_url({"WATTPRINT_TEST_NO_PG": "0"})


def test_a_url_of_another_database_is_refused():
    with pytest.raises(pytest.fail.Exception, match="postgresql"):
        pg_harness.server_url({"WATTPRINT_TEST_PG_URL": "sqlite:///x.db"})
    url = "postgresql+psycopg://wattprint@/postgres?host=/tmp/s&port=54329"
    assert pg_harness.server_url({"WATTPRINT_TEST_PG_URL": f" {url}\n"}) == url
