"""Spans and work settled from the sampler's timeline, off the caller's thread."""

from __future__ import annotations

import threading

import pytest

from wattprint.intensity import Intensity
from wattprint.meter import Meter
from wattprint.recorder import Recorder
from wattprint.scope import Shares
from wattprint.sensors.fake import FakeDevice, FakeSensor

INTENSITY = Intensity(400.0, "FR", "test table", 2024)


def setup(clock, *devices, pue: float = 1.0):
    sensor = FakeSensor(list(devices), clock=clock)
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    recorder = Recorder("run-1", pue=pue, clock=clock, wall_clock=clock.wall_clock)
    return sensor, meter, recorder


def test_opening_and_closing_a_span_reads_no_sensor(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    reads = sensor.reads
    with recorder.span("step"):
        clock.advance(1.0)
    assert sensor.reads == reads


def test_span_edges_are_interpolated_between_reads(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0),
                                    FakeDevice("fake:gpu", "gpu", 300.0))
    clock.advance(1.0)
    meter.read()  # reads at 1 s and 3 s; the span runs 1.5 .. 2.5 s
    clock.advance(0.5)
    with recorder.span("forward") as span:
        clock.advance(1.0)
    clock.advance(0.5)
    meter.read()
    clock.advance(2.0)
    record, aggregates = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert span.final
    assert span.totals.cpu_energy_j == pytest.approx(100.0)
    assert span.totals.gpu_energy_j == pytest.approx(300.0)
    assert span.emissions_g == pytest.approx(400.0 * 400.0 / 3_600_000)
    assert record.energy_j == pytest.approx(2000.0)
    assert [a.span_id for a in aggregates] == ["forward"]
    assert aggregates[0].boundary == "interpolated"


def test_a_span_across_cuts_and_one_covering_a_record_match_the_records(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 50.0), pue=1.5)
    with recorder.span("epoch") as epoch:
        clock.advance(10.0)
        first, _ = recorder.cut(meter.cut(), Shares(cpu=0.5), INTENSITY)
        assert not epoch.final
        clock.advance(10.0)
        second, _ = recorder.cut(meter.cut(), Shares(cpu=0.25), INTENSITY)
    clock.advance(1.0)
    third, aggregates = recorder.cut(meter.cut(), Shares(), INTENSITY)
    # process-scope shares differ per record; the span carries each record's share
    assert epoch.energy_j == pytest.approx(first.energy_j + second.energy_j)
    assert epoch.energy_j == pytest.approx(250.0 + 125.0)
    assert epoch.emissions_g == pytest.approx(first.emissions_g + second.emissions_g)
    assert aggregates[0].count == 1 and aggregates[0].energy_j == pytest.approx(375.0)


def test_reading_a_span_before_the_next_record_settles_it_on_demand(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    recorder.settle_now = lambda: recorder.cut(meter.cut(), Shares(), INTENSITY)
    with recorder.span("eval") as span:
        clock.advance(3.0)
    assert not span.final
    assert span.energy_j == pytest.approx(300.0)  # one cut, made because it was asked for
    assert span.final


def test_same_name_under_same_parent_aggregates_with_extremes(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    with recorder.span("epoch"):
        for seconds in (1.0, 2.0, 3.0):
            with recorder.span("step") as step:
                clock.advance(seconds)
                step.step(32, unit="samples")
    clock.advance(1.0)
    record, aggregates = recorder.cut(meter.cut(), Shares(), INTENSITY)
    by_id = {a.span_id: a for a in aggregates}
    step = by_id["epoch/step"]
    assert step.parent_id == "epoch" and step.name == "step"
    assert step.count == 3
    assert step.energy_j == pytest.approx(600.0)
    assert (step.energy_min_j, step.energy_max_j) == pytest.approx((100.0, 300.0))
    assert (step.duration_min_s, step.duration_max_s) == pytest.approx((1.0, 3.0))
    assert step.work == (("samples", 96.0),)
    assert by_id["epoch"].work == (("samples", 96.0),)  # work counts in enclosing spans too
    assert record.work == (("samples", 96.0),)


def test_millions_of_steps_keep_one_row(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    for _ in range(20):
        for _ in range(500):
            with recorder.span("step"):
                clock.advance(0.001)
        recorder.cut(meter.cut(), Shares(), INTENSITY)
    spans = recorder.spans()
    assert len(spans) == 1 and spans[0].count == 10_000
    assert spans[0].energy_j == pytest.approx(1000.0)
    assert recorder._live == []


def test_spans_on_other_threads_have_their_own_parents(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    done = threading.Event()

    def worker() -> None:
        with recorder.span("loader"):
            done.wait(5)

    with recorder.span("train"):
        thread = threading.Thread(target=worker)
        thread.start()
        with recorder.span("step"):
            clock.advance(1.0)
        done.set()
        thread.join()
    recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert {s.span_id for s in recorder.spans()} == {"train", "train/step", "loader"}


def test_open_spans_are_closed_at_stop(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    span = recorder.span("never-closed").__enter__()
    clock.advance(2.0)
    recorder.close_open_spans()
    recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert span.final and span.energy_j == pytest.approx(200.0)


# -- provenance on every record -------------------------------------------------------------
def test_each_component_carries_its_share_and_the_basis_of_that_share(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0),
                                    FakeDevice("fake:ram", "ram", 10.0),
                                    FakeDevice("fake:gpu", "gpu", 300.0, method="sampled"),
                                    FakeDevice("fake:soc", "soc", 5.0))
    clock.advance(10.0)
    shares = Shares(cpu=0.25, ram=0.5, devices={"fake:gpu": (0.2, "memory")},
                    cpu_basis="measured", ram_basis="allocated")
    record, _ = recorder.cut(meter.cut(), shares, INTENSITY)
    by_device = {c.device: (c.energy_j, c.share, c.share_basis) for c in record.components}
    assert by_device == {
        "fake:cpu": (pytest.approx(250.0), 0.25, "measured"),
        "fake:ram": (pytest.approx(50.0), 0.5, "allocated"),
        "fake:gpu": (pytest.approx(600.0), 0.2, "estimated"),  # memory held: a fallback guess
        "fake:soc": (pytest.approx(50.0), 1.0, "whole"),
    }


def test_share_problems_become_gaps_of_that_record_and_one_warning(clock):
    warnings: list[str] = []
    sensor, meter, _ = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    recorder = Recorder("run-1", pue=1.0, clock=clock, wall_clock=clock.wall_clock,
                        warn=warnings.append)
    problem = "process tree unreadable (AccessDenied): CPU counted whole"
    for _ in range(2):
        clock.advance(5.0)
        record, _ = recorder.cut(meter.cut(), Shares(problems=(problem,)), INTENSITY)
        assert record.gaps == (f"share: {problem}",)
    assert warnings == [problem]
    clock.advance(5.0)
    record, _ = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert record.gaps == ()


def test_a_record_carries_what_its_intensity_counts(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    clock.advance(5.0)
    marginal = Intensity(500.0, "CAISO_NORTH", "watttime", 2026, kind="marginal", live=True,
                         basis="generation", scope="direct", gases="CO2")
    record, _ = recorder.cut(meter.cut(), Shares(), marginal)
    assert (record.intensity_kind, record.intensity_basis, record.intensity_scope,
            record.intensity_gases) == ("marginal", "generation", "direct", "CO2")
    clock.advance(5.0)
    record, _ = recorder.cut(meter.cut(), Shares(), None)
    assert (record.intensity_kind, record.intensity_basis, record.intensity_scope,
            record.intensity_gases) == (None, None, None, None)
    assert not record.scored and record.emissions_g == 0.0
    assert record.energy_j == pytest.approx(500.0)  # energy counted, emissions not
    assert record.gaps == ("intensity: unavailable, emissions not counted",)


# -- a failed tick is a gap, never silence --------------------------------------------------
def test_a_tick_that_failed_after_the_meter_closed_its_interval_is_a_gap_record(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    clock.advance(10.0)
    first, _ = recorder.cut(meter.cut(), Shares(), INTENSITY)
    clock.advance(10.0)
    lost_interval = meter.cut()  # then the recording raised
    lost = recorder.failed_tick(lost_interval, "ValueError('boom')", clock.wall_clock())
    assert lost is not None
    assert (lost.seq, lost.start_s, lost.duration_s) == (1, lost_interval.start_s, 10.0)
    assert (lost.energy_j, lost.emissions_g, lost.intensity_kind) == (0.0, 0.0, None)
    assert lost.gaps == ("tick: recording this interval failed (ValueError('boom')); the 1000 J "
                         "its devices read are not counted",)
    clock.advance(10.0)
    after, _ = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert (first.seq, after.seq) == (0, 2)  # no hole in seq
    assert after.energy_j == pytest.approx(1000.0) and after.gaps == ()


def test_a_tick_that_failed_before_the_meter_closed_its_interval_moves_to_the_next(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    clock.advance(10.0)
    assert recorder.failed_tick(None, "RuntimeError('x')", 0.0) is None  # meter kept its energy
    clock.advance(10.0)
    record, _ = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert record.seq == 0
    assert record.duration_s == pytest.approx(20.0)
    assert record.energy_j == pytest.approx(2000.0)  # both ticks' energy, nothing lost
    assert record.gaps == ("tick: measuring at 00:00:00 UTC failed (RuntimeError('x')); this "
                           "record also spans that tick, with the energy the meter kept",)
    clock.advance(10.0)
    record, _ = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert record.gaps == ()  # said once
