"""Opening one SQLite file so that many processes can do it at the same instant.

What goes wrong when 16 ranks of a job open a fresh file together, and what this does about it:

- Switching to WAL needs an exclusive lock; under contention SQLite answers "database is
  locked" at once, without calling the busy handler. So the switch is skipped when the file is
  already in WAL mode and otherwise retried, with jittered backoff, until a deadline.
- Reading the schema of a file another process is still creating can also answer "locked"
  (WAL recovery, the first write of the header): the whole open is retried the same way.
- Migrations run under the write lock (see :mod:`wattprint.store.migrate`).

Errors are classified so the message says what is actually wrong: locked (another process
holds the file: wait or retry), corrupted (see :mod:`wattprint.store.corruption`), or not
writable (then, and only then, choose another directory).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["connect", "is_corruption", "is_locked", "is_unwritable", "retry_locked"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, TypeVar

    T = TypeVar("T")

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    return code & 0xFF if isinstance(code, int) else None


def is_locked(exc: BaseException) -> bool:
    """Another connection holds a lock we need: waiting and retrying may succeed."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _code(exc)
    if code is not None:
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def is_corruption(exc: BaseException) -> bool:
    """The file is not a database, or its pages are damaged: retrying cannot help."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = _code(exc)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def is_unwritable(exc: BaseException) -> bool:
    """The file or its directory cannot be created or written by this user."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _code(exc)
    if code is not None:
        return code in (_SQLITE_READONLY, _SQLITE_CANTOPEN)
    text = str(exc).lower()
    return "unable to open" in text or "readonly" in text


def retry_locked(
    attempt: Callable[[], T],
    *,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()`` again while it fails with "database is locked", until ``deadline_s`` (on
    ``clock``) has passed; then the last error is raised. Backoff doubles from 5 ms to 200 ms,
    with jitter so that racing processes do not retry in lockstep."""
    delay_s = 0.005
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or clock() >= deadline_s:
                raise
        import random  # only on contention

        sleep(delay_s * (0.5 + random.random()))
        delay_s = min(delay_s * 2, 0.2)


def connect(
    path: Path,
    *,
    journal_mode: str = "wal",
    busy_timeout_s: float = 10.0,
    read_only: bool = False,
) -> sqlite3.Connection:
    """A connection to ``path`` in ``journal_mode``, with a busy timeout, in autocommit mode
    (transactions are explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``).

    Raises ``sqlite3`` errors unchanged; callers classify them with :func:`is_locked`,
    :func:`is_corruption` and :func:`is_unwritable`.
    """
    deadline_s = time.monotonic() + busy_timeout_s

    def attempt() -> sqlite3.Connection:
        if read_only:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=busy_timeout_s, isolation_level=None,
                                 check_same_thread=False)
        else:
            db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                 check_same_thread=False)
        try:
            db.row_factory = sqlite3.Row
            # Touch the schema now, so a file that is not a database fails here, at open.
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if not read_only:
                _set_journal_mode(db, journal_mode, deadline_s)
                # WAL + NORMAL: a commit is a write() to the log, not an fsync, so each batch
                # survives the process being killed (not a power cut) at almost no cost.
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            db.close()
            raise
        return db

    return retry_locked(attempt, deadline_s=deadline_s)


def _set_journal_mode(db: sqlite3.Connection, mode: str, deadline_s: float) -> None:
    # Reading the mode needs no exclusive lock; only a file not yet in `mode` pays the switch.
    if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == mode:
        return

    def switch() -> None:
        got = str(db.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]).lower()
        if got != mode:
            # SQLite answers with the mode it kept when it could not switch (another
            # connection has the file open in a mode that forbids it): treat it as contention.
            raise sqlite3.OperationalError(f"database is locked (journal mode stayed {got})")

    retry_locked(switch, deadline_s=deadline_s)
