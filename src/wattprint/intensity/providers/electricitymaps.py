"""Electricity Maps (API v3): average carbon intensity, live, past and forecast.

Docs: https://portal.electricitymaps.com/developer-hub/api/reference (endpoints, parameters,
responses) and https://static.electricitymap.org/api/docs/ (authentication, geolocation,
emission factors).

Facts used here, from those pages:

- Base URL ``https://api.electricitymaps.com/v3``; the key goes in the ``auth-token`` header.
- ``GET /carbon-intensity/latest`` -> ``{zone, carbonIntensity, datetime, updatedAt,
  emissionFactorType, isEstimated, estimationMethod}``; ``GET /carbon-intensity/past-range``
  (``start``, ``end``, ``temporalGranularity=hourly``) -> ``{zone, data: [...same items]}``;
  ``GET /carbon-intensity/forecast`` -> ``{zone, forecast: [{carbonIntensity, datetime}],
  updatedAt}``. Values are gCO2eq/kWh; each ``datetime`` starts a one-hour period.
- A place is a ``zone`` (``FR``, ``DE``, ``US-CAL-CISO``, ``SE-SE3``...), ``lat``/``lon``, or
  a cloud ``dataCenterProvider``/``dataCenterRegion``.
- ``emissionFactorType`` is ``lifecycle`` (the default) or ``direct``; the default signal is
  also flow-traced, i.e. the *consumption* mix including imports. We send the factor type
  explicitly and check that the answer carries the one we asked for.
- Without a matching zone the API falls back to the caller's IP location unless
  ``shouldUseFallbackCallerLookup=false``: we always send that with coordinates or cloud
  regions, because a silently guessed location would be a quiet lie.
- Free personal tokens cover ``latest`` and a 24 h ``history`` for one zone; ``past-range`` and
  ``forecast`` need a commercial or trial plan. Their 401/403 answers are passed on with that
  explanation.

Zones: US states do not map 1:1 to Electricity Maps zones (California is ``US-CAL-CISO``, but
most states span several balancing authorities), so a US location needs an explicit ``zone``.
Canadian provinces and Australian states use ISO codes (``CA-ON``, ``AU-NSW``); elsewhere the
country code is used, and the API's refusal is explained with the zones to choose from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..._struct import replace
from ...errors import ConfigError, ProviderError
from .. import Location
from . import (
    IntensityPoint,
    Labels,
    ProviderBase,
    aligned_chunks,
    coordinates,
    merge_points,
)
from ._http import HttpClient, HttpError, HttpOptions
from ._parse import Payload, iso_utc

__all__ = ["BASE_URL", "ElectricityMaps", "factory", "zone_params"]

BASE_URL = "https://api.electricitymaps.com/v3"
PERIOD = timedelta(hours=1)
# past-range answers a bounded span per request; 10 days of hourly points keeps every request
# small and under the documented limits of the plans we know of.
PAST_RANGE_CHUNK = timedelta(days=10)
# Countries the API splits into several zones: a country code alone may be refused.
_SPLIT = {
    "SE": "SE-SE1 to SE-SE4", "NO": "NO-NO1 to NO-NO5", "DK": "DK-DK1 or DK-DK2",
    "IT": "IT-NO, IT-CNO, IT-CSO, IT-SO, IT-SIC, IT-SAR", "JP": "JP-TK, JP-KN, ...",
    "AU": "AU-NSW, AU-VIC, ...", "CA": "CA-ON, CA-QC, ...", "IN": "IN-NO, IN-SO, ...",
}
_ISO_SUBZONES = frozenset({"CA", "AU"})  # provinces/states whose ISO code is the zone id


class ElectricityMaps(ProviderBase):
    name = "electricitymaps"
    labels = Labels(kind="average", basis="consumption", scope="lifecycle", gases="CO2e")

    def __init__(self, *, api_key: str, http: HttpClient,
                 emission_factor_type: str = "lifecycle",
                 now: Callable[[], datetime] | None = None, base_url: str = BASE_URL) -> None:
        if not api_key:
            raise ConfigError("electricitymaps needs an API key: set `electricitymaps_api_key` "
                              "(free tokens: https://portal.electricitymaps.com)",
                              key="electricitymaps_api_key")
        if emission_factor_type not in ("lifecycle", "direct"):
            raise ConfigError(f"emission_factor_type must be 'lifecycle' or 'direct', not "
                              f"{emission_factor_type!r}", key="emission_factor_type")
        super().__init__(http, now=now)
        self._api_key = api_key
        self._factor = emission_factor_type
        self._base = base_url.rstrip("/")
        self.labels = replace(type(self).labels, scope=emission_factor_type)

    # -- the three questions ------------------------------------------------------------
    def latest_point(self, where: Location) -> IntensityPoint:
        params = zone_params(where)
        body = self._get("carbon-intensity/latest", params, ttl_s=self.latest_ttl_s)
        item = Payload(body, provider=self.name, endpoint="/carbon-intensity/latest")
        return self._point(item, params, forecast=False)

    def history(self, where: Location, start: datetime, end: datetime) -> list[IntensityPoint]:
        params = zone_params(where)
        now = self.now()
        if start >= now:
            raise ProviderError(f"{self.name}: history starts in the future "
                                f"({iso_utc(start)}); use forecast()")
        points: list[IntensityPoint] = []
        for chunk_start, chunk_end in aligned_chunks(start, min(end, now), PAST_RANGE_CHUNK):
            # The API refuses ends in the future: the current chunk stops at the next hour.
            stop = min(chunk_end, _ceil_hour(now))
            query = {**params, "start": iso_utc(chunk_start), "end": iso_utc(stop),
                     "temporalGranularity": "hourly"}
            body = self._get("carbon-intensity/past-range", query,
                             ttl_s=self.history_ttl_s(stop))
            items = Payload(body, provider=self.name, endpoint="/carbon-intensity/past-range")
            points += [self._point(item, params, forecast=False)
                       for item in items.get("data").items()]
        return merge_points(points, start, end)

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]:
        params = zone_params(where)
        body = self._get("carbon-intensity/forecast", params, ttl_s=self.forecast_ttl_s)
        items = Payload(body, provider=self.name, endpoint="/carbon-intensity/forecast")
        now = self.now()
        horizon = now + timedelta(hours=hours)
        points = [self._point(item, params, forecast=True, zone=_zone_of(items, params))
                  for item in items.get("forecast").items()]
        return [p for p in points if p.end > now and p.start < horizon]

    # -- plumbing -----------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str], *, ttl_s: float) -> Any:
        query = {**params, "emissionFactorType": self._factor}
        if "zone" not in params:
            query["shouldUseFallbackCallerLookup"] = "false"
        try:
            return self.http.get_json(f"{self._base}/{path}", query,
                                      headers={"auth-token": self._api_key}, ttl_s=ttl_s)
        except HttpError as exc:
            raise self._explain(exc, path, params) from None

    def _explain(self, exc: HttpError, path: str, params: dict[str, str]) -> ProviderError:
        if exc.status == 401:
            return ProviderError(f"{exc} (check `electricitymaps_api_key`; free tokens only "
                                 "cover carbon-intensity/latest and /history)")
        if exc.status == 403:
            return ProviderError(f"{exc} (your Electricity Maps plan does not include /{path} "
                                 "for this zone)")
        zone = params.get("zone", "")
        if exc.status in (400, 404) and zone in _SPLIT:
            return ProviderError(f"{exc} (Electricity Maps splits {zone} into zones "
                                 f"{_SPLIT[zone]}: set `zone` explicitly)")
        return exc

    def _point(self, item: Payload, params: dict[str, str], *, forecast: bool,
               zone: str | None = None) -> IntensityPoint:
        factor = item.opt("emissionFactorType")
        if factor is not None and factor.text() != self._factor:
            raise factor.fail(f"is not the requested {self._factor!r}")
        start = item.get("datetime").timestamp()
        return IntensityPoint(
            start=start, end=start + PERIOD, g_per_kwh=item.get("carbonIntensity").g_per_kwh(),
            kind=self.kind, zone=zone or _zone_of(item, params), source=self.name,
            forecast=forecast,
        )


def zone_params(where: Location) -> dict[str, str]:
    """How to name the place to the API, most specific first."""
    if where.zone:
        return {"zone": where.zone}
    coords = coordinates(where)
    if coords is not None:
        return {"lat": f"{coords[0]:.4f}", "lon": f"{coords[1]:.4f}"}
    if where.cloud and where.cloud_region:
        return {"dataCenterProvider": where.cloud.lower(),
                "dataCenterRegion": where.cloud_region.lower()}
    if where.country is None:
        raise ProviderError("electricitymaps: the location is unknown; set `zone` (e.g. FR, "
                            "DE, US-CAL-CISO) or `country`")
    if where.country == "US":
        raise ProviderError(
            "electricitymaps: US states do not map one-to-one to Electricity Maps zones (they "
            "follow balancing authorities, e.g. US-CAL-CISO, US-TEX-ERCO, US-NY-NYIS); set "
            "`zone` explicitly (https://app.electricitymaps.com lists them)")
    if where.country in _ISO_SUBZONES and where.subdivision:
        return {"zone": f"{where.country}-{where.subdivision}"}
    return {"zone": where.country}


def factory(*, http: HttpOptions | None = None, api_key: str | None = None,
            emission_factor_type: str = "lifecycle",
            now: Callable[[], datetime] | None = None) -> ElectricityMaps:
    return ElectricityMaps(api_key=api_key or "", http=HttpClient("electricitymaps", http),
                           emission_factor_type=emission_factor_type, now=now)


def _zone_of(item: Payload, params: dict[str, str]) -> str:
    zone = item.opt("zone")
    if zone is not None:
        return zone.text()
    return params.get("zone", "unknown")


def _ceil_hour(when: datetime) -> datetime:
    floor = when.replace(minute=0, second=0, microsecond=0)
    return floor if floor == when else floor + PERIOD
