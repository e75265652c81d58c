"""A run's emissions use the figure the user chose (``intensity_figure``, default lifecycle),
its records and summary name it, and a stale row is a run warning naming its year.

One fake CPU at 100 W for one hour on the fake clock (``interval_s=3600``: one record, no
sampling thread tick); the intensity comes from the real bundled tables through the tracker's
own source. Expected values are read from the tables at test time."""

from __future__ import annotations

import pytest

import wattprint
from wattprint.intensity import tables
from wattprint.report import format_summary
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink

KWH = 0.1  # 100 W for an hour


def run_one_hour(clock, **settings):
    sink = MemorySink()
    tracker = wattprint.Tracker(
        sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 100.0)], clock=clock)], sinks=[sink],
        clock=clock, wall_clock=clock.wall_clock, interval_s=3600, embodied=False, **settings)
    tracker.start()
    clock.advance(3600.0)
    tracker.flush()
    return tracker.stop(), sink


def a_direct_row() -> tables.ZoneRow:
    return next(z for z in tables.zones().values()
                if z.scope == "direct" and not z.stale and not z.flag)


def test_by_default_a_run_records_the_lifecycle_comparable_figure_and_names_it(clock) -> None:
    row = a_direct_row()
    summary, sink = run_one_hour(clock, zone=row.zone)
    record = sink.records[0]  # the hour (stop adds a closing record)
    assert {r.intensity_source for r in sink.records} == {record.intensity_source}
    assert record.intensity_g_per_kwh == row.comparable_g_per_kwh
    assert (record.intensity_scope, record.intensity_gases) == ("lifecycle", "CO2e")
    assert record.intensity_source == (f"{row.source} [lifecycle-comparable: "
                                       f"{row.comparable_method}]")
    assert summary.emissions_g == pytest.approx(KWH * row.comparable_g_per_kwh)
    text = format_summary(summary)
    assert f"| {row.source}, {row.year} | average, lifecycle, CO2e, bundled" in text
    assert (f"  figure     lifecycle-comparable, converted from the source's own: "
            f"{row.comparable_method}") in text
    assert not summary.warnings


def test_the_native_figure_is_the_sources_own_and_the_summary_says_it_is_not_comparable(
        clock) -> None:
    row = a_direct_row()
    summary, sink = run_one_hour(clock, zone=row.zone, intensity_figure="native")
    record = sink.records[0]  # the hour (stop adds a closing record)
    assert {r.intensity_source for r in sink.records} == {record.intensity_source}
    assert (record.intensity_g_per_kwh, record.intensity_scope) == (row.g_per_kwh, "direct")
    assert record.intensity_source == row.source
    assert summary.emissions_g == pytest.approx(KWH * row.g_per_kwh)
    assert ("  figure     the source's own, direct (not lifecycle: compare it only with direct "
            "figures; intensity_figure = lifecycle gives the comparable one)") in (
        format_summary(summary))


def test_a_lifecycle_source_is_named_as_its_own(clock) -> None:
    summary, _ = run_one_hour(clock, zone="FR")
    assert "  figure     lifecycle, the source's own (comparable across places)" in (
        format_summary(summary))


def test_a_gcp_run_uses_googles_region_figure(clock) -> None:
    google = tables.gcp_region_intensity("australia-southeast2")
    summary, sink = run_one_hour(clock, cloud="gcp", cloud_region="australia-southeast2",
                                 pue=1.0)
    record = sink.records[0]  # the hour (stop adds a closing record)
    assert {r.intensity_source for r in sink.records} == {record.intensity_source}
    assert (record.intensity_g_per_kwh, record.intensity_year) == (
        google.comparable_g_per_kwh, google.year)
    assert record.intensity_source.startswith(f"{google.source} for australia-southeast2 [")
    assert record.intensity_zone == "AU-VIC"
    assert summary.emissions_g == pytest.approx(KWH * google.comparable_g_per_kwh)


def test_a_stale_row_is_a_run_warning_naming_its_year(clock) -> None:
    row = sorted((z for z in tables.zones().values() if z.stale), key=lambda z: z.zone)[0]
    summary, _ = run_one_hour(clock, zone=row.zone)
    (warning,) = [w for w in summary.warnings if "stale" in w]
    assert warning.startswith(f"carbon intensity: the bundled figure for {row.zone} is from "
                              f"{row.year}, stale")
    assert f"! {warning}" in format_summary(summary)
    assert summary.intensity["note"] is not None and str(row.year) in summary.intensity["note"]
