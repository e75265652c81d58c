"""Where public cloud regions are (cloud_regions.csv) and Google's per-region carbon data
(gcp_intensity.csv).

Cloud regions
    Hand-curated in ``tools/curated/cloud_regions.csv`` from each provider's region page; the
    build adds the most specific zone and fails on a subdivision the zone table lacks (a typo),
    on a GCP region with Google carbon data but no curated row, or on bad coordinates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from wattprint.intensity.tables import fold_name

from .common import (
    APACHE,
    CCF_REPO,
    CURATED_DIR,
    INTENSITY,
    Table,
    greenalgo_entry,
    read_csv,
    source_entry,
)
from .grid import STALE_AFTER_YEARS

CLOUDS = ("aws", "azure", "gcp", "oci", "ovhcloud", "scaleway")
REGION_HEADER = ("cloud", "region", "name", "country", "subdivision", "city", "lat", "lon")


def _coordinate(text: str, limit: float, where: str) -> str:
    if not text:
        return ""
    value = float(text)
    if not -limit <= value <= limit:
        raise ValueError(f"{where}: coordinate {text} out of range")
    return f"{value:.2f}"


def read_curated_regions(path: Path) -> list[dict[str, str]]:
    rows = read_csv(path)
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
            greenalgo_entry(
                "cloud_datacenters.csv (cross-check only)",
                "cloud/greenalgorithms_cloud_datacenters.csv",
            ),
            source_entry(
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
    for r in read_csv(raw / "cloud/greenalgorithms_cloud_datacenters.csv", skip=1):
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
        for r in read_csv(raw / f"cloud/ccf_grid_emissions_factors_{cloud}.csv"):
            key = (cloud, _azure_key(r["Region"]) if cloud == "azure" else r["Region"])
            # CCF gives a country (AWS) or a state, city or country (Azure, GCP): compare what
            # names a zone; cities and regions not curated here (GovCloud, China) are skipped.
            theirs = places.get(fold_name(r.get("Country") or r["Location"]), "")
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
    names = {fold_name(name): code for code, name in iso.items()}
    # Spellings other tables use that the tz database does not.
    names |= {fold_name(k): v for k, v in {"England": "GB", "South Korea": "KR"}.items()}
    for zone, country, subdivision, name, *_ in zone_rows:
        if subdivision and country in ("US", "CA", "AU"):
            names[fold_name(name)] = zone
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
        rows = [r for r in read_csv(path) if r.get("Google Cloud Region", "").strip()]
        # Header names differ by year: 'Lifecycle grid carbon intensity ...' until 2020, then
        # 'Grid carbon intensity ...'. The column is found by its unit, and its name is kept.
        column = next(c for c in rows[0] if "gCO2eq / kWh" in c)
        years.append(GcpYear(year, column, rows))
    if not years:
        raise ValueError("no cloud/gcp_region_carbon_YYYY.csv files")
    return GcpYears(years)


# What Google's figure counts. Google labels 2019-2020 "Lifecycle grid carbon intensity"; from
# 2021 the column is "Grid carbon intensity", described in region-carbon-info's README as "the
# average operational gross emissions per unit of energy from the grid": combustion only, which
# the values confirm (Quebec 0-5.5 g/kWh and Stockholm 2.7 g/kWh in 2021-2024, where any
# lifecycle figure for hydro and nuclear is above 10). Google computes it from Electricity Maps'
# hourly data for the electricity the region draws from its grid: consumption (imports
# included), location-based (before Google's own clean-energy purchases), all greenhouse gases.
GCP_BASIS = "consumption"
GCP_GASES = "CO2e"


def _gcp_scope(intensity_column: str) -> str:
    return "lifecycle" if intensity_column.lower().startswith("lifecycle") else "direct"


# A direct figure measured in a region's zone -> (comparable g/kWh, method): grid.direct_converter,
# so Google's figures convert exactly as zones.csv converts its own direct rows.
DirectFactor = Callable[[str, float], tuple[float, str]]


def build_gcp_intensity(
    raw: Path,
    region_zones: dict[str, str],
    direct_factor: DirectFactor,
    newest_zone_year: int,
) -> Table:
    """Google's per-region figures with the same comparable figure and staleness as zones.csv.

    ``region_zones`` maps each GCP region to its zones.csv id; ``direct_factor`` converts a
    direct figure in that zone to its lifecycle-comparable value; a row more than
    ``STALE_AFTER_YEARS`` before ``newest_zone_year`` (the zone table's newest) is stale.
    """
    data = _gcp_years(raw)
    rows = []
    for y in data.years:
        scope = _gcp_scope(y.intensity_column)
        for r in y.rows:
            region = r["Google Cloud Region"].strip()
            value = float(r[y.intensity_column])
            if not 0 <= value <= 1500:
                raise ValueError(f"gcp {region} {y.year}: {value} g/kWh")
            if scope == "lifecycle":
                comparable, method = value, "native lifecycle"
            else:
                comparable, method = direct_factor(region_zones[region], value)
            cfe = r["Google CFE"].strip()
            rows.append(
                (
                    region,
                    str(y.year),
                    f"{value:.2f}",
                    f"{float(cfe):.2f}" if cfe else "",
                    GCP_BASIS,
                    scope,
                    GCP_GASES,
                    f"{comparable:.2f}",
                    method,
                    "true" if y.year < newest_zone_year - STALE_AFTER_YEARS else "false",
                    f"Google Cloud region-carbon-info, {y.year}: '{y.intensity_column}'",
                    APACHE,
                )
            )
    labels = sorted({(y.intensity_column, y.year) for y in data.years}, key=lambda t: t[1])
    return Table(
        path=f"{INTENSITY}/gcp_region_intensity.csv",
        header=(
            "region",
            "year",
            "g_per_kwh",
            "cfe_share",
            "basis",
            "scope",
            "gases",
            "comparable_g_per_kwh",
            "comparable_method",
            "stale",
            "source",
            "licence",
        ),
        rows=sorted(rows),
        description=(
            "Google's yearly grid carbon intensity (gCO2e/kWh) and carbon-free energy share "
            "(0-1, Google's own CFE%) per Google Cloud region, with the basis, scope and gases "
            "of Google's figure, its lifecycle-comparable value and staleness as in zones.csv."
        ),
        inputs=[
            source_entry(
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
                + "."
            ),
            (
                "scope: 'lifecycle' where Google's column says so (2019-2020); 'direct' from 2021, "
                "which region-carbon-info's README describes as average operational gross "
                "emissions from the grid (combustion only: Quebec 0-5.5 g/kWh, Stockholm 2.7 "
                "g/kWh in 2024, below any lifecycle figure for hydro or nuclear). basis: "
                "consumption (Google's hourly, location-based figure for the electricity the "
                "region takes from its grid, from Electricity Maps). gases: CO2e."
            ),
            (
                "comparable_g_per_kwh: native for lifecycle years; a direct year is multiplied by "
                "the direct-to-lifecycle factor zones.csv applies to the region's zone (the "
                "factor and its source are in comparable_method), so a GCP region ranks on the "
                "same basis as the zone rows."
            ),
            (
                f"stale: a year more than {STALE_AFTER_YEARS} years before the zone table's "
                f"newest year ({newest_zone_year}), the zones.csv policy."
            ),
            "cfe_share is empty where Google published no CFE% for the region and year.",
        ],
    )

