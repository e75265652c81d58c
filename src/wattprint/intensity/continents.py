"""The continent of a country, for filtering places (``wattprint regions --continent``).

The grouping is the United Nations geoscheme, "Standard country or area codes for statistical
use" (M49), United Nations Statistics Division, https://unstats.un.org/unsd/methodology/m49/ :
its five regions, with the Americas split along M49's own sub-regions (Northern America, Central
America and the Caribbean are North America; South America is South America), and Antarctica.
M49 has no code for Taiwan; it is listed here with Eastern Asia. Cyprus, Türkiye, Israel and the
Gulf states are Western Asia in M49, so "asia" here; the cloud providers' own "Middle East" or
"Europe" groupings are not used, because each provider draws them differently.

A test checks that every country in ``data/countries.csv`` has exactly one continent.
"""

from __future__ import annotations

from functools import cache

from ..errors import LocationError

__all__ = ["CONTINENTS", "continent_of", "normalize_continent"]

# M49 codes by continent, grouped by M49 sub-region (one line each) so a reviewer can check them
# against the UN table.
_MEMBERS = {
    "africa": (
        "DZ EG EH LY MA SD TN "  # Northern Africa
        "BI DJ ER ET IO KE KM MG MU MW MZ RE RW SC SO SS TF TZ UG YT ZM ZW "  # Eastern Africa
        "AO CD CF CG CM GA GQ ST TD "  # Middle Africa
        "BW LS NA SZ ZA "  # Southern Africa
        "BF BJ CI CV GH GM GN GW LR ML MR NE NG SH SL SN TG"  # Western Africa
    ),
    "antarctica": "AQ",
    "asia": (
        "KG KZ TJ TM UZ "  # Central Asia
        "CN HK JP KP KR MN MO TW "  # Eastern Asia (TW: see the module docstring)
        "BN ID KH LA MM MY PH SG TH TL VN "  # South-eastern Asia
        "AF BD BT IN IR LK MV NP PK "  # Southern Asia
        "AE AM AZ BH CY GE IL IQ JO KW LB OM PS QA SA SY TR YE"  # Western Asia
    ),
    "europe": (
        "BG BY CZ HU MD PL RO RU SK UA "  # Eastern Europe
        "AX DK EE FI FO GB GG IE IM IS JE LT LV NO SE SJ "  # Northern Europe
        "AD AL BA ES GI GR HR IT ME MK MT PT RS SI SM VA "  # Southern Europe
        "AT BE CH DE FR LI LU MC NL"  # Western Europe
    ),
    "north-america": (
        "BM CA GL PM US "  # Northern America
        "BZ CR GT HN MX NI PA SV "  # Central America
        "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI"
    ),
    "oceania": (
        "AU CC CX HM NF NZ "  # Australia and New Zealand
        "FJ NC PG SB VU "  # Melanesia
        "FM GU KI MH MP NR PW UM "  # Micronesia
        "AS CK NU PF PN TK TO TV WF WS"  # Polynesia
    ),
    "south-america": "AR BO BR BV CL CO EC FK GF GS GY PE PY SR UY VE",
}

CONTINENTS = tuple(_MEMBERS)

# Other spellings people type; "americas" (M49's own region) means both Americas.
_ALIASES = {
    "northamerica": ("north-america",),
    "southamerica": ("south-america",),
    "america": ("north-america", "south-america"),
    "americas": ("north-america", "south-america"),
    "australia": ("oceania",),
}


@cache
def _continent_by_country() -> dict[str, str]:
    return {iso2: name for name, codes in _MEMBERS.items() for iso2 in codes.split()}


def continent_of(iso2: str) -> str | None:
    """The continent of an ISO 3166 alpha-2 code ("FR" -> "europe"); None for a code the UN
    table has no place for."""
    return _continent_by_country().get(iso2.upper())


def normalize_continent(text: str) -> tuple[str, ...]:
    """The continents a user's spelling means ("North America", "north_america" ->
    ("north-america",); "americas" -> both Americas). Raises
    :class:`~wattprint.errors.LocationError` listing the continents for anything else."""
    from .tables import fold_name

    key = "".join(ch for ch in fold_name(text) if ch.isalpha())
    for name in CONTINENTS:
        if key == name.replace("-", ""):
            return (name,)
    if key in _ALIASES:
        return _ALIASES[key]
    raise LocationError(
        f"unknown continent {text!r}; use one of {', '.join(CONTINENTS)} (UN M49 regions, "
        "with the Americas split into north-america and south-america)",
        suggestions=CONTINENTS,
    )
