"""Sub-national zones and their names: the sub-national rows of zones.csv, and
subdivisions.csv.

Sub-national zones
    One source per country, each row labelled with what it measures: US states from eGRID2023
    (direct combustion emissions, CO2e), Chinese provinces from MEE 2023 (CO2 only), Nordic
    bidding zones from ENTSO-E generation x lifecycle factors (completed where the derivation
    left generation without a factor), Australian states and territories from the Australian
    Government's National Greenhouse Accounts Factors 2024 (scope 2 + scope 3), Canadian
    provinces from Green Algorithms (2019: no newer official provincial figures under an open
    licence are among the inputs, so they are kept and come out stale; eco2ai's undated rows are
    only quoted for comparison, and its Russian regions are skipped for want of a year).

    Sources that also publish a national direct figure (eGRID, NGA) record it as an
    :class:`Anchor`, which :mod:`comparable` calibrates the lifecycle-comparable figure with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from wattprint._lazy_re import lazy_re
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


@dataclass(frozen=True)
class Anchor:
    """A source's own national direct figure (g/kWh), for calibrating its sub-national rows."""

    national_direct_g: float
    label: str  # "eGRID2023 US direct 349.70"


@dataclass
class Subnational:
    """Everything the sub-national sources add: zone rows, names, inputs and choices."""

    zones: list[ZoneEntry] = field(default_factory=list)
    names: list[SubdivisionEntry] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    anchors: dict[str, Anchor] = field(default_factory=dict)  # by country
    # The direct (combustion) part of rows whose value includes more (NGA scope 2 of 2 + 3).
    direct_parts: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add(self, other: Subnational, kind: str) -> None:
        self.zones.extend(other.zones)
        self.names.extend(other.names)
        self.inputs.extend(other.inputs)
        self.choices.extend(other.choices)
        self.anchors.update(other.anchors)
        self.direct_parts.update(other.direct_parts)
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
    if national is None:
        raise ValueError("eGRID file has no national (USA) row")
    part.choices += [
        (
            f"US states + DC ({len(part.zones)} rows): eGRID{year} {meta['field']} in lb/MWh x "
            "0.45359237 = g/kWh. eGRID output emission rates count the emissions of burning fuel "
            "at the plants in the state, per MWh generated there (imports not counted): "
            "scope=direct, basis=generation, not lifecycle, so they run below lifecycle country "
            "values for the same grid."
        ),
        (
            f"eGRID's national rate ({national:.2f} g/kWh, direct) is not a zone: the US country "
            "row stays Ember's lifecycle value. It calibrates the states' comparable figure."
        ),
    ]
    part.anchors["US"] = Anchor(national, f"eGRID{year} US direct {national:.2f}")
    return part


# Green Algorithms' own ids that are not ISO 3166-2.
GA_CODE_FIXES = {"CA-MT": "CA-MB"}  # Manitoba is MB in ISO 3166-2; MT is no Canadian code
# Names as ISO 3166-2 spells them where Green Algorithms adds a word.
GA_NAMES = {"CA-YT": ("Yukon", ("Yukon Territory",))}
# Rows whose value is known to be doubtful, and why (the flag column).
GA_FLAGS = {
    "CA-AB": (
        "2019 value predates Alberta's exit from coal-fired generation (completed in 2024); "
        "today's grid is gas-fired and cleaner"
    ),
}
_DATA_YEAR = lazy_re(r"data from (\d{4})")


def _eco2ai_regions(raw: Path) -> dict[tuple[str, str], float]:
    """eco2ai's undated sub-national values by (ISO2, folded region name), for comparison."""
    out = {}
    for r in read_csv(raw / "grid/eco2ai_carbon_index.csv"):
        if r["region"] != "Whole country" and r["alpha_2_code"] == "CA":
            out[(r["alpha_2_code"], r["region"].strip().casefold())] = float(
                r["Emission intensity, kg/MWh"]
            )
    return out


def _greenalgo_canada(raw: Path) -> Subnational:
    """Canadian provinces and territories from Green Algorithms' CI_aggregated.csv."""
    rows = read_csv(raw / "grid/greenalgorithms_ci_aggregated.csv", skip=1)
    eco = _eco2ai_regions(raw)
    part = Subnational()
    for r in rows:
        ga_id = r["location"].strip()
        if r["Type"] != "Region" or not ga_id.startswith("CA-"):
            continue
        zone = GA_CODE_FIXES.get(ga_id, ga_id)
        code = zone.split("-", 1)[1]
        found = _DATA_YEAR.search(r["source"])
        if not found:
            raise ValueError(f"Green Algorithms row {ga_id} has no data year: {r['source']!r}")
        ga_name = r["regionName"].strip()
        name, aliases = GA_NAMES.get(zone, (ga_name, ()))
        eco_value = eco.get(("CA", name.casefold()))
        compared = (
            f"; preferred to eco2ai 0.3.12's undated {eco_value:g} g/kWh"
            if eco_value is not None
            else ""
        )
        part.zones.append(
            ZoneEntry(
                zone=zone,
                country="CA",
                subdivision=code,
                name=ga_name,
                g_per_kwh=float(r["carbonIntensity"]),
                year=int(found.group(1)),
                basis="generation",
                scope="direct",
                gases="CO2e",
                source=f"Green Algorithms CI_aggregated.csv, citing {r['source'].strip()}{compared}",
                licence=CC_BY,
                flag=GA_FLAGS.get(zone, ""),
            )
        )
        part.names.append(SubdivisionEntry("CA", code, name, aliases))
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
            f"Canadian provinces and territories ({len(part.zones)}): Green Algorithms' rows, "
            "data year 2019 as their source states (Canada's 2021 UNFCCC inventory submission, "
            "via carbonfootprint.com): basis=generation, scope=direct. Quebec 1.5 and Manitoba "
            "1.3 g/kWh, for grids that are almost all hydro, are only possible without lifecycle "
            "emissions. eco2ai's rows for the same places carry no year, so they only serve as a "
            "comparison, named in each row's source."
        ),
        (
            "Canada has no newer provincial figures here: the official ones (National Inventory "
            "Report, Annex 13, Open Government Licence - Canada) are not among the inputs and no "
            "citable transcription of them was found, so the 2019 rows are kept and the "
            "staleness policy marks them stale. CA-AB is also flagged: Alberta has left coal "
            "since 2019."
        ),
        "Green Algorithms' Manitoba id CA-MT is ISO 3166-2 CA-MB; Yukon Territory is CA-YT Yukon.",
        (
            "Not used: Green Algorithms' US states (carbonfootprint.com, data from 2020; eGRID2023 "
            "is newer and primary), its Australian states (2019; NGA 2024 is newer and primary) "
            "and its Hong Kong utility rows (HK is a country zone)."
        ),
    ]
    return part


# NGA's zones: the grid that stands for each state or territory, and the names users type.
NGA_ZONES = {
    "AU-NSW": ("New South Wales", ()),
    "AU-ACT": ("Australian Capital Territory", ("ACT",)),
    "AU-VIC": ("Victoria", ()),
    "AU-QLD": ("Queensland", ()),
    "AU-SA": ("South Australia", ()),
    "AU-WA": ("Western Australia", ()),
    "AU-TAS": ("Tasmania", ()),
    "AU-NT": ("Northern Territory", ()),
}
# Zone names that say which grid answers for the state, where it has more than one.
NGA_GRID_NAMES = {
    "AU-WA": "Western Australia (South West Interconnected System)",
    "AU-NT": "Northern Territory (Darwin-Katherine Interconnected System)",
}
NGA_SKIPPED = {
    "AU-WA-NWIS": (
        "Western Australia's North Western Interconnected System: AU-WA uses the South West "
        "system, which serves Perth and nearly all of the state's load"
    ),
}
KG_TO_G = 1000.0


def _nga_australia(raw: Path) -> Subnational:
    """Australian states and territories from the National Greenhouse Accounts Factors 2024."""
    doc = load_json(raw / "grid/nga2024_au_states.json")
    if doc["units"] != "kg CO2-e per kWh consumed":
        raise ValueError(f"NGA file unit changed to {doc['units']!r}")
    year = int(doc["year"])
    licence = CC_BY
    part = Subnational()
    national = None
    for entry in doc["rows"]:
        zone = str(entry["zone"])
        scope2_g = float(entry["scope2"]) * KG_TO_G
        scope3_g = float(entry["scope3"]) * KG_TO_G
        if zone == "AU":
            national = scope2_g
            continue
        if zone in NGA_SKIPPED:
            continue
        name, aliases = NGA_ZONES[zone]
        code = zone.split("-", 1)[1]
        part.zones.append(
            ZoneEntry(
                zone=zone,
                country="AU",
                subdivision=code,
                name=NGA_GRID_NAMES.get(zone, name),
                g_per_kwh=scope2_g + scope3_g,
                year=year,
                basis="consumption",
                scope="direct+upstream",
                gases="CO2e",
                source=(
                    f"Australian Government DCCEEW, National Greenhouse Accounts Factors {year}, "
                    f"Table 1 ({entry['name']}): scope 2 {scope2_g:.0f} + scope 3 "
                    f"{scope3_g:.0f} g/kWh (scope 2 alone is the direct figure)"
                ),
                licence=licence,
            )
        )
        part.names.append(SubdivisionEntry("AU", code, name, aliases))
        part.direct_parts[zone] = (scope2_g, "NGA scope 2")
    if national is None:
        raise ValueError("NGA file has no national (AU) row")
    missing = set(NGA_ZONES) - {z.zone for z in part.zones}
    if missing:
        raise ValueError(f"NGA file lacks {sorted(missing)}")
    part.anchors["AU"] = Anchor(national, f"NGA {year} national scope 2 {national:.0f}")
    part.inputs.append(
        source_entry(
            str(doc["publisher"]),
            str(doc["dataset"]),
            str(year),
            licence,
            "https://www.dcceew.gov.au/climate-change/publications/national-greenhouse-accounts-factors",
            "grid/nga2024_au_states.json",
        )
    )
    part.choices += [
        (
            f"Australian states and territories ({len(part.zones)} rows): NGA {year} scope 2 "
            "(emissions at generation, per kWh consumed in that grid) + scope 3 (fuel "
            "extraction and transport, and grid losses) as the consumption figure: "
            "basis=consumption, scope=direct+upstream, CO2e. The source column keeps both "
            "numbers; scope 2 alone is the direct part the comparable figure is converted from. "
            "The ACT shares the NSW grid's factor, as NGA publishes it. These replace Green "
            "Algorithms' 2019 rows (AU-NSW 870, AU-VIC 1060 g/kWh)."
        ),
        (
            "AU-NT is NGA's Darwin-Katherine Interconnected System, the territory's main grid. "
            f"NGA's national factor (scope 2 {national:.0f} g/kWh) is not a zone: the AU country "
            "row stays Ember's (the comparable figure's note says why the states are not "
            "calibrated on it)."
        ),
        *(f"Skipped {k}: {why}." for k, why in sorted(NGA_SKIPPED.items())),
    ]
    return part


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


# The derivation counted ENTSO-E production types without a factor as 0 g/kWh. Completed here
# with the factor of the same factor file (lifecycle_factors_per_source.json) that each type is:
# 'Other' in the Nordic zones is mostly biomass and waste CHP (the file's own note on SE4).
NORDIC_UNCOVERED_FACTOR = {
    "Other": "biomass",
    "Waste": "waste",
    "Biomass": "biomass",
    "Other renewable": "geothermal",
}
_UNCOVERED = lazy_re(r"([A-Za-z ]+?) (\d+(?:\.\d+)?)%")


def complete_nordic(coverage: str, factors: dict[str, float]) -> tuple[float, str]:
    """(g/kWh to add, how) for the generation a Nordic zone's derivation left without a factor.

    ``coverage`` is the file's text, "85.05% (uncovered: Other 14.95%)"."""
    uncovered = coverage.split("uncovered:", 1)[1] if "uncovered:" in coverage else ""
    added, parts = 0.0, []
    for kind, percent in _UNCOVERED.findall(uncovered):
        factor_key = NORDIC_UNCOVERED_FACTOR[kind.strip()]  # a new type is an error, not a 0
        share = float(percent) / 100
        added += share * factors[factor_key]
        parts.append(f"{kind.strip()} {float(percent):g}% at {factors[factor_key]:g}")
    return added, ", ".join(parts)


def _nordic(raw: Path) -> Subnational:
    doc = load_json(raw / "grid/entsoe2025_nordic_bidding_zones.json")
    factors = load_json(raw / "grid/lifecycle_factors_per_source.json")
    meta = doc["metadata"]
    part = Subnational()
    licence = "MIT (CodeCarbon 3.3.2); derived from ENTSO-E Transparency Platform data"
    for code, entry in sorted(doc["data"].items()):
        if code not in NORDIC_NAMES:
            continue  # FI: see the choices
        country = code[:2]
        name, aliases = NORDIC_NAMES[code]
        published = float(entry["emission_factor"])
        added, how = complete_nordic(str(entry["coverage"]), factors)
        part.zones.append(
            ZoneEntry(
                zone=f"{country}-{code}",
                country=country,
                subdivision=code,
                name=str(entry["description"]),
                g_per_kwh=round(published + added, 2),
                year=int(entry["year"]),
                basis="generation",
                scope="lifecycle",
                gases="CO2e",
                source=(
                    f"ENTSO-E actual generation per type (A75) {entry['year']} x lifecycle factors "
                    f"per source (derived by Khepri v1.3, via CodeCarbon 3.3.2); coverage "
                    f"{str(entry['coverage']).split(' ', 1)[0]}; published {published:g} g/kWh "
                    f"counted the rest at 0, completed here with {how} g/kWh"
                    if how
                    else f"ENTSO-E actual generation per type (A75) {entry['year']} x lifecycle "
                    "factors per source (derived by Khepri v1.3, via CodeCarbon 3.3.2); "
                    f"coverage {entry['coverage']}"
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
            "mix x per-source lifecycle factors, basis=generation, scope=lifecycle. The "
            "derivation counted production types without a factor as 0, so a published value is "
            "a lower bound (SE4: 24.7 g/kWh with 14.95 % 'Other', mostly biomass and waste CHP, "
            "at 0, which ranked it below SE1-SE3). Each zone is completed with the factor of the "
            "same factor file for what the uncovered type is (Other, Waste, Biomass: 230; "
            "Other renewable: geothermal's 38): "
            + ", ".join(f"{z.zone} {z.g_per_kwh:.2f}" for z in part.zones if z.zone[:2] == "SE")
            + ". The published value and the completion are in each row's source. NO4's gas "
            "share moves it from year to year."
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
    sub.add(_greenalgo_canada(raw), "ca_provinces")
    sub.add(_nga_australia(raw), "au_states")
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

