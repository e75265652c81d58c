"""Keeps everything in memory: for tests, notebooks and callers that want the raw records.

``run`` is the last RunInfo, ``records`` every interval record once (a retried batch does not
repeat them), ``spans`` the latest aggregate of each span in first-seen order, ``heartbeats`` the
heartbeats received, ``summary`` the run's summary once it came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..records import Heartbeat, Prediction, Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["MemorySink", "from_config"]


class MemorySink:
    name = "memory"

    def __init__(self) -> None:
        self.run: RunInfo | None = None
        self.records: list[Record] = []
        self.spans: list[SpanRecord] = []
        self.heartbeats: list[Heartbeat] = []
        self.predictions: list[Prediction] = []
        self.summary: RunSummary | None = None
        self.batches = 0
        self.closed = False
        self._record_keys: set[tuple[str, int]] = set()
        self._span_index: dict[tuple[str, str], int] = {}

    def export(self, batch: Sequence[Item]) -> None:
        self.batches += 1
        for item in batch:
            if isinstance(item, Record):
                key = (item.run_id, item.seq)
                if key not in self._record_keys:
                    self._record_keys.add(key)
                    self.records.append(item)
            elif isinstance(item, SpanRecord):
                span_key = (item.run_id, item.span_id)
                index = self._span_index.get(span_key)
                if index is None:
                    self._span_index[span_key] = len(self.spans)
                    self.spans.append(item)
                else:
                    self.spans[index] = item
            elif isinstance(item, RunInfo):
                self.run = item
            elif isinstance(item, Heartbeat):
                self.heartbeats.append(item)
            elif isinstance(item, Prediction):
                self.predictions.append(item)
            elif isinstance(item, RunSummary):
                self.summary = item

    def close(self) -> None:
        self.closed = True


def from_config(config: Config) -> MemorySink:
    return MemorySink()
