"""Continents for `regions --continent`: the UN M49 grouping over every bundled country."""

from __future__ import annotations

import pytest

from wattprint.errors import LocationError
from wattprint.intensity import tables
from wattprint.intensity.continents import CONTINENTS, continent_of, normalize_continent


def test_every_bundled_country_has_exactly_one_continent() -> None:
    for iso2 in tables.countries():
        assert continent_of(iso2) in CONTINENTS, iso2
    assert continent_of("XX") is None


@pytest.mark.parametrize(("iso2", "continent"), [
    ("FR", "europe"), ("RU", "europe"), ("US", "north-america"), ("MX", "north-america"),
    ("PR", "north-america"), ("BR", "south-america"), ("ZA", "africa"), ("EG", "africa"),
    ("AU", "oceania"), ("NZ", "oceania"), ("JP", "asia"), ("TW", "asia"),
    ("IL", "asia"), ("AE", "asia"), ("TR", "asia"), ("AQ", "antarctica"), ("fr", "europe"),
])
def test_m49_places_countries_on_their_continent(iso2: str, continent: str) -> None:
    assert continent_of(iso2) == continent


def test_every_cloud_region_is_on_a_continent() -> None:
    by_continent: dict[str | None, int] = {}
    for row in tables.cloud_regions().values():
        key = continent_of(row.country)
        by_continent[key] = by_continent.get(key, 0) + 1
    assert None not in by_continent
    assert set(by_continent) == {"africa", "asia", "europe", "north-america", "oceania",
                                 "south-america"}


@pytest.mark.parametrize(("text", "found"), [
    ("europe", ("europe",)), ("Europe", ("europe",)), ("North America", ("north-america",)),
    ("north_america", ("north-america",)), ("SOUTH-AMERICA", ("south-america",)),
    ("americas", ("north-america", "south-america")), ("Australia", ("oceania",)),
])
def test_continent_spellings(text: str, found: tuple[str, ...]) -> None:
    assert normalize_continent(text) == found


def test_an_unknown_continent_lists_the_known_ones() -> None:
    with pytest.raises(LocationError, match="unknown continent 'atlantis'; use one of africa, "
                                            "antarctica, asia, europe, north-america") as info:
        normalize_continent("atlantis")
    assert info.value.suggestions == CONTINENTS
