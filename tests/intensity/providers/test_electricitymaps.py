"""Electricity Maps v3 against recorded responses."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, utc
from wattprint.errors import ConfigError, ProviderError
from wattprint.intensity import Location
from wattprint.intensity.providers import make_provider
from wattprint.intensity.providers._http import HttpOptions
from wattprint.intensity.providers.electricitymaps import ElectricityMaps, factory, zone_params

KEY = "em-test-key-0001"
DE = Location("DE", resolved_by="config")
LATEST = "/v3/carbon-intensity/latest"
PAST = "/v3/carbon-intensity/past-range"
FORECAST = "/v3/carbon-intensity/forecast"


@pytest.fixture
def em(http: HttpOptions, utcnow: Callable[[], datetime]) -> ElectricityMaps:
    return factory(http=http, api_key=KEY, now=utcnow)


def test_latest(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    value = em.latest(DE)
    assert value.g_per_kwh == 412.0
    assert (value.zone, value.source, value.year) == ("DE", "electricitymaps", 2026)
    assert (value.kind, value.basis, value.scope, value.gases) == (
        "average", "consumption", "lifecycle", "CO2e")
    assert value.live is True and value.note is None
    request = replay.requests[0]
    assert request.url.host == "api.electricitymaps.com"
    assert request.headers["auth-token"] == KEY
    assert dict(request.url.params) == {"zone": "DE", "emissionFactorType": "lifecycle"}


def test_latest_point_covers_the_hour(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    point = em.latest_point(DE)
    assert (point.start, point.end) == (utc("2026-01-01T10:00"), utc("2026-01-01T11:00"))
    assert point.forecast is False and point.kind == "average"


def test_history_is_hourly_in_range_and_aligned(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(PAST, ok("electricitymaps/past_range_DE.json"))
    points = em.history(DE, utc("2025-12-31T06:00"), utc("2025-12-31T09:00"))
    assert [(p.start.hour, p.g_per_kwh) for p in points] == [(6, 461.0), (7, 470.0), (8, 448.0)]
    assert all(p.end - p.start == timedelta(hours=1) and not p.forecast for p in points)
    params = replay.requests[0].url.params
    # a 10-day chunk aligned on the epoch; the end stops at the next hour, never in the future
    assert (params["start"], params["end"]) == ("2025-12-28T00:00:00Z", "2026-01-01T11:00:00Z")
    assert params["temporalGranularity"] == "hourly"


def test_history_of_a_long_range_is_chunked(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(PAST, Reply(200, {"zone": "DE", "data": []}))
    em.history(DE, utc("2025-11-20T00:00"), utc("2025-12-31T00:00"))
    spans = [(r.url.params["start"][:10], r.url.params["end"][:10]) for r in replay.requests]
    assert spans == [("2025-11-18", "2025-11-28"), ("2025-11-28", "2025-12-08"),
                     ("2025-12-08", "2025-12-18"), ("2025-12-18", "2025-12-28"),
                     ("2025-12-28", "2026-01-01")]


def test_history_in_the_future_is_refused(em: ElectricityMaps) -> None:
    with pytest.raises(ProviderError, match="use forecast"):
        em.history(DE, utc("2026-01-02T00:00"), utc("2026-01-02T06:00"))


def test_forecast(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(FORECAST, ok("electricitymaps/forecast_DE.json"))
    points = em.forecast(DE, 3)
    # now is 10:20: the current hour and the next ones up to 13:20
    assert [(p.start.hour, p.g_per_kwh) for p in points] == [
        (10, 405.0), (11, 398.0), (12, 380.0), (13, 371.0)]
    assert all(p.forecast and p.zone == "DE" for p in points)


def test_lookup_uses_history_for_past_windows_and_latest_otherwise(
        em: ElectricityMaps, replay: Replay) -> None:
    replay.add(PAST, ok("electricitymaps/past_range_DE.json"))
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    past = em.lookup(DE, utc("2025-12-31T06:30"), utc("2025-12-31T07:30"))
    assert past.g_per_kwh == pytest.approx((461 + 470) / 2)
    assert past.live is True and past.year == 2025
    now = em.lookup(DE, utc("2026-01-01T10:15"), utc("2026-01-01T10:20"))
    assert now.g_per_kwh == 412.0
    assert replay.paths() == [PAST, LATEST]


def test_the_disk_cache_serves_a_repeat(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    em.latest(DE)
    em.latest(DE)
    assert replay.count(LATEST) == 1


# -- places ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "expected"), [
    (Location("FR"), {"zone": "FR"}),
    (Location("SE", zone="SE-SE3"), {"zone": "SE-SE3"}),
    (Location("US", "CA", zone="US-CAL-CISO"), {"zone": "US-CAL-CISO"}),
    (Location("CA", "ON"), {"zone": "CA-ON"}),
    (Location("AU", "NSW"), {"zone": "AU-NSW"}),
    (Location("DE", "BY"), {"zone": "DE"}),
    (Location("DE", cloud="GCP", cloud_region="europe-west3"),
     {"dataCenterProvider": "gcp", "dataCenterRegion": "europe-west3"}),
])
def test_zone_params(where: Location, expected: dict[str, str]) -> None:
    assert zone_params(where) == expected


def test_coordinates_are_used_when_the_location_has_them() -> None:
    where = Location("FR", resolved_by="config", lat=48.85661, lon=2.35222)
    assert zone_params(where) == {"lat": "48.8566", "lon": "2.3522"}


def test_no_ip_fallback_when_not_querying_by_zone(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    em.latest(Location("DE", cloud="gcp", cloud_region="europe-west3"))
    assert replay.requests[0].url.params["shouldUseFallbackCallerLookup"] == "false"


def test_us_needs_an_explicit_zone() -> None:
    with pytest.raises(ProviderError, match="US states do not map one-to-one.*set `zone`"):
        zone_params(Location("US", "CA"))


def test_an_unknown_location_is_refused() -> None:
    with pytest.raises(ProviderError, match="location is unknown"):
        zone_params(Location(None))


def test_a_split_country_refusal_names_the_zones(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, Reply(404, {"error": "Zone 'SE' does not exist"}))
    with pytest.raises(ProviderError, match=r"does not exist.*SE-SE1 to SE-SE4: set `zone`"):
        em.latest(Location("SE"))


# -- failures -------------------------------------------------------------------------------
def test_a_rejected_key(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(LATEST, Reply(401, recording("electricitymaps/error_401.json")))
    with pytest.raises(ProviderError, match=r"HTTP 401: Token is invalid.*electricitymaps_api_key"):
        em.latest(DE)


def test_a_plan_without_forecasts(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(FORECAST, Reply(403, {"error": "Forbidden"}))
    with pytest.raises(ProviderError, match="plan does not include /carbon-intensity/forecast"):
        em.forecast(DE, 24)


def test_a_missing_key_is_a_config_error(http: HttpOptions) -> None:
    with pytest.raises(ConfigError, match="electricitymaps_api_key"):
        factory(http=http)


def _latest_with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(recording("electricitymaps/latest_DE.json"))
    for key, value in changes.items():
        if value is KeyError:
            del body[key]
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(("changes", "message"), [
    ({"carbonIntensity": KeyError},
     r"field carbonIntensity is missing; received an object with keys \['createdAt', 'datetime'"),
    ({"carbonIntensity": "412"}, r"carbonIntensity is not a number; received '412'"),
    ({"carbonIntensity": None}, r"carbonIntensity is not a number; received None"),
    ({"carbonIntensity": True}, r"carbonIntensity is not a number; received True"),
    ({"carbonIntensity": 4120}, r"carbonIntensity is outside 0-2000 g/kWh; received 4120"),
    ({"carbonIntensity": -1}, r"carbonIntensity is outside 0-2000 g/kWh; received -1"),
    ({"datetime": "yesterday"}, r"datetime is not an ISO 8601 date-time; received 'yesterday'"),
    ({"datetime": "2026-01-01T10:00:00"}, r"datetime has no UTC offset"),
    ({"emissionFactorType": "direct"}, r"emissionFactorType is not the requested 'lifecycle'"),
])
def test_malformed_payloads_name_the_field(em: ElectricityMaps, replay: Replay,
                                           changes: dict[str, Any], message: str) -> None:
    replay.add(LATEST, Reply(200, _latest_with(**changes)))
    with pytest.raises(ProviderError, match="electricitymaps: malformed response from "
                                            "/carbon-intensity/latest: .*" + message):
        em.latest(DE)


def test_a_malformed_series_names_the_item(em: ElectricityMaps, replay: Replay) -> None:
    body = copy.deepcopy(recording("electricitymaps/forecast_DE.json"))
    body["forecast"][2]["carbonIntensity"] = "n/a"
    replay.add(FORECAST, Reply(200, body))
    with pytest.raises(ProviderError, match=r"forecast\[2\]\.carbonIntensity is not a number; "
                                            r"received 'n/a'"):
        em.forecast(DE, 24)


def test_a_payload_of_the_wrong_shape(em: ElectricityMaps, replay: Replay) -> None:
    replay.add(FORECAST, Reply(200, {"zone": "DE", "forecast": {"oops": 1}}))
    with pytest.raises(ProviderError, match="forecast is not a JSON array"):
        em.forecast(DE, 24)


def test_direct_emission_factors_are_labelled(http: HttpOptions, replay: Replay,
                                              utcnow: Callable[[], datetime]) -> None:
    body = _latest_with(emissionFactorType="direct", carbonIntensity=350)
    replay.add(LATEST, Reply(200, body))
    value = factory(http=http, api_key=KEY, emission_factor_type="direct", now=utcnow).latest(DE)
    assert (value.g_per_kwh, value.scope) == (350.0, "direct")
    assert replay.requests[0].url.params["emissionFactorType"] == "direct"


def test_the_registry_builds_it(http: HttpOptions) -> None:
    provider = make_provider("electricitymaps", http=http, api_key=KEY)
    assert isinstance(provider, ElectricityMaps) and provider.kind == "average"
    with pytest.raises(ConfigError, match="unknown intensity provider 'nope'"):
        make_provider("nope")
    with pytest.raises(ConfigError, match="'electricitymaps'.*unexpected keyword.*'postcode'"):
        make_provider("electricitymaps", api_key=KEY, postcode="RG10")
