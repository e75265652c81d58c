"""Access logs: one JSON (or text) line per request with the documented fields and values, the
request id echoed, and never a key, cookie, CSRF token, password or query string in any output."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from server_constants import OWNER  # tests/server is on sys.path (see conftest)

from wattprint.server.accesslog import ACCESS_LOGGER, AccessLog, configure_access_log
from wattprint.server.app import create_app
from wattprint.server.authz import authorize
from wattprint.server.keys import parse_key

WALL_S = 1_800_000_000.0  # the app's injected wall clock: 2027-01-15T08:00:00Z


@pytest.fixture
def db_url(tmp_path):
    # The access log reads no database: SQLite alone (the PostgreSQL half adds nothing here).
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def restore_access_logger():
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = (list(logger.handlers), logger.propagate, logger.disabled, logger.level)
    yield logger
    logger.handlers[:] = saved[0]
    logger.propagate, logger.disabled = saved[1], saved[2]
    logger.setLevel(saved[3])


@pytest.fixture
def access_json(restore_access_logger):
    stream = io.StringIO()
    configure_access_log("json", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def app(settings, engine):
    app = create_app(settings, wall_clock=lambda: WALL_S)

    @app.get("/test-only/boom", dependencies=[Depends(authorize("read"))])
    def boom() -> None:
        raise RuntimeError("a bug inside a route")

    yield app
    app.state.engine.dispose()


def test_an_ingest_is_one_json_line_with_its_fields_and_the_caller(app, org, access_json,
                                                                   run_objects):
    items, _ = run_objects
    body = json.dumps({"items": items}).encode()
    with TestClient(app) as client:
        response = client.post("/api/v1/ingest", content=body, headers={
            "Authorization": f"Bearer {org.api_key}", "Content-Type": "application/json"})
    assert response.status_code == 200
    [line] = lines(access_json)
    assert line == {
        "time": "2027-01-15T08:00:00.000Z", "request_id": response.headers["x-request-id"],
        "method": "POST", "path": "/api/v1/ingest", "status": 200,
        "duration_ms": line["duration_ms"], "bytes_in": len(body),
        "bytes_out": len(response.content), "client": "testclient",
        "organisation_id": org.organisation_id, "key_prefix": parse_key(org.api_key).prefix,
        "user_id": None, "accepted": len(items), "duplicates": 0}
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert len(line["request_id"]) == 32 and int(line["request_id"], 16) >= 0


def test_times_come_from_the_injected_clocks():
    ticks = iter([10.0, 10.25])
    stream = io.StringIO()
    logger = logging.getLogger("test.accesslog.clocks")
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.INFO)

    async def tiny_app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = AccessLog(tiny_app, wall_clock=lambda: 0.5, perf_clock=lambda: next(ticks))
    middleware.logger = logger
    records: list[logging.LogRecord] = []
    logger.addFilter(lambda record: records.append(record) or True)
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"abc", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "DELETE", "path": "/x", "query_string": b"",
             "headers": [(b"x-request-id", b"client-id.1:2")], "client": ("10.1.2.3", 5)}
    asyncio.run(middleware(scope, receive, send))
    fields = records[0].access
    assert (fields["time"], fields["duration_ms"], fields["bytes_in"]) == (
        "1970-01-01T00:00:00.500Z", 250.0, 3)
    assert (fields["status"], fields["client"], fields["request_id"]) == (204, "10.1.2.3",
                                                                          "client-id.1:2")
    assert (b"x-request-id", b"client-id.1:2") in sent[0]["headers"]
    assert stream.getvalue() == "DELETE /x 204 250.0 ms\n"


@pytest.mark.parametrize("incoming, kept", [
    ("req-42.a:b_c", True), ("abc-123", True), ("x" * 128, True), ("x" * 129, False),
    ("two words", False), ("line\u00e9", False), ("", False)])
def test_a_sane_incoming_request_id_is_kept_and_echoed_else_a_new_one(app, access_json,
                                                                      incoming, kept):
    with TestClient(app) as client:
        response = client.get("/healthz", headers={"X-Request-ID": incoming.encode("utf-8")})
    [line] = lines(access_json)
    assert response.headers["x-request-id"] == line["request_id"]
    if kept:
        assert line["request_id"] == incoming
    else:
        assert line["request_id"] != incoming and len(line["request_id"]) == 32


def test_the_query_string_is_never_logged(app, org, make_key, access_json):
    key = make_key(scopes=("read",))
    with TestClient(app) as client:
        response = client.get("/api/v1/runs?project=tok-SECRET-in-query&limit=5",
                              headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    [line] = lines(access_json)
    assert line["path"] == "/api/v1/runs" and line["key_prefix"] == parse_key(key).prefix
    assert "SECRET" not in access_json.getvalue()


def test_secrets_never_reach_any_log_on_success_or_error(app, org, make_key, access_json,
                                                         caplog):
    caplog.set_level(logging.DEBUG)  # every logger's output, not only ours
    read_key = make_key(scopes=("read",))
    secret = parse_key(read_key).secret
    wrong = f"wp_{parse_key(read_key).prefix}_{'A' * 43}"
    with TestClient(app, base_url="https://testserver",
                    raise_server_exceptions=False) as client:
        signed_in = client.post("/api/v1/login", json=OWNER)
        csrf = signed_in.json()["csrf_token"]
        cookie = client.cookies["wp_session"]
        bearer = {"Authorization": f"Bearer {read_key}"}
        statuses = [
            signed_in.status_code,
            client.get(f"/api/v1/orgs/{org.organisation_id}/runs").status_code,
            client.get("/api/v1/runs", headers={"Authorization": f"Bearer {wrong}"}).status_code,
            client.post("/api/v1/ingest", content=b"{not json", headers={
                "Authorization": f"Bearer {org.api_key}"}).status_code,
            client.get("/api/v1/runs?limit=zero", headers=bearer).status_code,
            client.get("/test-only/boom", headers=bearer).status_code,
            client.post("/api/v1/login", json={**OWNER, "password": "wrong-Pa55word"}
                        ).status_code,
        ]
    assert statuses == [200, 200, 401, 400, 400, 500, 401]
    logged = lines(access_json)
    assert [line["status"] for line in logged] == statuses
    assert logged[1]["user_id"] == org.user_id
    assert logged[1]["organisation_id"] == org.organisation_id
    assert logged[5]["key_prefix"] == parse_key(read_key).prefix
    everything = access_json.getvalue() + caplog.text
    for leak in (secret, read_key, org.api_key, parse_key(org.api_key).secret, wrong[12:],
                 cookie, csrf, OWNER["password"], "wrong-Pa55word"):
        assert leak not in everything


def test_text_format_is_one_readable_line(app, org, restore_access_logger):
    stream = io.StringIO()
    configure_access_log("text", stream=stream)
    with TestClient(app) as client:
        response = client.get("/readyz", headers={"X-Request-ID": "abc"})
    assert stream.getvalue() == (
        f'2027-01-15T08:00:00.000Z abc testclient "GET /readyz" 200 '
        f'{_duration(stream)}ms in=0 out={len(response.content)}\n')


def _duration(stream: io.StringIO) -> str:
    return stream.getvalue().split('" 200 ')[1].split("ms")[0]


def test_off_writes_nothing_and_configuring_twice_never_logs_twice(app, restore_access_logger):
    stream = io.StringIO()
    configure_access_log("off", stream=stream)
    with TestClient(app) as client:
        client.get("/healthz")
        assert stream.getvalue() == ""
        configure_access_log("json", stream=stream)
        configure_access_log("json", stream=stream)
        client.get("/healthz")
    assert len(stream.getvalue().splitlines()) == 1


def test_an_unknown_format_is_refused(restore_access_logger):
    with pytest.raises(ValueError, match="choose off, json, text"):
        configure_access_log("xml")


# --- a route that crashes ---------------------------------------------------------------------

def test_a_crash_answers_500_with_the_request_id_in_the_error_shape_and_logs_it_once(
        app, org, make_key, access_json, caplog):
    caplog.set_level(logging.INFO)
    bearer = {"Authorization": f"Bearer {make_key(scopes=('read',))}"}
    # the default client re-raises whatever reaches Starlette's error handler: nothing may
    with TestClient(app, base_url="https://testserver") as client:
        quoted = client.get("/test-only/boom", headers={**bearer, "X-Request-ID": "req-500"})
        fresh = client.get("/test-only/boom", headers=bearer)
    assert (quoted.status_code, fresh.status_code) == (500, 500)
    assert quoted.headers["x-request-id"] == "req-500"
    assert quoted.json() == {"detail": {
        "index": None, "field": None,
        "message": "internal server error: the server's log has the details under request id "
                   "req-500; quote it to the server's operator"}}
    assert quoted.headers["content-type"] == "application/json"
    # the security headers still wrap it (they sit outside the access log)
    assert quoted.headers["x-content-type-options"] == "nosniff"
    assert quoted.headers["strict-transport-security"].startswith("max-age=")
    generated = fresh.headers["x-request-id"]
    assert len(generated) == 32 and generated in fresh.json()["detail"]["message"]
    # one access line each with status 500, and one traceback each under the same id
    assert [(line["status"], line["request_id"]) for line in lines(access_json)] == [
        (500, "req-500"), (500, generated)]
    crashes = [r for r in caplog.records if r.name == "wattprint.server.errors"]
    assert [r.getMessage() for r in crashes] == [
        "unhandled error answering GET /test-only/boom (request id req-500)",
        f"unhandled error answering GET /test-only/boom (request id {generated})"]
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in crashes)
    assert "a bug inside a route" not in quoted.text  # the error's text stays in the log


def test_a_crash_after_the_response_began_is_left_to_the_server(restore_access_logger):
    stream = io.StringIO()
    configure_access_log("json", stream=stream)

    async def half_answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("broke mid-body")

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/stream", "headers": []}
    with pytest.raises(RuntimeError, match="broke mid-body"):
        asyncio.run(AccessLog(half_answer)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]  # no second answer
    [line] = lines(stream)
    assert line["status"] == 200
