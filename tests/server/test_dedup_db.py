"""load_interval_rows + dedup_energy on what the real ingest endpoint stored (SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

import wattprint
from wattprint.intensity import Intensity
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.dedup import dedup_energy, load_interval_rows
from wattprint.server.models import Project
from wattprint.sinks.memory import MemorySink
from wattprint.wire import to_wire

MACHINE_W = 50.0 + 250.0  # the fake CPU and GPU every run below measures


class FixedIntensity:
    name = "fixed"

    def lookup(self, where, start, end):
        return Intensity(360.0, "XX", "test table", 2024)


def _wire_objects(sink: MemorySink) -> list[dict]:
    return ([to_wire(sink.run)] + [to_wire(r) for r in sink.records]
            + [to_wire(h) for h in sink.heartbeats] + [to_wire(sink.summary)])


def _concurrent_runs(clock, count: int) -> list[MemorySink]:
    """``count`` machine-scope runs on this host, started together, 3 x 36 s intervals each."""
    sinks, trackers = [], []
    for _ in range(count):
        sink = MemorySink()
        sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0),
                             FakeDevice("fake:gpu", "gpu", 250.0)], clock=clock)
        tracker = wattprint.Tracker(sensors=[sensor], sinks=[sink], intensity=FixedIntensity(),
                                    clock=clock, wall_clock=clock.wall_clock, interval_s=3600,
                                    project="vision", country="FR")
        tracker.start()
        sinks.append(sink)
        trackers.append(tracker)
    for _ in range(3):
        clock.advance(36.0)
        for tracker in trackers:
            tracker.flush()
    for tracker in trackers:
        tracker.stop()
    return sinks


def _post(client, key: str, items: list[dict]) -> None:
    response = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text


def _span_s(sinks) -> tuple[float, float]:
    records = [r for sink in sinks for r in sink.records]
    return (min(r.start_s for r in records), max(r.start_s + r.duration_s for r in records))


def test_three_concurrent_runs_posted_to_the_server_count_the_host_once(client, engine, org,
                                                                        clock):
    sinks = _concurrent_runs(clock, 3)
    for sink in sinks:
        _post(client, org.api_key, _wire_objects(sink))
    start_s, end_s = _span_s(sinks)
    assert end_s - start_s == pytest.approx(108.0)

    with engine.connect() as connection:
        rows = load_interval_rows(connection, start_s=start_s, end_s=end_s,
                                  organisation_id=org.organisation_id)
    result = dedup_energy(rows)

    per_run_j = [sum(r.energy_j for r in sink.records) for sink in sinks]
    assert per_run_j == pytest.approx([MACHINE_W * 108.0] * 3)
    assert len(result.runs) == 3 and len(result.hosts) == 1
    assert result.total.measured_energy_j == pytest.approx(3 * MACHINE_W * 108.0)
    assert result.total.energy_j == pytest.approx(MACHINE_W * 108.0)
    assert result.removed_energy_j == pytest.approx(2 * MACHINE_W * 108.0)
    assert result.total.energy_by_component_j["gpu"] == pytest.approx(250.0 * 108.0)
    measured_g = sum(r.emissions_g for sink in sinks for r in sink.records)
    assert result.total.emissions_g == pytest.approx(measured_g / 3)
    for sink in sinks:
        assert result.runs[sink.run.run_id].totals.energy_j == pytest.approx(MACHINE_W * 36.0)


def test_rows_are_clipped_to_the_range_and_filtered_by_project_and_host(client, engine, org,
                                                                        make_key, clock):
    sinks = _concurrent_runs(clock, 2)
    other_items = _wire_objects(sinks[1])
    other_items[0]["host"]["host_id"] = "0123456789abcdef"  # as if run on another machine
    with engine.begin() as connection:
        other_project = connection.execute(Project.__table__.insert().values(
            organisation_id=org.organisation_id, name="nlp", created_s=0.0)
            .returning(Project.id)).scalar_one()
    other_key = make_key(project_id=other_project)
    _post(client, org.api_key, _wire_objects(sinks[0]))
    _post(client, other_key, other_items)
    start_s, _ = _span_s(sinks)
    host_id = sinks[0].run.host["host_id"]

    with engine.connect() as connection:
        # the first 54 s: one and a half records of each run
        clipped = load_interval_rows(connection, start_s=start_s, end_s=start_s + 54.0)
        by_project = load_interval_rows(connection, start_s=start_s, end_s=start_s + 108.0,
                                        project_id=other_project)
        by_host = load_interval_rows(connection, start_s=start_s, end_s=start_s + 108.0,
                                     host_id=host_id)
        elsewhere = load_interval_rows(connection, start_s=start_s, end_s=start_s + 108.0,
                                       organisation_id=org.organisation_id + 1000)
        with pytest.raises(ValueError, match="empty time range"):
            load_interval_rows(connection, start_s=start_s, end_s=start_s)

    assert sorted(r.duration_s for r in clipped) == pytest.approx([18.0, 18.0, 36.0, 36.0])
    result = dedup_energy(clipped)
    assert result.removed_energy_j == 0.0  # two hosts: nothing merged
    assert result.total.energy_j == pytest.approx(2 * MACHINE_W * 54.0)
    assert {r.run_id for r in by_project} == {sinks[1].run.run_id}
    assert {r.host_id for r in by_host} == {host_id}
    assert {r.run_id for r in by_host} == {sinks[0].run.run_id}
    assert {r.scope for r in by_host} == {"machine"}
    assert elsewhere == []
