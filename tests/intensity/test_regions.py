"""Cloud regions, Google's per-region data, PUE/WUE and embodied defaults, through the loaders."""

from __future__ import annotations

import pytest

from wattprint.errors import IntensityUnavailable, LocationError
from wattprint.intensity import tables


def test_every_region_resolves_to_a_zone_with_a_plausible_intensity() -> None:
    regions = tables.cloud_regions()
    zones = tables.zones()
    assert len(regions) == 183
    for (cloud, region), row in regions.items():
        assert (row.cloud, row.region) == (cloud, region)
        assert row.zone in zones, row
        assert 0 <= zones[row.zone].g_per_kwh <= 1500, row
        assert row.country == zones[row.zone].country, row


def test_no_zone_is_outside_the_plausible_range() -> None:
    values = [z.g_per_kwh for z in tables.zones().values()]
    assert min(values) >= 0 and max(values) <= 1500


@pytest.mark.parametrize(
    ("cloud", "region", "zone"),
    [
        ("aws", "eu-west-3", "FR"),
        ("aws", "us-east-1", "US-VA"),
        ("aws", "ap-south-1", "IN"),
        ("aws", "eu-north-1", "SE-SE3"),
        ("aws", "ca-central-1", "CA-QC"),
        ("aws", "ap-southeast-2", "AU-NSW"),
        ("gcp", "europe-west9", "FR"),
        ("gcp", "europe-north1", "FI"),
        ("gcp", "europe-north2", "SE-SE3"),
        ("gcp", "us-central1", "US-IA"),
        ("azure", "eastus", "US-VA"),
        ("azure", "westeurope", "NL"),
        ("azure", "francecentral", "FR"),
        ("azure", "swedencentral", "SE-SE3"),
        ("azure", "norwaywest", "NO-NO2"),
        ("oci", "eu-stockholm-1", "SE-SE3"),
        ("ovhcloud", "GRA11", "FR"),
        ("scaleway", "pl-waw", "PL"),
    ],
)
def test_resolve_region_gives_the_most_specific_zone(cloud: str, region: str, zone: str) -> None:
    assert tables.resolve_region(cloud, region).zone == zone


def test_region_rows_carry_location_and_source() -> None:
    paris = tables.resolve_region("gcp", "europe-west9")
    assert (paris.name, paris.country, paris.lat, paris.lon) == ("Paris", "FR", 48.86, 2.35)
    assert paris.source == "https://cloud.google.com/compute/docs/regions-zones"
    assert tables.resolve_region("aws", "me-central-1").lat is None  # no public city


@pytest.mark.parametrize(
    ("cloud", "text", "region"),
    [
        ("AWS", "US-EAST-1", "us-east-1"),
        ("amazon", "us-east-1a", "us-east-1"),  # an availability zone names its region
        ("google", "us-central1-b", "us-central1"),
        ("Microsoft Azure", "West Europe", "westeurope"),  # display name
        ("ovh", "gra11", "GRA11"),
        ("scaleway", "fr-par-1", "fr-par"),
    ],
)
def test_resolve_region_accepts_spellings_and_zones(cloud: str, text: str, region: str) -> None:
    assert tables.resolve_region(cloud, text).region == region


def test_region_typo_suggests_the_close_match_and_the_other_cloud() -> None:
    with pytest.raises(LocationError) as info:
        tables.resolve_region("aws", "us-east1")
    assert info.value.suggestions[0] == "us-east-1"
    message = str(info.value)
    assert "did you mean us-east-1 (US East (N. Virginia))" in message
    assert "'us-east1' is a gcp region" in message
    assert "cloud_regions('aws')" in message


def test_unknown_cloud_lists_the_clouds() -> None:
    with pytest.raises(LocationError) as info:
        tables.resolve_region("ibm", "us-south")
    assert info.value.suggestions == tables.CLOUDS
    assert "aws, azure, gcp, oci, ovhcloud, scaleway" in str(info.value)
    with pytest.raises(LocationError) as info:
        tables.cloud_regions("awz")
    assert info.value.suggestions == ("aws",)


def test_cloud_regions_filters_by_cloud() -> None:
    aws = tables.cloud_regions("aws")
    assert len(aws) == 34 and all(cloud == "aws" for cloud, _ in aws)
    assert tables.cloud_regions("aws") is aws  # cached
    assert {cloud for cloud, _ in tables.cloud_regions()} == set(tables.CLOUDS)


def test_gcp_region_intensity_latest_and_by_year() -> None:
    latest = tables.gcp_region_intensity("europe-west9")
    assert (latest.year, latest.g_per_kwh, latest.cfe_share) == (2024, 16.3, 0.96)
    old = tables.gcp_region_intensity("us-central1", 2019)
    assert (old.g_per_kwh, old.cfe_share) == (479.0, 0.78)
    assert "Lifecycle" in old.source and "Lifecycle" not in latest.source
    assert tables.gcp_region_intensity("asia-east2", 2019).cfe_share is None
    assert tables.gcp_region_intensity("us-central1-a").region == "us-central1"


def test_gcp_region_intensity_errors() -> None:
    with pytest.raises(IntensityUnavailable, match="no carbon data for europe-west9 for 2019"):
        tables.gcp_region_intensity("europe-west9", 2019)  # the region opened later
    with pytest.raises(LocationError) as info:
        tables.gcp_region_intensity("europe-west99")
    assert info.value.suggestions


def test_cloud_pue_falls_back_region_then_cloud_then_default() -> None:
    region = tables.cloud_pue("gcp", "us-west1")
    assert (region.cloud, region.region, region.pue, region.year) == ("gcp", "us-west1", 1.11, 2020)
    fleet = tables.cloud_pue("gcp", "europe-west9")  # no per-region PUE published
    assert (fleet.cloud, fleet.region, fleet.pue) == ("gcp", "*", 1.12)
    unknown_site = tables.cloud_pue("scaleway", "fr-par")  # no provider default either
    assert (unknown_site.cloud, unknown_site.region, unknown_site.pue) == ("*", "*", 1.56)
    assert tables.cloud_pue(None) == unknown_site
    assert "uptimeinstitute" in unknown_site.source


def test_cloud_pue_carries_wue_with_its_own_provenance() -> None:
    aws = tables.cloud_pue("aws", "eu-west-3")
    assert (aws.region, aws.pue, aws.wue_l_per_kwh, aws.wue_year) == ("*", 1.2, 0.12, 2025)
    assert aws.year == 2023 and "nutanix" in aws.source and "Amazon" in aws.wue_source
    azure = tables.cloud_pue("azure")
    assert (azure.wue_l_per_kwh, azure.wue_year) == (0.3, 2024)
    gcp = tables.cloud_pue("gcp", "us-west1")
    assert gcp.wue_l_per_kwh is None and gcp.wue_year is None and gcp.wue_source == ""


def test_cloud_pue_rejects_typos_instead_of_falling_back() -> None:
    with pytest.raises(LocationError):
        tables.cloud_pue("gcp", "us-wset1")
    with pytest.raises(LocationError):
        tables.cloud_pue("gpc")


def test_embodied_defaults() -> None:
    defaults = tables.embodied_defaults()
    server, gpu = defaults["server"], defaults["gpu"]
    assert isinstance(server, tables.EmbodiedRow)
    assert (server.kg_co2e, server.lifetime_years, server.year) == (1719.11, 4.0, 2021)
    assert (gpu.kg_co2e, gpu.unit) == (150.0, "kgCO2e per GPU")
    assert defaults["server_base"].kg_co2e == 1000.0
    assert defaults["memory_gb"].kg_co2e == pytest.approx(1.388)
    assert all("Cloud Carbon Footprint" in r.source for r in defaults.values())
    assert tables.embodied_defaults() is defaults
