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


def setup(clock, *devices, pue: float = 1.0, wired: bool = True):
    sensor = FakeSensor(list(devices), clock=clock)
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    recorder = Recorder("run-1", pue=pue, clock=clock, wall_clock=clock.wall_clock)
    if wired:  # as the tracker wires them: spans that see no read are priced in buckets
        recorder.meter = meter
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
    assert recorder._live == [] and recorder._buckets == {} and not recorder._open


def test_spans_between_two_reads_are_priced_in_one_bucket_at_that_segments_power(clock):
    # 100 W for the first 2 s, then 400 W: the reads at 2 s and 4 s bound two segments.
    t0 = clock.now
    power = FakeDevice("fake:cpu", "cpu", lambda t: 100.0 if t < t0 + 2.0 else 400.0)
    sensor, meter, recorder = setup(clock, power)
    kept = []
    for _ in range(1000):  # 1000 spans of 1 ms in the first segment
        with recorder.span("step") as step:
            clock.advance(0.001)
        kept.append(step)
    clock.advance(1.0)
    meter.read()  # at 2 s
    with recorder.span("step") as late:  # 2 .. 2.5 s, in the second segment: 400 W
        clock.advance(0.5)
    with recorder.span("across") as across:  # 2.5 .. 3.5 s, with a read at 3 s inside it
        clock.advance(0.5)
        meter.read()
        clock.advance(0.5)
    assert len(recorder._buckets) == 2 and len(recorder._live) == 1  # only "across" is kept
    clock.advance(0.5)
    record, aggregates = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert kept[0].final and kept[0].energy_j == pytest.approx(0.1)
    assert late.energy_j == pytest.approx(200.0)
    assert across.energy_j == pytest.approx(400.0)  # interpolated across its read
    step = {a.span_id: a for a in aggregates}["step"]
    assert step.count == 1001
    assert step.energy_j == pytest.approx(1000 * 0.1 + 200.0)
    assert (step.energy_min_j, step.energy_max_j) == pytest.approx((0.1, 200.0))
    assert (step.duration_min_s, step.duration_max_s) == pytest.approx((0.001, 0.5))
    assert record.energy_j == pytest.approx(100.0 * 2.0 + 400.0 * 2.0)
    assert recorder._buckets == {} and recorder._live == []


def test_a_bucket_that_closed_after_the_cuts_read_waits_for_the_next_record(clock):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 100.0))
    interval = meter.cut()  # the cut's read happens ...
    with recorder.span("step") as step:  # ... before the recorder takes its interval
        clock.advance(1.0)
    _, aggregates = recorder.cut(interval, Shares(), INTENSITY)
    assert aggregates == [] and not step.final
    clock.advance(1.0)
    _, aggregates = recorder.cut(meter.cut(), Shares(), INTENSITY)
    assert step.energy_j == pytest.approx(100.0) and aggregates[0].count == 1


@pytest.mark.parametrize("wired", [True, False])
def test_both_paths_give_the_same_figures(clock, wired):
    sensor, meter, recorder = setup(clock, FakeDevice("fake:cpu", "cpu", 50.0),
                                    FakeDevice("fake:gpu", "gpu", 250.0), wired=wired)
    for seconds in (0.5, 1.5, 0.25):
        with recorder.span("step") as step:
            clock.advance(seconds)
            step.step(8, unit="tokens")
    clock.advance(1.0)
    _, aggregates = recorder.cut(meter.cut(), Shares(cpu=0.5), INTENSITY)
    (step,) = aggregates
    assert (step.count, step.work) == (3, (("tokens", 24.0),))
    assert (step.cpu_energy_j, step.gpu_energy_j) == pytest.approx((25.0 * 2.25, 250.0 * 2.25))
    assert (step.energy_min_j, step.energy_max_j) == pytest.approx((275.0 * 0.25, 275.0 * 1.5))
    assert step.emissions_g == pytest.approx(275.0 * 2.25 * 400.0 / 3_600_000)


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
