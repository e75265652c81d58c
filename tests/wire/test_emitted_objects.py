"""Every object a real tracker hands its sinks validates against the published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import wattprint
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.jsonl import JsonlSink
from wattprint.sinks.memory import MemorySink
from wattprint.wire import WIRE_VERSION, from_wire, to_wire


def memory_items(sink: MemorySink) -> list[Any]:
    items: list[Any] = [sink.run, *sink.records, *sink.spans,
                        *getattr(sink, "heartbeats", ()), sink.summary]
    return [item for item in items if item is not None]


@pytest.mark.parametrize("scope, slurm", [("machine", False), ("process", True)])
def test_every_object_written_by_the_sinks_validates(clock: Any, tmp_path: Path, validator: Any,
                                                     monkeypatch: pytest.MonkeyPatch, scope: str,
                                                     slurm: bool) -> None:
    if slurm:  # a rank of a distributed job: the run carries a typed job object
        for name, value in {"SLURM_JOB_ID": "9001", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
                            "SLURM_NTASKS": "2", "SLURM_NODEID": "0", "SLURM_CPUS_ON_NODE": "4",
                            "SLURM_MEM_PER_NODE": "1024"}.items():
            monkeypatch.setenv(name, value)
    memory = MemorySink()
    path = tmp_path / "run.jsonl"
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0, wrap_j=500.0),
                         FakeDevice("fake:ram", "ram", 5.0),
                         FakeDevice("fake:gpu", "gpu", 250.0, method="sampled")], clock=clock)
    tracker = wattprint.Tracker(
        sensors=[sensor], sinks=[memory, JsonlSink(path)], clock=clock,
        wall_clock=clock.wall_clock, country="FR", interval_s=3600, scope=scope, project="wire",
        experiment="e2e", tags={"suite": "wire"},
    )
    tracker.start()
    with tracker.span("train"):
        for _ in range(3):
            with tracker.span("step"):
                clock.advance(2.0)
                tracker.step(32, unit="samples")
        tracker.flush()
        with tracker.span("eval"):
            clock.advance(1.0)
            tracker.step(100, unit="tokens")
    clock.advance(1.0)
    summary = tracker.stop()

    objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kinds = [obj["type"] for obj in objects]
    assert kinds[0] == "run" and kinds[-1] == "summary"
    assert {"record", "span"} <= set(kinds)
    for obj in objects:
        assert obj["schema_version"] == WIRE_VERSION
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(obj)]
        assert problems == [], obj["type"]

    items = memory_items(memory)
    assert items, "the memory sink received nothing"
    for item in items:
        wire = json.loads(json.dumps(to_wire(item)))
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(wire)]
        assert problems == [], type(item).__name__
        assert from_wire(wire) == item

    # The values are the run's, not just well-formed.
    run = objects[0]
    assert run["location"]["country"] == "FR" and run["location"]["resolved_by"] == "config"
    assert run["tags"] == {"suite": "wire"}
    assert {d["device"] for d in run["devices"]} == {"fake:cpu", "fake:ram", "fake:gpu"}
    assert run["scope"] == scope
    if slurm:
        assert run["job"]["job_id"].startswith("9001") and run["job"]["rank"] == 0
        assert run["job"]["allocated_memory_bytes"] == 1024 * 2**20
        assert objects[-1]["job"] == run["job"]
    else:
        assert run["job"] is None
    last = objects[-1]
    assert last["run_id"] == run["run_id"] == summary.run_id
    assert last["energy_j"]["total"] == pytest.approx(summary.energy_j["total"])
    if scope == "machine":  # (process scope scales by this test process's real CPU share)
        # 50 + 5 + 250 W for 8 s (the cpu counter wraps at 500 J: several times, all counted)
        assert last["energy_j"]["cpu"] == pytest.approx(400.0, rel=1e-6)
        assert last["energy_j"]["total"] == pytest.approx(305.0 * 8.0, rel=0.02)
    work = {w["unit"]: w for w in last["work"]}
    assert work["samples"]["count"] == 96 and work["tokens"]["count"] == 100
    assert work["samples"]["energy_j_per_unit"] == pytest.approx(last["energy_j"]["total"] / 96)
    records = [obj for obj in objects if obj["type"] == "record"]
    # the last record per seq (a retried batch may repeat one) adds up to the summary
    by_seq = {r["seq"]: r for r in records}
    assert sum(r["energy_j"] for r in by_seq.values()) == pytest.approx(last["energy_j"]["total"])
    spans = {obj["span_id"]: obj for obj in objects if obj["type"] == "span"}  # last one wins
    assert spans["train/step"]["count"] == 3
    assert spans["train/step"]["work"] == [{"unit": "samples", "count": 96.0}]
    assert spans["train/step"]["duration_s"] == pytest.approx(6.0)
    assert spans["train"]["parent_id"] is None and spans["train/eval"]["parent_id"] == "train"


def test_predictions_and_budgets_written_by_the_sinks_validate(clock: Any, tmp_path: Path,
                                                               validator: Any) -> None:
    memory = MemorySink()
    path = tmp_path / "run.jsonl"
    sensor = FakeSensor([FakeDevice("fake:gpu", "gpu", 250.0)], clock=clock)
    tracker = wattprint.Tracker(
        sensors=[sensor], sinks=[memory, JsonlSink(path)], clock=clock,
        wall_clock=clock.wall_clock, country="FR", interval_s=3600, budget_g=0.5,
        budget_kwh=0.01)
    tracker.start()
    tracker.expect(total=200, unit="steps")
    for _ in range(5):
        for _ in range(8):
            clock.advance(1.0)
            tracker.step(1, unit="steps")
        tracker.flush()
    summary = tracker.stop()
    objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    predictions = [obj for obj in objects if obj["type"] == "prediction"]
    assert [p["seq"] for p in predictions] == [2, 3, 4]  # none for the empty last cut
    for obj in objects:
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(obj)]
        assert problems == [], obj["type"]
    for item in memory_items(memory) + memory.predictions:
        assert from_wire(json.loads(json.dumps(to_wire(item)))) == item
    last = objects[-1]
    assert last["prediction"] == {k: v for k, v in predictions[-1].items()
                                  if k not in ("type", "schema_version")}
    # 250 W, 8 s a record, 25 records for the 200 steps: 50,000 J
    assert predictions[0]["energy_j"] == pytest.approx(50_000.0)
    assert [a["kind"] for a in last["budget"]["alerts"]] == ["energy", "emissions"]
    assert summary.budget == last["budget"]
