"""The embedded default: every run, record and span in the local SQLite store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..records import Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config
    from ..store import Store


class SqliteSink:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: Store | None = None

    def open(self, run: RunInfo) -> None:
        from ..store import Store

        self._store = Store(self.path)
        self._store.begin_run(run)

    def write(self, record: Record) -> None:
        if self._store is not None:
            self._store.add_record(record)

    def write_span(self, span: SpanRecord) -> None:
        if self._store is not None:
            self._store.add_span(span)

    def close(self, summary: RunSummary) -> None:
        if self._store is None:
            return
        try:
            self._store.finish_run(summary, ended_s=time.time())
        finally:
            self._store.close()
            self._store = None


def from_config(config: Config) -> SqliteSink:
    return SqliteSink(config.store_path)
