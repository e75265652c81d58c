"""Sub-national zones and the names that reach them: values, labels and error guidance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattprint.errors import LocationError
from wattprint.intensity import tables

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "reference-data"


def test_us_states_are_egrid_direct_emissions() -> None:
    ca = tables.zones()["US-CA"]
    assert (ca.country, ca.subdivision, ca.name) == ("US", "CA", "California")
    assert ca.g_per_kwh == pytest.approx(179.06)
    assert (ca.year, ca.basis, ca.scope, ca.gases) == (2023, "generation", "direct", "CO2e")
    assert "eGRID2023" in ca.source and "public domain" in ca.licence
    states = [z for z in tables.zones().values() if z.country == "US" and z.subdivision]
    assert len(states) == 51 and all(z.scope == "direct" for z in states)


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_us_ca_matches_the_raw_egrid_file() -> None:
    doc = json.loads((RAW / "grid/egrid2023_us_states.json").read_text(encoding="utf-8"))
    expected = doc["california"]["emissions"] * 0.45359237  # lb/MWh -> g/kWh
    assert tables.zones()["US-CA"].g_per_kwh == round(expected, 2)


def test_chinese_provinces_are_labelled_co2_only() -> None:
    provinces = {z: r for z, r in tables.zones().items() if r.country == "CN" and r.subdivision}
    assert len(provinces) == 30 and "CN-XZ" not in provinces  # Tibet is not published
    assert all(r.gases == "CO2" and r.scope == "direct" for r in provinces.values())
    assert provinces["CN-BJ"].g_per_kwh == pytest.approx(555.4)
    assert provinces["CN-BJ"].year == 2023
    assert tables.zones()["CN"].gases == "CO2e"  # the country row stays Ember's


def test_nordic_bidding_zones_and_finland() -> None:
    zones = tables.zones()
    se3 = zones["SE-SE3"]
    assert (se3.country, se3.subdivision, se3.year, se3.scope) == ("SE", "SE3", 2025, "lifecycle")
    # The published 27.0 counted 5.42 % 'Other' (biomass and waste CHP) at 0; completed at 230.
    assert se3.g_per_kwh == pytest.approx(27.0 + 0.0542 * 230, abs=0.01)
    assert zones["NO-NO4"].g_per_kwh == pytest.approx(51.7 + 0.0135 * 38, abs=0.01)
    assert "coverage 85.05%" in zones["SE-SE4"].source
    assert "published 24.7 g/kWh" in zones["SE-SE4"].source
    assert zones["FI"].g_per_kwh == pytest.approx(57.47)  # Ember's, not the file's 72
    assert "FI-FI" not in zones


def test_canada_comes_from_green_algorithms_with_its_year_and_is_stale() -> None:
    zones = tables.zones()
    qc, mb = zones["CA-QC"], zones["CA-MB"]
    assert (qc.g_per_kwh, qc.year, qc.scope) == (1.5, 2019, "direct")
    assert mb.g_per_kwh == 1.3  # Green Algorithms' "CA-MT"
    assert "eco2ai" in qc.source and "Green Algorithms" in qc.source
    canada = [z for z in zones.values() if z.country == "CA" and z.subdivision]
    assert len(canada) == 13 and all(z.stale for z in canada)
    assert "coal" in zones["CA-AB"].flag


def test_australia_comes_from_nga_2024_with_both_scopes() -> None:
    zones = tables.zones()
    nsw, vic, wa = zones["AU-NSW"], zones["AU-VIC"], zones["AU-WA"]
    assert (nsw.g_per_kwh, nsw.year) == (700.0, 2024)  # 0.66 scope 2 + 0.04 scope 3 kg/kWh
    assert vic.g_per_kwh == 860.0  # 0.77 + 0.09
    assert "scope 2 660 + scope 3 40" in nsw.source and "National Greenhouse Accounts" in nsw.source
    assert wa.g_per_kwh == 570.0 and "South West" in wa.name
    assert (wa.basis, wa.scope, wa.licence) == ("consumption", "direct+upstream", "CC BY 4.0")
    assert zones["AU-ACT"].g_per_kwh == zones["AU-NSW"].g_per_kwh
    assert not any(z.stale for z in zones.values() if z.country == "AU")


def test_subdivisions_lists_codes_and_names() -> None:
    assert tables.subdivisions("US")["CA"] == "California"
    assert tables.subdivisions("Canada")["QC"] == "Quebec"
    assert tables.subdivisions("SE")["SE1"] == "Luleå / North Sweden"
    assert len(tables.subdivisions("US")) == 51
    assert tables.subdivisions("FR") == {}


@pytest.mark.parametrize(
    ("country", "text", "code"),
    [
        ("US", "california", "CA"),
        ("US", "CA", "CA"),
        ("US", "us-ca", "CA"),
        ("United States", "Washington DC", "DC"),
        ("CA", "Québec", "QC"),
        ("CA", "quebec", "QC"),
        ("CA", "Yukon Territory", "YT"),
        ("AU", "nsw", "NSW"),
        ("AU", "Western Australia", "WA"),
        ("CN", "nei mongol", "NM"),
        ("SE", "stockholm", "SE3"),
        ("SE", "Lulea", "SE1"),
        ("NO", "bergen", "NO5"),
    ],
)
def test_normalize_subdivision_accepts_codes_names_and_aliases(
    country: str, text: str, code: str
) -> None:
    assert tables.normalize_subdivision(country, text) == code


def test_subdivision_typo_suggests_the_close_match() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_subdivision("US", "Califronia")
    assert info.value.suggestions[0] == "CA"
    assert str(info.value).startswith(
        "no subdivision 'Califronia' in US; did you mean CA (California)"
    )
    assert "subdivisions('US')" in str(info.value)


def test_subdivision_of_a_country_without_data_says_what_to_do() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_subdivision("FR", "IDF")
    assert info.value.suggestions == ()
    assert "no sub-national data for France" in str(info.value)
    assert "country average" in str(info.value)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("us-ca", "US-CA"),
        ("US-California", "US-CA"),
        ("France", "FR"),
        ("fr", "FR"),
        ("world", "WORLD"),
        ("SE-SE3", "SE-SE3"),
        ("SE3", "SE-SE3"),
        ("Stockholm", "SE-SE3"),
        ("Quebec", "CA-QC"),
        ("Guinea-Bissau", "GW"),  # a hyphenated country, not country-subdivision
        ("Georgia", "GE"),  # the country wins over the US state
        ("US-GA", "US-GA"),
    ],
)
def test_normalize_zone(text: str, zone: str) -> None:
    assert tables.normalize_zone(text) == zone


def test_normalize_zone_reports_ambiguity_and_typos() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_zone("NT")  # Northern Territory (AU) and Northwest Territories (CA)
    assert info.value.suggestions == ("AU-NT", "CA-NT")
    assert "give the country too" in str(info.value)
    with pytest.raises(LocationError) as info:
        tables.normalize_zone("US-Califrnia")
    assert "US-CA" in info.value.suggestions
    assert "US-CA, SE-SE3" in str(info.value)  # says what a zone id looks like


def test_normalize_zone_for_a_country_without_a_row_says_so() -> None:
    with pytest.raises(LocationError) as info:
        tables.normalize_zone("AQ")
    assert info.value.suggestions == ("WORLD",)
    assert "Antarctica (AQ) has no zone of its own" in str(info.value)
