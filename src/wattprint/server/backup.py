"""``wattprint server backup --to FILE``: a consistent copy of a live SQLite server database.

SQLite's online backup API copies the database inside one read transaction, so the copy is the
database as of one moment even while the server keeps writing (WAL mode lets the writes go on).
The copy is written beside the target under ``.partial`` and renamed when complete and checked,
so a crash never leaves a half backup under the real name; an existing file is never
overwritten. PostgreSQL is backed up with its own tools (pg_dump), see
docs/server-operations.md.
"""

from __future__ import annotations

from .._struct import dataclass

__all__ = ["BackupResult", "backup_sqlite"]


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: str
    size_bytes: int


def backup_sqlite(db_url: str, target: str) -> BackupResult:
    """Copy the SQLite database of ``db_url`` to the new file ``target``; ValueError says why not."""
    import os
    import sqlite3
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        raise ValueError("`server backup` copies SQLite databases; back up PostgreSQL with "
                         "pg_dump (docs/server-operations.md, 'Backup')")
    if not url.database or url.database == ":memory:":
        raise ValueError(f"{db_url} is not a database file")
    source = Path(url.database).expanduser()
    if not source.is_file():
        raise ValueError(f"no database at {source}: check --db / WATTPRINT_SERVER_DB")
    final = Path(target).expanduser()
    if final.exists():
        raise ValueError(f"{final} exists: a backup never overwrites; choose a new name")
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)  # a crashed earlier attempt's leftover
    reader = sqlite3.connect(source, timeout=30)
    writer = sqlite3.connect(partial)
    try:
        reader.backup(writer)  # all pages in one step: one read transaction, one moment
        # a self-contained file (no -wal beside it), checked before it takes the real name
        writer.execute("PRAGMA journal_mode=DELETE")
        verdict = writer.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise ValueError(f"the copy failed its integrity check ({verdict}); the database "
                             f"itself may be damaged: run `sqlite3 {source} 'PRAGMA "
                             "integrity_check'`")
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    writer.close()
    with partial.open("rb") as stream:
        os.fsync(stream.fileno())
    os.replace(partial, final)
    return BackupResult(path=str(final), size_bytes=final.stat().st_size)
