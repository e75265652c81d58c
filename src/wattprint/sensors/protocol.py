"""The sensor protocol, apart from the sensor types so that importing those stays cheap."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from . import DeviceInfo, Reading

__all__ = ["Sensor"]


@runtime_checkable
class Sensor(Protocol):
    name: str

    def devices(self) -> list[DeviceInfo]: ...

    def read(self) -> list[Reading]: ...

    def close(self) -> None: ...
