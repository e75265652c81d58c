"""Live and forecast carbon intensity from public APIs: one module per provider.

Every provider answers four questions about a :class:`~wattprint.intensity.Location`:

- ``latest(where)``: the most recent value, as an :class:`~wattprint.intensity.Intensity`
  with ``live=True`` (``latest_point(where)``: the same value with the period it covers);
- ``history(where, start, end)`` and ``forecast(where, hours)``: time series of
  :class:`IntensityPoint`;
- ``lookup(where, start, end)``: the :class:`~wattprint.intensity.IntensitySource` view (history
  for a window wholly in the past, the latest value otherwise). It does network I/O: the
  tracker uses providers through :class:`wattprint.intensity.live.LiveSource`, which keeps the
  network off the sampling thread.

What an API cannot do raises :class:`~wattprint.errors.ProviderError` saying so. A provider has
one ``kind``: "average" (attributional: the grid mix's intensity) or "marginal" (the response of
the marginal generator, WattTime's MOER). The two answer different questions and are never
averaged together.

Providers are found through :data:`PROVIDERS`, lazy ``module:factory`` strings, so that
``import wattprint`` imports no HTTP library; :func:`make_provider` builds one by name.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..._struct import dataclass
from ...errors import ConfigError, ProviderError
from .. import Intensity, Location

if TYPE_CHECKING:
    from ._http import HttpClient, HttpOptions

__all__ = [
    "PROVIDERS",
    "IntensityPoint",
    "Labels",
    "Provider",
    "ProviderBase",
    "average_over",
    "coordinates",
    "make_provider",
]

PROVIDERS: dict[str, str] = {
    "electricitymaps": "wattprint.intensity.providers.electricitymaps:factory",
    "watttime": "wattprint.intensity.providers.watttime:factory",
    "neso": "wattprint.intensity.providers.neso:factory",
}


@dataclass(frozen=True, slots=True)
class IntensityPoint:
    """One provider value valid from ``start`` (inclusive) to ``end`` (exclusive), in UTC."""

    start: datetime
    end: datetime
    g_per_kwh: float
    kind: str  # "average" | "marginal"
    zone: str
    source: str
    forecast: bool  # True when the provider predicted the value rather than reported it

    def overlap_s(self, start: datetime, end: datetime) -> float:
        return max(0.0, (min(self.end, end) - max(self.start, start)).total_seconds())

    def covers(self, when: datetime) -> bool:
        return self.start <= when < self.end


@dataclass(frozen=True, slots=True)
class Labels:
    """How a provider's numbers were made: copied onto every Intensity it returns."""

    kind: str = "average"
    basis: str = "consumption"
    scope: str = "lifecycle"
    gases: str = "CO2e"


@runtime_checkable
class Provider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "average" | "marginal"

    def latest(self, where: Location) -> Intensity: ...

    def latest_point(self, where: Location) -> IntensityPoint: ...

    def history(self, where: Location, start: datetime, end: datetime) -> list[IntensityPoint]: ...

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]: ...

    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity: ...

    def to_intensity(self, point: IntensityPoint, *, g_per_kwh: float | None = None,
                     note: str | None = None) -> Intensity: ...

    def close(self) -> None: ...


class ProviderBase:
    """Shared behaviour: labels, ``lookup``, the clock and the HTTP client's lifetime."""

    name = "provider"
    labels = Labels()
    # A window that ended this long ago is "past": history is asked for, not the latest value.
    # Providers publish with a lag, so a just-finished interval is still served by latest().
    past_after = timedelta(hours=2)
    # Disk-cache lifetimes. Latest values change every 5-60 min depending on the API; forecasts
    # are re-issued a few times an hour; a day-old history is settled (revisions are rare).
    latest_ttl_s = 300.0
    forecast_ttl_s = 900.0
    settled_ttl_s = 7 * 86400.0

    def __init__(self, http: HttpClient, *, now: Callable[[], datetime] | None = None) -> None:
        self.http = http
        self._now = now or _utc_now

    @property
    def kind(self) -> str:
        return self.labels.kind

    def now(self) -> datetime:
        return self._now()

    def history_ttl_s(self, chunk_end: datetime) -> float:
        settled = chunk_end <= self.now() - timedelta(days=1)
        return self.settled_ttl_s if settled else self.latest_ttl_s

    def to_intensity(self, point: IntensityPoint, *, g_per_kwh: float | None = None,
                     note: str | None = None) -> Intensity:
        labels = self.labels
        return Intensity(
            g_per_kwh=point.g_per_kwh if g_per_kwh is None else g_per_kwh,
            zone=point.zone, source=point.source, year=point.start.year, kind=labels.kind,
            live=True, basis=labels.basis, scope=labels.scope, gases=labels.gases, note=note,
        )

    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity:
        if end <= self.now() - self.past_after:
            points = self.history(where, start, end)
            value = average_over(points, start, end)
            if value is None:
                raise ProviderError(f"{self.name}: no history covers {start:%Y-%m-%d %H:%M} to "
                                    f"{end:%Y-%m-%d %H:%M} UTC")
            return self.to_intensity(_first_overlapping(points, start, end), g_per_kwh=value)
        return self.latest(where)

    def latest(self, where: Location) -> Intensity:
        return self.to_intensity(self.latest_point(where))

    # Subclasses implement these three.
    def latest_point(self, where: Location) -> IntensityPoint:
        raise NotImplementedError

    def history(self, where: Location, start: datetime, end: datetime) -> list[IntensityPoint]:
        raise NotImplementedError

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]:
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()


def make_provider(name: str, *, http: HttpOptions | None = None, **settings: Any) -> Provider:
    """Build a provider by registry name; ``settings`` are its credentials and options
    (``api_key``, ``username``/``password``, ``region``, ``postcode``...)."""
    target = PROVIDERS.get(name)
    if target is None:
        raise ConfigError(f"unknown intensity provider {name!r}; known: {', '.join(PROVIDERS)}",
                          key="provider")
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    try:
        inspect.signature(factory).bind(http=http, **settings)
    except TypeError as exc:
        raise ConfigError(f"intensity provider {name!r}: {exc}", key="provider") from None
    provider: Provider = factory(http=http, **settings)
    return provider


def average_over(points: Iterable[IntensityPoint], start: datetime, end: datetime) -> float | None:
    """Time-weighted mean of the points over [start, end); for an instant (start == end) the
    point covering it. None when nothing overlaps. Reported values win over forecasts for the
    same period, so a refreshed actual replaces the prediction it follows."""
    chosen = _prefer_reported(points)
    if end <= start:
        covering = [p for p in chosen if p.covers(start)]
        return covering[0].g_per_kwh if covering else None
    weighted = total = 0.0
    for point in chosen:
        seconds = point.overlap_s(start, end)
        weighted += point.g_per_kwh * seconds
        total += seconds
    return weighted / total if total > 0 else None


def coordinates(where: Location) -> tuple[float, float] | None:
    """Latitude and longitude when the location carries them (set, or from a cloud region)."""
    lat, lon = where.lat, where.lon
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return float(lat), float(lon)
    return None


def aligned_chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into windows aligned on multiples of ``size`` since the epoch.

    Alignment keeps request URLs, and so disk-cache keys, identical across calls that ask for
    overlapping ranges: re-scoring last week twice fetches nothing the second time.
    """
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    step = size.total_seconds()
    first = epoch + timedelta(seconds=(start - epoch).total_seconds() // step * step)
    chunks = []
    cursor = first
    while cursor < end:
        chunks.append((cursor, cursor + size))
        cursor += size
    return chunks


def merge_points(points: Iterable[IntensityPoint], start: datetime,
                 end: datetime) -> list[IntensityPoint]:
    """Points overlapping [start, end), one per start time, in order (chunk edges overlap)."""
    unique = {p.start: p for p in points if p.overlap_s(start, end) > 0 or
              (start == end and p.covers(start))}
    return [unique[key] for key in sorted(unique)]


def _prefer_reported(points: Iterable[IntensityPoint]) -> list[IntensityPoint]:
    items: Sequence[IntensityPoint] = list(points)
    reported = [p for p in items if not p.forecast]
    return reported + [p for p in items if p.forecast and
                       not any(r.overlap_s(p.start, p.end) > 0 for r in reported)]


def _first_overlapping(points: Sequence[IntensityPoint], start: datetime,
                       end: datetime) -> IntensityPoint:
    for point in points:
        if point.overlap_s(start, end) > 0 or point.covers(start):
            return point
    return points[0]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
