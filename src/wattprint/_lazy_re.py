"""Regular expressions compiled on first use.

Compiling a pattern costs 0.1-1 ms; the sensor, store and spool modules hold about thirty of
them at module level, most of which a given run never uses (the RAPL patterns on a machine
without RAPL, the migration parser on an up-to-date store). Together they were several ms of
every tracker's start.
"""

from __future__ import annotations

import re

__all__ = ["lazy_re"]


class _LazyPattern:
    __slots__ = ("_source", "_flags", "_compiled")

    def __init__(self, source: str, flags: int) -> None:
        self._source, self._flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> object:
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return getattr(self._compiled, name)


def lazy_re(source: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern that compiles itself the first time one of its methods is used."""
    return _LazyPattern(source, flags)  # type: ignore[return-value]
