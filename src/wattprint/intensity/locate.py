"""Find where the machine is and record how we know.

Order, first answer wins:

1. explicit settings: ``zone``, ``cloud`` + ``cloud_region``, ``country`` (+ ``subdivision``),
   with ``lat``/``lon`` and ``postcode`` kept for live providers;
2. cloud instance metadata (AWS IMDSv2, GCP, Azure) — only when the DMI tables say this is a
   cloud VM, with short timeouts; off with ``cloud_metadata = false``;
3. the OS time zone (``TZ``, ``/etc/timezone``, the ``/etc/localtime`` link) -> country through
   the IANA ``zone.tab``, offline;
4. IP geolocation, only with ``ip_geolocation = true``;
5. the world average, flagged as a guess in the record, the summary and ``doctor``.

Unknown countries, subdivisions, zones and regions raise :class:`LocationError` with close
matches; failed automatic steps leave a note instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import LocationError
from . import Location
from .tables import (
    normalize_country,
    normalize_subdivision,
    normalize_zone,
    resolve_region,
    timezones,
    zones,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    CloudDetector = Callable[..., Any]
    IpLocator = Callable[..., Any]
    from ..config import Config
    from ..host import HostPaths

__all__ = ["DEFAULT_WARNING", "locate", "os_timezone", "resolve_location"]

DEFAULT_WARNING = (
    "location unknown: using the WORLD average carbon intensity, which may be far from your "
    "grid's; set `country` (e.g. `--country FR`, WATTPRINT_COUNTRY=FR or country = \"FR\" in "
    "wattprint.toml)"
)



def os_timezone(environ: Mapping[str, str], etc: Path = Path("/etc")) -> str | None:
    """The IANA name of the OS time zone, or None when it cannot be told offline."""
    marker = "zoneinfo/"  # /usr/share/zoneinfo/Europe/Paris; /var/db/timezone/zoneinfo/... on macOS
    tz = environ.get("TZ", "").lstrip(":").strip()
    if tz.startswith("/") and marker in tz:  # TZ may name the zone file itself
        return tz.split(marker, 1)[1]
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
    return target.split(marker, 1)[1] if marker in target else None


def _from_zone(zone_text: str, detail: str) -> Location:
    zone = normalize_zone(zone_text)
    row = zones()[zone]
    return Location(row.country or None, row.subdivision or None, resolved_by="config",
                    detail=detail, zone=zone)


def _from_region(cloud: str, region: str, resolved_by: str, detail: str) -> Location:
    row = resolve_region(cloud, region)
    return Location(row.country, row.subdivision or None, resolved_by=resolved_by,
                    detail=detail, zone=row.zone, cloud=row.cloud, cloud_region=row.region,
                    lat=row.lat, lon=row.lon)


def resolve_location(
    *,
    country: str | None,
    subdivision: str | None,
    environ: Mapping[str, str],
    etc: Path = Path("/etc"),
    source: str = "config",
    zone: str | None = None,
    cloud: str | None = None,
    cloud_region: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    postcode: str | None = None,
    detect_cloud: Callable[[], Any] | None = None,
    locate_ip: Callable[[], Any] | None = None,
) -> Location:
    """Resolve a location (see the module docstring for the order)."""
    if zone:
        return _with(_from_zone(zone, source), lat=lat, lon=lon, postcode=postcode)
    if cloud or cloud_region:
        if not (cloud and cloud_region):
            raise LocationError("give both `cloud` and `cloud_region`, e.g. --cloud gcp "
                                "--cloud-region europe-west9")
        found = _from_region(cloud, cloud_region, "config", source)
        return _with(found, lat=lat, lon=lon, postcode=postcode)
    if country:
        iso2 = normalize_country(country)
        sub = normalize_subdivision(iso2, subdivision) if subdivision else None
        return Location(iso2, sub, resolved_by="config", detail=source, lat=lat, lon=lon,
                        postcode=postcode)
    if subdivision:
        raise LocationError(
            f"subdivision {subdivision!r} was given without a country; set `country` too"
        )
    notes: list[str] = []
    if detect_cloud is not None:
        found_cloud = _try_cloud(detect_cloud, notes)
        if found_cloud is not None:
            return _with(found_cloud, notes=tuple(notes), lat=lat, lon=lon, postcode=postcode)
    tz = os_timezone(environ, etc)
    tz_country = timezones().get(tz) if tz else None
    if tz_country:
        return Location(tz_country, None, resolved_by="timezone", detail=f"OS time zone {tz}",
                        notes=tuple(notes), lat=lat, lon=lon, postcode=postcode)
    notes.append(f"OS time zone {tz} names no country" if tz else "no OS time zone found")
    if locate_ip is not None:
        found_ip = _try_ip(locate_ip, notes)
        if found_ip is not None:
            return _with(found_ip, notes=tuple(notes), lat=lat, lon=lon, postcode=postcode)
    return Location(None, None, resolved_by="default", detail="; ".join(notes),
                    notes=tuple(notes), lat=lat, lon=lon, postcode=postcode)


def _with(location: Location, **changes: Any) -> Location:
    from .._struct import replace

    return replace(location, **{k: v for k, v in changes.items() if v is not None})


def _try_cloud(detect_cloud: Callable[[], Any], notes: list[str]) -> Location | None:
    try:
        detection = detect_cloud()
    except Exception as exc:  # detection is best effort; it must never stop the run
        notes.append(f"cloud metadata lookup failed: {exc!r}")
        return None
    placement = getattr(detection, "placement", None)
    if placement is None:
        reason = getattr(detection, "reason", "")
        if reason:
            notes.append(reason)
        return None
    detail = f"{placement.cloud} instance metadata: region {placement.region}"
    instance_type = getattr(placement, "instance_type", None)
    if instance_type:
        detail += f", instance type {instance_type}"
    try:
        found = _from_region(placement.cloud, placement.region, "cloud-metadata", detail)
        return _with(found, instance_type=instance_type)
    except LocationError as exc:
        notes.append(f"{placement.cloud} metadata named region {placement.region!r}, which the "
                     f"bundled region table lacks ({exc})")
        return None


def _try_ip(locate_ip: Callable[[], Any], notes: list[str]) -> Location | None:
    try:
        found = locate_ip()
        iso2 = normalize_country(found.country)
    except Exception as exc:
        notes.append(f"IP geolocation failed: {exc}")
        return None
    sub = None
    if found.subdivision:
        try:
            sub = normalize_subdivision(iso2, found.subdivision)
        except LocationError:
            notes.append(f"IP geolocation's region {found.subdivision!r} is not in the tables")
    return Location(iso2, sub, resolved_by="ip", detail=f"IP geolocation ({found.source})",
                    lat=found.lat, lon=found.lon)


def locate(config: Config, paths: HostPaths) -> Location:
    """The location for a run from the effective settings, with the opt-in network steps wired
    to the real cloud-metadata and IP-geolocation clients."""

    def cloud() -> Any:
        from .cloud_metadata import detect_cloud

        return detect_cloud(paths=paths, enabled=config.cloud_metadata)

    def ip() -> Any:
        from .geoip import locate_by_ip

        return locate_by_ip()

    return resolve_location(
        country=config.country, subdivision=config.subdivision, environ=config.environ,
        etc=paths.etc, source=_explicit_source(config), zone=config.zone, cloud=config.cloud,
        cloud_region=config.cloud_region, lat=config.lat, lon=config.lon,
        postcode=config.postcode, detect_cloud=cloud if config.cloud_metadata else None,
        locate_ip=ip if config.ip_geolocation else None,
    )


def _explicit_source(config: Config) -> str:
    for key in ("zone", "cloud_region", "country"):
        if getattr(config, key):
            return f"{key} from {config.source_of(key)}"
    return "config"
