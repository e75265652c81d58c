"""The figure a place gets from the bundled tables: a cloud region's own (Google's, for GCP) or
its zone's, and which of a row's two values (the source's own, the lifecycle-comparable one) a
run records. Expected values are read from the tables at test time, except Google's 2024
figures, which issue 9 states."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from wattprint._struct import replace
from wattprint.errors import LocationError
from wattprint.intensity import figures, tables
from wattprint.intensity.bundled import BundledSource
from wattprint.intensity.figures import (
    STALE_AFTER_YEARS,
    ranked_regions,
    region_figure,
    split_source,
    zone_figure,
)
from wattprint.intensity.locate import resolve_location

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]


def where(**settings: str):
    return resolve_location(country=None, subdivision=None, environ={}, **settings)


def lookup(figure: str = "lifecycle", **settings: str):
    return BundledSource(figure=figure).lookup(where(**settings), NOW, NOW)


# -- cloud regions get the best figure for them ----------------------------------------------
@pytest.mark.parametrize(("region", "published_2024"), [("us-east1", 576),
                                                        ("australia-southeast2", 454)])
def test_a_gcp_run_gets_googles_own_region_figure(region: str, published_2024: int) -> None:
    google = tables.gcp_region_intensity(region)  # the latest year Google publishes
    zone = tables.zones()[tables.resolve_region("gcp", region).zone]
    assert (google.year, round(google.g_per_kwh)) == (2024, published_2024)  # issue 9's figures

    native = lookup("native", cloud="gcp", cloud_region=region)
    assert (native.g_per_kwh, native.year, native.zone) == (google.g_per_kwh, 2024, zone.zone)
    assert (native.basis, native.scope, native.gases) == (google.basis, google.scope, "CO2e")
    assert native.source == f"{google.source} for {region}"
    assert native.g_per_kwh != zone.g_per_kwh  # not the zone's figure any more

    comparable = lookup(cloud="gcp", cloud_region=region)
    assert comparable.g_per_kwh == google.comparable_g_per_kwh != zone.comparable_g_per_kwh
    assert (comparable.scope, comparable.gases, comparable.note) == ("lifecycle", "CO2e", None)
    assert split_source(comparable.source) == (native.source, google.comparable_method)


def test_googles_figure_is_direct_from_2021_and_converted_like_the_zone_rows() -> None:
    for by_year in tables._gcp_rows().values():
        for year, row in by_year.items():
            assert row.basis == "consumption" and row.gases == "CO2e", row
            if year <= 2020:  # Google's column says lifecycle
                assert row.scope == "lifecycle" and row.comparable_g_per_kwh == row.g_per_kwh
            else:  # "operational gross emissions": combustion only, converted upwards
                assert row.scope == "direct", row
                assert row.comparable_g_per_kwh >= row.g_per_kwh, row
                assert row.comparable_method.startswith("direct "), row
    newest_zone_year = max(z.year for z in tables.zones().values())
    for by_year in tables._gcp_rows().values():  # the zone table's staleness policy
        for row in by_year.values():
            assert row.stale == (row.year < newest_zone_year - STALE_AFTER_YEARS), row


def test_a_gcp_region_without_google_data_falls_back_to_its_zone_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = tables.gcp_region_intensity
    # As for a region Google has not published yet: the real loader, asked for a missing year.
    monkeypatch.setattr(figures, "gcp_region_intensity", lambda region: real(region, 1990))
    found = lookup(cloud="gcp", cloud_region="us-east1")
    zone = tables.zones()["US-SC"]
    assert (found.zone, found.g_per_kwh) == ("US-SC", zone.comparable_g_per_kwh)
    assert found.note is not None
    assert "Google publishes no carbon data for us-east1 for 1990" in found.note
    assert "the US-SC zone average applies instead" in found.note


@pytest.mark.parametrize(("cloud", "region"), [("aws", "ap-southeast-2"), ("aws", "us-east-1"),
                                               ("azure", "westeurope")])
def test_other_clouds_get_their_zones_figure(cloud: str, region: str) -> None:
    zone = tables.zones()[tables.resolve_region(cloud, region).zone]
    found = lookup(cloud=cloud, cloud_region=region)
    assert (found.zone, found.g_per_kwh, found.year) == (zone.zone, zone.comparable_g_per_kwh,
                                                         zone.year)
    assert split_source(found.source)[0] == zone.source
    native = lookup("native", cloud=cloud, cloud_region=region)
    assert (native.g_per_kwh, native.scope, native.source) == (zone.g_per_kwh, zone.scope,
                                                               zone.source)


# -- which figure a run records ----------------------------------------------------------------
def test_lifecycle_is_the_comparable_figure_and_names_its_conversion() -> None:
    row = next(z for z in tables.zones().values() if z.scope == "direct" and not z.stale
               and not z.flag)  # an eGRID state, say
    found = lookup(zone=row.zone)
    assert (found.g_per_kwh, found.scope, found.gases) == (row.comparable_g_per_kwh, "lifecycle",
                                                           "CO2e")
    assert found.basis == row.basis and found.year == row.year
    assert split_source(found.source) == (row.source, row.comparable_method)
    assert found.note is None

    native = lookup("native", zone=row.zone)
    assert (native.g_per_kwh, native.scope, native.gases, native.source) == (
        row.g_per_kwh, "direct", row.gases, row.source)
    assert split_source(native.source) == (row.source, None)


def test_a_native_lifecycle_row_is_the_same_under_both_figures() -> None:
    fr = tables.zones()["FR"]
    assert fr.comparable_method == "native lifecycle"
    assert lookup(zone="FR") == lookup("native", zone="FR")
    assert lookup(zone="FR").g_per_kwh == fr.g_per_kwh == fr.comparable_g_per_kwh


def test_an_unknown_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="figure must be one of lifecycle, native, not 'market'"):
        BundledSource(figure="market")


# -- stale and doubtful rows -----------------------------------------------------------------
def test_a_stale_row_says_its_year_in_the_note() -> None:
    stale = sorted((z for z in tables.zones().values() if z.stale), key=lambda z: z.zone)
    assert stale, "the policy marks old rows; the table has some"
    row = stale[0]
    for figure in ("lifecycle", "native"):
        note = lookup(figure, zone=row.zone).note
        assert note is not None
        assert (f"the bundled figure for {row.zone} is from {row.year}, stale (more than "
                f"{STALE_AFTER_YEARS} years older") in note


def test_a_flagged_row_says_why_in_the_note_with_any_fallback_note() -> None:
    row = replace(tables.zones()["BH"], flag="implausible for a gas grid", stale=False)
    found = zone_figure(row).intensity("lifecycle", "no bundled data for BH-13: BH average used")
    assert found.note == ("no bundled data for BH-13: BH average used; the bundled figure for BH "
                          "is doubtful: implausible for a gas grid")
    assert zone_figure(replace(row, flag="")).intensity("native").note is None


def test_the_staleness_age_is_the_data_builds() -> None:
    folder = REPO / "tools" / "build_data"
    if "build_data" not in sys.modules:  # tools/ is not on sys.path: load the package by path
        spec = importlib.util.spec_from_file_location(
            "build_data", folder / "__init__.py", submodule_search_locations=[str(folder)])
        assert spec and spec.loader
        package = importlib.util.module_from_spec(spec)
        sys.modules["build_data"] = package
        spec.loader.exec_module(package)
    grid = importlib.import_module("build_data.grid")
    assert grid.STALE_AFTER_YEARS == STALE_AFTER_YEARS


# -- ranking -----------------------------------------------------------------------------------
def test_regions_are_ranked_by_the_comparable_figure_cleanest_first() -> None:
    ranked = ranked_regions()
    assert len(ranked) == len(tables.cloud_regions())
    values = [figure.comparable_g_per_kwh for _, figure, _ in ranked]
    assert values == sorted(values)
    for row, figure, _ in ranked:
        assert figure.year and figure.source and figure.comparable_method, row
        assert figure == region_figure(row.cloud, row.region)[0]
        assert (figure.region != "") == (row.cloud == "gcp")  # every GCP region has Google data
    gcp = ranked_regions("gcp")
    assert [r.region for r, _, _ in gcp] == [r.region for r, _, _ in ranked if r.cloud == "gcp"]


def test_region_figure_rejects_an_unknown_region_with_close_matches() -> None:
    with pytest.raises(LocationError, match="did you mean europe-west9"):
        region_figure("gcp", "europe-westt9")
