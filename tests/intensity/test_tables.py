"""The intensity loaders over the committed tables: values, lookups and country names."""

from __future__ import annotations

import pytest

from wattprint.errors import LocationError
from wattprint.intensity import tables


def test_zone_rows_carry_values_and_provenance() -> None:
    zones = tables.zones()
    fr, de = zones["FR"], zones["DE"]
    assert isinstance(fr, tables.ZoneRow)
    assert 0 < fr.g_per_kwh < 150  # nuclear and hydro
    assert de.g_per_kwh > 200  # coal and gas still in the mix
    assert (fr.country, fr.subdivision, fr.name) == ("FR", "", "France")
    assert fr.basis == "generation" and fr.scope == "lifecycle" and fr.gases == "CO2e"
    assert "Ember" in fr.source and fr.licence == "CC BY 4.0"
    assert 2020 <= fr.year <= 2030


def test_zone_rows_carry_a_comparable_figure_staleness_and_flag() -> None:
    zones = tables.zones()
    fr, ca = zones["FR"], zones["US-CA"]
    assert tables.comparable(fr) == fr.comparable_g_per_kwh == fr.g_per_kwh  # lifecycle already
    assert fr.comparable_method == "native lifecycle" and fr.stale is False and fr.flag == ""
    assert ca.scope == "direct" and tables.comparable(ca) > ca.g_per_kwh  # direct, converted up
    assert ca.comparable_method.startswith("direct x ")
    assert tables.zone("US-CA") == ca  # the one-row reader parses the same columns
    assert zones["EH"].stale is True


def test_world_row() -> None:
    world = tables.zones()["WORLD"]
    assert world.g_per_kwh == pytest.approx(454.86)  # over the country rows the table ships
    assert world.country == "" and world.year == 2025


def test_countries_and_timezones() -> None:
    assert tables.countries()["DE"] == tables.CountryRow("DE", "DEU", "Germany")
    tz = tables.timezones()
    assert tz["Europe/Paris"] == "FR"
    assert tz["America/New_York"] == "US"
    assert tz["Asia/Calcutta"] == "IN"  # backward-compatible alias
    assert "Etc/UTC" not in tz and "UTC" not in tz


def test_equivalents() -> None:
    eq = tables.equivalents()
    car = eq["car_eu_km"]
    assert (car.value, car.unit, car.year) == (175.0, "gCO2/km", 2019)
    assert "Green Algorithms" in car.source and car.description
    assert eq["tree_year"].value == 11000.0


def test_tables_are_cached() -> None:
    assert tables.zones() is tables.zones()
    assert tables.timezones() is tables.timezones()


@pytest.mark.parametrize(
    ("text", "iso2"),
    [
        ("fr", "FR"),
        ("FRA", "FR"),
        ("France", "FR"),
        ("germany", "DE"),
        ("  DEU ", "DE"),
        ("United Kingdom", "GB"),
        ("Britain (UK)", "GB"),
        ("UK", "GB"),
        ("south korea", "KR"),
        ("Cote d'Ivoire", "CI"),
        ("Côte d’Ivoire", "CI"),
        ("na", "NA"),  # Namibia, not a missing value
    ],
)
def test_normalize_country_accepts_codes_and_names(text: str, iso2: str) -> None:
    assert tables.normalize_country(text) == iso2


def test_unknown_country_suggests_close_matches() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_country("Frnace")
    assert "FR" in info.value.suggestions
    message = str(info.value)
    assert "France (FR)" in message and "ISO 3166" in message


def test_unknown_code_without_matches_still_says_what_to_do() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_country("")
    assert info.value.suggestions == ()
    assert "such as FR" in str(info.value)


def test_one_zone_read_alone_equals_the_whole_tables_row() -> None:
    from wattprint.intensity import tables

    tables.zones.cache_clear()
    alone = {z: tables.zone(z) for z in ("FR", "US-CA", "WORLD", "AE", "nowhere")}
    assert tables.zones.cache_info().currsize == 0  # read without building the table
    table = tables.zones()
    for zone_id, row in alone.items():
        assert row == table.get(zone_id)
        assert tables.zone(zone_id) == table.get(zone_id)  # and from the loaded table
    assert alone["nowhere"] is None and alone["FR"] is not None
