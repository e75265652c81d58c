"""WattTime (API v3): *marginal* CO2 emissions rate (MOER), real time, history and forecast.

Docs: https://docs.watttime.org/ (OpenAPI: https://docs.watttime.org/openapi.json).

Facts used here, from those pages:

- ``GET https://api.watttime.org/login`` with HTTP basic auth (username, password) returns
  ``{"token": ...}``, a bearer token valid for 30 minutes; data calls send
  ``Authorization: Bearer <token>`` and a 401 means "log in again". We keep the token in memory
  only (never on disk) and renew it 5 minutes before it expires, or at once after a 401.
- ``GET /v3/region-from-loc?latitude&longitude&signal_type`` -> ``{region, region_full_name,
  signal_type}``.
- ``GET /v3/forecast?region&signal_type&horizon_hours`` and ``GET /v3/historical?region&start
  &end&signal_type`` -> ``{data: [{point_time, value}], meta: {units, region, signal_type,
  data_point_period_seconds, ...}}``. We ask for ``signal_type=co2_moer``.
- ``/v3/historical`` and ``/v3/forecast`` are for subscribers; free accounts may preview full
  data for ``CAISO_NORTH`` only. A 403 is passed on with that explanation.
- The first forecast point is the current five-minute interval: it serves as ``latest``.

Units: MOER is reported in pounds of CO2 per megawatt-hour (``meta.units ==
"lbs_co2_per_mwh"``). 1 lb = 453.59237 g and 1 MWh = 1000 kWh, so g/kWh = lbs/MWh x 0.45359237.
Any other unit is refused rather than guessed.

Kind: **marginal**. A MOER answers "what would one more kWh emit now?", an average intensity
"what share of the grid's emissions is mine?". The two are not interchangeable and wattprint
never averages them together (see :class:`wattprint.intensity.live.LiveSource`). MOER counts
CO2 from combustion at the marginal plants: labelled scope "direct", gases "CO2".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ...errors import ConfigError, ProviderError
from .. import Location
from . import IntensityPoint, Labels, ProviderBase, aligned_chunks, coordinates, merge_points
from ._http import HttpClient, HttpError, HttpOptions
from ._parse import Payload, iso_utc

__all__ = ["BASE_URL", "LBS_PER_MWH_TO_G_PER_KWH", "WattTime", "factory"]

BASE_URL = "https://api.watttime.org"
SIGNAL = "co2_moer"
UNITS = "lbs_co2_per_mwh"
LBS_PER_MWH_TO_G_PER_KWH = 453.59237 / 1000.0  # = 0.45359237
FREE_REGION = "CAISO_NORTH"
TOKEN_LIFETIME_S = 30 * 60.0
TOKEN_MARGIN_S = 5 * 60.0
HISTORY_CHUNK = timedelta(days=30)  # the span the official client requests per call
MAX_HORIZON_H = 72
REGION_TTL_S = 30 * 86400.0  # grid regions move rarely


class WattTime(ProviderBase):
    name = "watttime"
    labels = Labels(kind="marginal", basis="generation", scope="direct", gases="CO2")

    def __init__(self, *, username: str, password: str, http: HttpClient,
                 region: str | None = None, now: Callable[[], datetime] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 base_url: str = BASE_URL) -> None:
        if not username or not password:
            raise ConfigError("watttime needs an account: set `watttime_username` and "
                              "`watttime_password` (register at https://watttime.org)",
                              key="watttime_username")
        super().__init__(http, now=now)
        self._credentials = (username, password)
        self._region = region
        self._base = base_url.rstrip("/")
        self._monotonic = monotonic
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()  # the refresh thread and a rescore may share us

    # -- the three questions ------------------------------------------------------------
    def latest_point(self, where: Location) -> IntensityPoint:
        region = self.region_for(where)
        points = self._series("/v3/forecast", {"region": region, "signal_type": SIGNAL,
                                               "horizon_hours": "1"},
                              ttl_s=self.latest_ttl_s, forecast=True)
        if not points:
            raise ProviderError(f"{self.name}: /v3/forecast returned no data for {region}")
        now = self.now()
        return next((p for p in points if p.covers(now)), points[0])

    def history(self, where: Location, start: datetime, end: datetime) -> list[IntensityPoint]:
        region = self.region_for(where)
        now = self.now()
        if start >= now:
            raise ProviderError(f"{self.name}: history starts in the future "
                                f"({iso_utc(start)}); use forecast()")
        points: list[IntensityPoint] = []
        for chunk_start, chunk_end in aligned_chunks(start, min(end, now), HISTORY_CHUNK):
            stop = min(chunk_end, now.replace(second=0, microsecond=0))
            query = {"region": region, "start": iso_utc(chunk_start), "end": iso_utc(stop),
                     "signal_type": SIGNAL}
            points += self._series("/v3/historical", query, ttl_s=self.history_ttl_s(stop),
                                   forecast=False)
        return merge_points(points, start, end)

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]:
        region = self.region_for(where)
        horizon = max(1, min(int(hours), MAX_HORIZON_H))
        points = self._series("/v3/forecast", {"region": region, "signal_type": SIGNAL,
                                               "horizon_hours": str(horizon)},
                              ttl_s=self.forecast_ttl_s, forecast=True)
        now = self.now()
        return [p for p in points if p.end > now and p.start < now + timedelta(hours=hours)]

    # -- region -------------------------------------------------------------------------
    def region_for(self, where: Location) -> str:
        if self._region:
            return self._region
        coords = coordinates(where)
        if coords is None:
            raise ProviderError(
                f"{self.name}: needs a grid region: set `watttime_region` (e.g. {FREE_REGION}, "
                "the region free accounts can use) or give the location's coordinates")
        body = self._get("/v3/region-from-loc", {
            "latitude": f"{coords[0]:.4f}", "longitude": f"{coords[1]:.4f}",
            "signal_type": SIGNAL}, ttl_s=REGION_TTL_S)
        return Payload(body, provider=self.name, endpoint="/v3/region-from-loc").get(
            "region").text()

    # -- plumbing -----------------------------------------------------------------------
    def _series(self, path: str, query: dict[str, str], *, ttl_s: float,
                forecast: bool) -> list[IntensityPoint]:
        body = Payload(self._get(path, query, ttl_s=ttl_s), provider=self.name, endpoint=path)
        meta = body.get("meta")
        units = meta.get("units")
        if units.text() != UNITS:
            raise units.fail(f"is not {UNITS!r}, the only unit wattprint converts")
        period_field = meta.opt("data_point_period_seconds")
        period = timedelta(seconds=period_field.number() if period_field else 300.0)
        if period <= timedelta(0):
            raise meta.get("data_point_period_seconds").fail("is not a positive duration")
        zone = query["region"]
        points = []
        for item in body.get("data").items():
            start = item.get("point_time").timestamp()
            grams = item.get("value").g_per_kwh(scale=LBS_PER_MWH_TO_G_PER_KWH)
            points.append(IntensityPoint(start=start, end=start + period, g_per_kwh=grams,
                                         kind=self.kind, zone=zone, source=self.name,
                                         forecast=forecast))
        return sorted(points, key=lambda p: p.start)

    def _get(self, path: str, query: dict[str, str], *, ttl_s: float) -> Any:
        url = f"{self._base}{path}"
        # A cache hit needs no token: check before logging in.
        hit = self.http.cached(url, query, ttl_s=ttl_s) if ttl_s > 0 else None
        if hit is not None:
            return hit
        for attempt in (1, 2):
            token = self._bearer(renew=attempt == 2)
            try:
                return self.http.get_json(url, query, ttl_s=ttl_s,
                                          headers={"Authorization": f"Bearer {token}"})
            except HttpError as exc:
                if exc.status == 401 and attempt == 1:
                    continue  # expired early or revoked: log in again, once
                raise self._explain(exc, query) from None
        raise AssertionError("unreachable")

    def _bearer(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or self._monotonic() >= self._token_expires:
                self._token = self._login()
                self._token_expires = self._monotonic() + TOKEN_LIFETIME_S - TOKEN_MARGIN_S
            return self._token

    def _login(self) -> str:
        try:
            body = self.http.get_json(f"{self._base}/login", auth=self._credentials)
        except HttpError as exc:
            if exc.status in (401, 403):
                raise ProviderError(f"{exc} (check `watttime_username` and "
                                    "`watttime_password`)") from None
            raise
        return Payload(body, provider=self.name, endpoint="/login").get("token").text()

    def _explain(self, exc: HttpError, query: dict[str, str]) -> ProviderError:
        if exc.status == 403:
            region = query.get("region", "this region")
            return ProviderError(f"{exc} (free WattTime accounts get full data for "
                                 f"{FREE_REGION} only; {region} needs a subscription)")
        return exc


def factory(*, http: HttpOptions | None = None, username: str | None = None,
            password: str | None = None, region: str | None = None,
            now: Callable[[], datetime] | None = None,
            monotonic: Callable[[], float] = time.monotonic) -> WattTime:
    return WattTime(username=username or "", password=password or "",
                    http=HttpClient("watttime", http), region=region, now=now,
                    monotonic=monotonic)
