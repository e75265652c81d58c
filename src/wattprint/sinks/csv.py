"""One CSV row per interval record, columns = the shared record schema plus nothing else.

Appends to an existing file only when its header is the same schema; otherwise it refuses
(rather than mixing layouts) and says which file to move or which path to set.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..records import RECORD_COLUMNS, Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config


class CsvSink:
    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def open(self, run: RunInfo) -> None:
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists:
            with self.path.open(newline="") as fh:
                header = next(csv.reader(fh), [])
            if tuple(header) != RECORD_COLUMNS:
                raise ValueError(
                    f"{self.path} has a different column layout; move it away or set csv_path"
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=RECORD_COLUMNS)
        if not exists:
            self._writer.writeheader()
            self._fh.flush()

    def write(self, record: Record) -> None:
        if self._writer is None or self._fh is None:
            return
        self._writer.writerow(record.to_row())
        self._fh.flush()

    def write_span(self, span: SpanRecord) -> None:
        pass  # spans live in the store and the JSON Lines sink; CSV keeps one row shape

    def flush(self) -> None:
        pass  # written through line by line

    def close(self, summary: RunSummary) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._writer = None


def from_config(config: Config) -> CsvSink:
    return CsvSink(config.csv_path or Path("wattprint.csv"))
