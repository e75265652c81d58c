"""Numbers the server stores and can add up: finite, at most 1e18 in size, and within 32 bits
where a column is a 32-bit integer.

JSON numbers have no size limit, and Python's JSON parser also reads ``NaN`` and
``Infinity``; the wire schema says "number". A value no run can produce would either fail
in the database (a 500) or be stored and turn an organisation's totals into infinity, which no
JSON answer can carry. 1e18 is beyond any real figure: 1e18 J is 277 TWh, 1e18 g a gigatonne,
1e18 s thirty billion years. :func:`out_of_bounds` finds the first such number in a non-record
object; records are checked on their hot path by :mod:`.record_rows` with the same limits.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["INT32_MAX", "MAGNITUDE_LIMIT", "out_of_bounds"]

MAGNITUDE_LIMIT = 1e18
INT32_MAX = 2**31 - 1  # PostgreSQL's integer; the server's integer columns
# the 32-bit integer columns filled from each object type (dotted paths into the wire object)
_INT_COLUMNS = {"span": ("count",), "summary": ("exit_code", "records"),
                "run": ("job.node_rank", "job.rank"), "prediction": ("seq",)}


def out_of_bounds(kind: str, obj: dict[str, Any]) -> tuple[str, str] | None:
    """(field path, reason) of the first number in ``obj`` the server cannot hold, else None."""
    found = _walk(obj, "")
    if found is not None:
        return found
    for path in _INT_COLUMNS.get(kind, ()):
        value: Any = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and not -INT32_MAX <= value <= INT32_MAX:
            return path, f"{value} is beyond {INT32_MAX}, the largest the server stores here"
    return None


def _walk(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        if not -MAGNITUDE_LIMIT <= value <= MAGNITUDE_LIMIT:  # NaN fails both comparisons
            return path or "object", (f"{value} is not a finite number of at most "
                                      f"{MAGNITUDE_LIMIT:g} in size, as every real figure is")
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _walk(inner, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            found = _walk(inner, f"{path}[{position}]")
            if found is not None:
                return found
    return None
