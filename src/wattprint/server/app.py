"""The app factory: ``create_app(settings)`` builds the engine, the validator and the routes.

Nothing happens at import: no engine, no settings, no file. The database must be migrated
first (``wattprint server migrate``); ``/readyz`` says 503 until it is, ``/healthz`` says only
that the process answers.
"""

from __future__ import annotations

import contextlib

# Runtime imports (this module is only ever imported by the server): FastAPI reads the
# route functions' annotations to decide what to inject, so Request and KeyIdentity must exist.
from fastapi import Depends
from fastapi.responses import JSONResponse
from starlette.requests import Request

from .auth import KeyIdentity, require_scope
from .schemas import Health, IngestAnswer, Readiness, errors, without_422
from .storable import unstorable_item
from .validate import IngestError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, AsyncIterator, Callable

    import httpx
    from fastapi import FastAPI

    from .settings import Settings

__all__ = ["create_app"]

_INGEST_KEY = Depends(require_scope("ingest"))  # every ingest: a valid key with that scope

_INGEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": {"type": "object"},
                                 "description": "wire objects as wattprint.wire.to_wire "
                                                "emits them (see `wattprint schema`)"}},
    }}},
}


def create_app(settings: Settings, *, wall_clock: Callable[[], float] | None = None,
               http_transport: httpx.BaseTransport | None = None) -> FastAPI:
    """The app; ``http_transport`` carries its calls to the OpenID provider (tests: a fake)."""
    import time

    from fastapi import FastAPI

    from .. import __version__
    from .db import make_engine
    from .settings import load_pepper
    from .validate import WireValidator

    engine = make_engine(settings.db_url)
    from .storable import check_parameters

    # every route: a parameter no database can take (a NUL, a lone surrogate) is a 400 first
    app = FastAPI(title="wattprint server", version=__version__,
                  dependencies=[Depends(check_parameters)], lifespan=_lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.pepper = load_pepper(settings)
    app.state.validator = WireValidator()
    app.state.wall_clock = wall_clock or time.time
    from .routes_query import router as query_router
    app.include_router(query_router)
    from .routes_catalog import router as catalog_router
    app.include_router(catalog_router)
    from .routes_rescores import router as rescores_router
    app.include_router(rescores_router)
    without_422(app)  # the document states the 400 every malformed request gets (schemas.py)
    from .routes_accounts import router as accounts_router
    app.include_router(accounts_router)
    from .routes_oidc import install as install_oidc
    install_oidc(app, transport=http_transport)  # only when settings.oidc names a provider
    from .accesslog import AccessLog
    # times and logs every request, whatever answers it, and answers a route's crash itself
    # (a 500 with the request id: accesslog.py)
    app.add_middleware(AccessLog, wall_clock=app.state.wall_clock)
    from .security_headers import SecurityHeaders
    # outermost (added last), so that even the access log's own 500 carries the headers
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(IngestError)
    async def _refused(_request: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail})

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Every route answers a bad request in the one documented shape (the ingest's), not
        # FastAPI's own 422 list: a client parses one error format.
        return JSONResponse(status_code=400, content={"detail": request_error(exc.errors())})

    from starlette.exceptions import HTTPException

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # FastAPI's and Starlette's own refusals (an unreadable body, an unknown path) say only
        # a string: answer them in the same documented shape as every other error.
        detail = exc.detail if isinstance(exc.detail, dict) else {
            "index": None, "field": None, "message": str(exc.detail)}
        return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                            headers=exc.headers)

    from .dashboard.server_routes import install as install_dashboard
    install_dashboard(app)  # pages under /dashboard/ (wraps the handler above for its pages)

    @app.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    def readyz() -> JSONResponse:
        from .migrate import current_revision, head_revision

        try:
            current = current_revision(engine)
        except Exception as exc:  # any database failure means not ready, with the reason
            return JSONResponse(status_code=503, content={
                "status": "unavailable", "message": f"database unreachable: {exc}"})
        head = head_revision()
        if current != head:
            return JSONResponse(status_code=503, content={
                "status": "unmigrated", "revision": current, "head": head,
                "message": "run `wattprint server migrate`"})
        return JSONResponse({"status": "ready", "revision": current})

    @app.post("/api/v1/ingest", openapi_extra={"requestBody": _INGEST_BODY},
              response_model=IngestAnswer, responses=errors(400, 401, 403, 413))
    async def ingest(request: Request,
                     identity: KeyIdentity = _INGEST_KEY) -> dict[str, int]:
        from starlette.concurrency import run_in_threadpool

        body = await _read_limited(request, settings.max_body_bytes)
        items = _parse_items(body, settings.max_items)
        unstorable = unstorable_item(body, items)  # a NUL or lone surrogate: 400, not a 500
        if unstorable is not None:
            index, field, reason = unstorable
            raise IngestError(400, f"{field} {reason}", index=index, field=field)
        return await run_in_threadpool(_check_and_store, app, items, identity.project_id)

    from . import openapi_wire

    openapi_wire.install(app, "/api/v1/ingest")
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # At shutdown, close what the app opened for its own outgoing calls: the OpenID provider's
    # HTTP client (its pooled connections). The engine is left to whoever built the app
    # (serving.py disposes it, tests do), since it may outlive one lifespan.
    oidc = getattr(app.state, "oidc", None)
    if oidc is not None:
        oidc.close()


def request_error(errors: Any) -> dict[str, Any]:
    """The first of FastAPI's validation errors as ``{index, field, message}``."""
    first: dict[str, Any] = next(iter(errors), {}) if errors else {}
    if first.get("type") == "json_invalid":  # its location is a character offset, not a field
        where_in_body = first.get("loc", ("body", "?"))[-1]
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return {"index": None, "field": None,
                "message": f"the body is not JSON: {reason} at character {where_in_body}"}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    return {"index": None, "field": ".".join(where) or None,
            "message": str(first.get("msg", "invalid request"))}


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    too_large = IngestError(413, f"request body over {max_bytes} bytes: send smaller batches")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no length to check up front
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes) -> Any:
    """orjson (5x faster on a batch of records) where installed; the stdlib decides whatever
    orjson refuses (integers over 64 bits, lone surrogates, UTF-16 bodies), so the JSON
    accepted is the stdlib's."""
    try:
        import orjson
    except ImportError:  # the server extra installs it
        pass
    else:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    import json

    return json.loads(body, parse_constant=_no_constant)


def _parse_items(body: bytes, max_items: int) -> list[Any]:
    try:
        payload = _load_json(body)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, nesting too deep
        raise IngestError(400, f"the body is not JSON: {exc}")
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise IngestError(400, 'the body must be a JSON object {"items": [wire objects]}',
                          field="items")
    items: list[Any] = payload["items"]
    if len(items) > max_items:
        raise IngestError(413, f"{len(items)} items: at most {max_items} per request; split "
                               "the batch", field="items")
    return items


def _check_and_store(app: FastAPI, items: list[Any], project_id: int) -> dict[str, int]:
    from .ingest import store_batch

    checked = [app.state.validator.check(index, obj) for index, obj in enumerate(items)]
    with app.state.engine.begin() as connection:
        result = store_batch(connection, checked, project_id=project_id,
                             now_s=app.state.wall_clock())
    return {"accepted": result.accepted, "duplicates": result.duplicates}
