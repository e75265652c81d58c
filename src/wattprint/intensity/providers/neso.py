"""UK NESO Carbon Intensity API: Great Britain, national or by postcode region, no key.

Docs: https://carbon-intensity.github.io/api-definitions/ (base URL
``https://api.carbonintensity.org.uk``).

Facts used here, from that page:

- National: ``GET /intensity`` (current half hour), ``GET /intensity/{from}/{to}`` (at most 14
  days per request) and ``GET /intensity/{from}/fw48h`` (48 h ahead) return ``{data: [{from,
  to, intensity: {forecast, actual, index}}]}``; ``actual`` is null for periods not yet
  measured.
- Regional, by *outward* postcode (``RG10``, ``SW1``; never the full postcode):
  ``GET /regional/postcode/{postcode}`` returns ``{data: [{regionid, shortname, postcode, data:
  [{from, to, intensity: {forecast, index}, generationmix}]}]}``;
  ``GET /regional/intensity/{from}/fw48h/postcode/{postcode}`` and
  ``/regional/intensity/{from}/{to}/postcode/{postcode}`` return the same region object
  directly under ``data``. Regional values are forecasts only (there is no regional
  ``actual``): points from them are marked ``forecast=True``.
- Times are UTC, ``YYYY-MM-DDThh:mmZ``, in 30-minute settlement periods. Units: gCO2/kWh.
- Scope, as the API describes it: the intensity includes the CO2 emissions of electricity
  generation only (large metered power stations, interconnector imports, transmission and
  distribution losses, accounting for national demand and embedded wind and solar). So the
  labels are scope "direct" (no upstream/lifecycle emissions), gases "CO2" and basis
  "consumption"; numbers are therefore lower than lifecycle CO2e figures for the same grid.

Coverage: Great Britain (England, Scotland, Wales). Northern Ireland is on the all-island
grid, not GB's, and is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from ..._lazy_re import lazy_re
from ...errors import ConfigError, ProviderError
from .. import Location
from . import IntensityPoint, Labels, ProviderBase, aligned_chunks, merge_points
from ._http import HttpClient, HttpOptions
from ._parse import Payload, iso_utc

__all__ = ["BASE_URL", "Neso", "factory", "outward_code"]

BASE_URL = "https://api.carbonintensity.org.uk"
PERIOD = timedelta(minutes=30)
RANGE_CHUNK = timedelta(days=14)  # the documented maximum for {from}/{to}
_OUTWARD = lazy_re(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


class Neso(ProviderBase):
    name = "neso"
    labels = Labels(kind="average", basis="consumption", scope="direct", gases="CO2")

    def __init__(self, *, http: HttpClient, postcode: str | None = None,
                 now: Callable[[], datetime] | None = None, base_url: str = BASE_URL) -> None:
        super().__init__(http, now=now)
        self.postcode = outward_code(postcode) if postcode else None
        self._base = base_url.rstrip("/")

    # -- the three questions ------------------------------------------------------------
    def latest_point(self, where: Location) -> IntensityPoint:
        _check_gb(where)
        if self.postcode:
            path = f"/regional/postcode/{self.postcode}"
            regions = self._payload(path, ttl_s=self.latest_ttl_s).get("data").items()
            if not regions:
                raise ProviderError(f"{self.name}: {path} returned no region")
            points = self._regional_points(regions[0])
        else:
            points = self._national_points("/intensity", ttl_s=self.latest_ttl_s)
        if not points:
            raise ProviderError(f"{self.name}: no current value returned")
        now = self.now()
        return next((p for p in points if p.covers(now)), points[-1])

    def history(self, where: Location, start: datetime, end: datetime) -> list[IntensityPoint]:
        _check_gb(where)
        now = self.now()
        if start >= now:
            raise ProviderError(f"{self.name}: history starts in the future "
                                f"({iso_utc(start)}); use forecast()")
        points: list[IntensityPoint] = []
        for chunk_start, chunk_end in aligned_chunks(start, min(end, now), RANGE_CHUNK):
            stop = min(chunk_end, _ceil_period(now))
            span = f"{iso_utc(chunk_start, seconds=False)}/{iso_utc(stop, seconds=False)}"
            points += self._window(span, ttl_s=self.history_ttl_s(stop))
        return merge_points(points, start, end)

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]:
        _check_gb(where)
        now = self.now()
        span = f"{iso_utc(_floor_period(now), seconds=False)}/fw48h"
        points = self._window(span, ttl_s=self.forecast_ttl_s, forecast=True)
        return [p for p in points if p.end > now and p.start < now + timedelta(hours=hours)]

    # -- plumbing -----------------------------------------------------------------------
    def _window(self, span: str, *, ttl_s: float, forecast: bool = False) -> list[IntensityPoint]:
        if self.postcode:
            path = f"/regional/intensity/{span}/postcode/{self.postcode}"
            return self._regional_points(self._payload(path, ttl_s=ttl_s).get("data"))
        return self._national_points(f"/intensity/{span}", ttl_s=ttl_s, forecast=forecast)

    def _payload(self, path: str, *, ttl_s: float) -> Payload:
        body: Any = self.http.get_json(f"{self._base}{path}", ttl_s=ttl_s)
        return Payload(body, provider=self.name, endpoint=path)

    def _national_points(self, path: str, *, ttl_s: float,
                         forecast: bool = False) -> list[IntensityPoint]:
        points = []
        for item in self._payload(path, ttl_s=ttl_s).get("data").items():
            intensity = item.get("intensity")
            predicted = intensity.get("forecast")  # documented as always present: checked
            actual = intensity.opt("actual")
            # A measured value when there is one; the forecast (flagged) for future periods.
            use_actual = actual is not None and not forecast
            points.append(self._point(item, actual if use_actual and actual else predicted,
                                      zone="GB", forecast=not use_actual))
        return points

    def _regional_points(self, region: Payload) -> list[IntensityPoint]:
        zone = f"GB:{region.get('shortname').text()}"
        return [self._point(item, item.get("intensity").get("forecast"), zone=zone,
                            forecast=True)
                for item in region.get("data").items()]

    def _point(self, item: Payload, value: Payload, *, zone: str,
               forecast: bool) -> IntensityPoint:
        start = item.get("from").timestamp()
        end = item.get("to").timestamp()
        if end <= start:
            raise item.get("to").fail("is not after 'from'")
        return IntensityPoint(start=start, end=end, g_per_kwh=value.g_per_kwh(), kind=self.kind,
                              zone=zone, source=self.name, forecast=forecast)


def outward_code(postcode: str) -> str:
    """The outward part of a UK postcode (``"RG10 9XX"`` -> ``"RG10"``), which the API wants."""
    parts = postcode.strip().upper().split()
    outward = parts[0] if len(parts) in (1, 2) else ""
    if len(parts) == 1 and not _OUTWARD.match(outward) and len(outward) >= 5:
        outward = outward[:-3]  # a full postcode written without its space: drop the inward
    if not _OUTWARD.match(outward):
        raise ConfigError(f"neso: postcode {postcode!r} is not a UK postcode; give its outward "
                          "part, e.g. RG10 or SW1", key="postcode")
    return outward


def factory(*, http: HttpOptions | None = None, postcode: str | None = None,
            now: Callable[[], datetime] | None = None) -> Neso:
    return Neso(http=HttpClient("neso", http), postcode=postcode, now=now)


def _check_gb(where: Location) -> None:
    if where.country != "GB":
        raise ProviderError(f"neso covers Great Britain only (country GB); this location is "
                            f"{where.country or 'unknown'}")
    if where.subdivision == "NIR":
        raise ProviderError("neso covers Great Britain only; Northern Ireland is on the "
                            "all-island grid")


def _floor_period(when: datetime) -> datetime:
    utc = when.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return utc.replace(minute=utc.minute - utc.minute % 30)


def _ceil_period(when: datetime) -> datetime:
    floor = _floor_period(when)
    return floor if floor == when else floor + PERIOD
