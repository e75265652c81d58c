"""Alembic environment: migrates the connection :mod:`wattprint.server.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from wattprint.server.models import Base

config = context.config


def _run(connection: Connection) -> None:
    # batch mode: SQLite cannot ALTER most things in place; Alembic copies the table instead
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the `alembic` command line, given sqlalchemy.url
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as fresh:
        _run(fresh)
