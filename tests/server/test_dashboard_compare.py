"""The comparison and the table downloads on the team server (issue 11), on SQLite and
PostgreSQL: the figures are the query API's for the same organisation, another organisation's
run is "not found" exactly as on the run page, and every download route declares its
permission (test_dashboard_server.py walks them)."""

from __future__ import annotations

import csv
import io

import pytest
from dashboard_kit import HTTPS, app_at, ingest, read_key, signed_in
from fastapi.testclient import TestClient
from server_constants import FixedIntensity  # tests/server is on sys.path
from sqlalchemy import insert

import wattprint
from fakes.clock import FakeClock
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.compare import compare_context
from wattprint.server.dashboard.server_data import ServerData
from wattprint.server.models import Membership, Organisation, Project, User
from wattprint.server.passwords import hash_password
from wattprint.sinks.memory import MemorySink
from wattprint.wire import to_wire

T0 = 1_767_225_600.0


def tracked(*, wall_s: float, cpu_w: float, gpu_w: float, intervals: int,
            experiment: str) -> tuple[list[dict], str]:
    """A real tracker run's wire objects (samples counted) and its id."""
    clock = FakeClock(wall_start_s=wall_s)
    devices = [FakeDevice("fake:cpu", "cpu", cpu_w)]
    if gpu_w:
        devices.append(FakeDevice("fake:gpu", "gpu", gpu_w, method="sampled"))
    sink = MemorySink()
    tracker = wattprint.Tracker(sensors=[FakeSensor(devices, clock=clock)], sinks=[sink],
                                intensity=FixedIntensity(), clock=clock,
                                wall_clock=clock.wall_clock, interval_s=3600, country="FR",
                                project="vision", experiment=experiment)
    tracker.start()
    with tracker.span("train"):
        for _ in range(intervals):
            clock.advance(30.0)
            tracker.step(64, "samples")
            tracker.flush()
    tracker.stop()
    items = [to_wire(sink.run), *(to_wire(r) for r in sink.records),
             *(to_wire(s) for s in sink.spans), *(to_wire(h) for h in sink.heartbeats),
             to_wire(sink.summary)]
    return items, sink.run.run_id


@pytest.fixture
def stored(engine, org):
    """Two runs of the bootstrapped organisation sent through the real ingest; (app, ids)."""
    first, a = tracked(wall_s=T0, cpu_w=50.0, gpu_w=250.0, intervals=3, experiment="vit")
    second, b = tracked(wall_s=T0 + 3600, cpu_w=30.0, gpu_w=0.0, intervals=5,
                        experiment="small")
    now_s = T0 + 6 * 3600.0
    app = app_at(engine, now_s)
    with TestClient(app, base_url=HTTPS) as client:
        for items in (first, second):
            ingest(client, items, org.api_key)
    yield app, [a, b], now_s
    app.state.engine.dispose()


@pytest.fixture
def reader(engine, org):
    return read_key(engine, org)


def test_the_comparison_shows_the_query_apis_figures(stored, org, reader):
    app, ids, now_s = stored
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: now_s)
    context = compare_context(data, ids)
    rows = list(context["tables"]["comparison"].records())
    with TestClient(app, base_url=HTTPS) as api:
        for row, run_id, steps in zip(rows, ids, (3, 5), strict=True):
            one = api.get(f"/api/v1/runs/{run_id}", headers=reader).json()
            assert row["run_id"] == run_id
            assert row["energy_j"] == pytest.approx(one["energy_j"], rel=1e-12)
            assert row["emissions_g"] == pytest.approx(one["emissions_g"], rel=1e-12)
            assert row["duration_s"] == pytest.approx(one["duration_s"], rel=1e-12)
            assert row["intensity_g_per_kwh"] == pytest.approx(360.0)
            assert row["intensity_source"] == "test table" and row["intensity_year"] == 2024
            records = api.get(f"/api/v1/runs/{run_id}/records", headers=reader).json()["records"]
            assert row["cpu_energy_j"] == pytest.approx(sum(r["cpu_energy_j"] for r in records))
            assert row["work_samples_count"] == 64 * steps
            assert row["energy_per_samples_j"] == pytest.approx(one["energy_j"]
                                                                / row["work_samples_count"])
            curve = [r for r in context["tables"]["curves"].rows if r["run_id"] == run_id]
            assert [r["energy_j"] for r in curve] == pytest.approx(
                [r["energy_j"] for r in records])
    assert rows[0]["gpu_method"] == "sampled" and rows[1]["gpu_method"] is None
    assert rows[1]["energy_diff_j"] == pytest.approx(rows[1]["energy_j"] - rows[0]["energy_j"])
    assert rows[0]["energy_diff_j"] is None


def test_signed_in_pages_compare_and_download_every_table(stored, org, reader):
    app, (a, b), now_s = stored
    base = f"/dashboard/orgs/{org.organisation_id}"
    client = signed_in(app)
    page = client.get(f"{base}/compare?run={a}&run={b}")
    assert page.status_code == 200 and "Comparing 2 runs" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/static/compare.js">' in page.text
    assert client.get("/dashboard/static/compare.js").status_code == 200
    assert f'href="{base}/export/compare/comparison.csv?run={a}&amp;run={b}"' in page.text
    answer = client.get(f"{base}/export/compare/comparison.csv?run={a}&run={b}")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    api = TestClient(app, base_url=HTTPS)
    for row, run_id in zip(rows, (a, b), strict=True):
        one = api.get(f"/api/v1/runs/{run_id}", headers=reader).json()
        assert float(row["energy_j"]) == pytest.approx(one["energy_j"], rel=1e-12)
        assert fmt.energy(float(row["energy_j"])) in page.text
    # the runs table's checkboxes post to this organisation's comparison
    runs = client.get(f"{base}/runs").text
    assert f'action="{base}/compare"' in runs and f'value="{a}" form="compare-form"' in runs
    # a run's tables
    records = api.get(f"/api/v1/runs/{a}/records", headers=reader).json()["records"]
    got = client.get(f"{base}/export/runs/{a}/records.json").json()
    assert [(r["seq"], r["energy_j"]) for r in got] == [(r["seq"], r["energy_j"])
                                                         for r in records]
    spans = api.get(f"/api/v1/runs/{a}/spans", headers=reader).json()["spans"]
    assert [s["energy_j"] for s in client.get(f"{base}/export/runs/{a}/spans.json").json()] \
        == [s["energy_j"] for s in spans]
    # the overview's tables: the query API's totals by project
    groups = api.get("/api/v1/totals", params={"by": "project"}, headers=reader).json()["groups"]
    by_project = client.get(f"{base}/export/overview/by-project.json?period=all").json()
    assert {g["project"]: g["energy_j"] for g in by_project} == pytest.approx(
        {g["key"]: g["energy_j"] for g in groups}, rel=1e-12)
    # refusals: a clear page, JSON for a download
    assert client.get(f"{base}/compare?run={a}").status_code == 400
    missing = client.get(f"{base}/compare?run={a}&run=not-a-run")
    assert missing.status_code == 404 and "no run" in missing.text
    assert client.get(f"{base}/export/runs/{a}/bogus.csv").json()["detail"].startswith(
        "no table 'bogus'")


def test_another_organisations_run_is_not_found_in_a_comparison(stored, engine, org):
    app, (a, b), _ = stored
    with engine.begin() as c:
        b_org = c.execute(insert(Organisation).values(slug="beta", name="Beta", created_s=1.0)
                          .returning(Organisation.id)).scalar_one()
        b_user = c.execute(insert(User).values(email="owner@beta.test", password_hash=hash_password(
            "another long password"), created_s=1.0).returning(User.id)).scalar_one()
        c.execute(insert(Membership).values(user_id=b_user, organisation_id=b_org, role="owner"))
        c.execute(insert(Project).values(organisation_id=b_org, name="p", created_s=1.0))
    owner_b = signed_in(app, "owner@beta.test", "another long password")
    base = f"/dashboard/orgs/{b_org}"
    own = owner_b.get(f"{base}/runs/{a}")  # the run page's answer for A's run
    compared = owner_b.get(f"{base}/compare?run={a}&run={b}")
    assert own.status_code == compared.status_code == 404
    assert f"no run {a!r} in this organisation" in compared.text.replace("&#39;", "'")
    for path in (f"{base}/export/compare/comparison.csv?run={a}&run={b}",
                 f"{base}/export/runs/{a}/records.csv"):
        answer = owner_b.get(path)
        assert answer.status_code == 404 and "no run" in answer.json()["detail"], path
    # and A's pages are not B's to open at all
    assert owner_b.get(f"/dashboard/orgs/{org.organisation_id}/compare?run={a}&run={b}") \
        .status_code == 404
