"""`wattprint regions` ranked by the comparable figure, and `wattprint intensity` with its basis,
in-process (the autouse ``isolated_env`` fixture clears WATTPRINT_* and points HOME at a
temporary directory). Expected values are read from the bundled tables at test time."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.intensity import tables
from wattprint.intensity.continents import continent_of

ROW_KEYS = {"rank", "ranked_by", "cloud", "region", "name", "country", "subdivision",
            "continent", "zone", "figure_from", "g_per_kwh", "intensity_figure", "basis",
            "scope", "gases", "comparable_g_per_kwh", "comparable_method", "published", "year",
            "source", "licence", "stale", "flag", "note"}


def regions_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["regions", *argv, "--json"]) == 0
    rows: list[dict] = json.loads(capsys.readouterr().out)
    return rows


def intensity_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["intensity", *argv, "--json"]) == 0
    data: dict = json.loads(capsys.readouterr().out)
    return data


# -- regions --------------------------------------------------------------------------------
def test_regions_json_is_ranked_and_every_row_has_basis_year_and_source(capsys) -> None:
    rows = regions_json(capsys)
    assert len(rows) == len(tables.cloud_regions())
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    values = [r["comparable_g_per_kwh"] for r in rows]
    assert values == sorted(values)  # cleanest first
    for r in rows:
        assert set(r) == ROW_KEYS, r
        assert r["ranked_by"].startswith("comparable_g_per_kwh (lifecycle CO2e")
        assert r["basis"] in ("generation", "consumption") and r["scope"] and r["gases"], r
        assert isinstance(r["year"], int) and r["source"] and r["licence"], r
        assert r["continent"] == continent_of(r["country"]), r
        # the default figure: a run there records the comparable one
        assert r["g_per_kwh"] == r["comparable_g_per_kwh"] and r["scope"] == "lifecycle", r
    # the order is not the published figures' (their bases differ), nor the names'
    assert [r["region"] for r in rows] != sorted(r["region"] for r in rows)


def test_a_gcp_region_row_shows_googles_figure_and_others_their_zone(capsys) -> None:
    rows = {(r["cloud"], r["region"]): r for r in regions_json(capsys)}
    east1 = rows[("gcp", "us-east1")]
    google = tables.gcp_region_intensity("us-east1")
    assert (east1["figure_from"], east1["zone"], east1["year"]) == ("gcp us-east1", "US-SC",
                                                                    google.year)
    assert east1["published"] == {"g_per_kwh": google.g_per_kwh, "basis": "consumption",
                                  "scope": "direct", "gases": "CO2e"}
    assert east1["comparable_g_per_kwh"] == google.comparable_g_per_kwh
    sydney = rows[("aws", "ap-southeast-2")]
    zone = tables.zones()["AU-NSW"]
    assert (sydney["figure_from"], sydney["year"], sydney["source"]) == (
        "zone AU-NSW", zone.year, zone.source)
    assert sydney["published"]["g_per_kwh"] == zone.g_per_kwh
    assert (sydney["stale"], sydney["flag"]) == (zone.stale, zone.flag or None)


def test_native_figure_shows_what_a_run_would_record_but_keeps_the_ranking(capsys) -> None:
    lifecycle = regions_json(capsys, "--cloud", "aws")
    native = regions_json(capsys, "--cloud", "aws", "--intensity-figure", "native")
    assert [r["region"] for r in native] == [r["region"] for r in lifecycle]
    for r in native:
        assert r["g_per_kwh"] == r["published"]["g_per_kwh"], r
        assert r["scope"] == r["published"]["scope"] and r["intensity_figure"] == "native", r


@pytest.mark.parametrize(("argv", "expected"), [
    (("--cloud", "azure"), lambda row: row.cloud == "azure"),
    (("--continent", "europe"), lambda row: continent_of(row.country) == "europe"),
    (("--continent", "Oceania", "--cloud", "aws"),
     lambda row: row.cloud == "aws" and continent_of(row.country) == "oceania"),
    (("--continent", "americas"),
     lambda row: continent_of(row.country) in ("north-america", "south-america")),
    (("--country", "Japan", "--cloud", "gcp"), lambda row: (row.cloud, row.country) == ("gcp",
                                                                                        "JP")),
])
def test_filters_by_provider_continent_and_country(capsys, argv, expected) -> None:
    rows = regions_json(capsys, *argv)
    wanted = {key for key, row in tables.cloud_regions().items() if expected(row)}
    assert rows and {(r["cloud"], r["region"]) for r in rows} == wanted
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))


def test_an_unknown_continent_exits_2_listing_the_continents(capsys) -> None:
    assert main(["regions", "--continent", "atlantis"]) == 2
    err = capsys.readouterr().err
    assert "unknown continent 'atlantis'; use one of africa, antarctica, asia" in err


def test_regions_text_says_what_it_is_ranked_by_and_marks_stale_rows(capsys) -> None:
    rows = regions_json(capsys)
    assert main(["regions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Ranked by the lifecycle-comparable gCO2e/kWh")
    assert "cleanest first" in out[0]
    header = out[2].split()
    assert header[:8] == ["rank", "cloud", "region", "compare", "published", "year", "check",
                          "from"]
    table = [line.split() for line in out[3:] if line[:4].strip().isdigit()]
    assert [(line[1], line[2]) for line in table] == [(r["cloud"], r["region"]) for r in rows]
    for line, r in zip(table, rows, strict=True):
        assert line[7].startswith("stale") == r["stale"], line  # the check column
    stale = {f"{r['zone']} {r['year']}" for r in rows if r["stale"]}
    assert stale, "the bundled regions include stale rows (Canada's 2019 figures)"
    (legend,) = [line for line in out if line.startswith("stale: ")]
    assert all(zone_year in legend for zone_year in stale)
    doubtful = {r["zone"] for r in rows if r["flag"]}
    assert {line.split()[3].rstrip(":") for line in out if line.startswith("?: ")} == doubtful


# -- intensity ------------------------------------------------------------------------------
@pytest.mark.parametrize(("cloud", "region"), [("gcp", "us-east1"), ("aws", "ap-southeast-2")])
def test_intensity_for_issue_9s_regions_gives_the_current_figure_and_its_basis(
        capsys, cloud: str, region: str) -> None:
    data = intensity_json(capsys, "--cloud", cloud, "--cloud-region", region)
    zone_id = tables.resolve_region(cloud, region).zone
    if cloud == "gcp":  # Google's own, latest year
        row = tables.gcp_region_intensity(region)
        source, expected_from = f"{row.source} for {region}", f"gcp {region}"
    else:
        row = tables.zones()[zone_id]  # type: ignore[assignment]
        source, expected_from = row.source, f"zone {zone_id}"
    assert (data["zone"], data["year"], data["figure_from"]) == (zone_id, row.year,
                                                                 expected_from)
    assert data["g_per_kwh"] == row.comparable_g_per_kwh == data["comparable_g_per_kwh"]
    assert (data["scope"], data["gases"], data["intensity_figure"]) == ("lifecycle", "CO2e",
                                                                        "lifecycle")
    assert data["published"] == {"g_per_kwh": row.g_per_kwh, "basis": row.basis,
                                 "scope": row.scope, "gases": row.gases}
    assert data["comparable_method"] == row.comparable_method
    assert data["source"].startswith(source)
    assert data["stale"] is row.stale
    assert (data["note"] is not None and str(row.year) in data["note"]) is row.stale
    assert row.year >= 2024 and not row.stale  # current: Google's 2024, NGA 2024 for NSW


def test_intensity_text_names_the_figure_and_its_conversion(capsys) -> None:
    assert main(["intensity", "--cloud", "gcp", "--cloud-region", "us-east1"]) == 0
    out = capsys.readouterr().out
    google = tables.gcp_region_intensity("us-east1")
    assert out.startswith(f"{google.comparable_g_per_kwh:.1f} gCO2e/kWh for gcp us-east1 (grid "
                          "zone US-SC) (average, lifecycle, CO2e, consumption basis)")
    assert "  figure    the lifecycle-comparable one, as a run records it (intensity_figure = " \
           "lifecycle, from default)" in out
    assert f"  published {google.g_per_kwh:.1f} gCO2e/kWh, direct, CO2e, consumption basis " \
           "(Google figure)" in out
    assert f"  compare   {google.comparable_g_per_kwh:.1f} gCO2e/kWh lifecycle-comparable: " \
           f"{google.comparable_method}" in out


def test_intensity_native_figure_and_a_stale_row(capsys) -> None:
    stale = sorted(z for z, row in tables.zones().items() if row.stale)
    row = tables.zones()[stale[0]]
    data = intensity_json(capsys, "--zone", row.zone, "--intensity-figure", "native")
    assert (data["g_per_kwh"], data["scope"], data["source"]) == (row.g_per_kwh, row.scope,
                                                                  row.source)
    assert data["stale"] is True and str(row.year) in data["note"]
    assert main(["intensity", "--zone", row.zone]) == 0
    out = capsys.readouterr().out
    assert f"  STALE     the {row.year} figure is more than 4 years older than the newest " \
           "bundled figures" in out


def test_intensity_figure_setting_comes_from_the_environment_too(capsys, monkeypatch) -> None:
    monkeypatch.setenv("WATTPRINT_INTENSITY_FIGURE", "native")
    us_va = tables.zones()["US-VA"]
    data = intensity_json(capsys, "--zone", "US-VA")
    assert (data["g_per_kwh"], data["intensity_figure"]) == (us_va.g_per_kwh, "native")
    monkeypatch.setenv("WATTPRINT_INTENSITY_FIGURE", "market")
    assert main(["intensity", "--zone", "US-VA"]) == 2
    assert "intensity_figure = 'market' is not allowed; expected lifecycle or native" in (
        capsys.readouterr().err)
