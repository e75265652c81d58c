"""A store file that is not a database, or is damaged: moved aside, never overwritten or deleted.

The damaged file (with its ``-wal``/``-shm``/``-journal`` companions, which belong to it: a stale
log replayed into a fresh database would damage that one too) is renamed to
``<name>.corrupt-<UTC timestamp>``, so whatever it still holds can be recovered by hand, and a
fresh store takes its place. :func:`advice` is what the user is told.

Two cheap checks run before SQLite opens the file: the 16-byte magic header, and a database
shorter than its own header says (truncated by a full disk or a bad copy). Damage deeper in the
file is caught when SQLite meets it (``is_corruption``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["MAGIC", "advice", "looks_corrupt", "move_aside", "moved_aside"]

MAGIC = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm", "-journal")


def looks_corrupt(path: Path) -> str | None:
    """Why ``path`` is certainly not a sound SQLite database, or ``None`` if it may be one."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        return None
    if not header:
        return None  # an empty file is a database nobody has written yet
    if len(header) < 100:
        # A database is written a page at a time: a header shorter than 100 bytes is damage.
        return f"only {len(header)} bytes long" if header[:len(MAGIC)] == MAGIC[:len(header)] \
            else "not an SQLite database (wrong header)"
    if header[:16] != MAGIC:
        return "not an SQLite database (wrong header)"
    # Pending transactions can legitimately leave the file shorter than its header says while
    # a log or journal holds the rest; only a file with neither is held to its header.
    for suffix in ("-wal", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists() and companion.stat().st_size > 0:
            return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    change_counter = header[24:28]
    valid_for = header[92:96]
    # The in-header size is trusted only when its "version-valid-for" matches the change counter.
    if pages and change_counter == valid_for and pages * page_size > size:
        return f"truncated: {size} bytes where its header says {pages * page_size}"
    return None


def _stamp(now_s: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s))


def move_aside(path: Path, *, now_s: float | None = None) -> Path | None:
    """Rename ``path`` (and its companions) to ``<name>.corrupt-<UTC timestamp>``.

    Never overwrites: an existing name gets ``-1``, ``-2``... Returns the new path, or ``None``
    when ``path`` was already gone (another process moved it first).
    """
    stamp = _stamp(time.time() if now_s is None else now_s)
    for n in range(1000):
        target = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
        if _rename_no_clobber(path, target):
            break
        if not path.exists():
            return None
    else:  # pragma: no cover - a thousand corrupt copies in one second
        raise FileExistsError(f"cannot find a free name to move {path} aside")
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _rename_no_clobber(companion, target.with_name(target.name + suffix))
    return target


def _rename_no_clobber(source: Path, target: Path) -> bool:
    """True when ``source`` is now at ``target``; False if ``target`` exists or ``source`` is gone.

    ``os.rename`` silently replaces an existing target, so a hard link (which fails if the target
    exists) comes first; file systems without hard links get a check-then-rename.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except FileNotFoundError:
        return False
    except OSError:
        if target.exists():
            return False
        try:
            os.rename(source, target)
        except FileNotFoundError:
            return False
        return True
    try:
        os.unlink(source)
    except FileNotFoundError:  # another process moved the same file meanwhile: ours is the copy
        pass
    return True


def moved_aside(directory: Path) -> list[Path]:
    """The damaged store files kept in ``directory``, oldest first."""
    try:
        found = [p for p in directory.glob("wattprint*.db.corrupt-*")
                 if not p.name.endswith(_COMPANIONS)]
    except OSError:
        return []
    return sorted(found)


def advice(original: Path, moved_to: Path, reason: str) -> str:
    return (f"the store {original} was corrupted ({reason}); it was moved to {moved_to} and a "
            f"fresh store is used from now on. Runs recorded before are in that file: recover "
            f"what is readable with `sqlite3 {moved_to} .recover | sqlite3 recovered.db`, or "
            f"delete it once you no longer need it")
