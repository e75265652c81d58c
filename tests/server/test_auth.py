"""API keys on the ingest route: 401 without a valid key, 403 without the scope or project."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from wattprint.server.accounts import create_api_key, revoke_api_key
from wattprint.server.keys import hash_secret, new_key, parse_key
from wattprint.server.models import ApiKey, Project


def ingest(client, items, token=None, header=None):
    headers = {"Authorization": header if header is not None else f"Bearer {token}"}
    return client.post("/api/v1/ingest", json={"items": items}, headers=headers)


def test_keys_are_stored_as_prefix_and_keyed_hash_only(engine, org):
    parsed = parse_key(org.api_key)
    assert parsed is not None and org.api_key.startswith(f"wp_{parsed.prefix}_")
    with engine.connect() as connection:
        row = connection.execute(select(ApiKey)).one()
    assert row.prefix == parsed.prefix and row.scopes == "ingest"
    assert row.secret_hmac == hash_secret(parsed.secret, b"test-pepper-not-secret")
    assert parsed.secret not in row.secret_hmac
    # another pepper gives another hash: a stolen table alone checks nothing
    assert hash_secret(parsed.secret, b"other") != row.secret_hmac
    assert new_key(b"p").token != new_key(b"p").token


@pytest.mark.parametrize("header", [
    "", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-key",
    "Bearer wp_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
])
def test_no_or_bad_key_is_401(client, run_objects, header):
    items, _ = run_objects

    response = ingest(client, items[:1], header=header)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]["message"]


def test_a_right_prefix_with_a_wrong_secret_is_401_and_never_echoed(client, org, run_objects):
    items, _ = run_objects
    wrong = org.api_key[:-4] + ("AAAA" if not org.api_key.endswith("AAAA") else "BBBB")

    response = ingest(client, items[:1], token=wrong)

    assert response.status_code == 401
    assert wrong.split("_", 2)[2] not in response.text


def test_a_revoked_key_is_401(client, engine, org, run_objects):
    items, _ = run_objects
    with engine.begin() as connection:
        assert revoke_api_key(connection, prefix=parse_key(org.api_key).prefix, now_s=1.0)

    response = ingest(client, items[:1], token=org.api_key)

    assert response.status_code == 401 and "revoked" in response.json()["detail"]["message"]


def test_a_read_only_key_cannot_ingest(client, make_key, run_objects):
    items, _ = run_objects

    response = ingest(client, items[:1], token=make_key(scopes=("read",)))

    assert response.status_code == 403 and "ingest" in response.json()["detail"]["message"]


def test_a_key_cannot_write_to_another_projects_run(client, engine, org, make_key, run_objects):
    items, _ = run_objects
    with engine.begin() as connection:
        other_project = connection.execute(Project.__table__.insert().values(
            organisation_id=org.organisation_id, name="other",
            created_s=time.time())).inserted_primary_key[0]
    other_key = make_key(project_id=other_project)
    assert ingest(client, items, token=org.api_key).status_code == 200

    response = ingest(client, [items[0], items[1]], token=other_key)

    assert response.status_code == 403
    assert response.json()["detail"] == {
        "index": 0, "field": "run_id",
        "message": f"run {items[0]['run_id']} belongs to another project: this API key "
                   "cannot write to it"}


def test_unknown_scopes_are_refused_when_a_key_is_made(engine, org):
    with engine.begin() as connection, pytest.raises(ValueError, match="scopes"):
        create_api_key(connection, project_id=org.project_id, pepper=b"p", now_s=0.0,
                       scopes=("admin",))
