"""Fuzzing the team server from its own OpenAPI document (schemathesis), in process.

Every documented operation gets generated requests, valid and invalid (schemathesis' positive
and negative modes), and also valid ones aimed at the seeded rows (the real org id, run id,
project, job), so the fuzzer reaches the handlers and not only the 404s. Each answer must be
no 5xx, a documented status, a documented content type and match the documented response
schema (schemas.py). Three callers: a read key, an ingest key, a signed-in owner (cookie and
CSRF header). The database is seeded with a real tracker run sent through the ingest route.

Deterministic (derandomized Hypothesis, no example database) and bounded: a few examples per
operation by default; ``WATTPRINT_FUZZ_EXAMPLES=200`` runs it deeper by hand.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the test group's schemathesis is missing")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from wattprint.cluster import Job  # noqa: E402
from wattprint.server.app import create_app  # noqa: E402

# Read at import: the autouse isolated_env fixture removes WATTPRINT_* variables before each test.
EXAMPLES = int(os.environ.get("WATTPRINT_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
SEEDED_JOB = "job-fuzz"


@pytest.fixture
def app(settings, engine):
    app = create_app(settings, wall_clock=lambda: 1_800_000_000.0)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def seeded(app, org, make_key, run_objects):
    """The seeded ids and the three callers' headers."""
    from fastapi.testclient import TestClient

    items, summary = run_objects
    for item in items:  # the run is also one rank of a job, so the job view has something
        if item["type"] == "run":
            item["job"] = Job(job_id=SEEDED_JOB, source="config", rank=0, local_rank=0,
                              world_size=1, local_world_size=1, node="n0",
                              node_rank=0).to_dict()
    read_key = make_key(scopes=("read",))
    ingest_key = make_key(scopes=("ingest",))
    with TestClient(app, base_url="https://testserver") as client:
        sent = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {ingest_key}"})
        assert sent.status_code == 200, sent.text
        login = client.post("/api/v1/login", json={"email": "owner@acme.test",
                                                   "password": "correct horse battery"})
        assert login.status_code == 200, login.text
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    ids = {"org_id": org.organisation_id, "run_id": summary.run_id, "project": "default",
           "job_id": SEEDED_JOB, "user_id": org.user_id, "prefix": read_key.split("_")[1]}
    callers = {
        "read key": {"Authorization": f"Bearer {read_key}"},
        "ingest key": {"Authorization": f"Bearer {ingest_key}"},
        "session": {"Cookie": cookies, "X-CSRF-Token": login.json()["csrf_token"]},
    }
    return ids, callers


_KNOWN_QUERY = {"since": 1_600_000_000, "until": 1_900_000_000}  # covers the seeded run


def _operations(app, *, session: bool):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    if not session:  # signing in reads no key: fuzzed once, with the session caller (argon2 is slow)
        operations = [op for op in operations if not op.path.endswith("/login")]
    # signing out ends the session the other operations use: last
    return sorted(operations, key=lambda op: op.path.endswith("/logout"))


def _fuzz(app, headers: dict[str, str], ids: dict[str, object],
          examples: int) -> tuple[list[str], dict[str, Counter[int]]]:
    """Failures (one line each) of ``examples`` cases per operation per generation mode, and
    the statuses each operation answered."""
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for operation in _operations(app, session="Cookie" in headers):
        params = {p.name for p in operation.path_parameters}
        real = {name: value for name, value in ids.items() if name in params}
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))

        @settings(max_examples=examples * 3, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @given(case=strategy)
        def check(case) -> None:
            response = case.call(headers=headers)
            statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            if operation.method.upper() == "GET":
                # one known-good request first, so that reaching the handler does not hang on
                # what the generator happens to draw (it varies with the code loaded)
                required = {p.name for p in operation.query if p.is_required}
                known = operation.Case(path_parameters=real, query={
                    name: value for name, value in _KNOWN_QUERY.items() if name in required})
                response = known.call(headers=headers)
                statuses.setdefault(operation.label, Counter())[response.status_code] += 1
                known.validate_response(response, checks=CHECKS, headers=headers)
            check()
        except (Exception, FailureGroup) as exc:  # one run reports every failing operation
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}"[:1200])
    return failures, statuses


@pytest.mark.parametrize("caller", ["read key", "ingest key", "session"])
def test_every_operation_answers_as_documented(app, seeded, caller):
    ids, callers = seeded

    failures, statuses = _fuzz(app, callers[caller], ids, EXAMPLES)

    assert failures == [], "\n\n".join(failures)
    # and it got past the doors: the handlers answered 2xx, not only 401/403/404
    answered = {label for label, counts in statuses.items() if any(s < 300 for s in counts)}
    if caller == "read key":  # every read route, at both prefixes
        reads = {label for label in statuses if label.startswith("GET /api/v1/")
                 and not label.endswith(("/me", "/members", "/keys"))}
        assert len(reads) >= 20 and reads <= answered, sorted(reads - answered)
    elif caller == "ingest key":
        assert "POST /api/v1/ingest" in answered
    else:
        assert {"GET /api/v1/me", "GET /api/v1/orgs/{org_id}/members",
                "GET /api/v1/orgs/{org_id}/runs", "POST /api/v1/logout"} <= answered


def test_the_documents_are_served(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        document = client.get("/openapi.json")
        docs = client.get("/docs")

    assert document.status_code == 200 and docs.status_code == 200
    assert "swagger" in docs.text.lower()
    error = document.json()["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"index", "field", "message"}
    responses = document.json()["paths"]["/api/v1/runs"]["get"]["responses"]
    assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    # malformed requests answer 400 (app.py), so no operation documents FastAPI's 422
    assert not [path for path, item in document.json()["paths"].items()
                for operation in item.values() if "422" in operation["responses"]]


# --- what the fuzzer found, pinned one by one ---------------------------------------------------

def _signed_in(app):
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver")
    login = client.post("/api/v1/login", json={"email": "owner@acme.test",
                                               "password": "correct horse battery"})
    assert login.status_code == 200, login.text
    return client, {"X-CSRF-Token": login.json()["csrf_token"]}


def test_an_unreadable_body_and_an_unknown_path_answer_in_the_one_error_shape(app, org):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    body = client.post("/api/v1/login", content=b"{\"email\": \"\x80\"}",
                       headers={"Content-Type": "application/json"})
    not_json = client.post("/api/v1/login", content=b'{"email": ',
                           headers={"Content-Type": "application/json"})
    nowhere = client.get("/api/v1/nowhere")
    wrong_method = client.put("/healthz")

    assert body.status_code == 400
    assert body.json() == {"detail": {"index": None, "field": None,
                                      "message": "There was an error parsing the body"}}
    assert not_json.status_code == 400 and not_json.json() == {"detail": {
        "index": None, "field": None,
        "message": "the body is not JSON: Expecting value at character 10"}}
    assert nowhere.status_code == 404 and nowhere.json()["detail"]["message"] == "Not Found"
    assert wrong_method.status_code == 405 and wrong_method.json()["detail"]["field"] is None


@pytest.mark.parametrize("path", ["/api/v1/orgs/{huge}/members", "/api/v1/orgs/{huge}/runs",
                                  "/api/v1/orgs/{huge}/projects", "/api/v1/orgs/0/keys"])
def test_an_organisation_id_past_the_id_columns_is_404_not_a_database_error(app, org, path):
    client, _ = _signed_in(app)

    response = client.get(path.format(huge=2**64))  # SQLite cannot bind it: a 500 before

    assert response.status_code == 404, response.text
    assert response.json()["detail"]["message"].startswith("no organisation")


def test_a_user_or_project_id_past_the_id_columns_is_400_naming_it(app, org):
    client, csrf = _signed_in(app)
    members = f"/api/v1/orgs/{org.organisation_id}/members"

    role = client.patch(f"{members}/{2**64}", json={"role": "viewer"}, headers=csrf)
    key = client.post(f"/api/v1/orgs/{org.organisation_id}/keys",
                      json={"project_id": 2**64, "scopes": ["read"]}, headers=csrf)

    assert role.status_code == 400 and role.json()["detail"]["field"] == "user_id"
    assert key.status_code == 400 and key.json()["detail"]["field"] == "project_id"


def _cursor(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("url, field", [
    ("/api/v1/runs?project=a%00b", "project"), ("/api/v1/totals?host=%00", "host"),
    ("/api/v1/runs/a%00b", "run_id"), ("/api/v1/jobs/a%00b", "job_id"),
    ("/api/v1/projects/a%00b/experiments", "project"),
    ("/api/v1/runs?cursor=" + _cursor('[1, "a\\u0000b"]'), "cursor"),
    ("/api/v1/runs?cursor=" + _cursor('[1, "\\ud800"]'), "cursor"),
    ("/api/v1/runs?cursor=" + _cursor("[1" + "0" * 400 + ', "a"]'), "cursor"),
    ("/api/v1/runs?cursor=" + _cursor("[" * 5000), "cursor"),
    ("/api/v1/hosts?cursor=" + _cursor('["a\\u0000b"]'), "cursor"),
    ("/api/v1/projects?cursor=" + _cursor("[" * 5000), "cursor"),
    ("/api/v1/runs/r/records?since_seq=2147483648", "since_seq"),
])
def test_parameters_no_database_can_take_are_400_naming_them(client, make_key, url, field):
    # PostgreSQL refuses a NUL in text and an integer past its column; a lone surrogate or a
    # 400-digit number in a cursor broke the decoding: each was a 500
    read = {"Authorization": f"Bearer {make_key(scopes=('read',))}"}

    response = client.get(url, headers=read)

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["field"] == field


@pytest.mark.parametrize("email", ["owner@acme.test\u0000", "\ud800@acme.test"])
def test_a_login_with_text_no_database_can_take_is_400(client, org, email):
    import json

    body = json.dumps({"email": email, "password": "correct horse battery"})  # \u escapes

    response = client.post("/api/v1/login", content=body,
                           headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["field"] == "email"


@pytest.mark.parametrize("where, field", [
    ("hostname", "host.hostname"), ("surrogate", "host.command"), ("key", "tags.\\ud800")])
def test_an_ingest_with_text_no_database_can_take_is_400_naming_item_and_field(
        client, org, run_objects, where, field):
    # PostgreSQL refuses a NUL in text, and no driver encodes a lone surrogate: both were 500s
    import json

    items = json.loads(json.dumps(run_objects[0]))
    info = items[0]
    if where == "hostname":
        info["host"]["hostname"] = "gpu\u00001"
    elif where == "surrogate":
        info["host"]["command"] = "python train.py --out \udcff"  # a non-UTF-8 argv byte
    else:
        info["tags"] = {"\ud800": "x"}

    response = client.post("/api/v1/ingest", content=json.dumps({"items": items}),
                           headers={"Authorization": f"Bearer {org.api_key}",
                                    "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["index"] == 0
    assert response.json()["detail"]["field"] == field


def test_an_ingest_with_escaped_but_valid_text_is_stored(client, org, run_objects):
    import json

    items = json.loads(json.dumps(run_objects[0]))
    items[0]["host"]["hostname"] = "gpu-\U0001f600"  # a surrogate pair once escaped: valid

    response = client.post("/api/v1/ingest", content=json.dumps({"items": items}),
                           headers={"Authorization": f"Bearer {org.api_key}",
                                    "Content-Type": "application/json"})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("query", ["since=1e30", "until=-1e30", "since=nan", "until=inf"])
@pytest.mark.parametrize("route", ["/api/v1/totals", "/api/v1/runs", "/api/v1/series"])
def test_a_time_past_any_calendar_is_400_naming_it(client, make_key, route, query):
    # the rollups' hour arithmetic overflowed (a 500 on both databases)
    read = {"Authorization": f"Bearer {make_key(scopes=('read',))}"}
    bounds = {"since": "0", "until": "2e9"} if route.endswith("series") else {}
    name, value = query.split("=")
    bounds[name] = value

    response = client.get(route, params=bounds, headers=read)

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["field"] == name


def test_the_widest_time_range_allowed_is_answered(client, make_key):
    read = {"Authorization": f"Bearer {make_key(scopes=('read',))}"}
    wide = {"since": "-1e11", "until": "1e11"}

    for route in ("/api/v1/totals", "/api/v1/runs", "/api/v1/series"):
        response = client.get(route, params=wide, headers=read)
        assert response.status_code == 200, (route, response.text)


@pytest.mark.parametrize("start_s, duration_s, field", [
    (1e300, 36.0, "start_s"), (-1e12, 36.0, "start_s"), (1.7e9, 1e15, "start_s"),
    (1.7e9, 1e300, "duration_s")])  # beyond any figure (server.bounds), before any calendar
def test_a_record_time_past_any_calendar_is_400_naming_it(client, org, run_objects, start_s,
                                                          duration_s, field):
    # the rollups cut records at whole hours, as integers: 1e300 s overflowed them (a 500)
    import json

    items = json.loads(json.dumps(run_objects[0]))
    index = next(i for i, item in enumerate(items) if item["type"] == "record")
    items[index]["start_s"], items[index]["duration_s"] = start_s, duration_s

    response = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {org.api_key}"})

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["index"] == index
    assert response.json()["detail"]["field"] == field
