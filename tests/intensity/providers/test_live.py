"""LiveSource: no network on the caller's thread, visible fallbacks, bounded close."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, utc
from wattprint.errors import IntensityUnavailable
from wattprint.intensity import Intensity, IntensitySource, Location
from wattprint.intensity.live import LiveSource
from wattprint.intensity.providers._http import HttpOptions
from wattprint.intensity.providers.electricitymaps import ElectricityMaps
from wattprint.intensity.providers.electricitymaps import factory as em_factory
from wattprint.intensity.providers.watttime import factory as wt_factory

DE = Location("DE", resolved_by="config")
LATEST = "/v3/carbon-intensity/latest"
FORECAST = "/v3/carbon-intensity/forecast"
WAIT_S = 5.0  # generous bound for the refresh thread; tests finish in milliseconds


class TableSource:
    """A stand-in for the bundled tables: one fixed annual average."""

    name = "bundled"

    def __init__(self) -> None:
        self.calls = 0

    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity:
        self.calls += 1
        return Intensity(g_per_kwh=381.0, zone="DE", source="ember", year=2024)


@pytest.fixture
def em(http: HttpOptions, utcnow: Callable[[], datetime]) -> ElectricityMaps:
    return em_factory(http=http, api_key="em-key", now=utcnow)


@pytest.fixture
def live_factory(clock: Any) -> Iterator[Callable[..., LiveSource]]:
    made: list[LiveSource] = []

    def make(provider: Any, fallback: IntensitySource | None = None, **options: Any) -> LiveSource:
        source = LiveSource(provider, fallback or TableSource(), clock=clock.wall_clock,
                            **options)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close(timeout_s=WAIT_S)


def window(start: str, end: str) -> tuple[datetime, datetime]:
    return utc(start), utc(end)


def test_lookup_never_calls_the_provider_in_the_callers_thread(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    live = live_factory(em)
    first = live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
    assert live.wait_ready(WAIT_S)
    second = live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
    requests_after_ready = len(replay.requests)
    for _ in range(20):
        live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
    assert len(replay.requests) == requests_after_ready  # lookups read the cache only
    assert replay.threads and threading.current_thread().name not in replay.threads
    assert set(replay.threads) == {"wattprint-intensity-electricitymaps"}
    # before the first refresh: the fallback, saying so; after: the provider's value
    assert (first.g_per_kwh, first.live, first.source) == (381.0, False, "ember")
    assert first.note == "electricitymaps unavailable: no value fetched yet; bundled value used"
    assert (second.g_per_kwh, second.live, second.note) == (412.0, True, None)


def test_values_come_from_the_points_covering_the_window(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    live = live_factory(em)
    live.prime(DE)
    assert live.wait_ready(WAIT_S)
    # 10:00-11:00 is reported (412) and forecast (405): the reported value wins
    assert live.lookup(DE, *window("2026-01-01T10:30", "2026-01-01T10:40")).g_per_kwh == 412.0
    # 10:30-11:30: half the reported hour, half the 11:00 forecast (398)
    spanning = live.lookup(DE, *window("2026-01-01T10:30", "2026-01-01T11:30"))
    assert spanning.g_per_kwh == pytest.approx((412 + 398) / 2)
    # later, the forecast alone covers the window
    later = live.lookup(DE, *window("2026-01-01T12:00", "2026-01-01T12:05"))
    assert (later.g_per_kwh, later.live, later.source) == (380.0, True, "electricitymaps")


def test_the_latest_value_serves_while_fresh_then_the_fallback(
        em: ElectricityMaps, replay: Replay, clock: Any,
        live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, Reply(403, {"error": "Forbidden"}))  # a free plan: no forecast
    live = live_factory(em, refresh_s=900.0)
    live.prime(DE)
    assert live.wait_ready(WAIT_S)
    uncovered = window("2026-01-01T11:05", "2026-01-01T11:10")  # after the latest hour
    assert live.lookup(DE, *uncovered).g_per_kwh == 412.0  # fresh enough
    clock.advance(2 * 900 + 61)  # two missed refreshes
    stale = live.lookup(DE, *uncovered)
    assert (stale.g_per_kwh, stale.live) == (381.0, False)
    assert stale.note == ("electricitymaps unavailable: its last value is 31 min old; "
                          "bundled value used")


def test_a_failing_provider_falls_back_with_the_reason(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, Reply(401, {"error": "Token is invalid"}))
    replay.add(FORECAST, Reply(401, {"error": "Token is invalid"}))
    live = live_factory(em)
    live.prime(DE)
    assert live.wait_ready(WAIT_S)
    value = live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
    assert (value.g_per_kwh, value.live, value.kind) == (381.0, False, "average")
    assert value.note is not None
    assert value.note.startswith("electricitymaps unavailable: /v3/carbon-intensity/latest "
                                 "answered HTTP 401: Token is invalid")
    assert value.note.endswith("; bundled value used")


def test_a_marginal_provider_is_never_replaced_by_an_average(
        http: HttpOptions, replay: Replay, utcnow: Callable[[], datetime], clock: Any,
        live_factory: Callable[..., LiveSource]) -> None:
    provider = wt_factory(http=http, username="ada", password="pw", region="CAISO_NORTH",
                          now=utcnow, monotonic=clock)
    replay.add("/login", Reply(503, "down"))
    live = live_factory(provider)
    with pytest.raises(IntensityUnavailable, match=r"watttime unavailable: .*the bundled value "
                                                   r"is average, not marginal"):
        live.lookup(Location("US"), *window("2026-01-01T10:15", "2026-01-01T10:20"))


def test_close_is_bounded_while_a_request_hangs(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    release = threading.Event()
    replay.add(LATEST, Reply(200, {"zone": "DE"}, block=release))
    live = live_factory(em)
    live.prime(DE)
    deadline = time.monotonic() + WAIT_S
    while not replay.requests and time.monotonic() < deadline:
        release.wait(0.01)  # until the thread is inside the hanging request
    started = time.monotonic()
    finished = live.close(timeout_s=0.2)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 1.0
    assert finished is False  # the daemon thread is still stuck; close did not wait for it


def test_close_interrupts_a_backoff_wait(http: HttpOptions, replay: Replay,
                                         utcnow: Callable[[], datetime],
                                         live_factory: Callable[..., LiveSource]) -> None:
    # the real (interruptible) wait, and an API asking for 25 s of patience
    provider = em_factory(http=replace(http, sleep=None), api_key="k", now=utcnow)
    replay.add(LATEST, Reply(503, "busy", {"Retry-After": "25"}))
    live = live_factory(provider)
    live.prime(DE)
    deadline = time.monotonic() + WAIT_S
    while not replay.requests and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    started = time.monotonic()
    assert live.close(timeout_s=WAIT_S) is True
    assert time.monotonic() - started < 1.0
    assert replay.count(LATEST) == 1  # no retry after close


def test_refresh_now_fetches_again(em: ElectricityMaps, replay: Replay, clock: Any,
                                   live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    live = live_factory(em)
    live.prime(DE)
    assert live.wait_ready(WAIT_S)
    clock.advance(301)  # past the disk cache's 5 min for latest values
    live.refresh_now()
    assert live.wait_ready(WAIT_S)
    assert replay.count(LATEST) == 2


def test_a_forked_child_stays_silent(em: ElectricityMaps, replay: Replay,
                                     live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    live = live_factory(em)
    live._pid = -1  # what a child sees: the pid that built the source is not its own
    value = live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
    assert value.g_per_kwh == 381.0
    assert live._thread is None and replay.requests == []
    assert live.close() is True


def test_a_lock_held_at_fork_time_is_replaced_in_the_child(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    from wattprint.intensity import live as live_module

    live = live_factory(em)
    live._pid = -1
    live._lock.acquire()  # as if the refresh thread held it when the process forked
    live_module._after_fork_in_child()
    assert live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20")).g_per_kwh == 381.0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_real_fork_child_answers_from_the_fallback_without_threads(
        em: ElectricityMaps, replay: Replay, live_factory: Callable[..., LiveSource]) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    live = live_factory(em)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without running pytest's exit
        code = 1
        try:
            value = live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20"))
            silent = live._thread is None and threading.active_count() == 1
            os.write(write, f"{value.g_per_kwh} {silent} {len(replay.requests)}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 100).decode()
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert answer == "381.0 True 0"


def test_closed_sources_do_not_restart(em: ElectricityMaps, replay: Replay,
                                       live_factory: Callable[..., LiveSource]) -> None:
    live = live_factory(em)
    assert live.close() is True
    assert live.lookup(DE, *window("2026-01-01T10:15", "2026-01-01T10:20")).g_per_kwh == 381.0
    assert live._thread is None and replay.requests == []


def test_it_is_an_intensity_source(em: ElectricityMaps,
                                   live_factory: Callable[..., LiveSource]) -> None:
    live = live_factory(em)
    assert isinstance(live, IntensitySource)
    assert live.name == "electricitymaps"


def test_a_tracker_records_live_values_without_calling_the_api_itself(
        em: ElectricityMaps, replay: Replay, clock: Any,
        live_factory: Callable[..., LiveSource]) -> None:
    import wattprint
    from wattprint.sensors.fake import FakeDevice, FakeSensor
    from wattprint.sinks.memory import MemorySink

    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    live = live_factory(em)
    live.prime(DE)  # the tracker's Location differs in `detail` only: the same place
    assert live.wait_ready(WAIT_S)  # what the tracker's set-up can do, bounded
    sink = MemorySink()
    tracker = wattprint.Tracker(
        sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 36.0)], clock=clock)], sinks=[sink],
        intensity=live, clock=clock, wall_clock=clock.wall_clock, country="DE", interval_s=3600)
    tracker.start()
    clock.advance(100.0)
    tracker.flush()
    summary = tracker.stop()
    record = sink.records[0]
    assert (record.intensity_g_per_kwh, record.intensity_live, record.intensity_source) == (
        412.0, True, "electricitymaps")
    assert record.emissions_g == pytest.approx(3600.0 / 3.6e6 * 412.0)  # 1 Wh at 412 g/kWh
    assert not any("unavailable" in w for w in summary.warnings)
    assert threading.current_thread().name not in replay.threads
