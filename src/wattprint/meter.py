"""Readings -> energy per device per interval. Pure: no thread, injectable clocks.

Counters give energy as deltas (with wraparound at the counter's range); power-only devices are
integrated with the trapezoid rule between consecutive samples. A sensor that fails or a device
that disappears leaves a recorded gap; the other devices keep counting, and the failed one
restarts from a fresh baseline when it comes back (the energy in the gap is unknown, not zero,
and the interval says so).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from .sensors import Reading, Sensor

__all__ = ["DeviceEnergy", "Gap", "Interval", "Meter"]

log = logging.getLogger("wattprint.meter")

# A delta implying more than this on one device is not physics but a counter reset
# (driver reload, hot-plug); we drop it as a gap rather than invent energy.
_MAX_PLAUSIBLE_W = 20_000.0


@dataclass(frozen=True, slots=True)
class DeviceEnergy:
    device: str
    component: str
    method: str
    energy_j: float


@dataclass(frozen=True, slots=True)
class Gap:
    """A device (or whole sensor) whose energy is missing from an interval, and why."""

    device: str
    reason: str


@dataclass(frozen=True, slots=True)
class Interval:
    start_s: float  # wall clock, Unix seconds (UTC)
    end_s: float
    duration_s: float  # from the monotonic clock
    devices: tuple[DeviceEnergy, ...]
    gaps: tuple[Gap, ...] = ()

    def energy_j(self, component: str | None = None) -> float:
        return sum(d.energy_j for d in self.devices if component in (None, d.component))


@dataclass(slots=True)
class _Last:
    reading: Reading
    at_s: float  # monotonic


class Meter:
    def __init__(
        self,
        sensors: Sequence[Sensor],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sensors = list(sensors)
        self._clock = clock
        self._wall = wall_clock
        self._last: dict[str, _Last] = {}
        self._mark_s: float | None = None
        self._mark_wall_s = 0.0
        self._failing: set[int] = set()
        self._owned: dict[int, set[str]] = {}  # id(sensor) -> devices it reported last time

    @property
    def started(self) -> bool:
        return self._mark_s is not None

    def start(self) -> None:
        """Take the baseline readings."""
        self._mark_s = self._clock()
        self._mark_wall_s = self._wall()
        self._last.clear()
        self._read_all(self._mark_s, baseline=True)

    def measure(self) -> Interval:
        """Energy per device since the previous call (or :meth:`start`)."""
        if self._mark_s is None:
            self.start()
        now = self._clock()
        wall = self._wall()
        devices, gaps = self._read_all(now, baseline=False)
        assert self._mark_s is not None
        interval = Interval(
            start_s=self._mark_wall_s,
            end_s=wall,
            duration_s=max(0.0, now - self._mark_s),
            devices=tuple(devices),
            gaps=tuple(gaps),
        )
        self._mark_s, self._mark_wall_s = now, wall
        return interval

    def _read_all(self, now: float, *, baseline: bool) -> tuple[list[DeviceEnergy], list[Gap]]:
        devices: list[DeviceEnergy] = []
        gaps: list[Gap] = []
        for sensor in self._sensors:
            try:
                readings = sensor.read()
            except Exception as exc:  # any sensor failure becomes a gap, never a crash
                self._sensor_failed(sensor, exc, gaps)
                continue
            if id(sensor) in self._failing:
                self._failing.discard(id(sensor))
                log.info("sensor %s is readable again; its energy restarts from here", sensor.name)
            seen: set[str] = set()
            for reading in readings:
                seen.add(reading.device)
                energy = None if baseline else self._advance(reading, now, gaps)
                self._last[reading.device] = _Last(reading, now)
                if energy is not None:
                    devices.append(
                        DeviceEnergy(reading.device, reading.component, reading.method, energy)
                    )
            for device in self._owned.get(id(sensor), set()) - seen:
                self._last.pop(device, None)
                gaps.append(Gap(device, "device missing from its sensor's readings"))
            self._owned[id(sensor)] = seen
        return devices, gaps

    def _sensor_failed(self, sensor: Sensor, exc: Exception, gaps: list[Gap]) -> None:
        if id(sensor) not in self._failing:
            self._failing.add(id(sensor))
            log.warning("sensor %s failed to read (%s); recording a gap", sensor.name, exc)
        for device in self._owned.pop(id(sensor), set()):
            self._last.pop(device, None)
        gaps.append(Gap(sensor.name, f"read failed: {exc}"))

    def _advance(self, reading: Reading, now: float, gaps: list[Gap]) -> float | None:
        last = self._last.get(reading.device)
        if last is None:  # new device or back after a gap: this reading is its baseline
            return None
        dt = now - last.at_s
        before = last.reading
        if reading.energy_j is not None and before.energy_j is not None:
            delta = reading.energy_j - before.energy_j
            if delta < 0:
                if reading.wrap_j is None:
                    gaps.append(Gap(reading.device, "counter went backwards (reset)"))
                    return None
                delta += reading.wrap_j
            if dt > 0 and delta / dt > _MAX_PLAUSIBLE_W:
                gaps.append(Gap(reading.device, f"implausible jump of {delta:.0f} J in {dt:.3f} s"))
                return None
            return delta
        if reading.power_w is not None and before.power_w is not None:
            return 0.5 * (reading.power_w + before.power_w) * max(dt, 0.0)
        gaps.append(Gap(reading.device, "reading changed kind (counter vs power)"))
        return None
