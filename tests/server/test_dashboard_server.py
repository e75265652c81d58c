"""The dashboard on the team server (issue 11): pages over ServerData show the query API's own
figures for the same organisation, on SQLite and PostgreSQL; every dashboard route but the
sign-in page declares its permission; a member of A never sees B's pages."""

from __future__ import annotations

import json
import re

import pytest
from dashboard_kit import HTTPS, app_at, ingest, read_key, signed_in
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import insert

from wattprint.server.authz import is_authorized_route
from wattprint.server.dashboard import fmt, views
from wattprint.server.dashboard.data import DashboardData, DataError, RunsQuery
from wattprint.server.dashboard.server_data import ServerData
from wattprint.server.models import Membership, Organisation, Project, User
from wattprint.server.passwords import hash_password


def shifted(items: list[dict], run_id: str, shift_s: float) -> list[dict]:
    """The same run's objects under another id, ``shift_s`` later: on the same host, so two
    copies overlap in time and the machine-scope de-duplication has energy to remove."""
    out = json.loads(json.dumps(items))
    for item in out:
        item["run_id"] = run_id
        for name in ("started_s", "start_s", "at_s", "first_start_s", "last_end_s"):
            value = item.get(name)
            if isinstance(value, float | int) and not isinstance(value, bool):
                item[name] = value + shift_s
    return out


@pytest.fixture
def stored(engine, org, run_objects):
    """Three runs of the bootstrapped organisation (two overlapping on one host) sent through
    the real ingest; (app, the first run's id, the wall clock's now)."""
    items, summary = run_objects
    started_s = items[0]["started_s"]
    now_s = started_s + 6 * 3600.0
    app = app_at(engine, now_s)
    with TestClient(app, base_url=HTTPS) as client:
        for batch in (items, shifted(items, "run-overlap", 30.0), shifted(items, "run-later",
                                                                          3600.0)):
            ingest(client, batch, org.api_key)
    yield app, summary.run_id, now_s
    app.state.engine.dispose()


@pytest.fixture
def reader(engine, org):
    return read_key(engine, org)


def test_server_data_is_a_dashboard_data(engine, org):
    assert isinstance(ServerData(engine, org.organisation_id), DashboardData)


@pytest.mark.parametrize("period", ["all", "24h"])
def test_the_overview_shows_the_query_apis_totals_with_the_deduplication(stored, org, reader,
                                                                          period):
    app, _, now_s = stored
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: now_s)
    context = views.overview_context(data, period)
    overview = context["overview"]
    bounds = {} if period == "all" else {"since": now_s - 86400.0, "until": now_s}
    with TestClient(app, base_url=HTTPS) as api:
        whole = api.get("/api/v1/totals", params={"by": "organisation", "dedup": "true",
                                                  **bounds}, headers=reader).json()
        [group] = whole["groups"]
        assert overview.totals.runs == group["runs"] == 3
        assert overview.totals.energy_j == pytest.approx(group["energy_j"], rel=1e-12)
        assert overview.totals.emissions_g == pytest.approx(group["emissions_g"], rel=1e-12)
        assert overview.dedup == whole["dedup"]
        # two copies of one run, 30 s apart on one host: the overlap is counted once
        assert 0 < overview.dedup["removed_energy_j"] < overview.dedup["measured_energy_j"]
        for by in ("project", "experiment", "component", "region", "host"):
            groups = api.get("/api/v1/totals", params={"by": by, **bounds},
                             headers=reader).json()["groups"]
            shown = {a.key: (a.runs, a.energy_j, a.emissions_g) for a in overview.breakdowns[by]}
            assert shown == {g["key"]: (g["runs"], pytest.approx(g["energy_j"], rel=1e-12),
                                        pytest.approx(g["emissions_g"], rel=1e-12))
                             for g in groups}, by
    if period == "24h":  # the day before held nothing
        assert context["previous"].runs == 0


def test_the_runs_table_and_a_run_page_show_the_apis_figures(stored, org, reader):
    app, run_id, now_s = stored
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: now_s)
    with TestClient(app, base_url=HTTPS) as api:
        listed = api.get("/api/v1/runs", params={"limit": 2}, headers=reader).json()
        page = data.runs(RunsQuery(limit=2))
        assert [r.run_id for r in page.items] == [r["run_id"] for r in listed["runs"]]
        assert [(r.energy_j, r.emissions_g, r.status, r.duration_s) for r in page.items] == [
            (r["energy_j"], r["emissions_g"], r["status"], r["duration_s"])
            for r in listed["runs"]]
        assert page.next_cursor == listed["next_cursor"]
        rest = data.runs(RunsQuery(limit=2, cursor=page.next_cursor))
        assert [r.run_id for r in rest.items] == [r["run_id"] for r in api.get(
            "/api/v1/runs", params={"limit": 2, "cursor": listed["next_cursor"]},
            headers=reader).json()["runs"]]
        by_energy = data.runs(RunsQuery(sort="-energy_j", limit=10)).items
        assert sorted(r.energy_j for r in by_energy) == [r.energy_j for r in by_energy][::-1]

        one = api.get(f"/api/v1/runs/{run_id}", headers=reader).json()
        detail = data.run(run_id)
        assert detail.row.energy_j == one["energy_j"] and detail.row.status == "finished"
        assert detail.summary.energy_j["total"] == pytest.approx(one["energy_j"])
        assert [s.span_id for s in detail.spans] == [s["span_id"] for s in api.get(
            f"/api/v1/runs/{run_id}/spans", headers=reader).json()["spans"]]

        started_s = detail.info.started_s
        series = data.series(run_id, max_points=10_000)
        api_series = api.get("/api/v1/series", params={
            "since": started_s - 1, "until": started_s + 86400, "points": 1, "run": run_id},
            headers=reader).json()
        [bucket] = api_series["points"]
        assert series.total == bucket["records"] == len(series.points)
        assert sum(p.energy_j for p in series.points) == pytest.approx(bucket["energy_j"])
        assert sum(p.emissions_g for p in series.points) == pytest.approx(bucket["emissions_g"])
        # live polling: records after a seq, the read API's exclusive since_seq
        first = data.records_since(run_id, None, limit=1000)
        assert [r.seq for r in data.records_since(run_id, first[0].seq, limit=1000)] == \
            [r.seq for r in first[1:]]
    with pytest.raises(DataError, match="no run"):
        data.run("not-a-run")


def test_signed_in_pages_show_the_overview_and_drill_down_to_a_run(stored, org):
    app, run_id, now_s = stored
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: now_s)
    overview = data.overview(views.period_of("30d", now_s))
    client = signed_in(app)
    picker = client.get("/dashboard/", follow_redirects=False)  # one organisation: straight in
    assert picker.status_code == 303
    base = f"/dashboard/orgs/{org.organisation_id}"
    assert picker.headers["location"] == f"{base}/"
    page = client.get(f"{base}/")
    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert fmt.energy(overview.totals.energy_j) in page.text
    assert fmt.energy(overview.dedup["removed_energy_j"]) in page.text
    assert "Acme Research" in page.text and f'href="{base}/runs"' in page.text
    runs = client.get(f"{base}/runs")
    assert runs.status_code == 200 and f'href="{base}/runs/{run_id}"' in runs.text
    one = client.get(f"{base}/runs/{run_id}")
    assert one.status_code == 200 and run_id in one.text
    # the breadcrumb names the server's project (the key's), whose runs table lists the run
    project = data.run(run_id).row.project
    crumb = re.search(r'<nav class="crumbs".*?<a href="([^"]+)">' + re.escape(project), one.text)
    assert run_id in client.get(crumb.group(1).replace("&amp;", "&")).text
    chart = json.loads(re.search(r'<script type="application/json" id="run-data">(.*?)</script>',
                                 one.text, re.S).group(1))
    assert chart["live_url"] == f"{base}/runs/{run_id}/records.json"
    live = client.get(chart["live_url"], params={"since_seq": chart["last_seq"]})
    assert live.status_code == 200 and live.json()["status"] == "finished"
    assert live.json()["records"] == []
    export = client.get(f"{base}/runs.csv")
    assert export.status_code == 200 and export.text.count(run_id) == 1
    assert 'action="/dashboard/logout"' in page.text  # signing out is a form (no script)
    missing = client.get(f"{base}/runs/not-a-run")
    assert missing.status_code == 404 and "no run" in missing.text


def test_without_a_session_pages_redirect_to_the_sign_in_page_and_data_stays_401(stored, org):
    app, run_id, _ = stored
    anonymous = TestClient(app, base_url=HTTPS)
    base = f"/dashboard/orgs/{org.organisation_id}"
    for path in (f"{base}/", f"{base}/runs?project=vision", f"{base}/runs/{run_id}",
                 "/dashboard/"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/login?next=")
    for path in (f"{base}/runs.csv", f"{base}/runs/{run_id}/records.json"):
        assert anonymous.get(path).status_code == 401
    login = anonymous.get("/dashboard/login", params={"next": f"{base}/runs?project=vision"})
    assert login.status_code == 200 and 'action="/dashboard/login"' in login.text
    assert f'name="next" value="{base}/runs?project=vision"' in login.text
    for elsewhere in ("https://evil.test/", "//evil.test/x", "/api/v1/runs", "/\\evil.test"):
        page = anonymous.get("/dashboard/login", params={"next": elsewhere})
        assert 'name="next" value="/dashboard/"' in page.text, elsewhere


def _dashboard_routes(app) -> list:
    """The app's routes under /dashboard with their effective paths (FastAPI >= 0.16x keeps
    included routers whole in app.routes, as test_accounts.api_routes says)."""
    try:
        from fastapi.openapi.utils import _get_api_route_for_openapi
        from fastapi.routing import iter_route_contexts
    except ImportError:
        found = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        found = [r for r in map(_get_api_route_for_openapi, iter_route_contexts(app.routes))
                 if r is not None]
    return [r for r in found if r.path.startswith("/dashboard")]


def _calls(dependant) -> list[object]:
    out = []
    for sub in dependant.dependencies:
        out += [sub.call, *_calls(sub)]
    return out


def test_every_dashboard_route_but_the_sign_in_page_declares_its_permission(stored):
    app, _, _ = stored
    routes = _dashboard_routes(app)
    # 7 pages, sign-in and sign-out forms, 11 settings pages and forms (and more)
    assert len(routes) >= 20 and not any(r.include_in_schema for r in routes)
    assert sum("/settings/" in r.path for r in routes) == 11
    assert [(r.path, *sorted(r.methods)) for r in routes
            if not is_authorized_route(_calls(r.dependant))] == \
        [("/dashboard/login", "GET"), ("/dashboard/login", "POST")]


def test_a_member_of_a_never_sees_bs_dashboard(stored, engine, org):
    app, run_id, _ = stored
    with engine.begin() as c:
        b_id = c.execute(insert(Organisation).values(slug="beta", name="Beta Secret", created_s=1.0)
                         .returning(Organisation.id)).scalar_one()
        b_user = c.execute(insert(User).values(email="owner@beta.test", password_hash=hash_password(
            "another long password"), created_s=1.0).returning(User.id)).scalar_one()
        c.execute(insert(Membership).values(user_id=b_user, organisation_id=b_id, role="owner"))
        c.execute(insert(Project).values(organisation_id=b_id, name="p", created_s=1.0))
    owner_a = signed_in(app)
    owner_b = signed_in(app, "owner@beta.test", "another long password")
    tried = 0
    for route in _dashboard_routes(app):
        if "{org_id}" not in route.path or "/settings/" in route.path:
            continue  # the settings' pages and forms: test_dashboard_settings.py's matrix
        path = (route.path.replace("{kind}", "csv").replace("{run_id}", run_id)
                .replace("overview/{table}", "overview/by-project")
                .replace("compare/{table}", "compare/comparison").replace("{table}", "records"))
        if "/compare" in path:  # two runs: the organisation's first and a copy
            path += f"?run={run_id}&run=run-later"
        a_path, b_path = (path.replace("{org_id}", str(i)) for i in (org.organisation_id, b_id))
        answer = owner_a.get(b_path)
        assert answer.status_code == 404, (b_path, answer.status_code)
        assert "Beta Secret" not in answer.text
        # B's owner reaches B's pages but never A's run, even under B's own path
        assert owner_b.get(a_path).status_code == 404
        assert owner_b.get(b_path).status_code in (200, 404)
        assert run_id not in owner_b.get(b_path).text or "no run" in owner_b.get(b_path).text
        assert owner_a.get(a_path).status_code == 200, a_path
        tried += 1
    assert tried == 9
    assert "Beta Secret" in owner_b.get(f"/dashboard/orgs/{b_id}/").text


def test_a_member_of_several_organisations_picks_one_and_sees_only_those(stored, engine, org):
    app, _, _ = stored
    with engine.begin() as c:
        other = c.execute(insert(Organisation).values(slug="gamma", name="Gamma Lab",
                                                      created_s=1.0)
                          .returning(Organisation.id)).scalar_one()
        hidden = c.execute(insert(Organisation).values(slug="delta", name="Delta Hidden",
                                                       created_s=1.0)
                           .returning(Organisation.id)).scalar_one()
        c.execute(insert(Membership).values(user_id=org.user_id, organisation_id=other,
                                            role="viewer"))
    client = signed_in(app)
    picker = client.get("/dashboard/")
    assert picker.status_code == 200 and "Delta Hidden" not in picker.text
    links = re.findall(r'<a href="(/dashboard/orgs/\d+/)">([^<]+)</a>', picker.text)
    assert links == [(f"/dashboard/orgs/{org.organisation_id}/", "Acme Research"),
                     (f"/dashboard/orgs/{other}/", "Gamma Lab")]
    viewer_page = client.get(f"/dashboard/orgs/{other}/?period=all")
    assert viewer_page.status_code == 200 and "No runs in this period" in viewer_page.text
    assert client.get(f"/dashboard/orgs/{hidden}/").status_code == 404
    for bad in ("abc", "0", str(2**40)):
        assert client.get(f"/dashboard/orgs/{bad}/").status_code in (400, 404), bad
