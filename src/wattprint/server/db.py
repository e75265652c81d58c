"""Engines and sessions for the server database (SQLite or PostgreSQL)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["make_engine"]


def make_engine(db_url: str) -> Engine:
    """An engine for ``db_url``; on SQLite, the file's folder is created and foreign keys
    are enforced (SQLite leaves them off per connection unless asked)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for an ingest
        cursor.close()

    return engine
