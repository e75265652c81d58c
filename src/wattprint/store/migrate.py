"""Schema migrations that any number of processes can attempt at the same time.

The write lock is taken (``BEGIN IMMEDIATE``) *before* ``user_version`` is read, so exactly one
process migrates and the others, once they get the lock, see the new version and do nothing.
Each migration and its ``user_version`` bump commit together, so a process killed mid-way
leaves the file at the previous version, intact.

As a second line of defence every statement is applied idempotently (``CREATE ... IF NOT
EXISTS``, ``DROP ... IF EXISTS``, ``ALTER TABLE ... ADD COLUMN`` only when ``pragma table_info``
lacks the column, a rename only when the source table exists). The shipped SQL in
:data:`~wattprint.store.schema.MIGRATIONS` is never edited; the rewriting happens here.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .._lazy_re import lazy_re
from ..errors import StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["migrate", "split_statements", "user_version"]

_CREATE = lazy_re(r"^CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+(?!IF\s+NOT\s+EXISTS)", re.I)
_DROP = lazy_re(r"^DROP\s+(TABLE|INDEX)\s+(?!IF\s+EXISTS)", re.I)
_ADD_COLUMN = lazy_re(r"^ALTER\s+TABLE\s+(\w+)\s+ADD\s+(?:COLUMN\s+)?(\w+)", re.I)
_RENAME = lazy_re(r"^ALTER\s+TABLE\s+(\w+)\s+RENAME\s+TO\s+(\w+)\s*$", re.I)
_LEADING_COMMENTS = lazy_re(r"^(\s*--[^\n]*\n|\s+)*")


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def split_statements(script: str) -> list[str]:
    """The statements of ``script`` (semicolons inside comments or strings do not split)."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = _LEADING_COMMENTS.sub("", pending).rstrip().rstrip(";").strip()
            if statement:
                out.append(statement)
            pending = ""
    if _LEADING_COMMENTS.sub("", pending).strip(" ;\n\t"):
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:80]!r}")
    return out


def _table_exists(db: sqlite3.Connection, table: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
    return row.fetchone() is not None


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}


def apply_idempotently(db: sqlite3.Connection, statement: str) -> None:
    """Run one DDL/DML statement so that running it twice does what running it once did."""
    if _CREATE.match(statement):
        statement = _CREATE.sub(lambda m: m.group(0) + "IF NOT EXISTS ", statement, count=1)
    elif _DROP.match(statement):
        statement = _DROP.sub(lambda m: m.group(0) + "IF EXISTS ", statement, count=1)
    elif match := _ADD_COLUMN.match(statement):
        if match.group(2) in _columns(db, match.group(1)):
            return
    elif match := _RENAME.match(statement):
        if not _table_exists(db, match.group(1)):
            return
    db.execute(statement)


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the open file at ``path`` to :data:`SCHEMA_VERSION`; returns the version found.

    ``db`` must be in autocommit mode (``isolation_level=None``) with a busy timeout: waiting
    for another process's migration is the busy handler's job.
    """
    found = user_version(db)
    # The version only ever goes up, so a file already current needs no lock at all.
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise StoreError(_too_new(path, found))
    db.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(db)  # again, under the lock: another process may have migrated
        if found > SCHEMA_VERSION:
            raise StoreError(_too_new(path, found))
        for number in range(found + 1, SCHEMA_VERSION + 1):
            for statement in split_statements(MIGRATIONS[number - 1]):
                apply_idempotently(db, statement)
        if found < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return found


def _too_new(path: Path, version: int) -> str:
    return (f"{path} has schema version {version}, newer than this wattprint understands "
            f"({SCHEMA_VERSION}); upgrade wattprint (pip install -U wattprint)")
