"""One sourced constant, shared by the sensor and intensity tables.

It lives in this neutral module so that ``sensors`` (upstream) and ``intensity`` (downstream)
can both use it without an import pointing against the flow.
"""

from __future__ import annotations

from ._struct import dataclass

__all__ = ["ReferenceValue"]


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """A number with its unit, where it comes from, and the year of that source."""

    value: float
    unit: str
    source: str
    year: int
    description: str = ""
