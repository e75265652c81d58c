"""Where the machine is, in the documented order, with injected detection steps.

``resolve_location`` takes the cloud-metadata and IP-geolocation steps as callables, so every
branch runs here without a network, a DMI table or the real ``/etc``: the OS time zone comes
from ``environ["TZ"]`` or from a fake ``etc`` directory under ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wattprint.config import load_config
from wattprint.errors import LocationError
from wattprint.intensity.locate import locate, os_timezone, resolve_location
from wattprint.sensors import HostPaths


# -- fakes for the two automatic network steps --------------------------------------------
@dataclass(frozen=True)
class Placement:
    cloud: str
    region: str


@dataclass(frozen=True)
class Detection:
    placement: Placement | None
    reason: str = ""


@dataclass(frozen=True)
class IpAnswer:
    country: str
    subdivision: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    source: str = "fake-geoip"


class Calls:
    """A callable that returns (or raises) a fixed answer and counts its calls."""

    def __init__(self, answer: Any = None, *, raises: Exception | None = None) -> None:
        self.answer = answer
        self.raises = raises
        self.count = 0

    def __call__(self) -> Any:
        self.count += 1
        if self.raises is not None:
            raise self.raises
        return self.answer


@pytest.fixture
def empty_etc(tmp_path: Path) -> Path:
    """An /etc with neither timezone nor localtime: the time-zone step finds nothing."""
    etc = tmp_path / "etc-empty"
    etc.mkdir()
    return etc


def resolve(etc: Path, environ: dict[str, str] | None = None, **kwargs: Any):
    kwargs.setdefault("country", None)
    kwargs.setdefault("subdivision", None)
    return resolve_location(environ=environ or {}, etc=etc, **kwargs)


# -- explicit settings --------------------------------------------------------------------
def test_zone_wins_over_cloud_region_and_country(empty_etc: Path) -> None:
    cloud, ip = Calls(Detection(Placement("aws", "eu-west-3"))), Calls(IpAnswer("JP"))
    found = resolve(empty_etc, {"TZ": "Asia/Tokyo"}, zone="us-california", cloud="aws",
                    cloud_region="us-east-1", country="FR", detect_cloud=cloud, locate_ip=ip)
    assert (found.zone, found.country, found.subdivision) == ("US-CA", "US", "CA")
    assert found.resolved_by == "config"
    assert found.cloud is None and found.cloud_region is None  # the region lost to the zone
    assert (cloud.count, ip.count) == (0, 0)  # explicit settings never reach detection


def test_cloud_region_wins_over_country(empty_etc: Path) -> None:
    found = resolve(empty_etc, cloud="aws", cloud_region="us-east-1", country="FR")
    assert (found.country, found.subdivision, found.zone) == ("US", "VA", "US-VA")


def test_cloud_region_fills_country_subdivision_zone_and_coordinates(empty_etc: Path) -> None:
    found = resolve(empty_etc, cloud="AWS", cloud_region="us-east-1a", source="cli")
    # cloud_regions.csv: aws,us-east-1,US East (N. Virginia),US,VA,US-VA,39.04,-77.49
    assert found.country == "US" and found.subdivision == "VA" and found.zone == "US-VA"
    assert (found.lat, found.lon) == (39.04, -77.49)
    assert (found.cloud, found.cloud_region) == ("aws", "us-east-1")  # the AZ trimmed
    assert (found.resolved_by, found.detail) == ("config", "cli")
    assert found.notes == ()


def test_cloud_region_without_a_subdivision_and_explicit_coordinates_win(empty_etc: Path) -> None:
    paris = resolve(empty_etc, cloud="gcp", cloud_region="europe-west9")
    # gcp,europe-west9,Paris,FR,,FR,48.86,2.35
    assert (paris.country, paris.subdivision, paris.zone) == ("FR", None, "FR")
    assert (paris.lat, paris.lon) == (48.86, 2.35)
    mine = resolve(empty_etc, cloud="gcp", cloud_region="europe-west9", lat=48.7, lon=2.2,
                   postcode="75001")
    assert (mine.lat, mine.lon, mine.postcode) == (48.7, 2.2, "75001")


@pytest.mark.parametrize("given", [{"cloud": "gcp"}, {"cloud_region": "europe-west9"}])
def test_only_one_of_cloud_and_cloud_region_is_an_error(empty_etc: Path,
                                                        given: dict[str, str]) -> None:
    with pytest.raises(LocationError, match="give both `cloud` and `cloud_region`"):
        resolve(empty_etc, country="FR", **given)


def test_unknown_cloud_region_suggests_the_close_match(empty_etc: Path) -> None:
    with pytest.raises(LocationError, match="did you mean europe-west9") as info:
        resolve(empty_etc, cloud="gcp", cloud_region="europe-westt9")
    assert info.value.suggestions[0] == "europe-west9"


@pytest.mark.parametrize(("text", "iso2"), [
    ("FR", "FR"), ("fr", "FR"), ("FRA", "FR"), ("deu", "DE"), ("France", "FR"),
    ("united states of america", "US"), ("USA", "US"),
])
def test_country_names_and_iso3_codes_are_normalised(empty_etc: Path, text: str,
                                                     iso2: str) -> None:
    found = resolve(empty_etc, country=text, source="country from argument")
    assert (found.country, found.subdivision, found.zone) == (iso2, None, None)
    assert (found.resolved_by, found.detail) == ("config", "country from argument")


@pytest.mark.parametrize(("text", "code"), [("Virginia", "VA"), ("california", "CA"),
                                            ("US-CA", "CA"), ("va", "VA")])
def test_subdivision_names_become_codes(empty_etc: Path, text: str, code: str) -> None:
    found = resolve(empty_etc, country="United States", subdivision=text)
    assert (found.country, found.subdivision) == ("US", code)


def test_unknown_subdivision_suggests_the_close_match(empty_etc: Path) -> None:
    with pytest.raises(LocationError, match=r"no subdivision 'Califrnia' in US; did you mean "
                                            r"CA \(California\)") as info:
        resolve(empty_etc, country="US", subdivision="Califrnia")
    assert info.value.suggestions == ("CA",)


def test_subdivision_without_country_is_an_error(empty_etc: Path) -> None:
    with pytest.raises(LocationError, match="without a country"):
        resolve(empty_etc, subdivision="CA")


def test_unknown_country_is_an_error_not_a_fallback(empty_etc: Path) -> None:
    with pytest.raises(LocationError, match="did you mean France"):
        resolve(empty_etc, country="Frnace")


# -- cloud instance metadata --------------------------------------------------------------
def test_metadata_placement_is_used_before_the_time_zone(empty_etc: Path) -> None:
    cloud = Calls(Detection(Placement("aws", "eu-west-3"), "found"))
    found = resolve(empty_etc, {"TZ": "Asia/Tokyo"}, detect_cloud=cloud)
    assert found.resolved_by == "cloud-metadata"
    assert (found.country, found.zone, found.cloud, found.cloud_region) == (
        "FR", "FR", "aws", "eu-west-3")
    assert (found.lat, found.lon) == (48.86, 2.35)
    assert found.detail == "aws instance metadata: region eu-west-3"
    assert found.notes == ()
    assert cloud.count == 1


def test_metadata_without_placement_leaves_its_reason_and_falls_to_the_time_zone(
        empty_etc: Path) -> None:
    cloud = Calls(Detection(None, "DMI names no cloud (sys_vendor 'LENOVO')"))
    found = resolve(empty_etc, {"TZ": "Europe/London"}, detect_cloud=cloud)
    assert (found.resolved_by, found.country) == ("timezone", "GB")
    assert found.detail == "OS time zone Europe/London"
    assert found.notes == ("DMI names no cloud (sys_vendor 'LENOVO')",)


def test_metadata_exception_is_a_note_never_a_crash(empty_etc: Path) -> None:
    cloud = Calls(raises=OSError("link-local route blackholed"))
    found = resolve(empty_etc, {"TZ": "Europe/Paris"}, detect_cloud=cloud)
    assert (found.resolved_by, found.country) == ("timezone", "FR")
    assert found.notes == (
        "cloud metadata lookup failed: OSError('link-local route blackholed')",)


def test_metadata_naming_an_unknown_region_is_a_note(empty_etc: Path) -> None:
    cloud = Calls(Detection(Placement("aws", "xx-nowhere-9"), "found"))
    found = resolve(empty_etc, {"TZ": "Europe/Paris"}, detect_cloud=cloud)
    assert (found.resolved_by, found.country, found.cloud) == ("timezone", "FR", None)
    assert len(found.notes) == 1
    assert found.notes[0].startswith(
        "aws metadata named region 'xx-nowhere-9', which the bundled region table lacks")


# -- the OS time zone ---------------------------------------------------------------------
def test_time_zone_from_tz_variable(empty_etc: Path) -> None:
    found = resolve(empty_etc, {"TZ": ":America/New_York"})
    assert (found.country, found.subdivision, found.zone) == ("US", None, None)
    assert (found.resolved_by, found.detail, found.notes) == (
        "timezone", "OS time zone America/New_York", ())


def test_time_zone_from_etc_timezone(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "timezone").write_text("Asia/Tokyo\n")
    # TZ without a region ("UTC") tells nothing: the file is read next
    assert os_timezone({"TZ": "UTC"}, etc) == "Asia/Tokyo"
    found = resolve(etc, {"TZ": "UTC"})
    assert (found.country, found.resolved_by) == ("JP", "timezone")


def test_time_zone_from_the_localtime_symlink(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    # the link need not resolve: only its text is read
    os.symlink("/usr/share/zoneinfo/America/Los_Angeles", etc / "localtime")
    assert os_timezone({}, etc) == "America/Los_Angeles"
    found = resolve(etc)
    assert (found.country, found.detail) == ("US", "OS time zone America/Los_Angeles")


def test_localtime_that_is_not_a_zoneinfo_link_gives_nothing(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    os.symlink("/some/where/else", etc / "localtime")
    assert os_timezone({}, etc) is None


def test_etc_utc_is_not_a_country(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "timezone").write_text("Etc/UTC\n")
    found = resolve(etc)
    assert found.country is None and found.is_default
    assert found.notes == ("OS time zone Etc/UTC names no country",)


# -- IP geolocation (opt in) --------------------------------------------------------------
def test_ip_geolocation_runs_only_when_passed_and_after_the_time_zone(empty_etc: Path) -> None:
    ip = Calls(IpAnswer("DE", lat=52.52, lon=13.4))
    # a time zone that names a country wins: the opt-in step is not even asked
    assert resolve(empty_etc, {"TZ": "Europe/Paris"}, locate_ip=ip).country == "FR"
    assert ip.count == 0
    # no time zone and IP not opted in: the default
    assert resolve(empty_etc).resolved_by == "default"
    # no time zone and opted in: IP answers, with the time zone's failure as a note
    found = resolve(empty_etc, locate_ip=ip)
    assert ip.count == 1
    assert (found.country, found.resolved_by, found.detail) == (
        "DE", "ip", "IP geolocation (fake-geoip)")
    assert (found.lat, found.lon) == (52.52, 13.4)
    assert found.notes == ("no OS time zone found",)


def test_ip_geolocation_normalises_its_answer(empty_etc: Path) -> None:
    found = resolve(empty_etc, locate_ip=Calls(IpAnswer("us", subdivision="California")))
    assert (found.country, found.subdivision) == ("US", "CA")
    odd = resolve(empty_etc, locate_ip=Calls(IpAnswer("US", subdivision="Atlantis")))
    assert (odd.country, odd.subdivision) == ("US", None)
    assert odd.notes == ("no OS time zone found",
                         "IP geolocation's region 'Atlantis' is not in the tables")


def test_ip_geolocation_failure_is_a_note_and_the_default_follows(empty_etc: Path) -> None:
    ip = Calls(raises=LocationError("ipapi.co answered 429"))
    found = resolve(empty_etc, locate_ip=ip)
    assert found.resolved_by == "default" and found.country is None
    assert found.notes == ("no OS time zone found", "IP geolocation failed: ipapi.co answered 429")


def test_default_location_explains_every_failed_step(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "timezone").write_text("Etc/UTC\n")
    found = resolve(etc, detect_cloud=Calls(Detection(None, "not a cloud VM (no DMI tables)")),
                    locate_ip=Calls(raises=TimeoutError("timed out")))
    assert found.resolved_by == "default" and found.is_default
    assert (found.country, found.subdivision, found.zone) == (None, None, None)
    assert found.notes == ("not a cloud VM (no DMI tables)",
                           "OS time zone Etc/UTC names no country",
                           "IP geolocation failed: timed out")
    assert found.detail == "; ".join(found.notes)
    assert found.to_dict()["notes"] == list(found.notes)


# -- locate(config, paths): the wiring of settings to the steps --------------------------
HAS_METADATA = importlib.util.find_spec("wattprint.intensity.cloud_metadata") is not None


def _config(tmp_path: Path, **overrides: Any):
    work = tmp_path / "cfg"
    work.mkdir(exist_ok=True)
    return load_config(overrides, environ={}, cwd=work)


@pytest.mark.skipif(not HAS_METADATA, reason="wattprint.intensity.cloud_metadata is missing")
def test_locate_with_cloud_metadata_off_never_calls_the_metadata_module(
        tmp_path: Path, empty_etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.intensity.cloud_metadata as cloud_metadata

    def forbidden(**kwargs: Any) -> Any:
        raise AssertionError("detect_cloud called although cloud_metadata = false")

    monkeypatch.setattr(cloud_metadata, "detect_cloud", forbidden)
    config = _config(tmp_path, cloud_metadata=False)
    found = locate(config, HostPaths(sys=tmp_path / "sys", etc=empty_etc))
    assert found.resolved_by == "default"
    assert found.notes == ("no OS time zone found",)


@pytest.mark.skipif(not HAS_METADATA, reason="wattprint.intensity.cloud_metadata is missing")
def test_locate_with_cloud_metadata_on_asks_the_module_with_the_host_paths(
        tmp_path: Path, empty_etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.intensity.cloud_metadata as cloud_metadata

    seen: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> Detection:
        seen.append(kwargs)
        return Detection(Placement("gcp", "europe-west9"), "found")

    monkeypatch.setattr(cloud_metadata, "detect_cloud", fake)
    paths = HostPaths(sys=tmp_path / "sys", etc=empty_etc)
    found = locate(_config(tmp_path), paths)
    assert seen == [{"paths": paths, "enabled": True}]
    assert (found.resolved_by, found.cloud, found.cloud_region, found.zone) == (
        "cloud-metadata", "gcp", "europe-west9", "FR")
    # explicit settings never ask the metadata service
    seen.clear()
    explicit = locate(_config(tmp_path, country="DE"), paths)
    assert seen == [] and explicit.country == "DE"
    assert explicit.detail == "country from argument"


def test_locate_reads_the_time_zone_from_the_config_environment(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    work = tmp_path / "cfg"
    work.mkdir()
    config = load_config({"cloud_metadata": False}, environ={"TZ": "Europe/London"}, cwd=work)
    found = locate(config, HostPaths(sys=tmp_path / "sys", etc=etc))
    assert (found.country, found.resolved_by) == ("GB", "timezone")


def test_tz_naming_the_zone_file_is_understood(tmp_path):
    from wattprint.intensity.locate import os_timezone

    assert os_timezone({"TZ": ":/usr/share/zoneinfo/Europe/Berlin"}, tmp_path) == "Europe/Berlin"
