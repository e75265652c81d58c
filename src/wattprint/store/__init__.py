"""The local store: SQLite files under ``WATTPRINT_HOME`` and the read API over them.

- :class:`Store` is one file opened for writing (the sqlite sink's, and ``rescore``'s); it reads
  too, through the same :class:`~wattprint.store.repository.Repository` API.
- :func:`open_repository` opens every store file of a directory for reading (one file on a
  local disk; one per node on a network file system, see :mod:`~wattprint.store.location`).

Modules: ``schema`` (the SQL), ``migrate`` (concurrent-safe migrations), ``sqlite`` (opening
under contention), ``corruption`` (damaged files moved aside), ``location`` (network file
systems), ``writer`` (a batch in one transaction), ``liveness`` (running or interrupted),
``repository`` (the read API).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from .._log import get_logger
from ..errors import StoreError
from ..records import Prediction, Record, RunInfo, RunSummary, SpanRecord
from .corruption import advice, looks_corrupt, move_aside, moved_aside
from .liveness import pid_alive
from .location import Placement, placement, store_files
from .migrate import migrate, user_version
from .schema import SCHEMA_VERSION
from .source import Source
from .sqlite import connect, is_corruption, is_locked, is_unwritable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence

    from ..wire import Item
    from .repository import Aggregate, Page, Repository, RunFilter, RunRow, SqliteRepository

_READ_API = ("Aggregate", "Page", "Repository", "RunFilter", "RunRow", "SqliteRepository")


def __getattr__(name: str) -> object:
    # The read API (about 10 ms of imports) loads when something reads; the sqlite sink only
    # writes, and a short run's final write is on the path of the program's exit.
    if name in _READ_API:
        from . import repository

        return getattr(repository, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Aggregate",
    "Page",
    "Placement",
    "Repository",
    "RunFilter",
    "RunRow",
    "SqliteRepository",
    "Store",
    "open_repository",
    "open_writable",
]

log = get_logger("wattprint.store")


def _store_error(path: Path, exc: BaseException, busy_timeout_s: float) -> StoreError:
    """The message for a failure to open ``path``: what is wrong, and what to do."""
    if is_locked(exc):
        return StoreError(
            f"the store {path} stayed locked by another process for {busy_timeout_s:g} s "
            f"({exc}); another wattprint is writing or migrating it. Try again; a tracker's "
            "exporter retries on its own and spools what it cannot write")
    if is_unwritable(exc):
        return StoreError(
            f"cannot write the store at {path}: {exc}; set `home` (WATTPRINT_HOME) to a "
            "directory you can write")
    return StoreError(f"cannot open the store at {path}: {exc}")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _still_corrupt(path: Path, identity: tuple[int, int] | None) -> bool:
    """Whether the pre-open check's verdict holds a little later, on the same file.

    The check reads the header without SQLite's locks, so it could catch another process
    half-way through creating the file or a checkpoint extending it. Real damage stays; a
    file caught mid-write is whole a few milliseconds later.
    """
    for _ in range(3):
        time.sleep(0.02)
        if _identity(path) != identity or looks_corrupt(path) is None:
            return False
    return True


def _move_if_same(path: Path, identity: tuple[int, int] | None, reason: str,
                  notices: list[str]) -> None:
    """Move ``path`` aside unless another process already replaced it since we looked."""
    if identity is None or _identity(path) != identity:
        return
    moved = move_aside(path)
    if moved is not None:
        message = advice(path, moved, reason)
        log.warning("wattprint: %s", message)
        notices.append(message)


def open_writable(path: Path, *, journal_mode: str = "wal",
                  busy_timeout_s: float = 10.0) -> tuple[sqlite3.Connection, list[str]]:
    """A migrated connection to ``path`` for writing, and notices for the user.

    A corrupted file is moved aside and replaced by a fresh one. Raises :class:`StoreError`.
    """
    notices: list[str] = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _store_error(path, exc, busy_timeout_s) from exc
    for _ in range(3):
        identity = _identity(path)
        reason = looks_corrupt(path)
        if reason is not None and not _still_corrupt(path, identity):
            continue  # caught mid-write: look again
        if reason is None:
            try:
                db = connect(path, journal_mode=journal_mode, busy_timeout_s=busy_timeout_s)
            except (sqlite3.Error, OSError) as exc:
                if not is_corruption(exc):
                    raise _store_error(path, exc, busy_timeout_s) from exc
                reason = str(exc)  # SQLite's verdict, reached under its locks
            else:
                try:
                    migrate(db, path)
                    return db, notices
                except StoreError:
                    db.close()
                    raise
                except sqlite3.Error as exc:
                    db.close()
                    if not is_corruption(exc):
                        raise _store_error(path, exc, busy_timeout_s) from exc
                    reason = str(exc)
        _move_if_same(path, identity, reason, notices)
    raise StoreError(f"the store {path} is still unreadable ({reason}) after three attempts, "
                     "each moving a damaged file aside; check the disk, or set `home` "
                     "(WATTPRINT_HOME) to another directory")


class Store:
    """One store file, opened for writing (migrated, corruption handled) and reading.

    Thread-safe: one lock around the connection. Writes are batches of wire items
    (:meth:`export`), each in one transaction.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        journal_mode: str = "wal",
        busy_timeout_s: float = 10.0,
        host_id: str | None = None,
        hostname: str | None = None,
        clock: Callable[[], float] = time.time,
        pid_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.path = Path(path)
        self._db, self.notices = open_writable(self.path, journal_mode=journal_mode,
                                               busy_timeout_s=busy_timeout_s)
        self._source = Source(self.path, self._db, owned=False)
        self._lock = self._source.lock
        self.broken = False  # set when SQLite reported damage: reopen to move the file aside
        if host_id is None or hostname is None:
            from ..host import host_id as this_host_id
            from ..host import hostname as this_hostname

            host_id = this_host_id() if host_id is None else host_id
            hostname = this_hostname() if hostname is None else hostname
        self._repo_args = (host_id, hostname, clock, pid_alive)
        self._repo: SqliteRepository | None = None

    @property
    def schema_version(self) -> int:
        with self._lock:
            return user_version(self._db)

    @property
    def repository(self) -> SqliteRepository:
        if self._repo is None:
            from .repository import SqliteRepository

            host_id, hostname, clock, alive = self._repo_args
            self._repo = SqliteRepository([self._source], host_id=host_id, hostname=hostname,
                                          clock=clock, pid_alive=alive)
        return self._repo

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing --------------------------------------------------------------------------
    def export(self, batch: Sequence[Item], *, ended_s: float | None = None) -> None:
        """Write ``batch`` in one transaction: all of it, or nothing and a :class:`StoreError`."""
        from .writer import apply_batch

        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # the write lock now: no upgrade deadlock
                try:
                    apply_batch(self._db, batch)
                    if ended_s is not None:
                        for item in batch:
                            if isinstance(item, RunSummary):
                                self._db.execute("UPDATE runs SET ended_s=? WHERE run_id=?",
                                                 (ended_s, item.run_id))
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except StoreError:
                raise
            except (sqlite3.Error, OSError) as exc:
                if is_corruption(exc):
                    self.broken = True
                    raise StoreError(f"the store {self.path} is corrupted ({exc}); it will be "
                                     "moved aside and a fresh one created when it is reopened"
                                     ) from exc
                if is_locked(exc):
                    raise StoreError(f"the store {self.path} is locked by another process "
                                     f"({exc}); nothing of this batch was written, retry it"
                                     ) from exc
                raise StoreError(f"writing to the store {self.path} failed ({exc}); nothing of "
                                 "this batch was written") from exc

    def begin_run(self, info: RunInfo) -> None:
        self.export([info])

    def add_records(self, records: Sequence[Record]) -> None:
        self.export(list(records))

    def finish_run(self, summary: RunSummary, *, ended_s: float | None = None) -> None:
        """Final status and totals; ``ended_s`` defaults to the summary's start + duration."""
        self.export([summary], ended_s=ended_s)

    def add_rescore(self, run_id: str, provider: str, *, created_s: float, emissions_g: float,
                    intensity_g_per_kwh: float | None, kind: str | None,
                    detail_json: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO rescores (run_id, provider, created_s, emissions_g,"
                " intensity_g_per_kwh, kind, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, provider, created_s, emissions_g, intensity_g_per_kwh, kind,
                 detail_json),
            )

    # -- reading (the Repository protocol, on this file) ----------------------------------
    def runs(self, filter: RunFilter | None = None, *, limit: int = 50,
             cursor: str | None = None) -> Page:
        return self.repository.runs(filter, limit=limit, cursor=cursor)

    def resolve_id(self, prefix: str) -> str:
        return self.repository.resolve_id(prefix)

    def info(self, run_id: str) -> RunInfo:
        return self.repository.info(run_id)

    def summary(self, run_id: str) -> RunSummary:
        return self.repository.summary(run_id)

    def records(self, run_id: str, *, since_seq: int | None = None, limit: int | None = None
                ) -> list[Record]:
        """Like the repository's, but every record by default (``rescore`` wants them all)."""
        return self.repository.records(run_id, since_seq=since_seq, limit=limit)

    def spans(self, run_id: str) -> list[SpanRecord]:
        return self.repository.spans(run_id)

    def rescores(self, run_id: str) -> list[dict[str, Any]]:
        return self.repository.rescores(run_id)

    def prediction(self, run_id: str) -> Prediction | None:
        return self.repository.prediction(run_id)

    def aggregate(self, by: str, filter: RunFilter | None = None) -> list[Aggregate]:
        return self.repository.aggregate(by, filter)

    def record_figures(self, run_id: str) -> list[tuple[Any, ...]]:
        return self.repository.record_figures(run_id)

    def aggregate_many(self, bys: Sequence[str],
                       filter: RunFilter | None = None) -> dict[str, list[Aggregate]]:
        return self.repository.aggregate_many(bys, filter)


def _read_source(path: Path, *, writable: bool, journal_mode: str,
                 busy_timeout_s: float, notices: list[str]) -> Source | None:
    """One store file opened for reading, at the current schema; ``None`` if it is skipped."""
    if writable:
        try:
            db, opened_notices = open_writable(path, journal_mode=journal_mode,
                                               busy_timeout_s=busy_timeout_s)
            notices += opened_notices
            return Source(path, db)
        except StoreError as exc:
            cause = exc.__cause__
            if cause is None or not is_unwritable(cause):
                raise
            # a read-only directory or file: read it without migrating it in place
    reason = looks_corrupt(path)
    if reason is not None:
        notices.append(f"skipped {path}: it is corrupted ({reason}); the node that writes it "
                       "moves it aside on its next run")
        return None
    try:
        ro = connect(path, busy_timeout_s=busy_timeout_s, read_only=True)
    except (sqlite3.Error, OSError) as exc:
        notices.append(f"skipped {path}: {exc}")
        return None
    try:
        if user_version(ro) == SCHEMA_VERSION:
            return Source(path, ro)
        # An older schema that we may not migrate in place (another node's file, a read-only
        # directory): migrate a copy in memory instead.
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        memory.row_factory = sqlite3.Row
        try:
            ro.backup(memory)
            migrate(memory, path)
        except BaseException:
            memory.close()
            raise
        ro.close()
        return Source(path, memory)
    except BaseException as exc:
        ro.close()
        if isinstance(exc, (sqlite3.Error, OSError)):
            notices.append(f"skipped {path}: {exc}")
            return None
        raise


def open_repository(
    store_path: Path,
    *,
    paths: Any = None,
    host_id: str | None = None,
    hostname: str | None = None,
    clock: Callable[[], float] = time.time,
    pid_alive: Callable[[int], bool] = pid_alive,
    busy_timeout_s: float = 10.0,
) -> SqliteRepository:
    """Every store file of ``store_path``'s directory, merged, for reading.

    No file yet gives an empty repository (no error: a fresh machine has no runs). Files this
    process may write are migrated (and moved aside if corrupted); another node's per-node
    file on a network file system is only read. ``notices`` lists what the user should know.
    """
    from ..host import HostPaths
    from ..host import host_id as this_host_id
    from ..host import hostname as this_hostname
    from .repository import SqliteRepository

    host_id = this_host_id(paths) if host_id is None else host_id
    hostname = this_hostname() if hostname is None else hostname
    where = placement(store_path, host_id, paths or HostPaths())
    notices: list[str] = []
    sources: list[Source] = []
    try:
        for path in store_files(store_path):
            # Locks on a network file system cannot be trusted: write only this node's file.
            writable = not where.network or path == where.write_path
            mode = where.journal_mode if path == where.write_path else "wal"
            source = _read_source(path, writable=writable and os.access(path, os.W_OK),
                                  journal_mode=mode, busy_timeout_s=busy_timeout_s,
                                  notices=notices)
            if source is not None:
                sources.append(source)
    except BaseException:
        for source in sources:
            source.db.close()
        raise
    for kept in moved_aside(store_path.parent):
        if not any(str(kept) in n for n in notices):
            notices.append(f"{kept} holds a damaged store moved aside earlier; recover what is "
                           f"readable with `sqlite3 {kept} .recover | sqlite3 recovered.db`, or "
                           "delete it once you no longer need it")
    return SqliteRepository(sources, host_id=host_id, hostname=hostname, clock=clock,
                            pid_alive=pid_alive, notices=notices)


if TYPE_CHECKING:
    def _both_are_repositories(store: Store, merged: SqliteRepository) -> list[Repository]:
        return [store, merged]  # mypy checks that both implement the protocol
