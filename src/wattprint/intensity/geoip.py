"""Where is this machine, by its public IP address? Opt-in only.

Asking a third-party service discloses the machine's public IP address to it, so this is never
done by default: the caller (:func:`wattprint.intensity.locate.locate`) calls
:func:`locate_by_ip` only when the user set ``ip_geolocation = true``. This module does not
read that setting itself; it only performs the lookup it is asked for.

The default service is IPinfo's ``https://ipinfo.io/json``: HTTPS on the free plan, usable
without a token "in a more limited capacity" (HTTP 429 past the free limit), and the ``/json``
path forces a JSON answer. Fields used: ``country`` (ISO 3166-1 alpha-2), ``region`` (the
subdivision name, e.g. "California"), ``city`` and ``loc`` ("lat,lon"); a ``bogon`` flag marks
a private address. https://ipinfo.io/developers

Another URL may be given. Coordinates as separate ``latitude``/``longitude`` fields (the shape
ipapi.co's client README shows, with the same ISO2 ``country`` and named ``region``) are
understood too. https://github.com/ipapi-co/ipapi-nodejs
An HTTP 200 answer carrying an ``error`` field is reported as an error, never read as a place.

A failure of any kind (network, HTTP status, malformed payload) raises
:class:`~wattprint.errors.LocationError` with a message that names the URL and what was wrong;
the location chain records it as a note and moves on. Standard library only (``urllib``),
because location runs at tracker start in every install.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any, Protocol

from .._struct import dataclass
from ..errors import LocationError

__all__ = ["DEFAULT_URL", "IpLocation", "Opener", "locate_by_ip"]

DEFAULT_URL = "https://ipinfo.io/json"
_MAX_BODY_BYTES = 64 * 1024  # a location answer is a few hundred bytes


class Opener(Protocol):
    """What :func:`locate_by_ip` needs to send a request (``urllib``'s ``OpenerDirector``)."""

    def open(self, fullurl: urllib.request.Request, data: None = None, timeout: float = ...,
             ) -> Any: ...


@dataclass(frozen=True, slots=True)
class IpLocation:
    """A location guessed from the public IP address; ``source`` is the service's host."""

    country: str  # ISO 3166-1 alpha-2, upper case
    subdivision: str | None
    city: str | None
    lat: float | None
    lon: float | None
    source: str


def locate_by_ip(
    *,
    url: str = DEFAULT_URL,
    timeout_s: float = 2.0,
    opener: Opener | None = None,
) -> IpLocation:
    """Ask an IP geolocation service where this machine's public address is.

    Only call this when the user opted in (``ip_geolocation = true``). Raises
    :class:`~wattprint.errors.LocationError` on any failure or malformed answer.
    """
    # The default opener honours HTTP(S)_PROXY: unlike link-local metadata, this request goes
    # to the public internet, where a corporate proxy may be the only way out.
    opener = opener or urllib.request.build_opener()
    source = urllib.parse.urlsplit(url).hostname or url
    payload = _fetch_json(opener, url, timeout_s)
    return _parse(payload, url, source)


def _fetch_json(opener: Opener, url: str, timeout_s: float) -> dict[str, Any]:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "wattprint"}
    )
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body: bytes = response.read(_MAX_BODY_BYTES)
    except urllib.error.HTTPError as exc:
        exc.close()
        hint = " (rate limited: the free, token-less quota is used up)" if exc.code == 429 else ""
        raise LocationError(f"IP geolocation at {url} failed: HTTP {exc.code}{hint}") from None
    except urllib.error.URLError as exc:
        raise LocationError(f"IP geolocation at {url} failed: {exc.reason}") from None
    except TimeoutError:
        raise LocationError(f"IP geolocation at {url} did not answer within {timeout_s:g} s") \
            from None
    except (OSError, HTTPException) as exc:
        raise LocationError(f"IP geolocation at {url} failed: {exc!r}") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise LocationError(f"IP geolocation at {url} did not answer JSON: {body[:80]!r}") \
            from None
    if not isinstance(data, dict):
        raise LocationError(f"IP geolocation at {url} answered JSON that is not an object: "
                            f"{body[:80]!r}")
    return data


def _parse(data: Mapping[str, Any], url: str, source: str) -> IpLocation:
    _raise_reported_error(data, url)
    country = data.get("country")
    if not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
        raise LocationError(f"IP geolocation at {url} gave no ISO 3166-1 country code "
                            f"(country = {country!r})")
    lat, lon = _coordinates(data, url)
    return IpLocation(
        country=country.upper(),
        subdivision=_text(data, "region"),
        city=_text(data, "city"),
        lat=lat,
        lon=lon,
        source=source,
    )


def _raise_reported_error(data: Mapping[str, Any], url: str) -> None:
    """Services answer some failures with HTTP 200 and an error body; never read those as a
    place."""
    error = data.get("error")
    if error:
        detail = data.get("reason") or data.get("message") or error
        if isinstance(detail, Mapping):
            detail = detail.get("message") or detail.get("title") or detail
        raise LocationError(f"IP geolocation at {url} reported an error: {detail}")
    if data.get("bogon") is True:
        raise LocationError(f"IP geolocation at {url} sees a private (bogon) address, which has "
                            "no location")


def _coordinates(data: Mapping[str, Any], url: str) -> tuple[float | None, float | None]:
    if "loc" in data:  # ipinfo: "48.8534,2.3488"
        parts = str(data["loc"]).split(",")
        raw: tuple[Any, Any] = (parts[0], parts[1]) if len(parts) == 2 else (data["loc"], None)
    elif "latitude" in data or "longitude" in data:
        raw = (data.get("latitude"), data.get("longitude"))
    else:
        return None, None
    try:
        lat, lon = float(raw[0]), float(raw[1])
    except (TypeError, ValueError):
        raise LocationError(f"IP geolocation at {url} gave malformed coordinates: "
                            f"{raw[0]!r}, {raw[1]!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise LocationError(f"IP geolocation at {url} gave coordinates out of range: "
                            f"{lat}, {lon}")
    return lat, lon


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
