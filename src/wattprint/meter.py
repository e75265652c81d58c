"""Readings -> energy per device per interval. Pure: no thread, injectable clocks.

Counters give energy as deltas (with wraparound at the counter's range); power-only devices are
integrated with the trapezoid rule between consecutive samples. Sensors may be read more often
than intervals are cut (:mod:`wattprint.sampler` decides when): energy accumulates per device
between reads, and :meth:`Meter.cut` closes an interval. A sensor that fails or a device
that disappears leaves a recorded gap; the other devices keep counting, and the failed one
restarts from a fresh baseline when it comes back (the energy in the gap is unknown, not zero,
and the interval says so).
"""

from __future__ import annotations

import time
from bisect import bisect_right

from ._log import get_logger
from ._struct import dataclass, field
from .sensors import Reading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping, Sequence

    from .sensors import Sensor

__all__ = ["DeviceEnergy", "Gap", "Interval", "Meter", "Timeline"]

log = get_logger("wattprint.meter")

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
    # Per device: (monotonic s, joules since the interval began) at every read inside it, first
    # point at the interval's start (or the device's first baseline), last at its end. Spans are
    # answered from these points (see wattprint.recorder).
    timeline: Mapping[str, Timeline] = field(default_factory=dict)
    start_mono_s: float = 0.0
    # (epoch, monotonic s) of every read in the interval, the previous cut's first and this
    # cut's last: between two consecutive reads every device's power is constant, so a span
    # that saw no read is priced as power x duration (see wattprint.recorder).
    epochs: tuple[tuple[int, float], ...] = ()

    def energy_j(self, component: str | None = None) -> float:
        return sum(d.energy_j for d in self.devices if component in (None, d.component))


class Timeline:
    """A device's cumulative energy at each read within one interval, kept small.

    At most :data:`MAX_POINTS` points: when full, every other point is dropped (first and last
    kept), so a 0.1 s sampler over a one-hour interval still answers a span edge to within
    interval/512 seconds of linear interpolation, in flat memory.
    """

    MAX_POINTS = 1024
    __slots__ = ("t_s", "energy_j")

    def __init__(self, t_s: float, energy_j: float = 0.0) -> None:
        self.t_s = [t_s]
        self.energy_j = [energy_j]

    def add(self, t_s: float, energy_j: float) -> None:
        if len(self.t_s) >= self.MAX_POINTS:
            last_t, last_e = self.t_s[-1], self.energy_j[-1]
            self.t_s = self.t_s[:-1:2] + [last_t]
            self.energy_j = self.energy_j[:-1:2] + [last_e]
        self.t_s.append(t_s)
        self.energy_j.append(energy_j)

    @property
    def total_j(self) -> float:
        return self.energy_j[-1]

    def at(self, t_s: float) -> float:
        """Joules since the interval began, at monotonic time ``t_s`` (linear between reads)."""
        ts, es = self.t_s, self.energy_j
        if t_s <= ts[0]:
            return es[0]
        if t_s >= ts[-1]:
            return es[-1]
        i = bisect_right(ts, t_s)
        t0, t1 = ts[i - 1], ts[i]
        e0, e1 = es[i - 1], es[i]
        return e0 + (e1 - e0) * (t_s - t0) / (t1 - t0) if t1 > t0 else e1


@dataclass(slots=True)
class _Last:
    reading: Reading
    at_s: float  # monotonic


class Meter:
    """Reads sensors (all, or the ones the sampler says are due) and accumulates each device's
    energy between reads; :meth:`cut` closes an interval. Reading a wrapping counter at least
    once per wrap (the sampler's job) makes any number of wraps per interval exact."""

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
        self._energy: dict[str, DeviceEnergy] = {}  # device -> energy since the last cut
        self._timeline: dict[str, Timeline] = {}
        self._gaps: list[Gap] = []
        #: Counts reads; raised *before* each read takes its timestamp, so a span that sees the
        #: same epoch when it opens and when it closes lies between two reads.
        self.epoch = 0
        self._epochs: list[tuple[int, float]] = []

    @property
    def started(self) -> bool:
        return self._mark_s is not None

    @property
    def sensors(self) -> list[Sensor]:
        return list(self._sensors)

    def readings_of(self, sensor: Sensor) -> list[Reading]:
        """The latest readings of the devices ``sensor`` reported last time."""
        return [self._last[d].reading for d in self._owned.get(id(sensor), ()) if d in self._last]

    def start(self) -> dict[int, list[Reading]]:
        """Take the baseline readings; returns them per ``id(sensor)`` (the sampler plans its
        cadence from what each sensor returns)."""
        self.epoch += 1
        self._mark_s = self._clock()
        self._epochs = [(self.epoch, self._mark_s)]
        self._mark_wall_s = self._wall()
        self._last.clear()
        self._energy.clear()
        self._timeline.clear()
        self._gaps.clear()
        return self._read(self._sensors, self._mark_s)

    def read(self, sensors: Sequence[Sensor] | None = None) -> None:
        """Read ``sensors`` (default: all) now and add their energy to the open interval."""
        if self._mark_s is None:
            self.start()
            return
        self.epoch += 1
        now = self._clock()
        self._epochs.append((self.epoch, now))
        self._read(self._sensors if sensors is None else sensors, now)

    def cut(self) -> Interval:
        """Read every sensor and close the interval: energy per device since the previous cut
        (or :meth:`start`)."""
        if self._mark_s is None:
            self.start()
        self.epoch += 1
        now = self._clock()
        wall = self._wall()
        self._epochs.append((self.epoch, now))
        self._read(self._sensors, now)
        assert self._mark_s is not None
        for timeline in self._timeline.values():
            if timeline.t_s[-1] < now:
                timeline.add(now, timeline.total_j)
        interval = Interval(
            start_s=self._mark_wall_s,
            end_s=wall,
            duration_s=max(0.0, now - self._mark_s),
            devices=tuple(self._energy.values()),
            gaps=tuple(self._gaps),
            timeline=self._timeline,
            start_mono_s=self._mark_s,
            epochs=tuple(self._epochs),
        )
        self._mark_s, self._mark_wall_s = now, wall
        self._epochs = [(self.epoch, now)]
        self._energy = {}
        self._gaps = []
        self._timeline = {device: Timeline(now) for device in self._last}
        return interval

    measure = cut  # the name the single-cadence API used

    def _read(self, sensors: Sequence[Sensor], now: float) -> dict[int, list[Reading]]:
        got: dict[int, list[Reading]] = {}
        for sensor in sensors:
            try:
                readings = sensor.read()
            except Exception as exc:  # any sensor failure becomes a gap, never a crash
                self._sensor_failed(sensor, exc)
                continue
            got[id(sensor)] = readings
            if id(sensor) in self._failing:
                self._failing.discard(id(sensor))
                log.info("sensor %s is readable again; its energy restarts from here", sensor.name)
            seen: set[str] = set()
            for reading in readings:
                seen.add(reading.device)
                energy = self._advance(reading, now)
                self._last[reading.device] = _Last(reading, now)
                self._add(reading, energy, now)
            for device in self._owned.get(id(sensor), set()) - seen:
                self._last.pop(device, None)
                self._gaps.append(Gap(device, "device missing from its sensor's readings"))
            self._owned[id(sensor)] = seen
        return got

    def _add(self, reading: Reading, energy_j: float | None, now: float) -> None:
        # energy_j is None for a baseline reading: the device counts from here on, and only a
        # device with at least one delta in the interval appears in it
        device = reading.device
        before = self._energy.get(device)
        total = before.energy_j if before is not None else 0.0
        if energy_j is not None:
            total += energy_j
            if before is None or energy_j:
                self._energy[device] = DeviceEnergy(device, reading.component, reading.method,
                                                    total)
        timeline = self._timeline.get(device)
        if timeline is None:
            # a device's first read in this interval: nothing is known before it
            self._timeline[device] = Timeline(now, total)
        else:
            timeline.add(now, total)

    def _sensor_failed(self, sensor: Sensor, exc: Exception) -> None:
        if id(sensor) not in self._failing:
            self._failing.add(id(sensor))
            log.warning("sensor %s failed to read (%s); recording a gap", sensor.name, exc)
        for device in self._owned.pop(id(sensor), set()):
            self._last.pop(device, None)
        self._gaps.append(Gap(sensor.name, f"read failed: {exc}"))

    def _advance(self, reading: Reading, now: float) -> float | None:
        last = self._last.get(reading.device)
        if last is None:  # new device or back after a gap: this reading is its baseline
            return None
        dt = now - last.at_s
        before = last.reading
        if reading.energy_j is not None and before.energy_j is not None:
            delta = reading.energy_j - before.energy_j
            if delta < 0:
                if reading.wrap_j is None:
                    self._gaps.append(Gap(reading.device, "counter went backwards (reset)"))
                    return None
                delta += reading.wrap_j
            if dt > 0 and delta / dt > _MAX_PLAUSIBLE_W:
                self._gaps.append(
                    Gap(reading.device, f"implausible jump of {delta:.0f} J in {dt:.3f} s"))
                return None
            return delta
        if reading.power_w is not None and before.power_w is not None:
            return 0.5 * (reading.power_w + before.power_w) * max(dt, 0.0)
        self._gaps.append(Gap(reading.device, "reading changed kind (counter vs power)"))
        return None
