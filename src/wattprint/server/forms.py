"""HTML form bodies (``application/x-www-form-urlencoded``) for the dashboard's POST forms.

The dashboard's forms work without JavaScript, so their fields, the session's CSRF token
among them (``csrf_token``, checked in :mod:`.authz`), arrive as a URL-encoded body rather than
JSON. Read with the standard library (no multipart parser: the forms upload no files), once a
request (cached on ``request.state``), capped at ``MAX_FORM_BYTES``.
"""

from __future__ import annotations

# Runtime import: FastAPI reads the dependency's annotation to inject the request.
from starlette.requests import Request

__all__ = ["CSRF_FIELD", "FORM_TYPE", "MAX_FORM_BYTES", "form_fields", "form_values"]

FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 64 * 1024  # a settings form is a few hundred bytes
_MAX_FIELDS = 50
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _refuse(status: int, message: str, field: str | None = None) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=status,
                         detail={"index": None, "field": field, "message": message})


async def form_fields(request: Request) -> dict[str, str]:
    """The request's form fields (the last of a repeated name); {} for any other body."""
    cached: dict[str, str] | None = getattr(request.state, "form_fields", None)
    if cached is not None:
        return cached
    pairs: list[tuple[str, str]] = []
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in _UNSAFE_METHODS and kind == FORM_TYPE:
        pairs = _parse(await _body(request))
    request.state.form_pairs = pairs
    request.state.form_fields = fields = dict(pairs)
    return fields


def form_values(request: Request, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes), after :func:`form_fields` has run."""
    pairs: list[tuple[str, str]] = getattr(request.state, "form_pairs", [])
    return [value for key, value in pairs if key == name]


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise _refuse(413, f"a form body of {declared} bytes: forms here take at most "
                           f"{MAX_FORM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _refuse(413, f"a form body over {MAX_FORM_BYTES} bytes: forms here take "
                               "no more")
    return bytes(body)


def _parse(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    from .storable import unstorable

    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=_MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise _refuse(400, "the form body is not UTF-8 text: send the page's form "
                           "unchanged") from None
    except ValueError:  # more than _MAX_FIELDS fields
        raise _refuse(400, f"more than {_MAX_FIELDS} form fields: send the page's form "
                           "unchanged") from None
    for name, value in pairs:
        reason = unstorable(name) or unstorable(value)
        if reason is not None:
            raise _refuse(400, f"form field {name[:40]!r} {reason}", field=name[:40])
    return pairs
