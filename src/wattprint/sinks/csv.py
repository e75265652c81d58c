"""One CSV row per interval record; the columns are the shared record schema and nothing else.

Spans, heartbeats and summaries are not written: CSV keeps one row shape (the store and the
JSON Lines sink have them).

A batch is appended all-or-nothing: under an exclusive ``flock`` (several ranks may share one
file), the file's size is noted, the rows are written and fsynced, and on any failure the file
is truncated back to that size before the error goes to the exporter, which retries. Records
this sink already wrote are skipped on a retry, so a batch exported twice is written once
(within one process; the check does not re-read the file).

Appends to an existing file only when its header is the same schema; otherwise it refuses
(rather than mixing layouts) and says which file to move or which path to set.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..records import RECORD_COLUMNS, Record

if TYPE_CHECKING:
    from typing import Callable

    from ..config import Config
    from ..wire import Item

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = ["CsvSink", "from_config"]

_HEADER_PEEK_BYTES = 1 << 16


class _SeqSet:
    """Record numbers as sorted closed ranges: a run's records arrive almost in order, so a
    week at a 1 s interval is one range, not 600,000 set entries."""

    def __init__(self) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []

    def __contains__(self, seq: int) -> bool:
        i = bisect.bisect_right(self._lo, seq) - 1
        return i >= 0 and seq <= self._hi[i]

    def add(self, seq: int) -> None:
        if seq in self:
            return
        i = bisect.bisect_right(self._lo, seq)  # ranges [0, i) start at or before seq
        joins_left = i > 0 and self._hi[i - 1] == seq - 1
        joins_right = i < len(self._lo) and self._lo[i] == seq + 1
        if joins_left and joins_right:
            self._hi[i - 1] = self._hi[i]
            del self._lo[i], self._hi[i]
        elif joins_left:
            self._hi[i - 1] = seq
        elif joins_right:
            self._lo[i] = seq
        else:
            self._lo.insert(i, seq)
            self._hi.insert(i, seq)


class CsvSink:
    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._written: dict[str, _SeqSet] = {}

    def export(self, batch: Sequence[Item]) -> None:
        records = [item for item in batch if isinstance(item, Record) and not self._wrote(item)]
        if not records:
            return
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=RECORD_COLUMNS)
        for record in records:
            writer.writerow(record.to_row())
        self._append(rows.getvalue())
        for record in records:
            self._written.setdefault(record.run_id, _SeqSet()).add(record.seq)

    def _wrote(self, record: Record) -> bool:
        seqs = self._written.get(record.run_id)
        return seqs is not None and record.seq in seqs

    def _append(self, text: str) -> None:
        def compose(fd: int, size: int) -> str:
            if size > 0:
                self._check_header(fd)
                return text
            header = io.StringIO()
            csv.DictWriter(header, fieldnames=RECORD_COLUMNS).writeheader()
            return header.getvalue() + text

        append_locked(self.path, compose)

    def _check_header(self, fd: int) -> None:
        head = os.pread(fd, _HEADER_PEEK_BYTES, 0).decode("utf-8", errors="replace")
        first = head.splitlines()[0] if head else ""
        header = next(csv.reader([first]), [])
        if tuple(header) != RECORD_COLUMNS:
            raise ValueError(
                f"{self.path} has a different column layout (not wattprint's record columns); "
                "move it away or set csv_path to another file"
            )

    def close(self) -> None:
        pass  # nothing is held open between batches


def append_locked(path: Path, compose: Callable[[int, int], str | None]) -> None:
    """Append ``compose(fd, size)``'s text to ``path`` (made if missing) under an exclusive
    lock, as other processes may append to the same file; ``compose`` may read the file's head
    through ``fd`` first, and returns None to append nothing. All or nothing: a write that fails
    part way (disk full) is cut off, so no torn row stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        text = compose(fd, size)
        if text is None:
            return
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)  # also releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def from_config(config: Config) -> CsvSink:
    return CsvSink(config.csv_path or Path("wattprint.csv"))
