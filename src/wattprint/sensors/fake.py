"""A sensor that behaves like real hardware without any: for tests, demos and dry runs.

Each fake device draws a power (constant or a function of time) read from an injectable clock.
As a counter device it accumulates energy and wraps at ``wrap_j`` like RAPL does; as a power
device it reports instantaneous watts like NVML power sampling. Failures can be scheduled to
exercise the meter's gap handling.
"""

from __future__ import annotations

import time
from typing import Callable, Union

from .._struct import dataclass
from ..errors import SensorReadError
from . import DeviceInfo, Reading

__all__ = ["FakeDevice", "FakeSensor"]

PowerW = Union[float, Callable[[float], float]]


@dataclass
class FakeDevice:
    device: str
    component: str
    power_w: PowerW
    method: str = "measured"  # measured -> energy counter, sampled -> power only
    wrap_j: float | None = None
    present: bool = True
    _energy_j: float = 0.0
    _last_s: float | None = None

    def power_at(self, now_s: float) -> float:
        return float(self.power_w(now_s) if callable(self.power_w) else self.power_w)

    def advance(self, now_s: float) -> None:
        if self._last_s is not None:
            # Exact integral for constant power; midpoint for a function of time.
            mid = (self._last_s + now_s) / 2
            self._energy_j += self.power_at(mid) * (now_s - self._last_s)
        self._last_s = now_s

    def counter_j(self) -> float:
        return self._energy_j % self.wrap_j if self.wrap_j else self._energy_j

    @property
    def true_energy_j(self) -> float:
        return self._energy_j


class FakeSensor:
    def __init__(
        self,
        devices: list[FakeDevice],
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "fake",
    ) -> None:
        self.name = name
        self._devices = devices
        self._clock = clock
        self._failures = 0
        self.closed = False
        self.reads = 0

    def fail_next(self, times: int = 1) -> None:
        self._failures = times

    def devices(self) -> list[DeviceInfo]:
        return [
            DeviceInfo(d.device, d.component, d.method, f"fake {d.component} drawing {d.power_w!r} W"
                       if not callable(d.power_w) else f"fake {d.component}")
            for d in self._devices
        ]

    def read(self) -> list[Reading]:
        now = self._clock()
        for device in self._devices:
            device.advance(now)
        if self._failures:
            self._failures -= 1
            raise SensorReadError(f"{self.name}: simulated read failure")
        self.reads += 1
        out = []
        for d in self._devices:
            if not d.present:
                continue
            if d.method == "sampled":
                out.append(Reading(d.device, d.component, d.method, power_w=d.power_at(now)))
            else:
                out.append(Reading(d.device, d.component, d.method, energy_j=d.counter_j(),
                                   wrap_j=d.wrap_j))
        return out

    def close(self) -> None:
        self.closed = True
