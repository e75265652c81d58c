"""Files kept open for a sensor's life and re-read with ``pread`` at offset 0.

sysfs attributes (``energy_uj``, hwmon ``energy1_input``) and procfs files (``/proc/stat``) are
generated again on every read from offset 0, so one open descriptor gives a fresh value each
time: a tick costs one syscall instead of open + read + close. ``pread`` never moves the file
offset that a forked child shares with its parent through an inherited descriptor, so neither
can disturb the other's reads; and descriptors are opened ``O_CLOEXEC`` so that a child which
execs (a training launcher, a shell) does not inherit them at all.

A descriptor that goes bad (closed behind our back: EBADF; the driver unloaded: ENODEV) is
dropped and the file reopened once per read, at :meth:`KeptFile.locate` (by default the same
path; hwmon looks the attribute up again, since a reloaded driver may come back under a new
``hwmonN`` directory). Errors are plain ``OSError``; sensors turn them into their own messages.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

__all__ = ["KeptFile", "Opener", "close_quietly", "open_readonly"]

#: Opens a file read-only and returns a file descriptor; injectable so that tests running as
#: root can still see what an unprivileged user would (root bypasses file modes).
Opener = Callable[[str], int]

# getattr: the flag is missing on Windows, where none of these files exist anyway.
_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def open_readonly(path: str) -> int:
    """The default :data:`Opener`: read-only, close-on-exec."""
    return os.open(path, _FLAGS)


def close_quietly(fd: int) -> None:
    """Close ``fd`` if it is one (>= 0); an fd already closed (EBADF) is not an error."""
    if fd < 0:
        return
    try:
        os.close(fd)
    except OSError:
        pass  # already closed: nothing left to release


class KeptFile:
    """One file kept open and re-read with ``pread`` at offset 0, reopened once if its fd fails.

    ``fd`` is an already open descriptor (a probe opens and checks it first) or -1 to open on
    the first read. After :meth:`close` the file is never reopened: later reads raise ``OSError``
    (EBADF), so a read racing a close in another thread cannot leak a fresh descriptor.
    """

    __slots__ = ("_closed", "fd", "opener", "path")

    def __init__(self, path: str, *, fd: int = -1, opener: Opener = open_readonly) -> None:
        self.path = path
        self.fd = fd
        self.opener = opener
        self._closed = False

    def read(self, size: int) -> bytes:
        """At most ``size`` bytes from offset 0: the file's current content."""
        try:
            return os.pread(self.fd, size, 0)
        except OSError:
            return self._reopen_and_read(size)

    def read_int(self, size: int = 32) -> int:
        """The file's content as an integer (a sysfs u64 or long and a newline fit in 32 bytes).

        Raises ``OSError`` when it cannot be read, ``ValueError`` (naming the path and what was
        read) when it is not a number.
        """
        raw = self.read(size)
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{self.path}: not a number: {raw!r}") from None

    def locate(self) -> str:
        """The path to reopen once the fd went bad; subclasses may look the file up again."""
        return self.path

    def close(self) -> None:
        """Release the descriptor for good (twice is harmless)."""
        self._closed = True
        close_quietly(self.fd)
        self.fd = -1

    def _reopen_and_read(self, size: int) -> bytes:
        close_quietly(self.fd)
        self.fd = -1
        if self._closed:  # close() ran, perhaps in another thread: do not leak a fresh fd
            raise OSError(errno.EBADF, "closed", self.path)
        self.path = self.locate()
        self.fd = self.opener(self.path)
        try:
            return os.pread(self.fd, size, 0)
        except OSError:
            close_quietly(self.fd)  # no use keeping an fd that failed at once
            self.fd = -1
            raise
