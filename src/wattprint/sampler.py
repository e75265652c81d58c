"""When each sensor is read. The recorder decides when a record is cut; this decides the reads
in between.

- A wrapping counter (RAPL ``max_energy_range_uj``, an AMD 32-bit accumulator) is read often
  enough that it cannot wrap twice between two reads: at most every ``range / bound / 2``
  seconds, where ``bound`` is the device's stated maximum power (:attr:`DeviceInfo.max_power_w`)
  or, when the hardware states none, :data:`POWER_BOUND_W` for its component. Any number of
  wraps per record is then exact.
- A device that only reports instantaneous power (NVML without an energy counter, hwmon
  ``power1_average``, amdsmi socket power) is read by one shared fast sampler, every
  ``fast_s`` (0.1 s by default), so its integral does not depend on the record interval.
- Everything else (counters that do not wrap in practice, models) is read when a record is cut.

No thread here: the tracker's one thread asks :meth:`Sampler.next_due_s` how long it may sleep
and calls :meth:`Sampler.poll` when it wakes.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Sequence

    from .meter import Meter
    from .sensors import Reading, Sensor

__all__ = ["FAST_S", "POWER_BOUND_W", "Sampler", "read_period_s"]

#: Default period of the fast sampler for power-only devices, in seconds.
FAST_S = 0.1

#: Stated upper bounds on one device's power when the hardware gives none, in watts. About
#: twice the largest parts shipping in 2025 (500 W server CPU packages such as AMD EPYC 9965;
#: 1.2 kW accelerator modules), so a counter is read at least twice per wrap even at that power.
POWER_BOUND_W = {"cpu": 1000.0, "ram": 500.0, "gpu": 2500.0, "soc": 500.0, "system": 5000.0}

# Reads per wrap at the bound: two, so one late wake-up still leaves a read inside each wrap.
_READS_PER_WRAP = 2.0


def read_period_s(readings: Sequence[Reading], *, interval_s: float, fast_s: float = FAST_S,
                  max_power_w: dict[str, float] | None = None) -> float:
    """How often a sensor that returned ``readings`` must be read (at most ``interval_s``)."""
    period = interval_s
    bounds = max_power_w or {}
    for reading in readings:
        if reading.energy_j is None and reading.power_w is not None:
            if reading.method != "modelled":
                period = min(period, fast_s)
        elif reading.wrap_j is not None and reading.wrap_j > 0:
            bound = bounds.get(reading.device) or POWER_BOUND_W.get(reading.component, 5000.0)
            period = min(period, reading.wrap_j / bound / _READS_PER_WRAP)
    return max(period, min(fast_s, interval_s) / 10)


class Sampler:
    """Per-sensor read schedule over a :class:`~wattprint.meter.Meter`."""

    def __init__(self, meter: Meter, *, interval_s: float, fast_s: float = FAST_S,
                 max_power_w: dict[str, float] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self._meter = meter
        self._interval_s = interval_s
        self._fast_s = fast_s
        self._bounds = dict(max_power_w or {})
        self._clock = clock
        self._period: dict[int, float] = {}  # id(sensor) -> seconds
        self._due: list[tuple[float, Sensor]] = []  # sensors read between cuts
        self._unplanned: set[int] = set()
        self.next_due_s = math.inf

    def start(self, now_s: float) -> None:
        """Take the meter's baseline and plan each sensor's cadence from what it returned."""
        baseline = self._meter.start()
        self._plan(baseline, now_s)

    def periods(self) -> dict[str, float]:
        """Sensor name -> read period in seconds (for the run info and ``doctor``)."""
        return {s.name: self._period.get(id(s), self._interval_s) for s in self._meter.sensors}

    def poll(self, now_s: float) -> None:
        """Read the sensors that are due."""
        due = [s for at, s in self._due if at <= now_s]
        if due:
            self._meter.read(due)
        self._reschedule(now_s, due)

    def after_cut(self, now_s: float) -> None:
        """A cut read every sensor: every schedule restarts from now. A sensor that returned
        nothing when planned (it failed at start) is planned again from its latest readings."""
        if self._unplanned:
            self._plan({id(s): self._meter.readings_of(s) for s in self._meter.sensors}, now_s)
        else:
            self._reschedule(now_s, [s for _, s in self._due])

    def _plan(self, readings: dict[int, list[Reading]], now_s: float) -> None:
        self._period = {}
        self._unplanned = set()
        for sensor in self._meter.sensors:
            got = readings.get(id(sensor), [])
            if not got:
                self._unplanned.add(id(sensor))
            self._period[id(sensor)] = read_period_s(
                got, interval_s=self._interval_s, fast_s=self._fast_s, max_power_w=self._bounds)
        self._due = [(now_s + self._period[id(s)], s) for s in self._meter.sensors
                     if self._period[id(s)] < self._interval_s]
        self.next_due_s = min((at for at, _ in self._due), default=math.inf)

    def _reschedule(self, now_s: float, read: list[Sensor]) -> None:
        ids = {id(s) for s in read}
        self._due = [((now_s + self._period[id(s)]) if id(s) in ids else at, s)
                     for at, s in self._due]
        self.next_due_s = min((at for at, _ in self._due), default=math.inf)
