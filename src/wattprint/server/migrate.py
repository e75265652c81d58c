"""Alembic, driven from code: ``wattprint server migrate`` and the tests call :func:`upgrade`.

The migration scripts live in ``alembic/`` inside the package (no ``alembic.ini``: the
configuration is built here), so an installed wheel migrates without a checkout.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]


def alembic_config(connection: Connection | None = None, db_url: str | None = None) -> Config:
    from pathlib import Path

    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("alembic")))
    if db_url is not None:
        # alembic's ini interpolation treats % specially (URL-escaped passwords have them)
        config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: the newest)."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    head: str | None = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision
