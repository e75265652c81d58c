"""One open store file, shared by the writer (the sqlite sink) and the read API."""

from __future__ import annotations

import threading

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path
    from typing import Any, Sequence

__all__ = ["Source"]


@dataclass(eq=False)
class Source:
    """One open store file; ``lock`` serialises use of its connection across threads."""

    path: Path
    db: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    owned: bool = True  # closed with the repository

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.db.execute(sql, args).fetchall())
