"""The organisation's settings pages and the sign-in form without JavaScript (issue 11), on
SQLite and PostgreSQL: every action is a URL-encoded form POST carrying the session's CSRF
field, answered by the same account functions as the JSON API; a key is shown once; the last
owner stays; a member of A can neither see nor change B's settings."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from server_constants import OWNER, PEPPER  # tests/server is on sys.path (see conftest)
from sqlalchemy import insert, select

from wattprint.server.accounts import (
    EMAIL_LENGTH,
    PROJECT_NAME_LENGTH,
    add_member,
    create_api_key,
)
from wattprint.server.app import create_app
from wattprint.server.catalog import list_projects
from wattprint.server.dashboard import fmt
from wattprint.server.models import ApiKey, LoginSession, Membership, Organisation, Project, User
from wattprint.server.passwords import hash_password
from wattprint.server.ratelimit import ACCOUNT_FAILURES
from wattprint.server.settings import Settings

HTTPS = "https://testserver"  # the session cookie is Secure
NOW_S = 1_800_000_000.0


@pytest.fixture
def app(db_url, engine):
    app = create_app(Settings(db_url=db_url, pepper=PEPPER), wall_clock=lambda: NOW_S)
    yield app
    app.state.engine.dispose()


def login_form(client: TestClient, next_path: str = "/dashboard/") -> str:
    """The sign-in page's own token (its cookie is now in ``client``)."""
    page = client.get("/dashboard/login", params={"next": next_path})
    assert page.status_code == 200
    return re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)


def sign_in(app, email=OWNER["email"], password=OWNER["password"]) -> TestClient:
    """A browser signed in through the HTML form, as with JavaScript off."""
    client = TestClient(app, base_url=HTTPS)
    token = login_form(client)
    answer = client.post("/dashboard/login", data={
        "email": email, "password": password, "login_token": token, "next": "/dashboard/"},
        follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def settings(org_id: int) -> str:
    return f"/dashboard/orgs/{org_id}/settings"


def add_user(engine, org_id: int, email: str, role: str) -> int:
    with engine.begin() as c:
        return add_member(c, org_id=org_id, actor_role="owner", email=email, role=role,
                          password=f"{role} password 123", now_s=1.0)["user_id"]


def roles(engine, org_id: int) -> dict[str, str]:
    with engine.connect() as c:
        return dict(c.execute(select(User.email, Membership.role).join(Membership).where(
            Membership.organisation_id == org_id)).all())


# -- sign-in and sign-out without JavaScript ---------------------------------------------------

def test_the_sign_in_form_posts_without_javascript_and_redirects_to_next(app, org):
    client = TestClient(app, base_url=HTTPS)
    target = f"/dashboard/orgs/{org.organisation_id}/runs?status=finished"
    page = client.get("/dashboard/login", params={"next": target})
    assert "<script" not in page.text  # nothing on the page needs JavaScript
    assert 'action="/dashboard/login"' in page.text and 'method="post"' in page.text
    cookie = page.headers["set-cookie"]
    assert "wp_login=" in cookie and "Path=/dashboard/login" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Secure" in cookie
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)

    answer = client.post("/dashboard/login", data={
        "email": " Owner@ACME.test ", "password": OWNER["password"], "login_token": token,
        "next": target}, follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"] == target
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("wp_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=lax" in session
    assert any(c.startswith("wp_csrf=") for c in cookies)
    assert answer.headers["cache-control"] == "no-store"
    runs = client.get(target)
    assert runs.status_code == 200 and "<h1>Runs</h1>" in runs.text
    # used once: the form's token is gone with its cookie
    assert any(c.startswith('wp_login=""') for c in cookies)


@pytest.mark.parametrize("elsewhere", ["https://evil.test/", "//evil.test/x", "/api/v1/runs",
                                       "/\\evil.test"])
def test_sign_in_never_redirects_off_the_dashboard(app, org, elsewhere):
    client = TestClient(app, base_url=HTTPS)
    token = login_form(client)
    answer = client.post("/dashboard/login", data={**OWNER, "login_token": token,
                                                   "next": elsewhere}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/"


def test_a_refused_sign_in_shows_the_form_again_with_the_message_and_the_e_mail(app, engine,
                                                                              org):
    client = TestClient(app, base_url=HTTPS)
    token = login_form(client)
    wrong = client.post("/dashboard/login", data={
        "email": OWNER["email"], "password": "not the password", "login_token": token,
        "next": "/dashboard/orgs/1/runs"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "wrong e-mail or password" in wrong.text
    assert f'value="{OWNER["email"]}"' in wrong.text and "not the password" not in wrong.text
    assert 'name="next" value="/dashboard/orgs/1/runs"' in wrong.text
    assert not any(c.startswith("wp_session=") for c in wrong.headers.get_list("set-cookie"))
    # the same rate limit as the JSON login: locked even with the right password
    for _ in range(ACCOUNT_FAILURES - 1):
        token = re.search(r'name="login_token" value="([^"]+)"', wrong.text).group(1)
        wrong = client.post("/dashboard/login", data={
            "email": OWNER["email"], "password": "nope", "login_token": token})
    token = re.search(r'name="login_token" value="([^"]+)"', wrong.text).group(1)
    locked = client.post("/dashboard/login", data={**OWNER, "login_token": token})
    assert locked.status_code == 429 and "too many failed logins" in locked.text
    assert client.post("/api/v1/login", json=OWNER).status_code == 429
    with engine.connect() as c:
        assert c.execute(select(LoginSession.id)).all() == []


def test_a_sign_in_without_the_forms_own_token_is_refused(app, engine, org):
    """Another site cannot sign a browser into an account of its choosing."""
    client = TestClient(app, base_url=HTTPS)
    login_form(client)  # the cookie, but a forged form without the page's token
    for forged in ({}, {"login_token": "guessed"}):
        answer = client.post("/dashboard/login", data={**OWNER, **forged},
                             follow_redirects=False)
        assert answer.status_code == 400 and "expired or came from another page" in answer.text
    fresh = TestClient(app, base_url=HTTPS)  # a token without its cookie
    token = login_form(TestClient(app, base_url=HTTPS))
    assert fresh.post("/dashboard/login", data={**OWNER, "login_token": token},
                      follow_redirects=False).status_code == 400
    with engine.connect() as c:
        assert c.execute(select(LoginSession.id)).all() == []


def test_sign_out_is_a_form_with_the_csrf_field_and_ends_the_session(app, org):
    client = sign_in(app)
    page = client.get(f"/dashboard/orgs/{org.organisation_id}/")
    assert 'action="/dashboard/logout"' in page.text
    for forged in ({}, {"csrf_token": "wrong"}):
        refused = client.post("/dashboard/logout", data=forged, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert client.get(f"/dashboard/orgs/{org.organisation_id}/").status_code == 200
    answer = client.post("/dashboard/logout", data={"csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    gone = client.get(f"/dashboard/orgs/{org.organisation_id}/", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/dashboard/login")


def test_a_form_sent_after_the_session_ended_signs_in_again_then_opens_the_dashboard(
        app, engine, org):
    client = sign_in(app)
    page = client.get(f"{settings(org.organisation_id)}/members")
    with engine.begin() as c:
        c.execute(LoginSession.__table__.delete())  # ended elsewhere (expired, signed out)
    for path in (f"{settings(org.organisation_id)}/members/{org.user_id}/role",
                 "/dashboard/logout"):
        answer = client.post(path, data={"csrf_token": csrf_of(page.text), "role": "viewer"},
                             follow_redirects=False)
        # back to the sign-in page, then the dashboard: a form's target is no page to open
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/dashboard/login?next=%2Fdashboard%2F", path
    assert roles(engine, org.organisation_id)[OWNER["email"]] == "owner"


def test_the_sign_in_page_offers_oidc_only_when_configured(app, db_url, engine):
    from wattprint.server.oidc import OidcSettings

    assert "identity provider" not in TestClient(app, base_url=HTTPS).get(
        "/dashboard/login").text
    oidc = OidcSettings(issuer="https://idp.example.test", client_id="wattprint",
                        client_secret="not-a-secret",
                        redirect_url="https://testserver/api/v1/oidc/callback")
    with_oidc = create_app(Settings(db_url=db_url, pepper=PEPPER, oidc=oidc))
    try:
        page = TestClient(with_oidc, base_url=HTTPS).get("/dashboard/login",
                                                         params={"next": "/dashboard/orgs/1/"})
        link = re.search(r'<a href="([^"]+)" class="button" data-testid="oidc">', page.text)
        assert link.group(1) == "/api/v1/oidc/login?next=%2Fdashboard%2Forgs%2F1%2F"
    finally:
        with_oidc.state.engine.dispose()


# -- API keys --------------------------------------------------------------------------------

def test_a_key_is_created_by_form_shown_once_works_and_is_refused_once_revoked(app, engine,
                                                                               org, caplog):
    caplog.set_level("DEBUG")
    client = sign_in(app)
    keys = f"{settings(org.organisation_id)}/keys"
    page = client.get(keys)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    csrf = csrf_of(page.text)

    created = client.post(keys, data={"csrf_token": csrf, "name": "ci runner",
                                      "project_id": str(org.project_id),
                                      "scope": ["ingest", "read"]})

    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key"[^>]*value="(wp_[0-9a-f]{8}_[A-Za-z0-9_-]{43})"',
                    created.text).group(1)
    prefix, secret = key.split("_")[1], key.split("_", 2)[2]
    assert "shown only on this page, once" in created.text
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/ingest", json={"items": []}, headers=bearer).status_code == 200
    assert client.get("/api/v1/runs", headers=bearer).status_code == 200  # the read scope
    # never again: not on the list, not in the API's list, not in the database, not logged
    listed = client.get(keys)
    assert f'data-key="{prefix}"' in listed.text and "ci runner" in listed.text
    assert secret not in listed.text and secret[:12] not in listed.text
    assert secret not in client.get(f"/api/v1/orgs/{org.organisation_id}/keys",
                                    headers={"X-CSRF-Token": csrf}).text
    with engine.connect() as c:
        row = c.execute(select(ApiKey).where(ApiKey.prefix == prefix)).one()
    assert secret not in " ".join(str(v) for v in row) and row.scopes == "ingest read"
    assert secret[:12] not in caplog.text

    confirm = client.get(f"{keys}/{prefix}/revoke")
    assert confirm.status_code == 200 and f"Revoke key wp_{prefix}_..." in confirm.text
    assert client.post("/api/v1/ingest", json={"items": []}, headers=bearer).status_code == 200
    revoked = client.post(f"{keys}/{prefix}/revoke", data={"csrf_token": csrf},
                          follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == f"{keys}?revoked={prefix}"
    shown = client.get(revoked.headers["location"])
    assert f"Key wp_{prefix}_... revoked" in shown.text
    assert "revoked " + fmt.timestamp(NOW_S) in shown.text
    refused = client.post("/api/v1/ingest", json={"items": []}, headers=bearer)
    assert refused.status_code == 401 and "was revoked" in refused.json()["detail"]["message"]
    assert client.get(f"{keys}/{prefix}/revoke").status_code == 409  # nothing to confirm


@pytest.mark.parametrize(("form", "status", "message"), [
    ({"scope": ["root"]}, 400, "scopes ['root']: choose from ingest, read"),
    ({"scope": []}, 400, "scopes []"),
    ({"project_id": "999"}, 404, "no project 999"),
    ({"project_id": "x"}, 400, "choose the key's project"),
])
def test_a_refused_key_shows_the_servers_message_and_keeps_the_form(app, engine, org, form,
                                                                    status, message):
    client = sign_in(app)
    keys = f"{settings(org.organisation_id)}/keys"
    csrf = csrf_of(client.get(keys).text)
    data = {"csrf_token": csrf, "name": "kept name", "project_id": str(org.project_id),
            "scope": ["read"], **form}
    answer = client.post(keys, data=data)
    assert answer.status_code == status
    assert message.replace("'", "&#39;") in answer.text and 'value="kept name"' in answer.text
    with engine.connect() as c:
        assert c.execute(select(ApiKey.prefix)).all() == [(org.api_key.split("_")[1],)]


def test_text_longer_than_its_column_is_a_400_on_the_page_and_in_the_api(app, engine, org):
    """PostgreSQL refuses a value past a column's length (a 500 if it got that far)."""
    assert ApiKey.__table__.c.name.type.length == PROJECT_NAME_LENGTH
    assert User.__table__.c.email.type.length == EMAIL_LENGTH
    org_id = org.organisation_id
    client = sign_in(app)
    csrf = csrf_of(client.get(f"{settings(org_id)}/keys").text)
    long_name = client.post(f"{settings(org_id)}/keys", data={
        "csrf_token": csrf, "name": "n" * 201, "project_id": str(org.project_id),
        "scope": "read"})
    assert long_name.status_code == 400 and "give at most 200" in long_name.text
    api = client.post(f"/api/v1/orgs/{org_id}/keys", headers={"X-CSRF-Token": csrf},
                      json={"project_id": org.project_id, "scopes": ["read"], "name": "n" * 201})
    assert api.status_code == 400 and api.json()["detail"]["field"] == "name"
    email = "a" * 320 + "@acme.test"
    long_email = client.post(f"{settings(org_id)}/members", data={
        "csrf_token": csrf, "email": email, "role": "viewer", "password": "p" * 12})
    assert long_email.status_code == 400 and "at most 320 characters" in long_email.text
    api = client.post(f"/api/v1/orgs/{org_id}/members", headers={"X-CSRF-Token": csrf},
                      json={"email": email, "role": "viewer", "password": "p" * 12})
    assert api.status_code == 400 and api.json()["detail"]["field"] == "email"
    assert client.post(f"{settings(org_id)}/keys", data={
        "csrf_token": csrf, "name": "n" * 200, "project_id": str(org.project_id),
        "scope": "read"}).status_code == 201  # the longest that fits
    with engine.connect() as c:
        assert c.execute(select(User.id).where(User.email == email)).all() == []


def test_another_organisations_project_gets_no_key(app, engine, org):
    b = add_org(engine, "Beta")
    client = sign_in(app)
    keys = f"{settings(org.organisation_id)}/keys"
    answer = client.post(keys, data={"csrf_token": csrf_of(client.get(keys).text),
                                     "project_id": str(b["project_id"]), "scope": "read"})
    assert answer.status_code == 404 and f"no project {b['project_id']}" in answer.text


# -- members ---------------------------------------------------------------------------------

def test_an_owner_adds_changes_and_removes_members_by_form(app, engine, org):
    org_id = org.organisation_id
    client = sign_in(app)
    members = f"{settings(org_id)}/members"
    csrf = csrf_of(client.get(members).text)

    added = client.post(members, data={"csrf_token": csrf, "email": "New@Acme.test",
                                       "role": "viewer", "password": "a new password 1"},
                        follow_redirects=False)
    assert added.status_code == 303
    new_id = int(re.search(r"added=(\d+)", added.headers["location"]).group(1))
    assert "Added new@acme.test as viewer." in client.get(added.headers["location"]).text
    assert roles(engine, org_id)["new@acme.test"] == "viewer"

    again = client.post(members, data={"csrf_token": csrf, "email": "new@acme.test",
                                       "role": "member"})
    assert again.status_code == 409 and "already a member" in again.text
    assert 'value="new@acme.test"' in again.text  # the form keeps what was typed
    no_password = client.post(members, data={"csrf_token": csrf, "email": "x@acme.test",
                                             "role": "member"})
    assert no_password.status_code == 400 and "initial password" in no_password.text

    changed = client.post(f"{members}/{new_id}/role", data={"csrf_token": csrf,
                                                            "role": "admin"})
    assert changed.status_code == 200 and "new@acme.test is now admin." in changed.text
    assert roles(engine, org_id)["new@acme.test"] == "admin"
    bad = client.post(f"{members}/{new_id}/role", data={"csrf_token": csrf, "role": "god"})
    assert bad.status_code == 400 and "role &#39;god&#39;: choose from" in bad.text

    confirm = client.get(f"{members}/{new_id}/remove")
    assert confirm.status_code == 200 and "Remove new@acme.test (admin)" in confirm.text
    assert roles(engine, org_id)["new@acme.test"] == "admin"  # asking changes nothing
    removed = client.post(f"{members}/{new_id}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 200 and "Member removed." in removed.text
    assert "new@acme.test" not in roles(engine, org_id)
    assert client.post(f"{members}/{new_id}/remove", data={"csrf_token": csrf}).status_code == 404


def test_the_last_owner_can_be_neither_demoted_nor_removed(app, engine, org):
    org_id = org.organisation_id
    client = sign_in(app)
    members = f"{settings(org_id)}/members"
    csrf = csrf_of(client.get(members).text)
    demoted = client.post(f"{members}/{org.user_id}/role", data={"csrf_token": csrf,
                                                                 "role": "admin"})
    assert demoted.status_code == 409
    assert "the last owner cannot be demoted: make someone else owner first" in demoted.text
    removed = client.post(f"{members}/{org.user_id}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 409 and "the last owner cannot be removed" in removed.text
    assert roles(engine, org_id)[OWNER["email"]] == "owner"
    # with a second owner, the first may step down
    second = add_user(engine, org_id, "second@acme.test", "owner")
    assert second
    stepped = client.post(f"{members}/{org.user_id}/role", data={"csrf_token": csrf,
                                                                 "role": "admin"})
    assert stepped.status_code == 200 and roles(engine, org_id)[OWNER["email"]] == "admin"


def test_an_admin_cannot_touch_owners_and_a_viewer_changes_nothing(app, engine, org):
    org_id = org.organisation_id
    add_user(engine, org_id, "admin@acme.test", "admin")
    viewer_id = add_user(engine, org_id, "viewer@acme.test", "viewer")
    members = f"{settings(org_id)}/members"

    admin = sign_in(app, "admin@acme.test", "admin password 123")
    page = admin.get(members)
    assert page.status_code == 200 and '<option value="owner"' not in page.text
    assert "only an owner changes an owner" in page.text
    csrf = csrf_of(page.text)
    forged = admin.post(f"{members}/{viewer_id}/role", data={"csrf_token": csrf,
                                                             "role": "owner"})
    assert forged.status_code == 403
    assert "only an owner can grant, change or remove the owner role" in forged.text
    assert admin.post(f"{members}/{org.user_id}/remove",
                      data={"csrf_token": csrf}).status_code == 403
    assert admin.post(f"{members}/{viewer_id}/role", data={"csrf_token": csrf,
                                                           "role": "member"}).status_code == 200
    assert admin.get(f"{settings(org_id)}/keys").status_code == 200  # admins manage keys

    add_user(engine, org_id, "reader@acme.test", "viewer")
    viewer = sign_in(app, "reader@acme.test", "viewer password 123")
    page = viewer.get(members)
    assert page.status_code == 200 and "<form method=\"post\" action=\"" + members not in page.text
    assert 'href="' + settings(org_id) + '/keys"' not in page.text  # no keys tab
    csrf = csrf_of(page.text)  # the sign-out form's
    before = roles(engine, org_id)
    for path, data in [(f"{members}/{viewer_id}/role", {"role": "admin"}),
                       (f"{members}/{org.user_id}/remove", {}),
                       (members, {"email": "z@acme.test", "role": "viewer",
                                  "password": "zzzzzzzzzzzzzz"}),
                       (f"{settings(org_id)}/keys", {"project_id": str(org.project_id),
                                                     "scope": "read"}),
                       (f"{settings(org_id)}/keys/{org.api_key.split('_')[1]}/revoke", {})]:
        answer = viewer.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 403, path
        assert "does not allow" in answer.text, path
    for path in (f"{settings(org_id)}/keys", f"{members}/{viewer_id}/remove"):
        assert viewer.get(path).status_code == 403, path
    assert roles(engine, org_id) == before
    with engine.connect() as c:
        assert c.execute(select(ApiKey.revoked_s)).all() == [(None,)]


def test_every_settings_form_refuses_a_missing_or_wrong_csrf_field(app, engine, org):
    org_id = org.organisation_id
    other = add_user(engine, org_id, "other@acme.test", "member")
    prefix = org.api_key.split("_")[1]
    client = sign_in(app)
    base = settings(org_id)
    forms = [(f"{base}/members", {"email": "n@acme.test", "role": "viewer",
                                  "password": "nnnnnnnnnnnnnn"}),
             (f"{base}/members/{other}/role", {"role": "admin"}),
             (f"{base}/members/{other}/remove", {}),
             (f"{base}/keys", {"project_id": str(org.project_id), "scope": "read"}),
             (f"{base}/keys/{prefix}/revoke", {}),
             (f"{base}/projects", {"name": "sneaky"})]
    before = roles(engine, org_id)
    for path, data in forms:
        for forged in ({}, {"csrf_token": "x" * 43}, {"csrf_token": ""}):
            answer = client.post(path, data={**data, **forged})
            assert answer.status_code == 403 and "CSRF" in answer.text, (path, forged)
        # a JSON body is no way around the form's token either
        assert client.post(path, json={**data}).status_code == 403
    assert roles(engine, org_id) == before
    with engine.connect() as c:
        assert c.execute(select(ApiKey.prefix, ApiKey.revoked_s)).all() == [(prefix, None)]


def test_bad_form_bodies_are_refused_with_a_message(app, org):
    client = sign_in(app)
    members = f"{settings(org.organisation_id)}/members"
    kind = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post(members, content=b"csrf_token=%ff%fe", headers=kind).status_code == 400
    nul = client.post(members, content=b"email=a%00b", headers=kind)
    assert nul.status_code == 400 and "NUL" in nul.text
    big = client.post(members, content=b"a=" + b"x" * 70_000, headers=kind)
    assert big.status_code == 413


# -- projects --------------------------------------------------------------------------------

def test_the_projects_page_shows_each_projects_runs_energy_and_keys(app, engine, org,
                                                                    run_objects):
    items, summary = run_objects
    with TestClient(app, base_url=HTTPS) as api:
        assert api.post("/api/v1/ingest", json={"items": items}, headers={
            "Authorization": f"Bearer {org.api_key}"}).status_code == 200
    with engine.begin() as c:
        c.execute(insert(Project).values(organisation_id=org.organisation_id, name="empty",
                                         created_s=2.0))
        create_api_key(c, project_id=org.project_id, pepper=PEPPER.encode(), now_s=3.0,
                       scopes=("read",))
        expected = {p["project"]: p for p in list_projects(c, org.organisation_id,
                                                           limit=100)["projects"]}
    viewer_id = add_user(engine, org.organisation_id, "v@acme.test", "viewer")
    assert viewer_id
    page = sign_in(app, "v@acme.test", "viewer password 123").get(
        f"{settings(org.organisation_id)}/projects")  # any member reads it
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-project="([^"]+)">(.*?)</tr>', page.text, re.S))
    assert list(rows) == ["default", "empty"]
    default = rows["default"]
    assert expected["default"]["runs"] == 1
    assert '<td class="num" data-testid="runs">1</td>' in default
    assert expected["default"]["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert f'data-value="{expected["default"]["energy_j"]}">' \
        f'{fmt.energy(expected["default"]["energy_j"])}</td>' in default
    assert re.findall(r'<td class="num">(\d+)</td>', default)[-1] == "2"  # two active keys
    assert '<td class="num" data-testid="runs">0</td>' in rows["empty"]


def test_projects_are_created_by_form_and_by_the_api_by_owners_and_admins_only(app, engine,
                                                                             org):
    org_id = org.organisation_id
    assert Project.__table__.c.name.type.length == PROJECT_NAME_LENGTH
    client = sign_in(app)
    projects = f"{settings(org_id)}/projects"
    csrf = csrf_of(client.get(projects).text)

    made = client.post(projects, data={"csrf_token": csrf, "name": "  vision team "},
                       follow_redirects=False)
    assert made.status_code == 303
    assert "Project vision team created" in client.get(made.headers["location"]).text
    keys_page = client.get(f"{settings(org_id)}/keys").text
    assert re.search(r'<option value="\d+" >vision team</option>', keys_page)
    for name, status, message in [("vision team", 409, "already exists"),
                                  ("   ", 400, "give the project a name"),
                                  ("x" * 201, 400, "give at most 200")]:
        answer = client.post(projects, data={"csrf_token": csrf, "name": name})
        assert answer.status_code == status and message in answer.text, name
    api = client.post(f"/api/v1/orgs/{org_id}/projects", json={"name": "nlp"},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 201 and api.json()["name"] == "nlp"
    again = client.post(f"/api/v1/orgs/{org_id}/projects", json={"name": "nlp"},
                        headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409 and again.json()["detail"]["field"] == "name"

    add_user(engine, org_id, "admin@acme.test", "admin")
    admin = sign_in(app, "admin@acme.test", "admin password 123")
    assert admin.post(projects, data={"csrf_token": csrf_of(admin.get(projects).text),
                                      "name": "by admin"}).status_code == 200
    add_user(engine, org_id, "member@acme.test", "member")
    member = sign_in(app, "member@acme.test", "member password 123")
    page = member.get(projects)
    assert page.status_code == 200 and "Create a project" not in page.text
    assert member.post(projects, data={"csrf_token": csrf_of(page.text),
                                       "name": "by member"}).status_code == 403
    with engine.connect() as c:
        assert sorted(n for (n,) in c.execute(select(Project.name).where(
            Project.organisation_id == org_id))) == ["by admin", "default", "nlp",
                                                     "vision team"]


# -- organisation A never reaches B ------------------------------------------------------------

def add_org(engine, name: str) -> dict:
    with engine.begin() as c:
        org_id = c.execute(insert(Organisation).values(slug=name.lower(), name=f"{name} Secret",
                                                       created_s=1.0)
                           .returning(Organisation.id)).scalar_one()
        user_id = c.execute(insert(User).values(
            email=f"owner@{name.lower()}.test", password_hash=hash_password(
                "another long password"), created_s=1.0).returning(User.id)).scalar_one()
        c.execute(insert(Membership).values(user_id=user_id, organisation_id=org_id,
                                            role="owner"))
        project_id = c.execute(insert(Project).values(
            organisation_id=org_id, name=f"{name.lower()}-project", created_s=1.0,
        ).returning(Project.id)).scalar_one()
        key = create_api_key(c, project_id=project_id, pepper=PEPPER.encode(), now_s=1.0,
                             scopes=("ingest", "read"))
    return {"org_id": org_id, "user_id": user_id, "project_id": project_id,
            "prefix": key.split("_")[1], "email": f"owner@{name.lower()}.test"}


def _settings_routes(app) -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute

    try:
        from fastapi.openapi.utils import _get_api_route_for_openapi
        from fastapi.routing import iter_route_contexts
    except ImportError:
        found = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        found = [r for r in map(_get_api_route_for_openapi, iter_route_contexts(app.routes))
                 if r is not None]
    return sorted((method, r.path) for r in found if "/settings/" in r.path
                  for method in r.methods)


def _state(engine, org_id: int):
    with engine.connect() as c:
        members = c.execute(select(Membership.user_id, Membership.role).where(
            Membership.organisation_id == org_id).order_by(Membership.user_id)).all()
        keys = c.execute(select(ApiKey.prefix, ApiKey.revoked_s).join(Project).where(
            Project.organisation_id == org_id).order_by(ApiKey.prefix)).all()
    return members, keys


def test_a_member_of_a_can_neither_see_nor_change_bs_settings(app, engine, org):
    b = add_org(engine, "Beta")
    before = _state(engine, b["org_id"])
    owner_a = sign_in(app)
    csrf_a = csrf_of(owner_a.get(f"{settings(org.organisation_id)}/members").text)
    routes = _settings_routes(app)
    assert len(routes) == 11
    for method, path in routes:
        filled = (path.replace("{user_id}", str(b["user_id"])).replace("{prefix}", b["prefix"]))
        data = {"csrf_token": csrf_a, "email": "intruder@a.test", "role": "owner",
                "password": "intruder password", "project_id": str(b["project_id"]),
                "scope": "read", "name": "intruder project"}
        b_path = filled.replace("{org_id}", str(b["org_id"]))
        answer = owner_a.request(method, b_path, data=data if method == "POST" else None)
        assert answer.status_code == 404, (method, path, answer.status_code)
        for secret in ("Beta Secret", "owner@beta.test", "beta-project", b["prefix"]):
            assert secret not in answer.text, (method, path, secret)
        # B's own owner reaches the same route (a GET page, or a form answered)
        owner_b_answer = sign_in(app, b["email"], "another long password").request(
            "GET", b_path) if method == "GET" else None
        assert owner_b_answer is None or owner_b_answer.status_code == 200, (path, owner_b_answer)
    assert _state(engine, b["org_id"]) == before
    with engine.connect() as c:
        assert c.execute(select(Project.name).where(
            Project.organisation_id == b["org_id"])).all() == [("beta-project",)]
