"""Access logs: one structured line per request, through the ``wattprint.server.access`` logger.

A plain ASGI middleware (no body buffering) measures each request and logs, when it ends::

    {"time": "2026-12-02T00:10:00.123Z", "request_id": "3f2c...", "method": "POST",
     "path": "/api/v1/ingest", "status": 200, "duration_ms": 41.7, "bytes_in": 81234,
     "bytes_out": 34, "client": "10.0.0.7", "organisation_id": 1, "key_prefix": "1a2b3c4d",
     "user_id": null, "accepted": 1000, "duplicates": 0}

What is never logged: the query string (it may carry anything), headers, cookies, bodies;
so an API key, a session cookie, a CSRF token or a password cannot reach the log. The caller is
named by what the authorisation dependency resolved (``request.state.principal``: organisation
id, key prefix, user id), and only when it resolved one. The request id is the client's
``X-Request-ID`` when it looks like an id (ASCII letters, digits, ``. _ : -``, at most 128),
else a new one; it is echoed in the response's ``X-Request-ID`` either way, so a client can
quote it.

A route that raises answers here, before Starlette's error handler outside the middleware would:
a 500 in the documented error shape ``{"detail": {"index", "field", "message"}}`` with the
request id in its message and header, the traceback logged once through ``wattprint.server.errors``
with the same id, and an access line with status 500. A response that had already begun is cut
off by the server as before (the exception goes on).

Where lines go is the program's choice: :func:`configure_access_log` (called by
``wattprint server serve``) writes them to stderr as JSON or text; embedding programs attach
their own handler, and with none attached nothing is written.
"""

from __future__ import annotations

import logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Awaitable, Callable

    Scope = dict[str, Any]
    Message = dict[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["ACCESS_LOGGER", "LOG_FORMATS", "AccessLog", "JsonFormatter", "configure_access_log",
           "uvicorn_log_config"]

ACCESS_LOGGER = "wattprint.server.access"
ERROR_LOGGER = "wattprint.server.errors"  # tracebacks of requests answered 500
LOG_FORMATS = ("off", "json", "text")
_MAX_REQUEST_ID = 128
_COUNTS_BODY_LIMIT = 256  # the ingest's answer {"accepted": n, "duplicates": m} is shorter


def _iso_utc(epoch_s: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sane_request_id(value: str) -> bool:
    # A client-chosen id lands in our log and our response header: only id-like text, so it
    # can neither forge log lines nor smuggle anything into a header.
    return 0 < len(value) <= _MAX_REQUEST_ID and all(
        ch.isascii() and (ch.isalnum() or ch in "._:_-") for ch in value)


def _request_id(scope: Scope) -> str:
    import uuid

    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _sane_request_id(text):
                return text
            break
    return uuid.uuid4().hex


def _principal_fields(state: Any) -> dict[str, Any]:
    """Who the authorisation dependency resolved (authz.Principal or auth.KeyIdentity)."""
    principal = state.get("principal") if isinstance(state, dict) else None
    if principal is None:
        return {"organisation_id": None, "key_prefix": None, "user_id": None}
    prefix = getattr(principal, "key_prefix", None) or getattr(principal, "prefix", None)
    return {"organisation_id": getattr(principal, "organisation_id", None),
            "key_prefix": prefix, "user_id": getattr(principal, "user_id", None)}


def _ingest_counts(body: bytes) -> dict[str, int]:
    import json

    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(answer, dict):
        return {}
    return {name: answer[name] for name in ("accepted", "duplicates")
            if isinstance(answer.get(name), int)}


async def _answer_500(send: Send, request_id: str) -> None:
    """The documented error shape, saying nothing of the error itself (that is in the log)."""
    import json

    body = json.dumps({"detail": {
        "index": None, "field": None,
        "message": f"internal server error: the server's log has the details under request "
                   f"id {request_id}; quote it to the server's operator"}}).encode("utf-8")
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """The middleware; ``wall_clock``/``perf_clock`` are injectable for tests."""

    def __init__(self, app: ASGIApp, *, wall_clock: Callable[[], float] | None = None,
                 perf_clock: Callable[[], float] | None = None) -> None:
        import time

        self.app = app
        self.wall_clock = wall_clock or time.time
        self.perf_clock = perf_clock or time.perf_counter
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.errors = logging.getLogger(ERROR_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_s, started_perf = self.wall_clock(), self.perf_clock()
        request_id = _request_id(scope)
        # Starlette's request.state is this dict: what the route's dependencies put there
        # (the principal) is readable here once the app has answered.
        state = scope.setdefault("state", {})
        counts = {"bytes_in": 0, "bytes_out": 0, "status": 0}
        ingest_answer = bytearray()
        is_ingest = scope.get("path", "").endswith("/ingest")

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["bytes_in"] += len(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode("ascii"))]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                counts["bytes_out"] += len(body)
                if is_ingest and len(ingest_answer) + len(body) <= _COUNTS_BODY_LIMIT:
                    ingest_answer.extend(body)
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        except Exception:
            if counts["status"]:  # a response had begun: only the server can cut it off
                raise
            # Answered here, not by Starlette's error handler outside us, so that the 500
            # carries the request id like every other answer and a user can quote it; the
            # traceback is logged with that id instead of going on to the server's log.
            self.errors.exception("unhandled error answering %s %s (request id %s)",
                                  scope.get("method", ""), scope.get("path", ""), request_id)
            await _answer_500(send_with_id, request_id)
        except BaseException:  # cancelled (the client left, the server stops): not ours
            if not counts["status"]:
                counts["status"] = 500
            raise
        finally:
            if self.logger.isEnabledFor(logging.INFO):  # off: no line to build
                self._log(scope, request_id, counts, started_s, started_perf, state,
                          bytes(ingest_answer) if is_ingest else None)

    def _log(self, scope: Scope, request_id: str, counts: dict[str, int], started_s: float,
             started_perf: float, state: Any, ingest_answer: bytes | None) -> None:
        fields: dict[str, Any] = {
            "time": _iso_utc(started_s), "request_id": request_id,
            "method": scope.get("method", ""), "path": scope.get("path", ""),
            "status": counts["status"],
            "duration_ms": round((self.perf_clock() - started_perf) * 1000.0, 3),
            "bytes_in": counts["bytes_in"], "bytes_out": counts["bytes_out"],
            "client": (scope.get("client") or (None,))[0],
            **_principal_fields(state),
        }
        if ingest_answer is not None and counts["status"] == 200:
            fields.update(_ingest_counts(ingest_answer))
        self.logger.info("%s %s %s %.1f ms", fields["method"], fields["path"],
                         fields["status"], fields["duration_ms"], extra={"access": fields})


class JsonFormatter(logging.Formatter):
    """An access record as its fields; any other record as time, level, logger and message."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        fields = getattr(record, "access", None)
        if not isinstance(fields, dict):
            fields = {"time": _iso_utc(record.created), "level": record.levelname,
                      "logger": record.name, "message": record.getMessage()}
            if record.exc_info:
                fields["exception"] = self.formatException(record.exc_info)
        return json.dumps(fields, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """One readable line: time, request id, client, principal, method, path, status, size."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "access", None)
        if not isinstance(fields, dict):
            return f"{_iso_utc(record.created)} {record.levelname} {record.name}: " \
                   f"{super().format(record)}"
        who = " ".join(f"{name}={fields[name]}" for name in
                       ("organisation_id", "key_prefix", "user_id") if fields.get(name) is not None)
        return (f"{fields['time']} {fields['request_id']} {fields['client']} "
                f"\"{fields['method']} {fields['path']}\" {fields['status']} "
                f"{fields['duration_ms']}ms in={fields['bytes_in']} out={fields['bytes_out']}"
                + (f" {who}" if who else ""))


def _formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_access_log(log_format: str, *, stream: IO[str] | None = None) -> None:
    """Send access lines to ``stream`` (stderr) as ``json`` or ``text``; ``off`` silences them.

    Replaces what an earlier call set up, so configuring twice never logs twice.
    """
    import sys

    if log_format not in LOG_FORMATS:
        raise ValueError(f"access log format {log_format!r}: choose {', '.join(LOG_FORMATS)}")
    logger = logging.getLogger(ACCESS_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = False  # our handler alone: never twice through the root's
    if log_format == "off":
        logger.disabled = True
        return
    logger.disabled = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_formatter(log_format))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's own messages (start, stop, errors) in the same format, to stderr; its access
    log stays off (``access_log=False``), since ours replaces it."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": formatter,
                                "stream": "ext://sys.stderr"}},
        "loggers": {"uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                    # the server's own messages (serving on ...); the access logger below it
                    # has its own handler and does not propagate
                    "wattprint.server": {"handlers": ["stderr"], "level": "INFO",
                                         "propagate": False},
                    "uvicorn.error": {"level": "INFO"},
                    "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}},
    }
