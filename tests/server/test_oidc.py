"""OIDC sign-in against a fake provider that behaves like a real one (tests/fakes/oidc_provider.py):
the whole authorization code flow with PKCE driven through the app, redirect by redirect, on
SQLite and PostgreSQL; every provider or token fault answers a clear 4xx/502, never a 500, and
leaves no session, user or link behind."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, ISSUER, REDIRECT_URL, FakeOidcProvider
from wattprint.errors import ConfigError
from wattprint.server.app import create_app
from wattprint.server.models import LoginSession, Membership, OidcPendingLogin, User, UserIdentity
from wattprint.server.oidc import OidcSettings, oidc_settings_from_environ
from wattprint.server.passwords import verify_password
from wattprint.server.settings import Settings

OWNER_EMAIL = "owner@acme.test"  # the conftest org's owner


@pytest.fixture
def provider(wall):
    return FakeOidcProvider(clock=wall)


def oidc_settings(**changes) -> OidcSettings:
    base = OidcSettings(issuer=ISSUER, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                        redirect_url=REDIRECT_URL)
    return replace(base, **changes)


@pytest.fixture
def make_web(settings, engine, org, wall, provider):
    """A browser (TestClient over https) on an app with OIDC configured as given."""
    apps = []

    def make(**changes) -> TestClient:
        app = create_app(replace(settings, oidc=oidc_settings(**changes)), wall_clock=wall,
                         http_transport=provider.transport)
        apps.append(app)
        return TestClient(app, base_url="https://testserver")

    yield make
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture
def web(make_web):
    return make_web()


def start(web: TestClient, next_path: str | None = "/runs?project=vision"):
    params = {} if next_path is None else {"next": next_path}
    return web.get("/api/v1/oidc/login", params=params, follow_redirects=False)


def sign_in(web: TestClient, provider: FakeOidcProvider, next_path: str = "/runs?project=vision"):
    """Login -> provider -> callback, by hand; the callback's answer."""
    started = start(web, next_path)
    assert started.status_code == 302, started.text
    back = provider.authorize(started.headers["location"])
    return web.get(back, follow_redirects=False)


def counts(engine) -> dict[str, int]:
    with engine.connect() as c:
        return {table.__tablename__: c.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (LoginSession, UserIdentity, User, OidcPendingLogin)}


def message(response) -> str:
    return response.json()["detail"]["message"]


# --- the happy path ------------------------------------------------------------------------

def test_sign_in_links_a_verified_email_and_starts_the_same_session_as_the_password_login(
        web, provider, engine, org):
    provider.next_user = {"sub": "kc-42", "email": "Owner@Acme.test", "email_verified": True}

    started = start(web)
    assert started.status_code == 302
    location = urlsplit(started.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == REDIRECT_URL
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    binding = started.headers["set-cookie"].lower()
    assert "wp_oidc=" in binding and "httponly" in binding and "secure" in binding
    assert "samesite=lax" in binding and "path=/api/v1/oidc" in binding

    done = web.get(provider.authorize(started.headers["location"]), follow_redirects=False)

    assert done.status_code == 303 and done.headers["location"] == "/runs?project=vision"
    cookies = done.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("wp_session="))
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    me = web.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["user_id"] == org.user_id and me.json()["email"] == OWNER_EMAIL
    assert me.json()["organisations"][0]["role"] == "owner"
    with engine.connect() as c:
        link = c.execute(select(UserIdentity)).one()
    assert (link.issuer, link.subject, link.user_id) == (ISSUER, "kc-42", org.user_id)
    assert counts(engine)["oidc_pending_logins"] == 0  # the state is spent
    # the token request carried the PKCE verifier and client_secret_basic, not the secret
    body = parse_qs(provider.token_bodies[0].decode())
    assert len(body["code_verifier"][0]) >= 43 and "client_secret" not in body
    # and it is the one session mechanism: logout (with the CSRF cookie) ends it
    out = web.post("/api/v1/logout", headers={"X-CSRF-Token": web.cookies["wp_csrf"]})
    assert out.status_code == 200 and web.get("/api/v1/me").status_code == 401


def test_a_linked_identity_signs_in_by_its_subject_even_when_the_email_changes(
        web, provider, engine, org):
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    assert sign_in(web, provider).status_code == 303
    web.cookies.clear()
    provider.next_user = {"sub": "kc-42", "email": "renamed@elsewhere.test",
                          "email_verified": False}

    again = sign_in(web, provider)

    assert again.status_code == 303
    assert web.get("/api/v1/me").json()["user_id"] == org.user_id


def test_es256_keys_and_client_secret_post_when_that_is_all_the_provider_offers(
        make_web, wall, engine, org, settings):
    provider = FakeOidcProvider(clock=wall, alg="ES256", auth_methods=("client_secret_post",))
    app = create_app(replace(settings, oidc=oidc_settings()), wall_clock=wall,
                     http_transport=provider.transport)
    provider.next_user = {"sub": "ec-user", "email": OWNER_EMAIL, "email_verified": True}
    with TestClient(app, base_url="https://testserver") as web:
        done = sign_in(web, provider)
        assert done.status_code == 303, done.text
        assert web.get("/api/v1/me").json()["user_id"] == org.user_id
    app.state.engine.dispose()
    body = parse_qs(provider.token_bodies[0].decode())
    assert body["client_id"] == [CLIENT_ID] and body["client_secret"] == [CLIENT_SECRET]


# --- who may sign in -----------------------------------------------------------------------

def test_an_unverified_email_never_links_to_an_existing_account(web, provider, engine, org):
    provider.next_user = {"sub": "attacker", "email": OWNER_EMAIL, "email_verified": False}

    refused = sign_in(web, provider)

    assert refused.status_code == 403 and "email_verified" in message(refused)
    assert counts(engine)["login_sessions"] == 0 and counts(engine)["user_identities"] == 0
    assert "wp_session" not in web.cookies and web.get("/api/v1/me").status_code == 401


def test_an_unknown_user_is_refused_while_auto_provisioning_is_off(web, provider, engine):
    provider.next_user = {"sub": "new", "email": "newcomer@acme.test", "email_verified": True}
    before = counts(engine)

    refused = sign_in(web, provider)

    assert refused.status_code == 403
    assert "no wattprint account for newcomer@acme.test" in message(refused)
    assert "ask an admin" in message(refused)
    assert counts(engine) == before | {"oidc_pending_logins": 0}


def test_auto_provisioning_creates_a_viewer_only_for_allowed_domains_and_verified_emails(
        make_web, provider, engine, org):
    web = make_web(auto_provision=True, allowed_domains=("acme.test",),
                   default_organisation="acme-research")

    provider.next_user = {"sub": "out", "email": "someone@gmail.test", "email_verified": True}
    outside = sign_in(web, provider)
    provider.next_user = {"sub": "unv", "email": "sneaky@acme.test", "email_verified": False}
    unverified = sign_in(web, provider)
    assert (outside.status_code, unverified.status_code) == (403, 403)
    assert counts(engine)["users"] == 1  # only the owner

    provider.next_user = {"sub": "grace", "email": "grace@acme.test", "email_verified": True}
    done = sign_in(web, provider)

    assert done.status_code == 303
    me = web.get("/api/v1/me").json()
    assert me["email"] == "grace@acme.test"
    assert me["organisations"] == [{"id": org.organisation_id, "name": "Acme Research",
                                    "role": "viewer"}]
    with engine.connect() as c:
        user = c.execute(select(User).where(User.email == "grace@acme.test")).one()
        role = c.execute(select(Membership.role).where(Membership.user_id == user.id)).scalar()
    assert role == "viewer"
    assert not verify_password("", user.password_hash)  # no password sign-in for this account
    assert web.post("/api/v1/login", json={"email": "grace@acme.test",
                                           "password": user.password_hash}).status_code == 401


def test_auto_provisioning_into_a_missing_organisation_says_what_to_fix(make_web, provider,
                                                                         engine):
    web = make_web(auto_provision=True, allowed_domains=("acme.test",),
                   default_organisation="no-such-org")
    provider.next_user = {"sub": "grace", "email": "grace@acme.test", "email_verified": True}

    refused = sign_in(web, provider)

    assert refused.status_code == 503 and "WATTPRINT_SERVER_OIDC_DEFAULT_ORG" in message(refused)
    assert counts(engine)["users"] == 1 and counts(engine)["login_sessions"] == 0


# --- the state: once, in this browser, in time; no open redirect -----------------------------

def test_a_state_works_once_only_in_the_browser_that_started_it_and_only_for_ten_minutes(
        web, make_web, provider, wall, engine):
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    started = start(web)
    back = provider.authorize(started.headers["location"])
    assert web.get(back, follow_redirects=False).status_code == 303

    replayed = web.get(back, follow_redirects=False)
    assert replayed.status_code == 400 and "already used" in message(replayed)

    # started here, finished in another browser (a login CSRF): refused, and the state is spent
    other_back = provider.authorize(start(web).headers["location"])
    other = make_web()
    crossed = other.get(other_back, follow_redirects=False)
    assert crossed.status_code == 400 and "another browser" in message(crossed)
    assert web.get(other_back, follow_redirects=False).status_code == 400

    late_back = provider.authorize(start(web).headers["location"])
    wall.now_s += 601
    late = web.get(late_back, follow_redirects=False)
    assert late.status_code == 400 and "expired" in message(late)

    unknown = web.get("/api/v1/oidc/callback", params={"state": "made-up", "code": "x"})
    missing = web.get("/api/v1/oidc/callback", params={"code": "x"})
    assert unknown.status_code == 400 and missing.status_code == 400
    assert counts(engine)["login_sessions"] == 1


@pytest.mark.parametrize("target", [
    "https://evil.test/", "//evil.test/x", "/\\evil.test", "\\\\evil.test", "javascript:alert(1)",
    "evil.test", "/runs\r\nSet-Cookie: x=1", "http:/evil.test"])
def test_next_must_be_a_path_on_this_server(web, provider, target):
    refused = start(web, target)

    assert refused.status_code == 400 and "not a path on this server" in message(refused)
    assert provider.requests == []  # refused before anything was sent anywhere


def test_next_defaults_to_the_root_and_keeps_a_query(web, provider, org):
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    started = start(web, None)
    done = web.get(provider.authorize(started.headers["location"]), follow_redirects=False)
    assert done.headers["location"] == "/"
    assert sign_in(web, provider, "/runs?since=1&until=2#top").headers["location"] == (
        "/runs?since=1&until=2#top")


def test_the_provider_saying_no_ends_the_sign_in_with_its_reason(web, provider, engine):
    started = start(web)
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]

    denied = web.get("/api/v1/oidc/callback", params={"state": state, "error": "access_denied"})

    assert denied.status_code == 403 and "access_denied" in message(denied)
    assert counts(engine)["oidc_pending_logins"] == 0


def test_an_answer_naming_another_issuer_is_refused(web, provider):
    back = provider.authorize(start(web).headers["location"])

    mixed = web.get(back + "&iss=https%3A%2F%2Fother-idp.test", follow_redirects=False)

    assert mixed.status_code == 400 and "another identity provider" in message(mixed)


# --- the ID token ----------------------------------------------------------------------------

NOW = 1_800_000_000


def server_lines(caplog) -> str:
    """What the server logged (its own loggers, its access log and its outgoing HTTP), not the
    test browser's own request lines, which show the callback URL it sends."""
    return "\n".join(r.getMessage() for r in caplog.records
                     if "https://testserver/" not in r.getMessage())

TOKEN_FAULTS = {
    "expired": ({"exp": NOW - 61, "iat": NOW - 400}, None, "expired"),
    "issued in the future": ({"iat": NOW + 120}, None, "not valid yet"),
    "not before in the future": ({"nbf": NOW + 120}, None, "not valid yet"),
    "wrong audience": ({"aud": "another-client"}, None, "not meant for this server"),
    "several audiences, no azp": ({"aud": [CLIENT_ID, "other"]}, None, "another client"),
    "azp of another client": ({"azp": "other"}, None, "another client"),
    "wrong issuer": ({"iss": "https://evil.test"}, None, "another issuer"),
    "wrong nonce": ({"nonce": "not-this-one"}, None, "nonce"),
    "no subject": ({"sub": None}, None, "'sub'"),
    "alg none": ({}, "none", "'none'"),
    "HS256 keyed with the public key": ({}, "hs256-public", "'HS256'"),
    "a forger's key under the published kid": ({}, "wrong-key", "signature does not verify"),
    "an unpublished kid": ({}, "unknown-kid", "does not publish"),
}


@pytest.mark.parametrize("fault", list(TOKEN_FAULTS))
def test_every_id_token_fault_is_a_401_that_leaves_nothing_behind(web, provider, engine, org,
                                                                   fault, caplog):
    caplog.set_level(logging.DEBUG)
    claims, sign_with, expected = TOKEN_FAULTS[fault]
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    provider.claims_override, provider.sign_with = claims, sign_with
    started = start(web)
    back = provider.authorize(started.headers["location"])
    code = parse_qs(urlsplit(back).query)["code"][0]

    refused = web.get(back, follow_redirects=False)

    assert refused.status_code == 401, refused.text
    assert expected in message(refused)
    assert counts(engine)["login_sessions"] == 0 and counts(engine)["user_identities"] == 0
    assert "wp_session" not in web.cookies
    server_log = server_lines(caplog)
    assert "OIDC sign-in refused (401)" in server_log
    assert code not in server_log and CLIENT_SECRET not in server_log
    assert provider.last_id_token not in server_log


def test_clock_skew_within_a_minute_is_accepted(web, provider, org):
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    provider.claims_override = {"exp": NOW - 59, "iat": NOW + 59, "nbf": NOW + 59}

    assert sign_in(web, provider).status_code == 303


def test_a_rotated_key_is_fetched_once_and_unknown_kids_cannot_hammer_the_provider(
        web, provider, wall, org):
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    assert sign_in(web, provider).status_code == 303
    assert provider.count("/protocol/certs") == 1
    assert sign_in(web, provider).status_code == 303
    assert provider.count("/protocol/certs") == 1  # cached

    provider.rotate()
    wall.now_s += 5
    assert sign_in(web, provider).status_code == 303  # the new kid made us fetch again
    assert provider.count("/protocol/certs") == 2

    provider.sign_with = "unknown-kid"
    for _ in range(3):
        assert sign_in(web, provider).status_code == 401
    assert provider.count("/protocol/certs") == 2  # within 30 s of the last forced fetch
    wall.now_s += 31
    assert sign_in(web, provider).status_code == 401
    assert provider.count("/protocol/certs") == 3
    assert provider.count("/.well-known/openid-configuration") == 1  # cached for an hour


# --- the provider down, slow or wrong ---------------------------------------------------------

def _no_server_error(response) -> None:
    assert response.status_code < 500 or response.status_code in (502, 503), response.text


def test_a_provider_that_is_down_or_slow_answers_502_saying_so(web, provider, engine, org):
    provider.down.add("/.well-known/openid-configuration")
    down = start(web)
    assert down.status_code == 502 and "could not be reached" in message(down)
    assert "ConnectError" in message(down)
    provider.down.clear()

    provider.slow.add("/protocol/token")
    slow = sign_in(web, provider)
    assert slow.status_code == 502 and "did not answer the token request within 10 s" in (
        message(slow))
    provider.slow = {"/protocol/certs"}
    slow_keys = sign_in(web, provider)
    assert slow_keys.status_code == 502 and "key set (JWKS)" in message(slow_keys)
    assert counts(engine)["login_sessions"] == 0

    provider.slow.clear()  # and once it is back, sign-in works again
    provider.next_user = {"sub": "kc-42", "email": OWNER_EMAIL, "email_verified": True}
    assert sign_in(web, provider).status_code == 303


BROKEN = {
    "discovery 500": ("/.well-known/openid-configuration", 500, b"oops", "answered HTTP 500"),
    "discovery not JSON": ("/.well-known/openid-configuration", 200, b"<html>", "not a JSON"),
    "discovery without jwks_uri": ("/.well-known/openid-configuration", 200,
                                   b'{"issuer": "' + ISSUER.encode() + b'", '
                                   b'"authorization_endpoint": "https://idp.test/a", '
                                   b'"token_endpoint": "https://idp.test/t"}', "'jwks_uri'"),
    "discovery of another issuer": ("/.well-known/openid-configuration", 200,
                                    b'{"issuer": "https://idp.test/realms/other"}',
                                    "set WATTPRINT_SERVER_OIDC_ISSUER to exactly"),
    "token endpoint over plain http": ("/.well-known/openid-configuration", 200,
                                       b'{"issuer": "' + ISSUER.encode() + b'", '
                                       b'"authorization_endpoint": "https://idp.test/a", '
                                       b'"token_endpoint": "http://idp.test/t", '
                                       b'"jwks_uri": "https://idp.test/k"}', "not an https://"),
    "JWKS without keys": ("/protocol/certs", 200, b'{"nothing": 1}', "no 'keys' list"),
    "token endpoint 500": ("/protocol/token", 500, b'{"error": "server_error"}',
                           "answered HTTP 500 (server_error)"),
    "token answer without id_token": ("/protocol/token", 200, b'{"access_token": "a"}',
                                      "no id_token"),
    "token answer garbage": ("/protocol/token", 200, b"\x00\xff", "not a JSON"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_provider_answering_nonsense_is_a_502_naming_what_was_wrong(web, provider, engine,
                                                                       case):
    import httpx

    path, status, body, expected = BROKEN[case]
    provider.broken[path] = httpx.Response(status, content=body)

    answer = sign_in(web, provider) if path != "/.well-known/openid-configuration" else start(web)

    assert answer.status_code == 502 and expected in message(answer), answer.text
    assert counts(engine)["login_sessions"] == 0


def test_wrong_client_credentials_and_a_used_code_say_what_to_do(make_web, provider, engine):
    wrong = make_web(client_secret="not the secret")
    refused = sign_in(wrong, provider)
    assert refused.status_code == 502 and "CLIENT_ID and _SECRET" in message(refused)

    web = make_web()
    started = start(web)
    back = provider.authorize(started.headers["location"])
    code = parse_qs(urlsplit(back).query)["code"][0]
    provider.codes.pop(code)  # the provider no longer knows it (used or expired there)
    used = web.get(back, follow_redirects=False)
    assert used.status_code == 400 and "invalid_grant" in message(used)
    assert "start again at /api/v1/oidc/login" in message(used)


# --- wiring and settings --------------------------------------------------------------------

def test_the_oidc_routes_are_the_only_open_routes_they_add_and_absent_when_not_configured(
        settings, engine, web):
    from test_accounts import _unauthorised_routes

    assert sorted(_unauthorised_routes(web.app)) == [
        "['GET'] /api/v1/oidc/callback", "['GET'] /api/v1/oidc/login"]
    plain = create_app(settings)
    with TestClient(plain, base_url="https://testserver") as client:
        assert client.get("/api/v1/oidc/login").status_code == 404
    plain.state.engine.dispose()


def test_settings_from_the_environment(tmp_path):
    assert oidc_settings_from_environ({}) is None
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    environ = {"WATTPRINT_SERVER_OIDC_ISSUER": ISSUER,
               "WATTPRINT_SERVER_OIDC_CLIENT_ID": CLIENT_ID,
               "WATTPRINT_SERVER_OIDC_CLIENT_SECRET_FILE": str(secret_file),
               "WATTPRINT_SERVER_OIDC_REDIRECT_URL": REDIRECT_URL,
               "WATTPRINT_SERVER_OIDC_AUTO_PROVISION": "true",
               "WATTPRINT_SERVER_OIDC_ALLOWED_DOMAINS": "Acme.test, @lab.acme.test",
               "WATTPRINT_SERVER_OIDC_DEFAULT_ORG": "acme-research"}

    loaded = oidc_settings_from_environ(environ)

    assert loaded == OidcSettings(issuer=ISSUER, client_id=CLIENT_ID, client_secret="from-a-file",
                                  redirect_url=REDIRECT_URL, auto_provision=True,
                                  allowed_domains=("acme.test", "lab.acme.test"),
                                  default_organisation="acme-research")
    assert "from-a-file" not in repr(loaded)

    def refused(**changes: str) -> str:
        with pytest.raises(ConfigError) as caught:
            oidc_settings_from_environ({**environ, **changes})
        return str(caught.value)

    assert "WATTPRINT_SERVER_OIDC_CLIENT_ID" in refused(WATTPRINT_SERVER_OIDC_CLIENT_ID="")
    assert "cannot be read" in refused(WATTPRINT_SERVER_OIDC_CLIENT_SECRET_FILE=str(
        tmp_path / "missing"))
    assert "https://" in refused(WATTPRINT_SERVER_OIDC_ISSUER="http://idp.test")
    assert "ending in /api/v1/oidc/callback" in refused(
        WATTPRINT_SERVER_OIDC_REDIRECT_URL="https://wattprint.acme.test/")
    assert "ALLOWED_DOMAINS" in refused(WATTPRINT_SERVER_OIDC_ALLOWED_DOMAINS="")
    assert "true or false" in refused(WATTPRINT_SERVER_OIDC_AUTO_PROVISION="maybe")
    assert Settings.from_environ(environ).oidc == loaded  # what `wattprint server` runs with
    assert Settings.from_environ({}).oidc is None
    local = oidc_settings_from_environ({**environ, "WATTPRINT_SERVER_OIDC_ISSUER":
                                        "http://localhost:8080/realms/dev"})
    assert local is not None and local.issuer.startswith("http://localhost")



class ClosableTransport(httpx.BaseTransport):
    """The fake provider's transport, counting how often the app's client closes it (what an
    httpx.HTTPTransport does then: its pooled connections are closed)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.closes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.closes:
            raise RuntimeError("a request through a closed transport")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.closes += 1


def test_the_providers_http_client_is_closed_when_the_app_shuts_down(settings, engine, org,
                                                                     wall, provider):
    transport = ClosableTransport(provider.transport)
    app = create_app(replace(settings, oidc=oidc_settings()), wall_clock=wall,
                     http_transport=transport)
    with TestClient(app, base_url="https://testserver") as web:
        assert start(web).status_code == 302  # the discovery went through the client
        assert transport.closes == 0
    assert transport.closes == 1  # the lifespan's shutdown closed it, once
    app.state.engine.dispose()


# --- races between processes -----------------------------------------------------------------

def _take_state(db_url: str, state: str, start, results) -> None:
    from wattprint.server.db import make_engine
    from wattprint.server.oidc import OidcError
    from wattprint.server.oidc_users import take_pending

    engine = make_engine(db_url)
    start.wait()
    try:
        with engine.begin() as connection:
            take_pending(connection, state=state, browser_token="b" * 43, now_s=NOW)
        results.put("taken")
    except OidcError as exc:
        results.put(exc.status)
    finally:
        engine.dispose()


def _link(db_url: str, start, results) -> None:
    from sqlalchemy.exc import IntegrityError

    from wattprint.server.db import make_engine
    from wattprint.server.oidc import Identity
    from wattprint.server.oidc_users import user_for_identity

    engine = make_engine(db_url)
    identity = Identity(issuer=ISSUER, subject="kc-42", email=OWNER_EMAIL, email_verified=True)
    start.wait()
    try:
        with engine.begin() as connection:
            results.put(user_for_identity(connection, identity, oidc_settings(), now_s=NOW))
    except IntegrityError:  # the route answers this one with 409 "start again"
        results.put("conflict")
    finally:
        engine.dispose()


def _run_racers(target, args: tuple, count: int = 4) -> list:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=target, args=(*args, start, results))
               for _ in range(count)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * count
    return [results.get(timeout=5) for _ in range(count)]


def test_processes_racing_with_one_state_let_exactly_one_through(engine, db_url):
    from wattprint.server.oidc_users import Pending, add_pending

    with engine.begin() as connection:
        add_pending(connection, state="the-state", browser_token="b" * 43, now_s=NOW - 1,
                    pending=Pending(nonce="n", code_verifier="v" * 43, next_path="/"))

    outcomes = _run_racers(_take_state, (db_url, "the-state"))

    assert sorted(outcomes, key=str) == [400, 400, 400, "taken"]
    assert counts(engine)["oidc_pending_logins"] == 0


def test_processes_racing_to_link_one_identity_make_one_link(engine, db_url, org):
    outcomes = _run_racers(_link, (db_url,))

    assert set(outcomes) <= {org.user_id, "conflict"} and org.user_id in outcomes
    assert counts(engine)["user_identities"] == 1
