"""The PostgreSQL half of the server tests' ``db_url``: a fresh database per test on the private
test server that ``make test`` starts (tools/pg_test_server.sh), dropped after the test.

Without the server's URL the PostgreSQL tests fail, saying how to start it: a skipped half of the
suite would read as green. ``WATTPRINT_TEST_NO_PG=1`` is the explicit opt-out (they skip, saying so).
"""

from __future__ import annotations

import itertools
import os
import secrets

import pytest

URL_VARIABLE = "WATTPRINT_TEST_PG_URL"
OPT_OUT_VARIABLE = "WATTPRINT_TEST_NO_PG"

_database_numbers = itertools.count()


def server_url(environ: dict[str, str]) -> str:
    """The test server's URL from ``environ``; skips on the opt-out, fails when it is missing."""
    if environ.get(OPT_OUT_VARIABLE) == "1":
        pytest.skip(f"{OPT_OUT_VARIABLE}=1: the PostgreSQL half of the server tests is switched off")
    url = environ.get(URL_VARIABLE, "").strip()
    if not url:
        pytest.fail(
            f"{URL_VARIABLE} is not set, so the server tests cannot reach PostgreSQL: run `make test`, "
            f"or `export {URL_VARIABLE}=\"$(tools/pg_test_server.sh start)\"` before pytest "
            f"({OPT_OUT_VARIABLE}=1 skips these tests instead)",
            pytrace=False,
        )
    if not url.startswith("postgresql"):
        pytest.fail(f"{URL_VARIABLE} must be a postgresql+psycopg:// URL, not {url!r}", pytrace=False)
    return url


def new_database_name() -> str:
    # pid: concurrent pytest runs share the server; the random part: a crashed run's leftovers
    # never collide with the next run's names.
    return f"wptest_{os.getpid()}_{next(_database_numbers)}_{secrets.token_hex(3)}"


def create_database(admin_engine, name: str) -> str:
    """Creates database ``name`` and returns the URL of it (the admin engine's URL, other database)."""
    with admin_engine.connect() as connection:
        # FILE_COPY copies template1's files; WAL_LOG (the default) logs every page: 57 vs 71 ms here
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
    return admin_engine.url.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_engine, name: str) -> None:
    with admin_engine.connect() as connection:
        # FORCE: a test that left a connection open must not leave its database behind
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
