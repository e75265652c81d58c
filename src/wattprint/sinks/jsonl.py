"""JSON Lines: one wire object (:mod:`wattprint.wire`) per line, appended to one file.

Each line is ``json.dumps(to_wire(item), sort_keys=True)``, so every line validates against
``wattprint schema``. A batch is all-or-nothing: the file's size is taken before the batch and,
if writing it fails (disk full, quota), the file is truncated back to that size before the error
reaches the exporter, which retries the whole batch later. Several ranks of a job may share
one file: the batch is written under an exclusive ``flock`` (so no other writer appends between
the size taken and a truncation) on a file opened with ``O_APPEND``.

Readers: the exporter may deliver a batch again after a crash (at-least-once), and an
aggregated span is re-sent whenever it changes; take the last line per ``(run_id, seq)`` for
records and per ``(run_id, span_id)`` for spans.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from ..wire import to_wire

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["JsonlSink", "from_config"]


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        # A batch is "durable" once export returns: fsync makes that true across a power cut.
        self._fsync = fsync
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def export(self, batch: Sequence[Item]) -> None:
        """Append one line per item, all of them or none (raises ``OSError`` on failure)."""
        if not batch:
            return
        payload = "".join(json.dumps(to_wire(item), sort_keys=True) + "\n" for item in batch)
        data = payload.encode("utf-8")
        fd = self._open()
        with _exclusive(fd):
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:  # a short write (signal, nearly full disk) continues where it stopped
                    written = os.write(fd, view)
                    view = view[written:]
                if self._fsync:
                    os.fsync(fd)
            except BaseException:
                self._undo(fd, size)
                raise

    def _undo(self, fd: int, size: int) -> None:
        """Cut off the part of a failed batch that did reach the file."""
        try:
            os.ftruncate(fd, size)
        except OSError:
            # Cannot even truncate (file gone, read-only remount): reopen on the next batch
            # so a retry does not append to a file that may no longer be the path.
            self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self._close_fd()


@contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    """Hold an advisory exclusive lock on ``fd`` (a no-op where ``flock`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # the fd was closed after a failed undo, which released the lock already


def from_config(config: Config) -> JsonlSink:
    return JsonlSink(config.jsonl_path or Path("wattprint.jsonl"))
