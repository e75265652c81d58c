"""Text the databases can hold: no NUL character, no lone UTF-16 surrogate.

PostgreSQL refuses a NUL in any text value, and neither database driver can encode a lone
surrogate (``"\\ud800"``, which JSON's ``\\u`` escapes can produce) as UTF-8: either would reach
the database as an error and answer 500. :func:`check_parameters` (an app-wide dependency)
refuses such a path or query parameter with 400 naming it; :data:`StorableText` does the same
for the fields of JSON bodies.
"""

from __future__ import annotations

# Runtime imports: FastAPI and pydantic read these annotations.
from typing import Annotated

from pydantic import AfterValidator
from starlette.requests import Request

__all__ = ["StorableText", "check_parameters", "unstorable"]


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
