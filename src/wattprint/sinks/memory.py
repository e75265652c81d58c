"""Keeps everything in lists: for tests, notebooks and callers that want the raw records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..records import Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config


class MemorySink:
    name = "memory"

    def __init__(self) -> None:
        self.run: RunInfo | None = None
        self.records: list[Record] = []
        self.spans: list[SpanRecord] = []
        self.summary: RunSummary | None = None

    def open(self, run: RunInfo) -> None:
        self.run = run

    def write(self, record: Record) -> None:
        self.records.append(record)

    def write_span(self, span: SpanRecord) -> None:
        self.spans.append(span)

    def flush(self) -> None:
        pass  # written through line by line

    def close(self, summary: RunSummary) -> None:
        self.summary = summary


def from_config(config: Config) -> MemorySink:
    return MemorySink()
