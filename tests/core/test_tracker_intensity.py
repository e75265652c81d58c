"""The tracker's intensity side: cloud PUE and WUE, embodied and market-based figures beside the
location-based emissions, provider settings checked at construction, and an intensity that
changes from one interval to the next.

Every run here is one fake CPU (and sometimes one fake GPU) at a constant power, ticked by hand
with ``flush()`` on the fake clock (``interval_s=3600``, so the sampling thread never ticks).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import wattprint
from wattprint.errors import ConfigError
from wattprint.intensity import Intensity, Location, tables
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink

HOUR_S = 3600.0
J_PER_KWH = 3_600_000.0


def run_one_hour(clock, *devices: FakeDevice, intensity=None, **settings):
    """Start, advance one hour, flush (one record), stop; return (summary, sink, tracker)."""
    sink = MemorySink()
    settings.setdefault("interval_s", 3600)
    tracker = wattprint.Tracker(
        sensors=[FakeSensor(list(devices), clock=clock)], sinks=[sink], intensity=intensity,
        clock=clock, wall_clock=clock.wall_clock, **settings)
    tracker.start()
    clock.advance(HOUR_S)
    tracker.flush()
    summary = tracker.stop()
    return summary, sink, tracker


def cpu(watts: float = 100.0) -> FakeDevice:
    return FakeDevice("fake:cpu", "cpu", watts)


# The figures a run records by default (intensity_figure = lifecycle), read from the tables.
def gcp_g_per_kwh(region: str) -> float:
    return tables.gcp_region_intensity(region).comparable_g_per_kwh


def us_va_g_per_kwh() -> float:
    return tables.zones()["US-VA"].comparable_g_per_kwh


# -- PUE ----------------------------------------------------------------------------------
def test_cloud_region_gets_the_providers_pue_with_its_source(clock) -> None:
    summary, sink, tracker = run_one_hour(clock, cpu(), cloud="gcp",
                                          cloud_region="europe-west9")
    # cloud_pue.csv has no europe-west9 row: Google's fleet default 1.12 (year 2023) answers
    assert tracker.pue == 1.12
    assert summary.pue == 1.12
    assert summary.pue_source.startswith("Green Algorithms defaults_PUE.csv")
    assert summary.pue_source.endswith("(2023)")
    assert all(r.pue == 1.12 for r in sink.records)
    # 100 W x 1 h = 0.1 kWh x 1.12 x Google's own europe-west9 figure, lifecycle-comparable
    google = gcp_g_per_kwh("europe-west9")
    assert summary.energy_j["total"] == pytest.approx(360_000.0)
    assert summary.intensity["zone"] == "FR"
    assert summary.intensity["g_per_kwh"] == pytest.approx(google)
    assert summary.emissions_g == pytest.approx(0.1 * 1.12 * google)
    assert summary.location["cloud"] == "gcp"
    assert summary.location["cloud_region"] == "europe-west9"
    assert summary.location["resolved_by"] == "config"
    # Google publishes no WUE in the bundled table: no water figure, not a zero
    assert summary.water_l is None and summary.water is None


def test_explicit_pue_wins_over_the_providers(clock) -> None:
    summary, sink, _ = run_one_hour(clock, cpu(), cloud="gcp", cloud_region="europe-west9",
                                    pue=1.3)
    assert summary.pue == 1.3
    assert summary.pue_source == "setting from argument"
    # 0.1 kWh x 1.3 x Google's europe-west9 figure
    assert summary.emissions_g == pytest.approx(0.1 * 1.3 * gcp_g_per_kwh("europe-west9"))
    assert sink.records[0].pue == 1.3


def test_no_cloud_and_no_setting_is_pue_one_and_says_so(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), country="FR")
    assert summary.pue == 1.0
    assert summary.pue_source.startswith("default 1.0")


# -- water, embodied, market-based: beside emissions_g ------------------------------------
def test_aws_water_is_wue_times_it_energy(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), cloud="aws", cloud_region="us-east-1")
    # aws fleet row: PUE 1.2, WUE 0.12 L/kWh (2025); 0.1 kWh of IT energy x 0.12 = 0.012 L
    assert summary.pue == 1.2
    assert summary.water_l == pytest.approx(0.012)
    assert summary.water is not None
    assert summary.water["wue_l_per_kwh"] == 0.12
    assert summary.water["year"] == 2025
    assert summary.water["source"].startswith("Amazon")
    # US-VA (eGRID 2023, direct, made lifecycle-comparable): 0.1 kWh x 1.2 x that figure
    assert summary.intensity["zone"] == "US-VA"
    assert summary.intensity["scope"] == "lifecycle"
    assert summary.emissions_g == pytest.approx(0.1 * 1.2 * us_va_g_per_kwh())


def test_embodied_is_reported_and_not_added_to_emissions(clock) -> None:
    summary, sink, _ = run_one_hour(clock, cpu(), FakeDevice("fake:gpu", "gpu", 200.0),
                                    cloud="aws", cloud_region="us-east-1")
    # energy: (100 + 200) W x 1 h = 0.3 kWh; x 1.2 x US-VA's figure, nothing more
    assert summary.energy_j["total"] == pytest.approx(1_080_000.0)
    assert summary.emissions_g == pytest.approx(0.3 * 1.2 * us_va_g_per_kwh())
    assert summary.emissions_g == pytest.approx(sum(r.emissions_g for r in sink.records))
    # embodied, one hour, machine scope (CPU share 1.0), one GPU, 4-year lives (35064 h):
    # server 1_719_110 g / 35064 = 49 + 1/36 g; GPU 150_000 g / 35064 = 4.2778918... g;
    # together 53.3056696... g
    expected = 1_719_110 / 35_064 + 150_000 / 35_064
    assert summary.embodied_g == pytest.approx(expected, rel=1e-12)
    assert summary.embodied_g == pytest.approx(53.30566963, rel=1e-9)
    assert summary.embodied is not None
    assert (summary.embodied["gpus"], summary.embodied["cpu_share"]) == (1, 1.0)
    assert summary.embodied["notes"] == []  # fake devices are not per-vCPU models


def test_embodied_can_be_turned_off(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), country="FR", embodied=False)
    assert summary.embodied_g is None and summary.embodied is None


def test_renewable_share_gives_a_market_based_figure(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), cloud="aws", cloud_region="us-east-1",
                                 renewable_share=0.5)
    # no residual mix: half of the location-based 0.1 kWh x 1.2 x US-VA's figure
    location_based = 0.1 * 1.2 * us_va_g_per_kwh()
    assert summary.market_based is not None
    assert summary.market_based["emissions_g"] == pytest.approx(location_based / 2)
    assert summary.market_based["renewable_share"] == 0.5
    assert summary.emissions_g == pytest.approx(location_based)  # unchanged


def test_renewable_share_with_a_residual_mix(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), cloud="aws", cloud_region="us-east-1",
                                 renewable_share=0.5, residual_g_per_kwh=400.0)
    # 0.1 kWh x PUE 1.2 x (1 - 0.5) x 400 g/kWh = 24 g
    assert summary.market_based is not None
    assert summary.market_based["emissions_g"] == pytest.approx(24.0)
    assert summary.market_based["residual_g_per_kwh"] == 400.0


def test_without_renewable_share_there_is_no_market_based_figure(clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), country="FR")
    assert summary.market_based is None


def test_summary_json_carries_the_intensity_location_and_beyond_operational_figures(
        clock) -> None:
    summary, _, _ = run_one_hour(clock, cpu(), cloud="aws", cloud_region="us-east-1")
    data = json.loads(json.dumps(summary.to_json()))  # plain JSON, round-tripped
    assert data["intensity"]["kind"] == "average"
    assert data["intensity"]["live"] is False
    assert data["intensity"]["varied"] is False
    assert data["intensity"]["scope"] == "lifecycle"  # eGRID direct, made comparable (default)
    assert data["location"]["cloud"] == "aws"
    assert data["location"]["cloud_region"] == "us-east-1"
    assert data["location"]["zone"] == "US-VA"
    assert (data["location"]["lat"], data["location"]["lon"]) == (39.04, -77.49)
    assert data["pue"] == 1.2
    assert data["pue_source"].endswith("(2023)")
    assert data["embodied_g"] == pytest.approx(1_719_110 / 35_064)  # no GPU
    assert data["water_l"] == pytest.approx(0.012)
    assert data["energy_kwh"] == pytest.approx(0.1)


# -- live provider settings ---------------------------------------------------------------
def test_electricitymaps_without_a_key_fails_at_construction_naming_the_key(clock) -> None:
    with pytest.raises(ConfigError, match="electricitymaps_api_key") as info:
        wattprint.Tracker(sensors=[FakeSensor([cpu()], clock=clock)], sinks=[MemorySink()],
                          clock=clock, wall_clock=clock.wall_clock, country="DE",
                          provider="electricitymaps")
    assert info.value.key == "electricitymaps_api_key"


# -- time-resolved intensity --------------------------------------------------------------
class HourlyIntensity:
    """100 g/kWh for the first hour after the run starts, 300 g/kWh after (a live source: no
    ``static`` attribute, so the tracker asks for every interval)."""

    name = "hourly"

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.calls: list[tuple[datetime, datetime]] = []

    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity:
        self.calls.append((start, end))
        first_hour = start.timestamp() < self.start_s + HOUR_S
        return Intensity(100.0 if first_hour else 300.0, "XX", "hourly test", 2026,
                         live=True)


def test_each_interval_uses_the_intensity_of_its_own_window(clock) -> None:
    source = HourlyIntensity(clock.wall)
    # 100 W in the first hour, 300 W in the second (the fake evaluates power at the midpoint
    # of each read-to-read span on the monotonic clock, which starts at 1000 s)
    device = FakeDevice("fake:cpu", "cpu", lambda t: 100.0 if t < 1000.0 + HOUR_S else 300.0)
    sink = MemorySink()
    tracker = wattprint.Tracker(
        sensors=[FakeSensor([device], clock=clock)], sinks=[sink], intensity=source,
        clock=clock, wall_clock=clock.wall_clock, country="FR", interval_s=3600)
    start_wall = clock.wall
    tracker.start()
    clock.advance(HOUR_S)
    tracker.flush()
    clock.advance(HOUR_S)
    tracker.flush()
    summary = tracker.stop()

    first, second = sink.records[0], sink.records[1]
    # the start-up check, then one lookup per interval window
    windows = [(s.timestamp() - start_wall, e.timestamp() - start_wall) for s, e in source.calls]
    assert windows[1:3] == [(0.0, HOUR_S), (HOUR_S, 2 * HOUR_S)]
    # hour 1: 100 W -> 0.1 kWh x 100 g/kWh = 10 g; hour 2: 300 W -> 0.3 kWh x 300 g/kWh = 90 g
    assert (first.energy_j, first.intensity_g_per_kwh) == (pytest.approx(360_000.0), 100.0)
    assert first.emissions_g == pytest.approx(10.0)
    assert (second.energy_j, second.intensity_g_per_kwh) == (pytest.approx(1_080_000.0), 300.0)
    assert second.emissions_g == pytest.approx(90.0)
    assert first.intensity_live and second.intensity_live
    assert summary.emissions_g == pytest.approx(100.0)
    # the summary's intensity is the energy-weighted mean: 100 g / 0.4 kWh = 250 g/kWh,
    # not the plain mean of the two values (200)
    assert summary.intensity["varied"] is True
    assert summary.intensity["g_per_kwh"] == pytest.approx(250.0)
    assert summary.intensity["live"] is True
    assert summary.intensity["source"] == "hourly test"
    assert datetime.fromtimestamp(first.start_s, timezone.utc) == source.calls[1][0]
