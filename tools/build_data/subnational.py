"""Sub-national zones and their names: the sub-national rows of zones.csv, and
subdivisions.csv.

Sub-national zones
    One source per country, each row labelled with what it measures: US states from eGRID2023
    (direct combustion emissions, CO2e), Chinese provinces from MEE 2023 (CO2 only), Nordic
    bidding zones from ENTSO-E generation x lifecycle factors, Canadian provinces and Australian
    states from Green Algorithms (with a stated data year; eco2ai's undated rows are only quoted
    for comparison, and its Russian regions are skipped for want of a year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from wattprint.intensity.tables import fold_name

from .common import (
    CC_BY,
    CODECARBON,
    ECO2AI,
    INTENSITY,
    Table,
    greenalgo_entry,
    load_json,
    read_csv,
    source_entry,
)
from .grid import ZoneEntry


@dataclass(frozen=True)
class SubdivisionEntry:
    """One subdivisions.csv row: a code users may type, its English name and other names."""

    country: str
    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass
class Subnational:
    """Everything the sub-national sources add: zone rows, names, inputs and choices."""

    zones: list[ZoneEntry] = field(default_factory=list)
    names: list[SubdivisionEntry] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, other: Subnational, kind: str) -> None:
        self.zones.extend(other.zones)
        self.names.extend(other.names)
        self.inputs.extend(other.inputs)
        self.choices.extend(other.choices)
        self.kinds[kind] = len(other.zones)

    def counts(self, countries: int) -> dict[str, int]:
        return {"countries": countries, "world": 1, **self.kinds}


# eGRID publishes pounds per MWh; 1 lb = 0.45359237 kg exactly, and kg/MWh = g/kWh.
LB_PER_MWH_TO_G_PER_KWH = 0.45359237
US_PUBLIC_DOMAIN = "US public domain (US EPA)"


def _title(name: str) -> str:
    """ "district of columbia" -> "District of Columbia": eGRID keys are lower-case."""
    small = {"of", "and"}
    words = name.split()
    return " ".join(w if w in small and i else w.capitalize() for i, w in enumerate(words))


def _egrid(raw: Path) -> Subnational:
    doc = load_json(raw / "grid/egrid2023_us_states.json")
    meta, unit = doc["_source"], doc["_unit"]["emissions"]
    if unit != "lbs/MWh":
        raise ValueError(f"eGRID file unit changed to {unit!r}")
    year = int(meta["year"])
    part = Subnational()
    national = None
    for key, entry in sorted(doc.items()):
        if key.startswith("_"):
            continue
        code = str(entry["regionCode"]).upper()
        g_per_kwh = float(entry["emissions"]) * LB_PER_MWH_TO_G_PER_KWH
        if code == "USA":
            national = g_per_kwh
            continue
        name = _title(key)
        part.zones.append(
            ZoneEntry(
                zone=f"US-{code}",
                country="US",
                subdivision=code,
                name=name,
                g_per_kwh=g_per_kwh,
                year=year,
                basis="generation",
                scope="direct",
                gases="CO2e",
                source=(
                    f"US EPA eGRID{year}, state CO2e total output emission rate "
                    f"({meta['field']}, lb/MWh x 0.45359237)"
                ),
                licence=US_PUBLIC_DOMAIN,
            )
        )
        aliases = ("Washington DC", "Washington, D.C.") if code == "DC" else ()
        part.names.append(SubdivisionEntry("US", code, name, aliases))
    part.inputs.append(
        source_entry(
            "US Environmental Protection Agency",
            f"eGRID{year}, state annual CO2e total output emission rate ({meta['field']})",
            str(year),
            US_PUBLIC_DOMAIN,
            str(meta["url"]),
            "grid/egrid2023_us_states.json",
            via=f"{CODECARBON} usa_emissions.json (MIT)",
        )
    )
    part.choices += [
        (
            f"US states + DC ({len(part.zones)} rows): eGRID{year} {meta['field']} in lb/MWh x "
            "0.45359237 = g/kWh. eGRID output emission rates count the emissions of burning fuel "
            "at the plants in the state, per MWh generated there (imports not counted): "
            "scope=direct, basis=generation, not lifecycle, so they run below lifecycle country "
            "values for the same grid."
        ),
        (
            f"eGRID's national rate ({national:.2f} g/kWh, direct) is not used: the US country row "
            "stays Ember's lifecycle value, so the two are not comparable one to one."
        ),
    ]
    return part


# Green Algorithms' own ids that are not ISO 3166-2, or that name a second grid of one state.
GA_CODE_FIXES = {"CA-MT": "CA-MB"}  # Manitoba is MB in ISO 3166-2; MT is no Canadian code
GA_SKIPPED = {
    # Western Australia has two grids; Perth and nearly all of the state's load is on the South
    # West Interconnected System (AU-WA2), so that one stands for AU-WA.
    "AU-WA1": "North Western Interconnected System: AU-WA uses the South West system (Perth)",
    # Northern Territory: the plain row is kept; the Darwin-Katherine row is a sub-grid of it.
    "AU-NT2": "Darwin-Katherine Interconnected System: AU-NT uses Green Algorithms' NT row",
}
GA_ID_OVERRIDES = {"AU-WA2": "AU-WA"}
# Names as ISO 3166-2 spells them where Green Algorithms adds a grid or a word.
GA_NAMES = {
    "CA-YT": ("Yukon", ("Yukon Territory",)),
    "AU-WA": ("Western Australia", ()),
    "AU-ACT": ("Australian Capital Territory", ("ACT",)),
}
_DATA_YEAR = re.compile(r"data from (\d{4})")


def _eco2ai_regions(raw: Path) -> dict[tuple[str, str], float]:
    """eco2ai's undated sub-national values by (ISO2, folded region name), for comparison."""
    out = {}
    for r in read_csv(raw / "grid/eco2ai_carbon_index.csv"):
        if r["region"] != "Whole country" and r["alpha_2_code"] in ("CA", "AU"):
            out[(r["alpha_2_code"], r["region"].strip().casefold())] = float(
                r["Emission intensity, kg/MWh"]
            )
    return out


def _greenalgo_regions(raw: Path) -> Subnational:
    """Canadian provinces and Australian states from Green Algorithms' CI_aggregated.csv."""
    rows = read_csv(raw / "grid/greenalgorithms_ci_aggregated.csv", skip=1)
    eco = _eco2ai_regions(raw)
    part = Subnational()
    kept: dict[str, int] = {"CA": 0, "AU": 0}
    au_increase: list[float] = []
    for r in rows:
        ga_id = r["location"].strip()
        country = ga_id[:2]
        if r["Type"] != "Region" or country not in kept or ga_id in GA_SKIPPED:
            continue
        zone = GA_ID_OVERRIDES.get(ga_id, GA_CODE_FIXES.get(ga_id, ga_id))
        code = zone.split("-", 1)[1]
        found = _DATA_YEAR.search(r["source"])
        if not found:
            raise ValueError(f"Green Algorithms row {ga_id} has no data year: {r['source']!r}")
        ga_name = r["regionName"].strip()
        name, aliases = GA_NAMES.get(zone, (ga_name, ()))
        eco_value = eco.get((country, name.casefold()))
        compared = (
            f"; preferred to eco2ai 0.3.12's undated {eco_value:g} g/kWh"
            if eco_value is not None
            else ""
        )
        part.zones.append(
            ZoneEntry(
                zone=zone,
                country=country,
                subdivision=code,
                name=ga_name,
                g_per_kwh=float(r["carbonIntensity"]),
                year=int(found.group(1)),
                **_GA_LABELS[country],
                source=f"Green Algorithms CI_aggregated.csv, citing {r['source'].strip()}{compared}",
                licence=CC_BY,
            )
        )
        part.names.append(SubdivisionEntry(country, code, name, aliases))
        kept[country] += 1
        if country == "AU" and eco_value:
            au_increase.append(float(r["carbonIntensity"]) / eco_value - 1)
    part.inputs += [
        greenalgo_entry(
            "CI_aggregated.csv (data/latest)", "grid/greenalgorithms_ci_aggregated.csv"
        ),
        source_entry(
            "eco2ai (Sber AI Lab)",
            "carbon_index.csv (comparison only)",
            ECO2AI,
            "Apache-2.0",
            "https://github.com/sb-ai-lab/Eco2AI",
            "grid/eco2ai_carbon_index.csv",
        ),
    ]
    part.choices += [
        (
            f"Canadian provinces and territories ({kept['CA']}) and Australian states and "
            f"territories ({kept['AU']}): Green Algorithms' rows, each with the data year its "
            "source states (2019). eco2ai's rows for the same places carry no year (its package "
            "is of about 2020), so they only serve as a comparison, named in each row's source."
        ),
        (
            "Canada (Canada's 2021 UNFCCC inventory submission, via carbonfootprint.com): "
            "basis=generation, scope=direct. Quebec 1.5 and Manitoba 1.3 g/kWh, for grids that "
            "are almost all hydro, are only possible without lifecycle emissions."
        ),
        (
            "Australia (National Greenhouse Accounts factors, via carbonfootprint.com): "
            "basis=consumption, since the ACT gets the NSW grid's value although it generates "
            "almost nothing; scope=direct+upstream, since every state's value is eco2ai's "
            f"value for it plus {min(au_increase):.0%}-{max(au_increase):.0%}, the pattern of "
            "NGA scope 2 (combustion) plus scope 3 (fuel supply and grid losses) factors next to "
            "scope 2 alone. Green Algorithms does not state the scope; the label is inferred "
            "from that pattern."
        ),
        "Green Algorithms' Manitoba id CA-MT is ISO 3166-2 CA-MB; Yukon Territory is CA-YT Yukon.",
        *(f"Skipped {k}: {why}." for k, why in sorted(GA_SKIPPED.items())),
        (
            "Not used: Green Algorithms' US states (carbonfootprint.com, data from 2020; eGRID2023 "
            "is newer and primary) and its Hong Kong utility rows (HK is a country zone)."
        ),
    ]
    return part


_GA_LABELS = {
    "CA": {"basis": "generation", "scope": "direct", "gases": "CO2e"},
    "AU": {"basis": "consumption", "scope": "direct+upstream", "gases": "CO2e"},
}


def _mee_china(raw: Path) -> Subnational:
    doc = load_json(raw / "grid/mee2023_china_provinces.json")
    meta = doc["metadata"]
    if meta["unit"] != "gCO2/kWh":
        raise ValueError(f"MEE file unit changed to {meta['unit']!r}")
    part = Subnational()
    licence = "Chinese government publication (MEE/NBS)"
    for zone, entry in sorted(doc["data"].items()):
        country, code = zone.split("-", 1)
        name = str(entry["description"])
        part.zones.append(
            ZoneEntry(
                zone=zone,
                country=country,
                subdivision=code,
                name=name,
                g_per_kwh=float(entry["emission_factor"]),
                year=int(entry["year"]),
                basis="consumption",
                scope="direct",
                gases="CO2",
                source=(
                    f"China MEE and NBS, announcement {meta['announcement']} "
                    f"({meta['published']}), provincial average electricity CO2 emission factor"
                ),
                licence=licence,
            )
        )
        aliases = tuple(
            _title(n) for n in entry.get("names", []) if n.casefold() != name.casefold()
        )
        part.names.append(SubdivisionEntry(country, code, name, aliases))
    part.inputs.append(
        source_entry(
            "Ministry of Ecology and Environment and National Bureau of Statistics of China",
            f"announcement {meta['announcement']}: 2023 electricity CO2 emission factors, table 3",
            str(meta["year"]),
            licence,
            str(meta["source_url"]),
            "grid/mee2023_china_provinces.json",
            via=f"{CODECARBON} (MIT)",
        )
    )
    part.choices += [
        (
            f"Chinese provinces ({len(part.zones)} rows): the official {meta['year']} factors "
            "as published, gases=CO2 (CO2 only: no methane or N2O, so not comparable one to one "
            "with CO2e rows), scope=direct (combustion, no lifecycle), basis=consumption (the "
            "factors account for electricity traded between provinces)."
        ),
        f"Not published by MEE, so absent: {meta['not_published']}",
    ]
    return part


# Nord Pool names each bidding zone after a city; those and the region names are aliases.
NORDIC_NAMES = {
    "SE1": ("Luleå / North Sweden", ("Luleå", "North Sweden", "Northern Sweden")),
    "SE2": ("Sundsvall / North-central Sweden", ("Sundsvall", "North-central Sweden")),
    "SE3": ("Stockholm / South-central Sweden", ("Stockholm", "South-central Sweden")),
    "SE4": ("Malmö / South Sweden", ("Malmö", "South Sweden", "Southern Sweden")),
    "NO1": ("Oslo / East Norway", ("Oslo", "East Norway", "Eastern Norway")),
    "NO2": ("Kristiansand / South Norway", ("Kristiansand", "South Norway", "Southern Norway")),
    "NO3": ("Trondheim / Central Norway", ("Trondheim", "Molde", "Central Norway")),
    "NO4": ("Tromsø / North Norway", ("Tromsø", "North Norway", "Northern Norway")),
    "NO5": ("Bergen / West Norway", ("Bergen", "West Norway", "Western Norway")),
}


def _nordic(raw: Path) -> Subnational:
    doc = load_json(raw / "grid/entsoe2025_nordic_bidding_zones.json")
    meta = doc["metadata"]
    part = Subnational()
    licence = "MIT (CodeCarbon 3.3.2); derived from ENTSO-E Transparency Platform data"
    for code, entry in sorted(doc["data"].items()):
        if code not in NORDIC_NAMES:
            continue  # FI: see the choices
        country = code[:2]
        name, aliases = NORDIC_NAMES[code]
        part.zones.append(
            ZoneEntry(
                zone=f"{country}-{code}",
                country=country,
                subdivision=code,
                name=str(entry["description"]),
                g_per_kwh=float(entry["emission_factor"]),
                year=int(entry["year"]),
                basis="generation",
                scope="lifecycle",
                gases="CO2e",
                source=(
                    f"ENTSO-E actual generation per type (A75) {entry['year']} x lifecycle factors "
                    f"per source (derived by Khepri v1.3, via CodeCarbon 3.3.2); coverage "
                    f"{str(entry['coverage']).split(' ', 1)[0]}"
                ),
                licence=licence,
            )
        )
        part.names.append(SubdivisionEntry(country, code, name, aliases))
    part.inputs.append(
        source_entry(
            "ENTSO-E Transparency Platform (generation); Khepri v1.3 (derivation)",
            "Nordic bidding-zone intensity from actual generation per production type (A75)",
            f"full year 2025, updated {meta['last_updated']}",
            licence,
            "https://doi.org/10.5281/zenodo.22285397",
            "grid/entsoe2025_nordic_bidding_zones.json",
            via=f"{CODECARBON} (MIT)",
        )
    )
    finland = doc["data"].get("FI", {})
    part.choices += [
        (
            f"Nordic bidding zones ({len(part.zones)} rows, SE1-SE4, NO1-NO5): generation-weighted "
            "mix x per-source lifecycle factors, basis=generation, scope=lifecycle. Types without "
            "a factor count as 0, so where coverage is low (SE4: 85% of generation covered) the "
            "value is a lower bound; NO4's gas share moves it from year to year."
        ),
        (
            f"FI stays the Ember country value: the file's FI {finland.get('emission_factor')} "
            "g/kWh is marked 'prior value, unchanged', with no method or year of its own."
        ),
    ]
    return part


def _skipped_regions(raw: Path) -> list[str]:
    """Sub-national rows with a permissive licence that are left out, and why."""
    by_country: dict[str, int] = {}
    for r in read_csv(raw / "grid/eco2ai_carbon_index.csv"):
        if r["region"] != "Whole country":
            by_country[r["country"]] = by_country.get(r["country"], 0) + 1
    listed = ", ".join(f"{c} {n}" for c, n in sorted(by_country.items()))
    return [
        (
            f"Skipped eco2ai 0.3.12's sub-national rows ({listed}): no row carries a year (the "
            "package dates them only as about 2020), so none can be bundled with an honest year. "
            "The Russian regions have no other source here; their country row applies."
        )
    ]


def build_subnational(raw: Path) -> Subnational:
    sub = Subnational()
    sub.add(_egrid(raw), "us_states")
    sub.add(_greenalgo_regions(raw), "ca_au_regions")
    sub.add(_mee_china(raw), "cn_provinces")
    sub.add(_nordic(raw), "nordic_bidding_zones")
    sub.choices += _skipped_regions(raw)
    return sub


def build_subdivisions(sub: Subnational, iso: dict[str, str]) -> Table:
    """subdivisions.csv: the names users may type for each sub-national zone."""
    rows = []
    for entry in sub.names:
        if entry.country not in iso:
            raise ValueError(f"subdivision {entry.code} of unknown country {entry.country}")
        rows.append((entry.country, entry.code, entry.name, ";".join(entry.aliases)))
    _check_names_unique(sub.names)
    return Table(
        path=f"{INTENSITY}/subdivisions.csv",
        header=("country", "code", "name", "aliases"),
        rows=sorted(rows),
        description=(
            "Codes and English names of every sub-national zone, so that a place can be given "
            "as 'US'+'California' as well as US-CA. `aliases` are other names, ';'-separated."
        ),
        inputs=[
            source_entry(
                "wattprint",
                "names from each zone's source (eGRID, Green Algorithms, MEE, Nord Pool city names)",
                "see zones.csv",
                "see zones.csv",
                "",
                "zones.csv sources",
            )
        ],
        choices=[
            (
                "Codes are the ISO 3166-2 subdivision codes without the country prefix (CA, QC, "
                "NSW, BJ); Nordic bidding zones keep their market codes (SE1-SE4, NO1-NO5)."
            ),
            "Names and aliases are unique within a country once case and accents are ignored.",
        ],
    )


def _check_names_unique(entries: Iterable[SubdivisionEntry]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for e in entries:
        for text in (e.code, e.name, *e.aliases):
            key = (e.country, fold_name(text))
            if seen.get(key, e.code) != e.code:
                raise ValueError(f"{e.country}: {text!r} names both {seen[key]} and {e.code}")
            seen[key] = e.code

