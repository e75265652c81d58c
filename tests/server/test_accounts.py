"""Accounts: login sessions and cookies, CSRF, the login rate limit, security headers, members
and API key management, and authorisation on every route (one dependency; A never reaches B)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from server_constants import OWNER  # tests/server is on sys.path (see conftest)
from sqlalchemy import insert, select

from wattprint.server.accounts import create_api_key
from wattprint.server.app import create_app
from wattprint.server.authz import is_authorized_route
from wattprint.server.models import ApiKey, LoginSession, Membership, Organisation, Project, User
from wattprint.server.passwords import hash_password
from wattprint.server.ratelimit import ACCOUNT_FAILURES, ADDRESS_FAILURES, WINDOW_S, record_failure

OPEN_ROUTES = {"/healthz", "/readyz", "/api/v1/login", "/dashboard/login"}


@pytest.fixture
def app(settings, engine, wall):
    app = create_app(settings, wall_clock=wall)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def web(app):
    with TestClient(app, base_url="https://testserver") as client:  # Secure cookies need https
        yield client


def login(client, email=OWNER["email"], password=OWNER["password"]):
    return client.post("/api/v1/login", json={"email": email, "password": password})


def signed_in(app, **who) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app, base_url="https://testserver")
    response = login(client, **who)
    assert response.status_code == 200, response.text
    return client, {"X-CSRF-Token": response.json()["csrf_token"]}


def add_org(engine, name: str, email: str) -> dict:
    """A second organisation with its owner, a project and a read+ingest key."""
    with engine.begin() as c:
        org_id = c.execute(insert(Organisation).values(slug=name.lower(), name=name, created_s=1.0)
                           .returning(Organisation.id)).scalar_one()
        user_id = c.execute(insert(User).values(email=email, password_hash=hash_password(
            "another long password"), created_s=1.0).returning(User.id)).scalar_one()
        c.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id, role="owner"))
        project_id = c.execute(insert(Project).values(organisation_id=org_id, name="p",
                                                      created_s=1.0).returning(Project.id)).scalar_one()
        key = create_api_key(c, project_id=project_id, pepper=b"test-pepper-not-secret",
                             now_s=1.0, scopes=("ingest", "read"))
    return {"org_id": org_id, "user_id": user_id, "project_id": project_id, "key": key,
            "prefix": key.split("_")[1]}


def test_login_sets_a_secure_httponly_lax_session_cookie_stored_only_as_a_hash(web, engine, org):
    response = login(web)

    assert response.status_code == 200 and response.json()["user_id"] == org.user_id
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert {"wp_session", "wp_csrf"} <= set(cookies)
    for flag in ("secure", "httponly", "samesite=lax", "path=/"):
        assert flag in cookies["wp_session"]
    assert "httponly" not in cookies["wp_csrf"] and "secure" in cookies["wp_csrf"]
    token = web.cookies["wp_session"]
    with engine.connect() as c:
        stored = c.execute(select(LoginSession.token_sha256)).scalar_one()
    assert token not in stored and len(stored) == 64
    me = web.get("/api/v1/me").json()
    assert me["email"] == OWNER["email"]
    assert me["organisations"] == [{"id": org.organisation_id, "name": "Acme Research",
                                    "role": "owner"}]


def test_wrong_password_and_unknown_account_get_the_same_401(web, org):
    wrong = login(web, password="not the password")
    unknown = login(web, email="nobody@acme.test")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "wp_session" not in web.cookies
    assert web.get("/api/v1/me").status_code == 401


def test_logout_needs_the_csrf_token_and_ends_the_session_at_once(app, org):
    client, csrf = signed_in(app)
    cookie = client.cookies["wp_session"]

    refused = client.post("/api/v1/logout")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]["message"]
    assert client.post("/api/v1/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200

    assert client.post("/api/v1/logout", headers=csrf).status_code == 200

    replay = TestClient(app, base_url="https://testserver")
    replay.cookies.set("wp_session", cookie)
    assert replay.get("/api/v1/me").status_code == 401  # the old cookie is dead server-side


def test_sessions_expire(app, wall, org):
    client, _ = signed_in(app)
    wall.now_s += 12 * 3600 + 1
    assert client.get("/api/v1/me").status_code == 401


def test_a_cookie_post_without_csrf_changes_nothing(app, engine, org):
    client, _ = signed_in(app)

    response = client.post(f"/api/v1/orgs/{org.organisation_id}/members",
                           json={"email": "x@acme.test", "role": "viewer",
                                 "password": "a long enough password"})

    assert response.status_code == 403
    with engine.connect() as c:
        assert c.execute(select(User.id).where(User.email == "x@acme.test")).first() is None


def test_failed_logins_lock_the_account_then_the_window_frees_it(web, wall, org):
    for _ in range(ACCOUNT_FAILURES):
        assert login(web, password="wrong password").status_code == 401

    locked = login(web)  # even the right password, while locked
    assert locked.status_code == 429 and "wait" in locked.json()["detail"]["message"]

    wall.now_s += WINDOW_S + 1
    assert login(web).status_code == 200


def test_failures_from_one_address_lock_every_account_from_it(web, engine, wall, org):
    with engine.begin() as c:  # the route's own bookkeeping, one failure per guessed account
        for n in range(ADDRESS_FAILURES):
            record_failure(c, email=f"guess{n}@acme.test", address="testclient", now_s=wall.now_s)

    assert login(web).status_code == 429
    wall.now_s += WINDOW_S + 1
    assert login(web).status_code == 200


def test_security_headers_on_every_response_and_hsts_only_over_https(app, web):
    plain = TestClient(app)
    for response in (web.get("/healthz"), web.get("/api/v1/me"), web.get("/nowhere"),
                     plain.post("/api/v1/ingest", json={"items": []})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert web.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in plain.get("/healthz").headers


def test_an_owner_creates_lists_and_revokes_keys_and_the_key_is_shown_once(app, engine, org):
    client, csrf = signed_in(app)
    keys = f"/api/v1/orgs/{org.organisation_id}/keys"

    created = client.post(keys, headers=csrf, json={"project_id": org.project_id,
                                                     "scopes": ["ingest", "read"], "name": "ci"})

    assert created.status_code == 201
    key = created.json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/ingest", json={"items": []}, headers=bearer).json() == {
        "accepted": 0, "duplicates": 0}
    listed = client.get(keys).json()
    assert [k["prefix"] for k in listed] == [org.api_key.split("_")[1], created.json()["prefix"]]
    assert key.split("_", 2)[2] not in client.get(keys).text
    assert listed[1]["scopes"] == ["ingest", "read"] and listed[1]["revoked_s"] is None

    assert client.delete(f"{keys}/{created.json()['prefix']}", headers=csrf).status_code == 200
    assert client.post("/api/v1/ingest", json={"items": []}, headers=bearer).status_code == 401
    assert client.get(keys).json()[1]["revoked_s"] == 1_800_000_000.0
    bad = client.post(keys, headers=csrf, json={"project_id": org.project_id, "scopes": ["root"]})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "scopes"


def test_members_by_role_admins_cannot_touch_owners_and_the_last_owner_stays(app, org):
    owner, owner_csrf = signed_in(app)
    members = f"/api/v1/orgs/{org.organisation_id}/members"
    admin = owner.post(members, headers=owner_csrf, json={
        "email": "Admin@acme.test", "role": "admin", "password": "admin password 1"})
    assert admin.status_code == 201 and admin.json()["email"] == "admin@acme.test"
    assert owner.post(members, headers=owner_csrf, json={
        "email": "nopass@acme.test", "role": "member"}).json()["detail"]["field"] == "password"

    client, csrf = signed_in(app, email="admin@acme.test", password="admin password 1")
    member = client.post(members, headers=csrf, json={
        "email": "m@acme.test", "role": "member", "password": "member password 1"}).json()
    assert client.post(members, headers=csrf, json={
        "email": "o@acme.test", "role": "owner", "password": "owner password 12"}).status_code == 403
    assert client.delete(f"{members}/{org.user_id}", headers=csrf).status_code == 403
    assert client.patch(f"{members}/{member['user_id']}", headers=csrf,
                        json={"role": "viewer"}).json() == {"user_id": member["user_id"],
                                                            "role": "viewer"}
    assert client.patch(f"{members}/{member['user_id']}", headers=csrf,
                        json={"role": "god"}).status_code == 400

    viewer, viewer_csrf = signed_in(app, email="m@acme.test", password="member password 1")
    assert viewer.get(members).status_code == 200
    assert viewer.get(f"/api/v1/orgs/{org.organisation_id}/keys").status_code == 403
    assert viewer.delete(f"{members}/{org.user_id}", headers=viewer_csrf).status_code == 403

    assert owner.patch(f"{members}/{org.user_id}", headers=owner_csrf,
                       json={"role": "admin"}).status_code == 409
    assert owner.delete(f"{members}/{org.user_id}", headers=owner_csrf).status_code == 409
    assert client.delete(f"{members}/{member['user_id']}", headers=csrf).status_code == 200
    assert [m["email"] for m in owner.get(members).json()] == ["owner@acme.test",
                                                               "admin@acme.test"]


def api_routes(app: FastAPI) -> list:
    """The routes the OpenAPI document is built from, with their effective paths (FastAPI
    >= 0.16x keeps included routers whole in app.routes; older ones flatten them)."""
    try:
        from fastapi.openapi.utils import _get_api_route_for_openapi
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    found = (_get_api_route_for_openapi(c) for c in iter_route_contexts(app.routes))
    return [r for r in found if r is not None]


def _all_calls(dependant) -> list[object]:
    calls = []
    for sub in dependant.dependencies:
        calls.append(sub.call)
        calls.extend(_all_calls(sub))
    return calls


def _unauthorised_routes(app: FastAPI) -> list[str]:
    return [f"{sorted(route.methods)} {route.path}" for route in api_routes(app)
            if route.path not in OPEN_ROUTES and not is_authorized_route(
                _all_calls(route.dependant))]


def test_every_route_but_the_open_ones_declares_its_permission(app):
    documented = set(app.openapi()["paths"])
    walked = {r.path for r in api_routes(app)}
    # the dashboard's HTML pages are walked too, though not in the OpenAPI document
    undocumented = {r.path for r in api_routes(app) if not r.include_in_schema}
    assert documented == walked - undocumented and {"/api/v1/ingest", "/api/v1/login"} <= walked
    assert {"/dashboard/", "/dashboard/orgs/{org_id}/runs/{run_id}"} <= undocumented

    assert _unauthorised_routes(app) == []

    # the walk itself catches an unguarded route
    router = APIRouter()
    router.add_api_route("/api/v1/orgs/{org_id}/oops", lambda org_id: {}, methods=["GET"])
    app.include_router(router)
    assert _unauthorised_routes(app) == ["['GET'] /api/v1/orgs/{org_id}/oops"]


def _fill(path: str, b: dict) -> str:
    return (path.replace("{org_id}", str(b["org_id"])).replace("{user_id}", str(b["user_id"]))
            .replace("{prefix}", b["prefix"]))


def _body(path: str, b: dict) -> dict:
    if path.endswith("/keys"):
        return {"project_id": b["project_id"], "scopes": ["read"]}
    return {"email": "intruder@a.test", "role": "owner", "password": "intruder password"}


def _state_of(engine, org_id: int):
    with engine.connect() as c:
        members = c.execute(select(Membership.user_id, Membership.role).where(
            Membership.organisation_id == org_id).order_by(Membership.user_id)).all()
        keys = c.execute(select(ApiKey.prefix, ApiKey.revoked_s).join(Project).where(
            Project.organisation_id == org_id).order_by(ApiKey.prefix)).all()
    return members, keys


def test_a_member_of_a_can_never_read_or_write_b_on_any_organisation_route(app, engine, org):
    b = add_org(engine, "Beta", "owner@beta.test")
    a_key = add_org(engine, "Alpha2", "owner@alpha2.test")  # a key of a third organisation
    before = _state_of(engine, b["org_id"])
    owner_a, csrf_a = signed_in(app)
    callers = {"A's owner (session)": (owner_a, csrf_a),
               "another org's read+ingest key": (TestClient(app, base_url="https://testserver"),
                                                 {"Authorization": f"Bearer {a_key['key']}"})}
    org_routes = [r for r in api_routes(app) if "{org_id}" in r.path]
    assert len(org_routes) >= 7
    tried = 0
    for route in org_routes:
        for method in route.methods:
            for who, (client, headers) in callers.items():
                kwargs = {"headers": headers}
                if method in ("POST", "PATCH"):
                    kwargs["json"] = _body(route.path, b)
                response = client.request(method, _fill(route.path, b), **kwargs)
                assert response.status_code in (403, 404), (who, method, route.path,
                                                             response.status_code)
                assert "beta.test" not in response.text
                tried += 1
    assert tried >= 14
    assert _state_of(engine, b["org_id"]) == before
    # and A's owner still reaches A: the refusals above are about B, not a broken route
    assert owner_a.get(f"/api/v1/orgs/{org.organisation_id}/members").status_code == 200


def test_keys_are_never_logged_and_keys_cannot_manage_accounts(app, org, caplog):
    client, csrf = signed_in(app)
    caplog.set_level("DEBUG")

    key = client.post(f"/api/v1/orgs/{org.organisation_id}/keys", headers=csrf, json={
        "project_id": org.project_id, "scopes": ["ingest", "read"]}).json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    client.post("/api/v1/ingest", json={"items": []}, headers=bearer)
    client.post("/api/v1/ingest", json={"items": []},
                headers={"Authorization": f"Bearer {key[:-3]}AAA"})

    assert key.split("_", 2)[2][:20] not in caplog.text
    keyed = TestClient(app, base_url="https://testserver")  # no session cookie, only the key
    for method, path in [("GET", f"/api/v1/orgs/{org.organisation_id}/members"),
                         ("GET", f"/api/v1/orgs/{org.organisation_id}/keys"),
                         ("GET", "/api/v1/me")]:
        response = keyed.request(method, path, headers=bearer)
        assert response.status_code == 403 and "sign in" in response.json()["detail"]["message"]
    # and a session cannot stand in for a key on a key-only route
    assert client.post("/api/v1/ingest", json={"items": []}).status_code == 401


def test_a_malformed_body_gets_the_documented_error_shape(web):
    answer = web.post("/api/v1/login", json={"email": "owner@acme.test"})  # no password
    assert answer.status_code == 400
    assert answer.json() == {"detail": {"index": None, "field": "password",
                                        "message": answer.json()["detail"]["message"]}}
    assert answer.json()["detail"]["message"]
