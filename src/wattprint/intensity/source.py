"""The intensity-source protocol, apart from the intensity types so that importing those stays
cheap."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from . import Intensity, Location

__all__ = ["IntensitySource"]


@runtime_checkable
class IntensitySource(Protocol):
    name: str

    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity: ...
