"""``GET /api/v1/key``: any valid API key describes itself (what `wattprint login` checks)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from wattprint.server.app import create_app


def test_a_key_of_either_scope_says_its_scopes_project_and_organisation(client, org, make_key):
    for scopes in (("ingest",), ("read",), ("ingest", "read")):
        key = make_key(scopes=scopes)
        answer = client.get("/api/v1/key", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        assert answer.json() == {
            "prefix": key.split("_")[1], "scopes": sorted(scopes),
            "project": {"id": org.project_id, "name": answer.json()["project"]["name"]},
            "organisation": {"id": org.organisation_id, "name": "Acme Research"}}
        assert answer.json()["project"]["name"]


def test_a_wrong_key_no_key_and_a_session_get_401(client, org, settings):
    wrong = org.api_key[:-3] + "AAA"
    answer = client.get("/api/v1/key", headers={"Authorization": f"Bearer {wrong}"})
    assert answer.status_code == 401
    assert client.get("/api/v1/key").status_code == 401

    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as web:
        web.post("/api/v1/login", json={"email": "owner@acme.test",
                                        "password": "correct horse battery"})
        refused = web.get("/api/v1/key")
        assert refused.status_code == 401 and "API key" in refused.json()["detail"]["message"]
    app.state.engine.dispose()
