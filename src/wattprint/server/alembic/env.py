"""Alembic environment: migrates the connection :mod:`wattprint.server.migrate` hands over."""

from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning

from wattprint.server.models import Base

config = context.config


def _run(connection: Connection) -> None:
    # batch mode: SQLite cannot ALTER most things in place; Alembic copies the table instead
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction(), warnings.catch_warnings():
        # A batch copy of one table (SQLite) reflects the tables it refers to, and SQLAlchemy
        # cannot reflect the expression indexes on `runs` (ix_runs_sort, ix_runs_project_sort).
        # Only the copied table is rebuilt, so those indexes stay as they are: the warning says
        # nothing an operator can act on (tests/server/test_migrations.py checks they survive).
        warnings.filterwarnings("ignore", category=SAWarning,
                                message="Skipped unsupported reflection of expression-based index")
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the `alembic` command line, given sqlalchemy.url
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as fresh:
        _run(fresh)
