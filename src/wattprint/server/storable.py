"""Text the databases can hold: no NUL character, no lone UTF-16 surrogate.

PostgreSQL refuses a NUL in any text value, and neither database driver can encode a lone
surrogate (``"\\ud800"``, which JSON's ``\\u`` escapes can produce) as UTF-8: either would reach
the database as an error and answer 500. :func:`check_parameters` (an app-wide dependency)
refuses such a path or query parameter with 400 naming it; :data:`StorableText` does the same
for the fields of JSON bodies.
"""

from __future__ import annotations

# Runtime imports: FastAPI and pydantic read these annotations.
import re
from typing import Annotated, Any

from pydantic import AfterValidator
from starlette.requests import Request

__all__ = ["StorableText", "check_parameters", "unstorable", "unstorable_item"]

# In a JSON body a NUL or a surrogate half can only arrive as a \u escape: when none is there
# (every real batch), one scan of the bytes clears the whole batch without walking it.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which no stored text can hold: remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not text: send valid Unicode"
    return None


def _storable(text: str) -> str:
    reason = unstorable(text)
    if reason is not None:
        raise ValueError(reason)
    return text


StorableText = Annotated[str, AfterValidator(_storable)]


def check_parameters(request: Request) -> None:
    """Refuse a path or query parameter that no database could be asked about (400)."""
    from fastapi import HTTPException

    named = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in named:
        reason = unstorable(value) if isinstance(value, str) else None
        if reason is not None:
            raise HTTPException(status_code=400, detail={
                "index": None, "field": name, "message": f"{name} {reason}"})


def unstorable_item(body: bytes, items: list[Any]) -> tuple[int, str, str] | None:
    """(index, field path, reason) of the first text in ``items`` (parsed from ``body``) that
    no database can hold, keys included; None when all can."""
    if _SUSPECT_ESCAPE.search(body) is None:
        return None
    for index, item in enumerate(items):
        found = _walk(item, "")
        if found is not None:
            return (index, *found)
    return None


def _walk(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        reason = unstorable(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        for key, inner in value.items():
            reason = unstorable(key)
            shown = key.encode("utf-8", "backslashreplace").decode() if reason else key
            where = f"{path}.{shown}" if path else shown
            found = (where, f"the key {reason}") if reason else _walk(inner, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            found = _walk(inner, f"{path}[{position}]")
            if found is not None:
                return found
    return None
