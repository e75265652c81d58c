"""Find where the machine is, offline, and record how we know.

Order: explicit config (``country``/``subdivision``) > the OS time zone (``TZ``,
``/etc/timezone``, the ``/etc/localtime`` link) mapped to a country through the IANA
``zone.tab`` > the world average, flagged as a guess in the record, the summary and ``doctor``.
Network-based steps (cloud metadata, IP geolocation) belong to later stages and are opt-in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ..errors import LocationError
from . import Location
from .tables import normalize_country, timezones

__all__ = ["os_timezone", "resolve_location", "DEFAULT_WARNING"]

DEFAULT_WARNING = (
    "location unknown: using the WORLD average carbon intensity, which may be far from your "
    "grid's; set `country` (e.g. `--country FR`, WATTPRINT_COUNTRY=FR or country = \"FR\" in "
    "wattprint.toml)"
)


def os_timezone(environ: Mapping[str, str], etc: Path = Path("/etc")) -> str | None:
    """The IANA name of the OS time zone, or None when it cannot be told offline."""
    tz = environ.get("TZ", "").lstrip(":").strip()
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        text = (etc / "timezone").read_text().strip()
        if text:
            return text
    except OSError:
        pass
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        return None
    # /usr/share/zoneinfo/Europe/Paris on Linux, /var/db/timezone/zoneinfo/... on macOS
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def resolve_location(
    *,
    country: str | None,
    subdivision: str | None,
    environ: Mapping[str, str],
    etc: Path = Path("/etc"),
    source: str = "config",
) -> Location:
    """Resolve a location; an unknown country raises :class:`LocationError` with close matches."""
    if country:
        iso2 = normalize_country(country)
        sub = _normalize_subdivision(iso2, subdivision) if subdivision else None
        return Location(iso2, sub, resolved_by="config", detail=source)
    if subdivision:
        raise LocationError(
            f"subdivision {subdivision!r} was given without a country; set `country` too"
        )
    tz = os_timezone(environ, etc)
    if tz:
        iso2 = timezones().get(tz)
        if iso2:
            return Location(iso2, None, resolved_by="timezone", detail=f"OS time zone {tz}")
    why = f"OS time zone {tz} names no country" if tz else "no OS time zone found"
    return Location(None, None, resolved_by="default", detail=why)


def _normalize_subdivision(iso2: str, subdivision: str) -> str:
    code = subdivision.strip().upper()
    if code.startswith(f"{iso2}-"):
        code = code[len(iso2) + 1 :]
    if not code or not code.replace("-", "").isalnum():
        raise LocationError(
            f"subdivision {subdivision!r} is not a region code; use e.g. CA for California"
        )
    return code
