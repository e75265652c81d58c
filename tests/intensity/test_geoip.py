"""Opt-in IP geolocation: a real local server plays the service; nothing leaves 127.0.0.1."""

from __future__ import annotations

import io
from typing import Any

import pytest

from fakes.metadata_server import FakeMetadataServer  # via tests/intensity/conftest.py
from wattprint.errors import LocationError
from wattprint.intensity.geoip import DEFAULT_URL, IpLocation, locate_by_ip


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_default_service_is_ipinfo_over_https() -> None:
    assert DEFAULT_URL == "https://ipinfo.io/json"


def test_ipinfo_shaped_answer() -> None:
    with FakeMetadataServer() as server:
        found = locate_by_ip(url=f"{server.url}/json", timeout_s=2)
    assert found == IpLocation(country="FR", subdivision="Île-de-France", city="Paris",
                               lat=48.8534, lon=2.3488, source="127.0.0.1")
    (seen,) = server.requests
    assert seen.headers["accept"] == "application/json"


def test_separate_latitude_and_longitude_fields() -> None:
    body = {"ip": "192.0.2.7", "city": "Montréal", "region": "Quebec", "country": "ca",
            "latitude": 45.5017, "longitude": -73.5673}
    with FakeMetadataServer(geo_body=body) as server:
        found = locate_by_ip(url=f"{server.url}/json")
    assert (found.country, found.subdivision, found.city) == ("CA", "Quebec", "Montréal")
    assert (found.lat, found.lon) == (45.5017, -73.5673)


def test_answer_without_coordinates_or_region() -> None:
    with FakeMetadataServer(geo_body={"ip": "192.0.2.8", "country": "IS", "region": ""}) as server:
        found = locate_by_ip(url=f"{server.url}/json")
    assert found == IpLocation("IS", None, None, None, None, "127.0.0.1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>rate limit page</html>", "did not answer JSON: b'<html>rate limit page</html>'"),
        ('["FR"]', "answered JSON that is not an object"),
        ({"ip": "192.0.2.9", "city": "Paris"}, "gave no ISO 3166-1 country code (country = None)"),
        ({"country": "France"}, "gave no ISO 3166-1 country code (country = 'France')"),
        ({"country": "FR", "loc": "48.85;2.35"}, "gave malformed coordinates: '48.85;2.35', None"),
        ({"country": "FR", "loc": "148.85,2.35"}, "gave coordinates out of range: 148.85, 2.35"),
        ({"country": "FR", "latitude": "n/a", "longitude": 2.35},
         "gave malformed coordinates: 'n/a', 2.35"),
        ({"error": True, "reason": "RateLimited"}, "reported an error: RateLimited"),
        ({"error": {"title": "Wrong ip", "message": "Please provide a valid IP address"}},
         "reported an error: Please provide a valid IP address"),
        ({"ip": "10.0.0.1", "bogon": True}, "sees a private (bogon) address"),
    ],
)
def test_malformed_payloads_raise_location_error(body: str | dict[str, Any], message: str) -> None:
    with FakeMetadataServer(geo_body=body) as server:
        url = f"{server.url}/json"
        with pytest.raises(LocationError) as raised:
            locate_by_ip(url=url)
    assert str(raised.value).startswith(f"IP geolocation at {url} ")
    assert message in str(raised.value)


def test_rate_limiting_is_named() -> None:
    with FakeMetadataServer(geo_status=429, geo_body={"error": "Too many requests"}) as server:
        url = f"{server.url}/json"
        with pytest.raises(LocationError) as raised:
            locate_by_ip(url=url)
    assert str(raised.value) == (f"IP geolocation at {url} failed: HTTP 429 (rate limited: the "
                                 "free, token-less quota is used up)")


def test_unreachable_service_raises_location_error() -> None:
    with FakeMetadataServer(mode="down") as server:
        url = f"{server.url}/json"
        with pytest.raises(LocationError) as raised:
            locate_by_ip(url=url, timeout_s=1)
    assert str(raised.value).startswith(f"IP geolocation at {url} failed: ")
    assert "refused" in str(raised.value).lower()


def test_slow_service_is_bounded_by_the_timeout() -> None:
    with FakeMetadataServer(mode="slow", delay_s=0.3) as server:
        url = f"{server.url}/json"
        with pytest.raises(LocationError) as raised:
            locate_by_ip(url=url, timeout_s=0.05)
    assert str(raised.value) == f"IP geolocation at {url} did not answer within 0.05 s"


class RecordingOpener:
    """An injected transport: answers from memory and remembers what it was asked."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.seen: list[tuple[str, float]] = []

    def open(self, fullurl: Any, data: None = None, timeout: float = 0.0) -> io.BytesIO:
        self.seen.append((fullurl.full_url, timeout))
        return io.BytesIO(self.body)


def test_an_injected_opener_replaces_the_network() -> None:
    opener = RecordingOpener(b'{"country": "DE", "region": "Bavaria", "loc": "48.13,11.58"}')
    found = locate_by_ip(opener=opener, timeout_s=1.5)
    assert opener.seen == [("https://ipinfo.io/json", 1.5)]
    assert found == IpLocation("DE", "Bavaria", None, 48.13, 11.58, "ipinfo.io")
