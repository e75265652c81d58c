"""Stored runs for dashboard tests, written by a real Tracker (fake sensors, fake clocks) into
the real local store under WATTPRINT_HOME, and the dashboard app over that store."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import wattprint
from fakes.clock import FakeClock
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.dashboard.app import create_dashboard_app
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.store import open_repository

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, FakeClock's wall start
DAY = 86400.0


def store_path() -> Path:
    return Path(os.environ["WATTPRINT_HOME"]) / "wattprint.db"


def tracker(*, project: str, experiment: str, wall_s: float, cpu_w: float = 40.0,
            gpu_w: float = 0.0, country: str = "FR") -> tuple[Any, FakeClock]:
    clock = FakeClock(wall_start_s=wall_s)
    devices = [FakeDevice("fake:cpu", "cpu", cpu_w), FakeDevice("fake:ram", "ram", 4.0)]
    if gpu_w:
        devices.append(FakeDevice("fake:gpu", "gpu", gpu_w, method="sampled"))
    t = wattprint.Tracker(sensors=[FakeSensor(devices, clock=clock)], clock=clock,
                          wall_clock=clock.wall_clock, country=country, interval_s=3600,
                          project=project, experiment=experiment, store_flush_s=0)
    return t, clock


def finished_run(*, project: str = "vision", experiment: str = "resnet", wall_s: float = T0,
                 records: int = 4, step_s: float = 5.0, cpu_w: float = 40.0, gpu_w: float = 0.0,
                 country: str = "FR", gap_after: int | None = None) -> Any:
    """A finished run of ``records`` records (a span "train" with a nested "step", samples
    counted); ``gap_after``: the tracker pauses (no record) for 10 intervals after that one."""
    t, clock = tracker(project=project, experiment=experiment, wall_s=wall_s, cpu_w=cpu_w,
                       gpu_w=gpu_w, country=country)
    t.start()
    with t.span("train"):
        for i in range(records - 1):
            with t.span("step"):
                clock.advance(step_s)
                t.step(32, "samples")
            t.flush()
            if gap_after is not None and i + 1 == gap_after:
                # the machine slept: wall time moves on, no interval is measured
                clock.wall += 10 * step_s
    clock.advance(step_s)
    return t.stop()


def app(*, now_s: float, allowed_hosts: tuple[str, ...] = ("testserver",)) -> Any:
    repo = open_repository(store_path(), clock=lambda: now_s)
    return create_dashboard_app(LocalStoreData(repo, clock=lambda: now_s),
                                allowed_hosts=allowed_hosts), repo


@contextmanager
def client(*, now_s: float) -> Iterator[tuple[Any, Any]]:
    """The dashboard app at ``now_s`` in a TestClient: (client, repository), closed after."""
    from fastapi.testclient import TestClient

    dashboard, repo = app(now_s=now_s)
    try:
        with TestClient(dashboard) as test_client:
            yield test_client, repo
    finally:
        repo.close()
