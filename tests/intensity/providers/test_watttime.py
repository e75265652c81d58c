"""WattTime v3 against recorded responses: login, MOER units, marginal kind, plan limits."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, utc
from wattprint.errors import ConfigError, ProviderError
from wattprint.intensity import Location
from wattprint.intensity.live import hourly_history
from wattprint.intensity.providers._http import HttpOptions
from wattprint.intensity.providers.watttime import LBS_PER_MWH_TO_G_PER_KWH, WattTime, factory

US = Location("US", "CA", resolved_by="config")
TOKEN = recording("watttime/login.json")["token"]
LOGIN, FORECAST, HISTORICAL = "/login", "/v3/forecast", "/v3/historical"


def g(lbs_per_mwh: float) -> float:
    return lbs_per_mwh * 0.45359237


@pytest.fixture
def wt(http: HttpOptions, utcnow: Callable[[], datetime], clock: Any) -> WattTime:
    return factory(http=http, username="ada", password="s3cret-pw", region="CAISO_NORTH",
                   now=utcnow, monotonic=clock)


@pytest.fixture
def uncached(http: HttpOptions, utcnow: Callable[[], datetime], clock: Any) -> WattTime:
    return factory(http=replace(http, cache_dir=None), username="ada", password="s3cret-pw",
                   region="CAISO_NORTH", now=utcnow, monotonic=clock)


def test_the_conversion_factor() -> None:
    # 1 lb = 453.59237 g, 1 MWh = 1000 kWh
    assert LBS_PER_MWH_TO_G_PER_KWH == pytest.approx(0.45359237, rel=0, abs=1e-15)


def test_latest_is_the_current_moer_in_g_per_kwh(wt: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    value = wt.latest(US)
    assert value.g_per_kwh == pytest.approx(g(870.0), rel=1e-12)  # 394.6253619 g/kWh
    assert value.g_per_kwh == pytest.approx(394.6253619, rel=1e-9)
    assert (value.kind, value.scope, value.gases, value.basis) == (
        "marginal", "direct", "CO2", "generation")
    assert (value.zone, value.source, value.live) == ("CAISO_NORTH", "watttime", True)
    login, forecast = replay.requests
    expected = base64.b64encode(b"ada:s3cret-pw").decode()
    assert login.headers["Authorization"] == f"Basic {expected}"
    assert forecast.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(forecast.url.params) == {"region": "CAISO_NORTH", "signal_type": "co2_moer",
                                         "horizon_hours": "1"}


def test_latest_point_is_the_five_minutes_covering_now(wt: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    point = wt.latest_point(US)
    assert (point.start, point.end) == (utc("2026-01-01T10:20"), utc("2026-01-01T10:25"))


def test_forecast_points(wt: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    points = wt.forecast(US, 1)
    assert len(points) == 12 and all(p.forecast and p.kind == "marginal" for p in points)
    assert [round(p.g_per_kwh, 6) for p in points[:3]] == [
        round(g(870.0), 6), round(g(882.0), 6), round(g(879.5), 6)]
    assert replay.requests[-1].url.params["horizon_hours"] == "1"


def test_history_and_the_hourly_mean(wt: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(HISTORICAL, ok("watttime/historical_CAISO_NORTH.json"))
    hours = hourly_history(wt, US, utc("2025-12-31T06:10"), utc("2025-12-31T06:50"))
    assert len(hours) == 1
    hour = hours[0]
    # six points at 1000 and six at 800 lbs/MWh; the 07:00 point (inclusive end) is outside
    assert hour.g_per_kwh == pytest.approx(g(900.0), rel=1e-12)
    assert (hour.start, hour.end, hour.kind) == (utc("2025-12-31T06:00"),
                                                 utc("2025-12-31T07:00"), "marginal")
    params = replay.requests[-1].url.params
    assert (params["start"], params["end"]) == ("2025-12-08T00:00:00Z", "2026-01-01T10:20:00Z")
    # once on disk, a re-score needs no network (and no login)
    before = len(replay.requests)
    assert hourly_history(wt, US, utc("2025-12-31T06:10"), utc("2025-12-31T06:50")) == hours
    assert len(replay.requests) == before


# -- the bearer token -----------------------------------------------------------------------
def test_the_token_is_reused_while_valid(uncached: WattTime, replay: Replay,
                                         clock: Any) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    uncached.latest(US)
    clock.advance(20 * 60)
    uncached.latest(US)
    assert replay.paths() == [LOGIN, FORECAST, FORECAST]


def test_the_token_is_renewed_before_it_expires(uncached: WattTime, replay: Replay,
                                                clock: Any) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    uncached.latest(US)
    clock.advance(26 * 60)  # tokens live 30 min; renewed 5 min early
    uncached.latest(US)
    assert replay.paths() == [LOGIN, FORECAST, LOGIN, FORECAST]


def test_a_401_logs_in_again_once(uncached: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, Reply(401, {"error": "token expired"}),
               ok("watttime/forecast_CAISO_NORTH.json"))
    assert uncached.latest(US).g_per_kwh == pytest.approx(g(870.0))
    assert replay.paths() == [LOGIN, FORECAST, LOGIN, FORECAST]


def test_a_second_401_is_reported(uncached: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, Reply(401, {"error": "token expired"}))
    with pytest.raises(ProviderError, match="HTTP 401: token expired"):
        uncached.latest(US)
    assert replay.count(LOGIN) == 2


def test_bad_credentials(uncached: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, Reply(403, {"error": "Invalid credentials"}))
    with pytest.raises(ProviderError, match=r"/login answered HTTP 403: Invalid credentials "
                                            r"\(check `watttime_username`"):
        uncached.latest(US)


def test_the_password_never_reaches_the_cache(wt: WattTime, replay: Replay,
                                              cache_dir: Any) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    wt.latest(US)
    for path in cache_dir.rglob("*"):
        text = path.read_text() if path.is_file() else ""
        assert "s3cret-pw" not in text + path.name and TOKEN not in text + path.name


# -- plan limits and regions ----------------------------------------------------------------
def test_a_region_outside_the_plan(http: HttpOptions, replay: Replay,
                                   utcnow: Callable[[], datetime]) -> None:
    provider = factory(http=http, username="ada", password="pw", region="PJM_DC", now=utcnow)
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, Reply(403, recording("watttime/forbidden_403.json")))
    with pytest.raises(ProviderError) as info:
        provider.latest(US)
    message = str(info.value)
    assert "HTTP 403: Unauthorized: This account does not have access to region PJM_DC" in message
    assert "free WattTime accounts get full data for CAISO_NORTH only; PJM_DC needs a " \
           "subscription" in message


def test_the_region_from_coordinates(http: HttpOptions, replay: Replay,
                                     utcnow: Callable[[], datetime]) -> None:
    provider = factory(http=http, username="ada", password="pw", now=utcnow)
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add("/v3/region-from-loc", ok("watttime/region_from_loc.json"))
    replay.add(FORECAST, ok("watttime/forecast_CAISO_NORTH.json"))
    where = Location("US", "CA", resolved_by="config", lat=38.58157, lon=-121.4944)
    assert provider.latest(where).zone == "CAISO_NORTH"
    params = replay.requests[1].url.params
    assert (params["latitude"], params["longitude"], params["signal_type"]) == (
        "38.5816", "-121.4944", "co2_moer")
    assert replay.requests[2].url.params["region"] == "CAISO_NORTH"


def test_no_region_and_no_coordinates(http: HttpOptions, replay: Replay) -> None:
    provider = factory(http=http, username="ada", password="pw")
    with pytest.raises(ProviderError, match="set `watttime_region`"):
        provider.latest(US)
    assert replay.requests == []


def test_credentials_are_required(http: HttpOptions) -> None:
    with pytest.raises(ConfigError, match="watttime_username"):
        factory(http=http, username="ada")


# -- malformed payloads ---------------------------------------------------------------------
def _forecast_with(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(recording("watttime/forecast_CAISO_NORTH.json"))
    mutate(body)
    return body


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b["meta"].update(units="kg_co2_per_mwh"),
     r"meta\.units is not 'lbs_co2_per_mwh'.*received 'kg_co2_per_mwh'"),
    (lambda b: b["meta"].pop("units"), r"field meta\.units is missing"),
    (lambda b: b.pop("data"), r"field data is missing; received an object with keys \['meta'\]"),
    (lambda b: b["data"][0].update(value="870"), r"data\[0\]\.value is not a number"),
    (lambda b: b["data"][0].update(value=5000.0),
     (r"data\[0\]\.value is outside 0-2000 g/kWh \(2267\.96 g/kWh after conversion\); "
      r"received 5000\.0")),
    (lambda b: b["data"][1].pop("point_time"), r"field data\[1\]\.point_time is missing"),
    (lambda b: b["meta"].update(data_point_period_seconds=0),
     r"meta\.data_point_period_seconds is not a positive duration"),
])
def test_malformed_payloads_name_the_field(uncached: WattTime, replay: Replay,
                                           mutate: Callable[[dict[str, Any]], None],
                                           message: str) -> None:
    replay.add(LOGIN, ok("watttime/login.json"))
    replay.add(FORECAST, Reply(200, _forecast_with(mutate)))
    with pytest.raises(ProviderError, match=r"watttime: malformed response from /v3/forecast: "
                                            + message):
        uncached.latest(US)


def test_a_login_without_token(uncached: WattTime, replay: Replay) -> None:
    replay.add(LOGIN, Reply(200, {"ok": True}))
    with pytest.raises(ProviderError, match=r"/login: field token is missing"):
        uncached.latest(US)
