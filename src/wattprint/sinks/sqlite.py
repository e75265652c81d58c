"""The embedded default: every run, record, span and heartbeat in the local SQLite store.

Each batch from the exporter is written in ONE transaction: all of it or nothing, and then a
:class:`~wattprint.errors.StoreError` that the exporter answers by retrying later and spooling.
Replaying a batch is harmless (see :mod:`wattprint.store.writer`). The sink keeps no buffer
and no timer of its own: the exporter decides when a batch comes (every ``store_flush_s``, and
with each heartbeat), so a process killed with SIGKILL loses only what the exporter had not
handed over yet (about ``store_flush_s`` of records, and the interval not yet cut); every batch
committed before stays in the file.

The store is opened at the first export, not at construction, so a tracker that never records
costs no file. On a network file system the sink writes this node's own file
(:mod:`wattprint.store.location`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import StoreError
from ..records import RunInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

    from ..config import Config
    from ..host import HostPaths
    from ..store import Store
    from ..wire import Item

__all__ = ["SqliteSink", "from_config"]


class SqliteSink:
    """Writes batches to the store at ``path``.

    With ``per_node`` (the default for the configured store), ``path`` is the configured
    ``<home>/wattprint.db`` and the file actually written is chosen at the first export: the
    same on a local disk, ``wattprint.<host_id>.db`` on a network file system. Without it,
    ``path`` is written as is, in WAL mode.
    """

    name = "sqlite"

    def __init__(self, path: Path, *, per_node: bool = True, paths: HostPaths | None = None,
                 busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.per_node = per_node
        self._paths = paths
        self.busy_timeout_s = busy_timeout_s
        self.write_path: Path | None = None  # known after the first export
        self._store: Store | None = None
        self._lock = threading.Lock()
        # Run infos this sink has accepted, so that a batch after the store was recreated (a
        # corrupted file moved aside) can carry its run's row again. One small object per run.
        self._infos: dict[str, RunInfo] = {}

    def _open(self) -> Store:
        if self._store is not None:
            return self._store
        from ..store import Store

        journal_mode = "wal"
        path = self.path
        if self.per_node:
            from ..host import host_id
            from ..store.location import placement

            where = placement(self.path, host_id(self._paths), self._paths)
            path, journal_mode = where.write_path, where.journal_mode
        self._store = Store(path, journal_mode=journal_mode, busy_timeout_s=self.busy_timeout_s)
        self.write_path = path
        return self._store

    def export(self, batch: Sequence[Item]) -> None:
        if not batch:
            return
        with self._lock:
            store = self._open()
            items = list(batch)
            given = {i.run_id for i in items if isinstance(i, RunInfo)}
            known = [self._infos[r] for r in dict.fromkeys(i.run_id for i in items)
                     if r in self._infos and r not in given]
            try:
                store.export([*known, *items])
            except StoreError:
                if store.broken:  # reopen next time: the damaged file is then moved aside
                    self._drop_store()
                raise
            for item in items:
                if isinstance(item, RunInfo):
                    self._infos[item.run_id] = item

    def _drop_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None

    def close(self) -> None:
        with self._lock:
            self._drop_store()


def from_config(config: Config) -> SqliteSink:
    return SqliteSink(config.store_path)

