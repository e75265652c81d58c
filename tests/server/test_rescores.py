"""Rescores on the team server: a real rescore of a real run, posted after the run's items,
reads back with the same figures; sent twice it is stored once; another project's or
organisation's run is a 404; a bad body is a 400 naming the field."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from other_org import key_of, other_organisation
from sqlalchemy import func, insert, select

from wattprint.intensity.providers import IntensityPoint
from wattprint.rescore import rescore_records
from wattprint.server.models import Project, Rescore
from wattprint.wire import from_wire


def ingest(client, org, items) -> None:
    response = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    assert response.status_code == 200, response.text


def rescore_body(items, *, g_per_kwh: float, created_s: float) -> dict:
    """The local store's row for a rescore of the run in ``items`` at ``g_per_kwh``."""
    records = [from_wire(item) for item in items if item["type"] == "record"]
    point = IntensityPoint(start=datetime(1970, 1, 1, tzinfo=timezone.utc),
                           end=datetime(2100, 1, 1, tzinfo=timezone.utc), g_per_kwh=g_per_kwh,
                           kind="marginal", zone="FR", source="test-history",
                           forecast=False)
    result = rescore_records(records, [point], provider="test-history", kind="marginal")
    return {"provider": "test-history", "created_s": created_s,
            "emissions_g": result.emissions_g, "intensity_g_per_kwh": result.intensity_g_per_kwh,
            "kind": result.kind, "detail": result.to_json()}


@pytest.fixture
def read(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(scopes=('read',))}"}


def test_a_rescore_is_stored_once_and_listed_oldest_first(client, engine, org, auth, read,
                                                          run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    later = rescore_body(items, g_per_kwh=400.0, created_s=1_700_000_200.0)
    earlier = rescore_body(items, g_per_kwh=100.0, created_s=1_700_000_100.0)
    url = f"/api/v1/runs/{summary.run_id}/rescores"

    answers = [client.post(url, json=body, headers=auth) for body in (later, earlier, later)]

    assert [a.status_code for a in answers] == [200, 200, 200], answers[0].text
    assert [a.json() for a in answers] == [{"stored": True}, {"stored": True}, {"stored": False}]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Rescore)).scalar() == 2
    energy_kwh = summary.energy_j["total"] / 3.6e6
    listed = client.get(url, headers=read)
    in_org = client.get(f"/api/v1/orgs/{org.organisation_id}/runs/{summary.run_id}/rescores",
                        headers=read)
    assert listed.status_code == 200, listed.text
    assert in_org.json() == listed.json()
    body = listed.json()
    assert body["run_id"] == summary.run_id
    assert body["original_emissions_g"] == pytest.approx(summary.emissions_g)
    assert [r["created_s"] for r in body["rescores"]] == [1_700_000_100.0, 1_700_000_200.0]
    first, second = body["rescores"]
    assert first == earlier and second == later
    assert first["emissions_g"] == pytest.approx(100.0 * energy_kwh)
    assert second["emissions_g"] == pytest.approx(400.0 * energy_kwh)
    assert first["kind"] == "marginal" and first["intensity_g_per_kwh"] == pytest.approx(100.0)


def test_a_run_not_on_the_server_says_to_push_it_first(client, auth):
    body = {"provider": "p", "created_s": 1.0, "emissions_g": 1.0, "intensity_g_per_kwh": 1.0,
            "kind": "average", "detail": {}}
    answer = client.post("/api/v1/runs/never-pushed/rescores", json=body, headers=auth)
    assert answer.status_code == 404
    assert answer.json()["detail"]["field"] == "run_id"
    assert "push the run first" in answer.json()["detail"]["message"]


def test_another_projects_or_organisations_run_is_404(client, engine, org, auth, make_key,
                                                      run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    body = rescore_body(items, g_per_kwh=100.0, created_s=1_700_000_100.0)
    url = f"/api/v1/runs/{summary.run_id}/rescores"
    assert client.post(url, json=body, headers=auth).json() == {"stored": True}
    with engine.begin() as connection:
        same_org_project = connection.execute(insert(Project).values(
            organisation_id=org.organisation_id, name="audio", created_s=1_700_000_000.0
        ).returning(Project.id)).scalar_one()
    other_org, other_project = other_organisation(engine)
    theirs = {scope: key_of(engine, other_project, scope) for scope in ("ingest", "read")}
    other_project_key = make_key(project_id=same_org_project)

    for key in (other_project_key, theirs["ingest"]):
        refused = client.post(url, json=body | {"created_s": 5.0},
                              headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 404, refused.text
        assert "this key's project" in refused.json()["detail"]["message"]
    their_read = {"Authorization": f"Bearer {theirs['read']}"}
    assert client.get(url, headers=their_read).status_code == 404
    assert client.get(f"/api/v1/orgs/{other_org}/runs/{summary.run_id}/rescores",
                      headers=their_read).status_code == 404
    mine = client.get(url, headers={"Authorization": f"Bearer {make_key(scopes=('read',))}"})
    assert [r["created_s"] for r in mine.json()["rescores"]] == [1_700_000_100.0]
    assert client.get(f"/api/v1/orgs/{org.organisation_id}/runs/{summary.run_id}/rescores",
                      headers=their_read).status_code == 404


def test_reading_takes_read_and_storing_takes_ingest(client, auth, read, run_objects, org):
    items, summary = run_objects
    ingest(client, org, items)
    url = f"/api/v1/runs/{summary.run_id}/rescores"
    body = rescore_body(items, g_per_kwh=1.0, created_s=1.0)
    assert client.get(url, headers=auth).status_code == 403  # the bootstrap key: ingest only
    assert client.post(url, json=body, headers=read).status_code == 403
    assert client.post(url, json=body).status_code == 401


@pytest.mark.parametrize("change, field", [
    ({"emissions_g": float("nan")}, "emissions_g"),
    ({"emissions_g": 1e300}, "emissions_g"),
    ({"emissions_g": -1.0}, "emissions_g"),
    ({"intensity_g_per_kwh": "high"}, "intensity_g_per_kwh"),
    ({"created_s": 1e30}, "created_s"),
    ({"kind": "guessed"}, "kind"),
    ({"provider": "bad\x00name"}, "provider"),
    ({"provider": ""}, "provider"),
    ({"detail": {"per_record": [{"emissions_g": 1e300}]}}, "detail"),
    ({"detail": {"note": "lone \ud800 half"}}, "detail"),
    ({"detail": [1, 2]}, "detail"),
    ({"detail": {"per_record": [{"g_per_kwh": float("inf")}]}}, "detail"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_rescore_is_a_400_naming_the_field(client, engine, auth, org, run_objects, change,
                                                 field):
    items, summary = run_objects
    ingest(client, org, items)
    body = rescore_body(items, g_per_kwh=1.0, created_s=1.0) | change
    answer = client.post(f"/api/v1/runs/{summary.run_id}/rescores", content=json.dumps(body),
                         headers=auth | {"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["field"] == field
    assert answer.json()["detail"]["index"] is None
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Rescore)).scalar() == 0


def test_a_missing_field_is_named(client, auth, org, run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    body = rescore_body(items, g_per_kwh=1.0, created_s=1.0)
    del body["provider"]
    answer = client.post(f"/api/v1/runs/{summary.run_id}/rescores", json=body, headers=auth)
    assert answer.status_code == 400 and answer.json()["detail"]["field"] == "provider"


def test_the_dashboards_run_page_shows_the_pushed_rescores(client, org, auth, run_objects):
    from fastapi.testclient import TestClient
    from server_constants import OWNER

    from wattprint.server.dashboard import fmt
    from wattprint.server.dashboard.server_data import ServerData

    items, summary = run_objects
    ingest(client, org, items)
    body = rescore_body(items, g_per_kwh=250.0, created_s=1_700_000_100.0)
    assert client.post(f"/api/v1/runs/{summary.run_id}/rescores", json=body,
                       headers=auth).json() == {"stored": True}
    app = client.app
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: 1_800_000_000.0)

    shown = data.run(summary.run_id).rescores

    assert shown == [{name: body[name] for name in ("provider", "created_s", "emissions_g",
                                                    "intensity_g_per_kwh", "kind")}]
    with TestClient(app, base_url="https://testserver") as browser:
        assert browser.post("/api/v1/login", json=OWNER).status_code == 200
        page = browser.get(f"/dashboard/orgs/{org.organisation_id}/runs/{summary.run_id}")
    assert page.status_code == 200, page.text
    assert "Rescores" in page.text and "test-history" in page.text
    assert fmt.emissions(body["emissions_g"]) in page.text
