"""UK NESO Carbon Intensity API against recorded responses: national and postcode regional."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, utc
from wattprint.errors import ConfigError, ProviderError
from wattprint.intensity import Location
from wattprint.intensity.live import hourly_history
from wattprint.intensity.providers._http import HttpOptions
from wattprint.intensity.providers.neso import Neso, factory, outward_code

GB = Location("GB", resolved_by="config")


@pytest.fixture
def national(http: HttpOptions, utcnow: Callable[[], datetime]) -> Neso:
    return factory(http=http, now=utcnow)


@pytest.fixture
def regional(http: HttpOptions, utcnow: Callable[[], datetime]) -> Neso:
    return factory(http=http, postcode="rg10 9xx", now=utcnow)


def test_national_latest_prefers_the_measured_value(national: Neso, replay: Replay) -> None:
    replay.add("/intensity", ok("neso/intensity.json"))
    value = national.latest(GB)
    assert value.g_per_kwh == 176.0  # actual, not the 182 forecast
    assert (value.zone, value.source, value.kind, value.live) == ("GB", "neso", "average", True)
    # the API counts generation CO2 only: not lifecycle, not CO2e
    assert (value.scope, value.gases, value.basis) == ("direct", "CO2", "consumption")
    request = replay.requests[0]
    assert str(request.url) == "https://api.carbonintensity.org.uk/intensity"
    assert "auth-token" not in request.headers and "Authorization" not in request.headers


def test_national_latest_without_actual_uses_the_forecast(national: Neso,
                                                          replay: Replay) -> None:
    body = copy.deepcopy(recording("neso/intensity.json"))
    body["data"][0]["intensity"]["actual"] = None
    replay.add("/intensity", Reply(200, body))
    point = national.latest_point(GB)
    assert (point.g_per_kwh, point.forecast) == (182.0, True)
    assert (point.start, point.end) == (utc("2026-01-01T10:00"), utc("2026-01-01T10:30"))


def test_regional_latest_by_postcode(regional: Neso, replay: Replay) -> None:
    replay.add("/regional/postcode/RG10", ok("neso/regional_postcode_RG10.json"))
    value = regional.latest(GB)
    assert value.g_per_kwh == 143.0
    assert value.zone == "GB:South England"
    assert replay.paths() == ["/regional/postcode/RG10"]
    assert regional.latest_point(GB).forecast is True  # regional values are forecasts only


def test_regional_forecast_48h(regional: Neso, replay: Replay) -> None:
    path = "/regional/intensity/2026-01-01T10:00Z/fw48h/postcode/RG10"
    replay.add(path, ok("neso/regional_fw48h_RG10.json"))
    points = regional.forecast(GB, 1)
    # now is 10:20: the periods overlapping [10:20, 11:20)
    assert [(p.start.strftime("%H:%M"), p.g_per_kwh) for p in points] == [
        ("10:00", 143.0), ("10:30", 139.0), ("11:00", 131.0)]
    assert all(p.forecast and p.zone == "GB:South England" for p in points)
    assert all(p.end - p.start == timedelta(minutes=30) for p in points)


def test_national_forecast_uses_forecasts_even_where_actuals_exist(national: Neso,
                                                                   replay: Replay) -> None:
    replay.add("/intensity/2026-01-01T10:00Z/fw48h", ok("neso/intensity_fw48h.json"))
    points = national.forecast(GB, 48)
    assert [p.g_per_kwh for p in points] == [182.0, 179.0, 171.0, 160.0]
    assert all(p.forecast for p in points)


def test_national_history_and_hourly_means(national: Neso, replay: Replay) -> None:
    path = "/intensity/2025-12-18T00:00Z/2026-01-01T00:00Z"  # 14-day chunk aligned on the epoch
    replay.add(path, ok("neso/intensity_range.json"))
    points = national.history(GB, utc("2025-12-31T06:00"), utc("2025-12-31T08:00"))
    assert [(p.g_per_kwh, p.forecast) for p in points] == [
        (144.0, False), (152.0, False), (168.0, False), (181.0, True)]  # last: no actual yet
    hours = hourly_history(national, GB, utc("2025-12-31T06:00"), utc("2025-12-31T08:00"))
    assert [(h.start.hour, h.g_per_kwh, h.forecast) for h in hours] == [
        (6, 148.0, False), (7, 174.5, True)]
    assert replay.count(path) == 1  # the second call was served from the disk cache


def test_regional_history_uses_the_postcode_range(regional: Neso, replay: Replay) -> None:
    # the current chunk stops at the end of the current half hour
    path = "/regional/intensity/2026-01-01T00:00Z/2026-01-01T10:30Z/postcode/RG10"
    replay.add(path, ok("neso/regional_fw48h_RG10.json"))
    points = regional.history(GB, utc("2026-01-01T10:00"), utc("2026-01-01T10:30"))
    assert [(p.g_per_kwh, p.zone) for p in points] == [(143.0, "GB:South England")]


@pytest.mark.parametrize(("where", "message"), [
    (Location("FR"), "Great Britain only.*this location is FR"),
    (Location(None), "this location is unknown"),
    (Location("GB", "NIR"), "Northern Ireland"),
])
def test_outside_great_britain(national: Neso, replay: Replay, where: Location,
                               message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        national.latest(where)
    assert replay.requests == []


@pytest.mark.parametrize(("postcode", "outward"), [
    ("RG10", "RG10"), ("rg10 9xx", "RG10"), ("SW1A 1AA", "SW1A"), ("SW1A1AA", "SW1A"),
    (" e1 ", "E1"), ("M15", "M15"), ("EC1A 1BB", "EC1A"),
])
def test_outward_code(postcode: str, outward: str) -> None:
    assert outward_code(postcode) == outward


@pytest.mark.parametrize("postcode", ["", "12345", "LONDON", "RG10 9XX EXTRA"])
def test_a_bad_postcode_is_a_config_error(postcode: str) -> None:
    with pytest.raises(ConfigError, match="not a UK postcode"):
        outward_code(postcode)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b["data"][0]["intensity"].pop("forecast"),
     r"field data\[0\]\.intensity\.forecast is missing"),
    (lambda b: b["data"][0]["intensity"].update(actual=-3),
     r"data\[0\]\.intensity\.actual is outside 0-2000 g/kWh; received -3"),
    (lambda b: b["data"][0].update(to="2026-01-01T09:30Z"),
     r"data\[0\]\.to is not after 'from'; received '2026-01-01T09:30Z'"),
    (lambda b: b.update(data="none"), r"data is not a JSON array; received 'none'"),
])
def test_malformed_payloads_name_the_field(national: Neso, replay: Replay,
                                           mutate: Callable[[dict[str, Any]], None],
                                           message: str) -> None:
    body = copy.deepcopy(recording("neso/intensity.json"))
    mutate(body)
    replay.add("/intensity", Reply(200, body))
    with pytest.raises(ProviderError, match=r"neso: malformed response from /intensity: "
                                            + message):
        national.latest(GB)


def test_a_regional_payload_without_region(regional: Neso, replay: Replay) -> None:
    replay.add("/regional/postcode/RG10", Reply(200, {"data": []}))
    with pytest.raises(ProviderError, match="returned no region"):
        regional.latest(GB)
