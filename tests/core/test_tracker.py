from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import replace
from datetime import datetime

import pytest

import wattprint
from wattprint.errors import ConfigError, IntensityUnavailable
from wattprint.intensity import Intensity, Location
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.jsonl import JsonlSink
from wattprint.sinks.memory import MemorySink


class FixedIntensity:
    name = "fixed"

    def __init__(self, g_per_kwh: float = 360.0) -> None:
        self.g_per_kwh = g_per_kwh
        self.fail = False
        self.calls: list[tuple[Location, datetime, datetime]] = []

    def lookup(self, where, start, end):
        self.calls.append((where, start, end))
        if self.fail:
            raise IntensityUnavailable("provider down")
        return Intensity(self.g_per_kwh, "XX", "test table", 2024)


class ExplodingSink(MemorySink):
    name = "exploding"

    def export(self, batch):
        raise OSError("disk full")


def make_tracker(clock, *devices, sinks=None, intensity=None, **settings):
    sensor = FakeSensor(list(devices), clock=clock)
    settings.setdefault("country", "FR")
    settings.setdefault("interval_s", 3600)  # the thread never ticks; tests drive ticks
    tracker = wattprint.Tracker(
        sensors=[sensor], sinks=sinks if sinks is not None else [MemorySink()],
        intensity=intensity or FixedIntensity(), clock=clock, wall_clock=clock.wall_clock,
        **settings,
    )
    return tracker, sensor


def test_energy_and_emissions_are_exact_per_component(clock):
    sink = MemorySink()
    tracker, _ = make_tracker(
        clock, FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:ram", "ram", 5.0),
        FakeDevice("fake:gpu", "gpu", 250.0, method="sampled"), sinks=[sink], pue=1.2,
    )
    tracker.start()
    clock.advance(36.0)
    tracker.flush()
    clock.advance(36.0)
    summary = tracker.stop()
    assert summary.energy_j["cpu"] == pytest.approx(3600.0)
    assert summary.energy_j["ram"] == pytest.approx(360.0)
    assert summary.energy_j["gpu"] == pytest.approx(18000.0)
    assert summary.energy_j["total"] == pytest.approx(21960.0)
    # 21960 J = 0.0061 kWh, x PUE 1.2 x 360 g/kWh
    assert summary.emissions_g == pytest.approx(0.0061 * 1.2 * 360.0)
    assert summary.duration_s == pytest.approx(72.0)
    assert summary.intensity["g_per_kwh"] == pytest.approx(360.0)
    assert summary.intensity["source"] == "test table"
    assert len(sink.records) == 2
    assert sink.records[0].seq == 0 and sink.records[1].seq == 1
    assert sink.summary == replace(summary, delivery=None)  # where data went: known after
    assert summary.delivery == {"memory": "delivered"}
    methods = {c["device"]: c["method"] for c in summary.components}
    assert methods == {"fake:cpu": "measured", "fake:ram": "measured", "fake:gpu": "sampled"}


def test_intensity_is_looked_up_for_each_interval_window(clock):
    source = FixedIntensity()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), intensity=source)
    tracker.start()
    clock.advance(10.0)
    tracker.flush()
    tracker.stop()
    interval_calls = source.calls[1:]  # the first call is the start-up check
    start, end = interval_calls[0][1], interval_calls[0][2]
    assert (end - start).total_seconds() == pytest.approx(10.0)
    assert interval_calls[0][0].country == "FR"


def test_spans_nest_and_carry_their_own_energy(clock):
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 100.0), sinks=[sink])
    tracker.start()
    clock.advance(1.0)
    with tracker.span("epoch-1") as outer:
        clock.advance(2.0)
        with tracker.span("validation") as inner:
            clock.advance(3.0)
        clock.advance(4.0)
    clock.advance(5.0)
    summary = tracker.stop()
    assert inner.energy_j == pytest.approx(300.0)
    assert outer.energy_j == pytest.approx(900.0)
    assert inner.parent_id == outer.span_id and outer.parent_id is None
    assert inner.duration_s == pytest.approx(3.0)
    assert summary.energy_j["total"] == pytest.approx(1500.0)
    assert [s["span_id"] for s in summary.spans] == ["epoch-1", "epoch-1/validation"]
    assert [s.span_id for s in sink.spans] == ["epoch-1", "epoch-1/validation"]
    assert inner.emissions_g == pytest.approx(300.0 / 3.6e6 * 360.0)


def test_a_failing_sink_is_isolated_and_reported(clock):
    good = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0),
                              sinks=[ExplodingSink(), good])
    tracker.start()
    for _ in range(3):
        clock.advance(1.0)
        tracker.flush()
    summary = tracker.stop()
    assert len(good.records) == 4
    assert any("sink exploding failed" in w and "disk full" in w for w in summary.warnings)
    assert summary.delivery["memory"] == "delivered"
    assert summary.delivery["exploding"].startswith("spooled: ")


def test_sinks_given_by_name_are_made_like_the_setting_and_may_mix_with_objects(clock, tmp_path):
    memory = MemorySink()
    path = tmp_path / "records.jsonl"
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0),
                              sinks=["jsonl", memory], jsonl_path=str(path))
    tracker.start()
    clock.advance(2.0)
    summary = tracker.stop()
    assert summary.delivery == {"memory": "delivered", "jsonl": "delivered"}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    stored = [line for line in lines if line.get("type") == "record"]
    assert [r["energy_j"] for r in stored] == [r.energy_j for r in memory.records]
    assert sum(r["energy_j"] for r in stored) == pytest.approx(20.0)


def test_an_unknown_sink_name_fails_at_construction_naming_the_setting(clock):
    with pytest.raises(ConfigError) as caught:
        make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=["sqlite", "mlfow"])
    assert caught.value.key == "sinks"
    assert "mlfow" in str(caught.value)


def test_an_empty_sink_list_means_no_sinks(clock):
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[])
    tracker.start()
    clock.advance(1.0)
    assert tracker.stop().delivery == {}


def test_sensor_failure_is_a_gap_not_a_crash(clock):
    sink = MemorySink()
    tracker, sensor = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[sink])
    tracker.start()
    sensor.fail_next()
    clock.advance(1.0)
    tracker.flush()
    clock.advance(1.0)
    tracker.flush()
    clock.advance(1.0)
    summary = tracker.stop()
    assert sink.records[0].gaps and "simulated read failure" in sink.records[0].gaps[0]
    assert summary.energy_j["total"] == pytest.approx(10.0)  # only the last interval
    assert summary.gaps


def test_intensity_failure_records_zero_and_says_so(clock):
    source = FixedIntensity()
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 100.0), sinks=[sink],
                              intensity=source)
    tracker.start()
    source.fail = True
    clock.advance(36.0)
    summary = tracker.stop()
    assert summary.energy_j["total"] == pytest.approx(3600.0)
    assert summary.emissions_g == 0.0
    assert sink.records[0].intensity_source == "unavailable"
    assert any("carbon intensity unavailable" in w for w in summary.warnings)


def test_bad_settings_fail_at_construction_with_the_key():
    with pytest.raises(ConfigError, match="interval_s"):
        wattprint.Tracker(interval_s=0)
    with pytest.raises(ConfigError, match="unknown setting 'contry'.*country"):
        wattprint.Tracker(contry="FR")


def test_unknown_country_lists_close_matches():
    with pytest.raises(wattprint.LocationError) as err:
        wattprint.Tracker(country="Frnace")
    assert "FR" in err.value.suggestions


def test_user_exception_propagates_and_the_run_is_marked_failed(clock):
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[sink])
    with pytest.raises(ZeroDivisionError):
        with tracker:
            clock.advance(1.0)
            raise ZeroDivisionError("the user's code failed")
    assert sink.summary is not None and sink.summary.status == "failed"
    assert sink.summary.energy_j["total"] == pytest.approx(10.0)


def test_stop_is_idempotent_and_span_after_stop_is_harmless(clock):
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0))
    tracker.start()
    clock.advance(1.0)
    first = tracker.stop()
    assert tracker.stop() is first
    with tracker.span("late") as late:
        clock.advance(1.0)
    assert late.energy_j == 0.0


def test_the_sampling_thread_ticks_on_its_own():
    sink = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 10.0)])
    tracker = wattprint.Tracker(sensors=[sensor], sinks=[sink], intensity=FixedIntensity(),
                                country="FR", interval_s=0.1, store_flush_s=0)
    tracker.start()
    deadline = time.monotonic() + 5.0
    while len(sink.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    summary = tracker.stop()
    assert len(sink.records) >= 3  # at least two thread ticks and the final one
    threads = [t.name for t in threading.enumerate()]
    assert not any(name.startswith("wattprint-sampler") for name in threads)
    assert summary.energy_j["total"] > 0


def test_two_trackers_in_one_process_do_not_interfere(clock):
    a_sink, b_sink = MemorySink(), MemorySink()
    a, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[a_sink], project="a")
    b, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 20.0), sinks=[b_sink], project="b")
    a.start()
    clock.advance(1.0)
    b.start()
    clock.advance(1.0)
    assert a.stop().energy_j["total"] == pytest.approx(20.0)
    clock.advance(1.0)
    assert b.stop().energy_j["total"] == pytest.approx(40.0)
    assert a.run_id != b.run_id
    assert {r.run_id for r in a_sink.records} == {a.run_id}


def test_decorator_runs_the_function_and_keeps_the_summary(tmp_path):
    @wattprint.track(country="FR", project="decorated", interval_s=3600)
    def work(x):
        return x * 2

    @wattprint.track(country="FR", project="decorated-async", interval_s=3600)
    async def awork(x):
        return x + 1

    assert work(21) == 42
    assert work.last_summary.project == "decorated"
    assert work.last_summary.status == "finished"
    assert asyncio.run(awork(1)) == 2
    assert awork.last_summary.project == "decorated-async"


def test_bare_decorator():
    @wattprint.track
    def work():
        return "ok"

    assert work() == "ok"
    assert work.last_summary.status == "finished"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_goes_quiet_and_parent_keeps_tracking(tmp_path, clock):
    path = tmp_path / "out.jsonl"
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[JsonlSink(path)])
    tracker.start()
    clock.advance(1.0)
    tracker.flush()
    pid = os.fork()
    if pid == 0:  # child: must not write to the parent's outputs, even when stopping
        try:
            tracker.flush()
            tracker.stop()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    clock.advance(1.0)
    tracker.stop()
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert [k for k in kinds if k != "heartbeat"] == ["run", "record", "record", "summary"]


def test_machine_scope_keeps_everything_process_scope_takes_a_share(clock):
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 100.0),
                              FakeDevice("fake:gpu", "gpu", 100.0), sinks=[sink], scope="process")
    tracker.start()
    clock.advance(1.0)
    summary = tracker.stop()
    shares = {c.device: c.share for c in sink.records[-1].components}
    assert shares["fake:gpu"] == 1.0
    assert 0.0 <= shares["fake:cpu"] <= 1.0
    assert summary.scope == "process"


def test_public_api_is_pinned():
    assert sorted(wattprint.__all__) == sorted([
        "Config", "ConfigError", "Intensity", "Location", "LocationError", "Record", "RunInfo",
        "RunSummary", "Span", "Tracker", "WattprintError", "__version__", "load_config", "track",
    ])
    for name in wattprint.__all__:
        assert getattr(wattprint, name) is not None


def test_memory_stays_flat_over_many_intervals(clock):
    import tracemalloc

    class Quiet:  # unlike FixedIntensity, keeps no log of its calls
        name = "quiet"

        def lookup(self, where, start, end):
            return Intensity(300.0, "FR", "test", 2025)

    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 10.0), sinks=[],
                              intensity=Quiet())
    tracker.start()
    for _ in range(200):  # warm up caches and interned strings
        clock.advance(1.0)
        tracker.flush()
    import gc

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(5000):
        clock.advance(1.0)
        tracker.flush()
    gc.collect()  # the exporter thread's last batch is let go between cycles, not at once
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    summary = tracker.stop()
    assert summary.records == 5201
    assert grown < 100_000, f"{grown} bytes kept for 5000 intervals"


def test_a_tick_failing_before_the_meter_cut_loses_no_energy_and_says_so(clock, monkeypatch):
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 100.0), sinks=[sink])
    tracker.start()
    clock.advance(10.0)

    def broken_cut():
        raise RuntimeError("meter bug")

    with monkeypatch.context() as patch:
        patch.setattr(tracker._meter, "cut", broken_cut)
        tracker.flush()  # the tick fails: no record yet, the meter keeps counting
    assert sink.records == []
    clock.advance(10.0)
    tracker.flush()
    summary = tracker.stop()
    first = sink.records[0]
    assert (first.seq, first.duration_s) == (0, pytest.approx(20.0))
    assert first.energy_j == pytest.approx(2000.0)  # both ticks' energy, in the next record
    assert first.gaps[0].startswith("tick: measuring at ")
    assert "this record also spans that tick" in first.gaps[0]
    assert summary.energy_j["total"] == pytest.approx(2000.0)
    assert any("measuring an interval failed" in w for w in summary.warnings)


def test_a_tick_failing_after_the_meter_cut_is_a_gap_record(clock, monkeypatch):
    sink = MemorySink()
    tracker, _ = make_tracker(clock, FakeDevice("fake:cpu", "cpu", 100.0), sinks=[sink])
    tracker.start()
    clock.advance(10.0)

    def broken_cut(*args):
        raise ValueError("recorder bug")

    with monkeypatch.context() as patch:
        patch.setattr(tracker._recorder, "cut", broken_cut)
        tracker.flush()
    clock.advance(10.0)
    tracker.flush()
    summary = tracker.stop()
    lost, kept = sink.records[0], sink.records[1]
    assert [r.seq for r in sink.records] == list(range(len(sink.records)))  # no hole
    assert (lost.duration_s, lost.energy_j, lost.intensity_kind) == (
        pytest.approx(10.0), 0.0, None)
    gap = ("tick: recording this interval failed (ValueError('recorder bug')); the 1000 J its "
           "devices read are not counted")
    assert lost.gaps == (gap,)
    assert kept.energy_j == pytest.approx(1000.0)
    # the lost 1000 J are not counted, and the summary says where they went
    assert summary.energy_j["total"] == pytest.approx(1000.0)
    assert gap in summary.gaps
    assert summary.intensity["g_per_kwh"] == pytest.approx(360.0)  # the gap is not in the mean
    assert summary.intensity["by_kind"][-1] == {
        "kind": None, "records": 1, "duration_s": pytest.approx(10.0), "energy_j": 0.0,
        "emissions_g": 0.0, "g_per_kwh": None}


def test_a_command_with_bytes_that_are_not_utf8_is_stored_with_escapes(clock):
    # argv bytes that are not UTF-8 arrive as lone surrogates (PEP 383); the server refuses those
    sink = MemorySink()
    tracker = wattprint.Tracker(sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 10.0)],
                                                    clock=clock)],
                                sinks=[sink], intensity=FixedIntensity(), clock=clock,
                                wall_clock=clock.wall_clock, country="FR",
                                command="python train.py --out caf\udce9 \ud800")
    tracker.start()
    clock.advance(1.0)
    tracker.stop()
    command = tracker.info.host["command"]
    assert command == "python train.py --out caf\\xe9 \\ud800"
    command.encode("utf-8")  # valid text for every sink and the server
