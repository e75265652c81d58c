"""Catalogue routes (projects, experiments, hosts) and the job view, on SQLite and PostgreSQL,
with runs from real trackers sent through the real ingest endpoint."""

from __future__ import annotations

import pytest
from server_constants import FixedIntensity  # tests/server is on sys.path (see conftest)
from sqlalchemy import insert
from test_query import ingest, renamed

from wattprint import Tracker
from wattprint.cluster import Job
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.models import Project
from wattprint.sinks.memory import MemorySink
from wattprint.wire import to_wire

CPU_W, GPU_W = 100.0, 250.0
INTERVALS, INTERVAL_S = 3, 36.0
JOB_S = INTERVALS * INTERVAL_S


@pytest.fixture
def read(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(scopes=('read',))}"}


def _host_id(n: int) -> str:
    return f"{n:016x}"


def _job_rank(sink: MemorySink, *, job_id: str, rank: int, node: int, local: int,
              ranks_per_node: int, nodes: int) -> list[dict]:
    """The wire objects of ``sink``'s run, as rank ``rank`` of a job on host ``node``."""
    items = [to_wire(sink.run)] + [to_wire(r) for r in sink.records] + [to_wire(sink.summary)]
    info = items[0]
    info["host"] = {**info["host"], "host_id": _host_id(node), "hostname": f"node{node}"}
    info["job"] = Job(job_id=job_id, source="config", rank=rank, local_rank=local,
                      world_size=nodes * ranks_per_node, local_world_size=ranks_per_node,
                      node=f"node{node}", node_rank=node).to_dict()
    return items


def _run_together(clock, devices_per_run: list[list[FakeDevice]]) -> list[MemorySink]:
    """Machine-scope runs started together, ``INTERVALS`` x ``INTERVAL_S`` each."""
    sinks, trackers = [], []
    for devices in devices_per_run:
        sink = MemorySink()
        tracker = Tracker(sensors=[FakeSensor(devices, clock=clock)], sinks=[sink],
                          intensity=FixedIntensity(), clock=clock, wall_clock=clock.wall_clock,
                          interval_s=3600, project="vision", experiment="llm", country="FR")
        tracker.start()
        sinks.append(sink)
        trackers.append(tracker)
    for _ in range(INTERVALS):
        clock.advance(INTERVAL_S)
        for tracker in trackers:
            tracker.flush()
    for tracker in trackers:
        tracker.stop()
    return sinks


def _job(clock, *, nodes: int = 2, ranks_per_node: int = 4, beside: bool = False):
    """(wire objects, rank sinks, beside sink) of a job: each node's leader (local rank 0)
    measured the machine-wide CPU and its GPU, every other rank only its own GPU (the cluster
    rule); with ``beside``, a plain run measured all of node 0 (CPU and every GPU) meanwhile."""
    devices = []
    for _node in range(nodes):
        for local in range(ranks_per_node):
            own = [FakeDevice(f"fake:gpu{local}", "gpu", GPU_W)]
            devices.append(([FakeDevice("fake:cpu", "cpu", CPU_W)] if local == 0 else []) + own)
    if beside:
        devices.append([FakeDevice("fake:cpu", "cpu", CPU_W)] + [
            FakeDevice(f"fake:gpu{g}", "gpu", GPU_W) for g in range(ranks_per_node)])
    sinks = _run_together(clock, devices)
    items = []
    for rank, sink in enumerate(sinks[:nodes * ranks_per_node]):
        items += _job_rank(sink, job_id="job-7", rank=rank, node=rank // ranks_per_node,
                           local=rank % ranks_per_node, ranks_per_node=ranks_per_node,
                           nodes=nodes)
    other = sinks[-1] if beside else None
    if other is not None:
        other_items = [to_wire(other.run)] + [to_wire(r) for r in other.records] + [
            to_wire(other.summary)]
        other_items[0]["host"] = {**other_items[0]["host"], "host_id": _host_id(0),
                                  "hostname": "node0"}
        items += other_items
    return items, sinks[:nodes * ranks_per_node], other


def test_a_job_counts_each_node_once_with_its_ranks_and_nodes(client, org, read, clock):
    items, ranks, _ = _job(clock)
    ingest(client, org, items)

    response = client.get("/api/v1/jobs/job-7", headers=read)

    assert response.status_code == 200, response.text
    job = response.json()
    node_j = (CPU_W + 4 * GPU_W) * JOB_S  # one machine: its CPU once, its four GPUs
    assert job["rule"] == "host-slice-mean/v1"
    assert job["total"]["energy_j"] == pytest.approx(2 * node_j)
    assert job["total"]["measured_energy_j"] == pytest.approx(2 * node_j)
    assert job["total"]["removed_energy_j"] == pytest.approx(0.0, abs=1e-6)
    assert job["total"]["energy_by_component_j"] == {
        "cpu": pytest.approx(2 * CPU_W * JOB_S), "gpu": pytest.approx(8 * GPU_W * JOB_S),
        "ram": 0.0, "other": 0.0}
    measured_g = sum(r.emissions_g for sink in ranks for r in sink.records)
    assert job["total"]["emissions_g"] == pytest.approx(measured_g)
    assert [r["rank"] for r in job["ranks"]] == list(range(8))
    leader, other_rank = job["ranks"][0], job["ranks"][1]
    assert leader["energy_j"] == pytest.approx((CPU_W + GPU_W) * JOB_S)
    assert other_rank["energy_j"] == pytest.approx(GPU_W * JOB_S)
    assert leader["summary_status"] == "finished" and leader["hostname"] == "node0"
    assert [(n["node"], n["host_id"], n["ranks"]) for n in job["nodes"]] == [
        ("node0", _host_id(0), 4), ("node1", _host_id(1), 4)]
    assert [n["energy_j"] for n in job["nodes"]] == [pytest.approx(node_j)] * 2


def test_a_run_beside_the_job_shares_its_node_as_in_the_totals(client, org, read, clock):
    items, _, other = _job(clock, beside=True)
    ingest(client, org, items)

    job = client.get("/api/v1/jobs/job-7", headers=read).json()
    totals = client.get("/api/v1/totals", params={"by": "organisation", "dedup": "true"},
                        headers=read).json()

    node_j = (CPU_W + 4 * GPU_W) * JOB_S
    # node 0: the job and the plain run both measured the whole machine; the node counts once,
    # split between them in proportion to what each measured (half each here)
    assert job["total"]["measured_energy_j"] == pytest.approx(2 * node_j)
    assert job["total"]["energy_j"] == pytest.approx(node_j / 2 + node_j)
    assert job["total"]["removed_energy_j"] == pytest.approx(node_j / 2)
    assert [n["energy_j"] for n in job["nodes"]] == [pytest.approx(node_j / 2),
                                                     pytest.approx(node_j)]
    # the same rule as the organisation's de-duplicated total: job + the other run = 2 nodes
    assert totals["dedup"]["energy_j"] == pytest.approx(2 * node_j)
    assert other is not None


def test_a_job_of_another_organisation_or_none_at_all_is_404(client, org, read, clock):
    items, _, _ = _job(clock, nodes=1, ranks_per_node=2)
    ingest(client, org, items)

    missing = client.get("/api/v1/jobs/no-such-job", headers=read)
    found = client.get(f"/api/v1/orgs/{org.organisation_id}/jobs/job-7", headers=read)

    assert missing.status_code == 404
    assert missing.json()["detail"] == {"index": None, "field": "job_id",
                                        "message": "no job 'no-such-job' in this organisation"}
    assert found.status_code == 200 and len(found.json()["ranks"]) == 2


def test_projects_list_their_runs_figures_and_page_by_name(client, engine, org, read,
                                                           run_objects):
    items, summary = run_objects
    ingest(client, org, items + renamed(items, "second-run", shift_s=500.0))
    with engine.begin() as connection:  # an empty project sorts before "default"
        connection.execute(insert(Project).values(organisation_id=org.organisation_id,
                                                  name="aaa-empty", created_s=1.0))

    first = client.get("/api/v1/projects", params={"limit": 1}, headers=read)
    second = client.get("/api/v1/projects", params={"cursor": first.json()["next_cursor"]},
                        headers=read)

    assert first.status_code == 200, first.text
    assert first.json()["projects"] == [{
        "project": "aaa-empty", "created_s": 1.0, "experiments": 0, "runs": 0, "energy_j": 0.0,
        "emissions_g": 0.0, "last_activity_s": None}]
    [default] = second.json()["projects"]
    assert second.json()["next_cursor"] is None
    assert default["project"] == "default" and default["runs"] == 2
    assert default["experiments"] == 1
    assert default["energy_j"] == pytest.approx(2 * summary.energy_j["total"])
    assert default["emissions_g"] == pytest.approx(2 * summary.emissions_g)
    assert default["last_activity_s"] == pytest.approx(
        summary.started_s + 500.0 + summary.duration_s)


def test_experiments_of_a_project_and_a_running_run_counted_with_its_records(
        client, org, read, run_objects):
    items, summary = run_objects
    running = [i for i in renamed(items, "still-running", shift_s=1000.0)
               if i["type"] != "summary"]
    ingest(client, org, items + running)
    records = [i for i in running if i["type"] == "record"]

    response = client.get("/api/v1/projects/default/experiments", headers=read)
    missing = client.get("/api/v1/projects/nope/experiments", headers=read)

    assert response.status_code == 200, response.text
    [resnet] = response.json()["experiments"]
    assert resnet["experiment"] == "resnet" and resnet["runs"] == 2
    assert resnet["energy_j"] == pytest.approx(summary.energy_j["total"] + sum(
        r["energy_j"] for r in records))
    last_record_end_s = max(r["start_s"] + r["duration_s"] for r in records)
    last_beat_s = max([i["at_s"] for i in running if i["type"] == "heartbeat"], default=0.0)
    assert resnet["last_activity_s"] == pytest.approx(max(last_record_end_s, last_beat_s))
    assert missing.status_code == 404 and missing.json()["detail"]["field"] == "project"


def test_hosts_with_runs_and_last_seen(client, org, read, run_objects, clock):
    items, summary = run_objects
    elsewhere = renamed(items, "elsewhere", shift_s=50.0)
    elsewhere[0]["host"] = {**elsewhere[0]["host"], "host_id": _host_id(9), "hostname": "gpu9"}
    ingest(client, org, items + elsewhere)
    here = items[0]["host"]["host_id"]

    page = client.get("/api/v1/hosts", params={"limit": 1}, headers=read).json()
    rest = client.get("/api/v1/hosts", params={"cursor": page["next_cursor"]},
                      headers=read).json()

    hosts = page["hosts"] + rest["hosts"]
    assert [h["host_id"] for h in hosts] == sorted([here, _host_id(9)])
    by_id = {h["host_id"]: h for h in hosts}
    assert by_id[_host_id(9)]["hostname"] == "gpu9" and by_id[_host_id(9)]["runs"] == 1
    assert by_id[here]["hostname"] == items[0]["host"]["hostname"]
    assert by_id[here]["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert by_id[_host_id(9)]["last_seen_s"] == pytest.approx(
        summary.started_s + 50.0 + summary.duration_s)
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("route", ["/api/v1/projects", "/api/v1/hosts",
                                   "/api/v1/projects/default/experiments"])
def test_a_bad_cursor_is_400_naming_the_cursor(client, org, read, route):
    for cursor in ("not base64 json", "WzFd", "bnVsbA"):  # garbage, [1], null
        response = client.get(route, params={"cursor": cursor}, headers=read)
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["detail"]["field"] == "cursor"


def test_another_organisations_key_sees_none_of_it(client, engine, org, run_objects, clock):
    from test_accounts import add_org

    items, _ = run_objects
    ingest(client, org, items)
    other = {"Authorization": f"Bearer {add_org(engine, 'Beta', 'owner@beta.test')['key']}"}

    assert client.get("/api/v1/hosts", headers=other).json()["hosts"] == []
    assert [p["project"] for p in client.get("/api/v1/projects", headers=other).json()[
        "projects"]] == ["p"]
    assert client.get("/api/v1/projects/default/experiments", headers=other).status_code == 404
    assert client.get(f"/api/v1/orgs/{org.organisation_id}/projects",
                      headers=other).status_code == 404


def test_a_run_of_the_job_without_a_rank_is_listed_last_on_both_databases(client, org, read,
                                                                          clock):
    items, ranks, _ = _job(clock, nodes=1, ranks_per_node=3)
    first_rank = next(i for i in items if i["type"] == "run")
    first_rank["job"]["rank"] = None  # SQLite sorts NULL first, PostgreSQL last
    ingest(client, org, items)

    job = client.get("/api/v1/jobs/job-7", headers=read).json()

    assert [r["rank"] for r in job["ranks"]] == [1, 2, None]
    assert job["ranks"][-1]["run_id"] == ranks[0].run.run_id
