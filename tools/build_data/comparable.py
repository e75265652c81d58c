"""One comparable basis for zones.csv: the lifecycle-comparable figure, staleness and flags.

Every zone row keeps its own value with its own basis, scope and gases (``g_per_kwh``, what a
run's emissions use). This module adds the figure rankings and comparisons use,
``comparable_g_per_kwh``, with ``comparable_method`` saying how it was obtained, and marks rows
that are stale or doubtful.

The basis
    The country rows: Ember's lifecycle intensity (IPCC AR5 lifecycle medians applied to each
    fuel's generation). A comparable figure is one a country row could be ranked against.

Per-fuel factors (:data:`FUELS`)
    IPCC AR5 WG III (2014), Annex III, Table A.III.2 (Schlömer et al.), medians in gCO2eq/kWh,
    both columns from the one table so that a lifecycle/direct ratio compares like with like:
    coal (pulverised coal) 760 direct / 820 lifecycle, gas (combined cycle) 370 / 490, biomass
    (dedicated) 0 / 230 (its combustion CO2 is biogenic), nuclear 0 / 12, hydro 0 / 24, wind
    (onshore) 0 / 11, solar (utility PV) 0 / 48, geothermal (for OWID's "other renewables") 0 /
    38. AR5 has no oil row: oil's direct figure is the IPCC 2006 Guidelines' default CO2 factor
    for residual fuel oil (Vol. 2, ch. 2, Table 2.2: 77.4 t/TJ) at 35 % net efficiency, 796
    g/kWh, and its lifecycle figure that times coal's lifecycle/direct ratio (an assumption,
    stated; oil is under 2 % of every grid converted here).

    ``grid/lifecycle_factors_per_source.json`` is *not* used for the ratio: its fossil factors
    (coal 995, petroleum 816, gas 743) are US EIA combustion CO2 rates as the energy-usage
    project published them (it prints them as "kg CO2/MWh", source "US EIA"), not lifecycle
    medians, so dividing them by any direct factor would count combustion twice. The file is
    still what the Nordic zones were derived with (see :func:`complete_nordic`).

Direct rows (no lifecycle source): two parts, fossil and non-fossil
    A direct figure ``d`` counts only fuel burnt, so the zone's non-fossil electricity shows as
    zero. comparable = d x r + (1 - min(1, d / e)) x n, where, for the zone's country,
    ``n`` is the lifecycle g/kWh of its non-fossil generation (AR5 medians over the OWID mix),
    ``e`` the direct g per fossil kWh, so d / e estimates the zone's fossil share, and ``r`` the
    fossil lifecycle/direct ratio. A multiplicative factor alone would leave a hydro grid
    (Quebec, 1.5 g/kWh direct) far below a hydro country row (24 g/kWh lifecycle), and rank it
    wrongly at exactly the clean end of the ranking.

    Where the row's source also publishes the national direct figure ``D`` (eGRID for the US,
    NGA for Australia), ``r`` and ``e`` are calibrated so that the national figure lands on the
    country row: e = D / fossil share, r = (L - (1 - fossil share) x n) / D, L the shipped
    country value. Then the sub-national rows rank consistently with their own country row.
    IPCC AR5 medians alone would put the US at 1.23 x eGRID (AR5's gas lifecycle includes
    methane leakage, 490/370 = 1.32, and its direct medians describe new plants, below the US
    fleet's), 12 % above Ember's US row, a bias of the size issue 9 set out to remove.
    Elsewhere (Chinese provinces, Canadian provinces) r and e are the AR5 medians over the
    country's fossil mix.

Staleness
    A row is stale when its year is more than :data:`STALE_AFTER_YEARS` years before the
    newest year in the table.

Plausibility (country rows)
    Each country's published value is checked against its own fuel mix. The ceiling is what an
    old fleet would emit over its lifecycle: each fossil fuel burnt at 30 % net efficiency
    (IPCC 2006 default combustion factors: lignite for coal, so any coal passes) plus AR5's
    supply-chain part, every other source at AR5's maximum. A value above it is flagged, and its
    comparable figure is the mix-implied one (AR5 medians over the OWID mix); the published
    value stays the row's value. Values below the mix-implied figure are not flagged: the mix is
    one to three years older than the value and new wind and solar lower a grid's intensity
    legitimately.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from wattprint._struct import replace

if TYPE_CHECKING:
    from .grid import ZoneEntry

STALE_AFTER_YEARS = 4

AR5 = "IPCC AR5 WG3 Annex III Table A.III.2 (2014) medians"
AR5_SHORT = "AR5 medians"  # in each row's comparable_method; SOURCES.json spells it out


@dataclass(frozen=True)
class Fuel:
    """One fuel's factors in gCO2eq/kWh and the OWID energy-mix field holding its TWh."""

    owid_field: str
    direct: float
    lifecycle: float
    ceiling: float  # the highest plausible lifecycle figure (the plausibility check)
    fossil: bool


# IPCC 2006 Guidelines, Vol. 2, ch. 2, Table 2.2, default CO2 factors for stationary combustion
# in energy industries, g per MJ of fuel: residual fuel oil 77.4, natural gas 56.1, lignite 101.
# One kWh of electricity at net efficiency eff burns 3.6 / eff MJ.
_MJ_PER_KWH = 3.6
_OIL_DIRECT = 77.4 * _MJ_PER_KWH / 0.35  # 796 g/kWh at 35 %, a typical oil-fired steam plant
_COAL_RATIO = 820 / 760  # AR5 coal lifecycle / direct, taken for oil (AR5 has no oil row)


def _ceiling(g_per_mj: float, direct: float, lifecycle: float) -> float:
    """An old fleet's lifecycle figure: the fuel at 30 % net efficiency (old steam or open-cycle
    units) plus AR5's supply-chain part (lifecycle - direct medians). AR5's own maxima describe
    modern plants (combined cycle at most 650) and would flag real gas fleets of open-cycle
    turbines."""
    return g_per_mj * _MJ_PER_KWH / 0.30 + (lifecycle - direct)


FUELS = {
    "coal": Fuel("coal_TWh", 760, 820, _ceiling(101.0, 760, 820), True),
    "gas": Fuel("gas_TWh", 370, 490, _ceiling(56.1, 370, 490), True),
    "oil": Fuel(
        "oil_TWh",
        _OIL_DIRECT,
        _OIL_DIRECT * _COAL_RATIO,
        _ceiling(77.4, _OIL_DIRECT, _OIL_DIRECT * _COAL_RATIO),
        True,
    ),
    # Non-fossil ceilings: AR5's maxima.
    "biomass": Fuel("biofuel_TWh", 0, 230, 420, False),
    "nuclear": Fuel("nuclear_TWh", 0, 12, 110, False),
    "hydro": Fuel("hydroelectricity_TWh", 0, 24, 2200, False),
    "wind": Fuel("wind_TWh", 0, 11, 56, False),
    "solar": Fuel("solar_TWh", 0, 48, 180, False),
    "other renewables": Fuel("other_renewable_exc_biofuel_TWh", 0, 38, 79, False),
}


@dataclass(frozen=True)
class CountryMix:
    """A country's generation mix (OWID energy data) and what AR5's factors make of it."""

    iso2: str
    year: int
    twh: dict[str, float]  # by FUELS key

    @property
    def total(self) -> float:
        return sum(self.twh.values())

    @property
    def fossil_twh(self) -> float:
        return sum(v for k, v in self.twh.items() if FUELS[k].fossil)

    @property
    def fossil_share(self) -> float:
        return self.fossil_twh / self.total

    def _weighted(self, factor: str, fossil: bool | None = None) -> float:
        return sum(
            v * float(getattr(FUELS[k], factor))
            for k, v in self.twh.items()
            if fossil is None or FUELS[k].fossil == fossil
        )

    @property
    def lifecycle(self) -> float:
        """The mix-implied lifecycle intensity (AR5 medians), g/kWh."""
        return self._weighted("lifecycle") / self.total

    @property
    def ceiling(self) -> float:
        """The highest plausible lifecycle intensity of this mix, g/kWh."""
        return self._weighted("ceiling") / self.total

    @property
    def direct(self) -> float:
        return self._weighted("direct") / self.total

    @property
    def fossil_ratio(self) -> float:
        """Lifecycle over direct emissions of the fossil generation (AR5 medians)."""
        direct = self._weighted("direct", fossil=True)
        return self._weighted("lifecycle", fossil=True) / direct if direct else 1.0

    @property
    def fossil_direct(self) -> float:
        """Direct g per fossil kWh (AR5 medians); 0 for a grid without fossil generation."""
        return self._weighted("direct", fossil=True) / self.fossil_twh if self.fossil_twh else 0.0

    @property
    def non_fossil_lifecycle(self) -> float:
        """Lifecycle g per kWh of the non-fossil generation (AR5 medians)."""
        other = self.total - self.fossil_twh
        return self._weighted("lifecycle", fossil=False) / other if other else 0.0


def read_mixes(mix: Mapping[str, Mapping[str, Any]], a3_to_a2: Mapping[str, str]) -> dict[str, CountryMix]:
    """ISO2 -> CountryMix for every country of the OWID mix with some generation."""
    out = {}
    for iso3, entry in mix.items():
        iso2 = a3_to_a2.get(iso3)
        if not iso2:
            continue
        twh = {k: float(entry[f.owid_field]) for k, f in FUELS.items()}
        total = float(entry["total_TWh"])
        if total <= 0:
            continue
        if abs(sum(twh.values()) - total) > max(0.02 * total, 0.02):
            raise ValueError(f"OWID mix {iso3}: fuels sum to {sum(twh.values())}, not {total}")
        out[iso2] = CountryMix(iso2, int(entry["year"]), twh)
    return out


@dataclass(frozen=True)
class Conversion:
    """comparable = d x ratio + (1 - min(1, d / fossil_direct)) x non_fossil (see the module
    docstring); ``how`` says where the three numbers come from."""

    ratio: float
    fossil_direct: float
    non_fossil: float
    how: str

    def __call__(self, direct_g: float) -> float:
        share = min(1.0, direct_g / self.fossil_direct) if self.fossil_direct else 1.0
        return direct_g * self.ratio + (1 - share) * self.non_fossil

    def describe(self, what: str) -> str:
        return (
            f"{what} x {self.ratio:.3f} + {self.non_fossil:.1f} x (1 - {what}/"
            f"{self.fossil_direct:.0f}); {self.how}"
        )


def ar5_conversion(mix: CountryMix, country_name: str) -> Conversion:
    return Conversion(
        mix.fossil_ratio,
        mix.fossil_direct,
        mix.non_fossil_lifecycle,
        f"{AR5_SHORT} over the {mix.year} mix of {country_name}",
    )


def calibrated_conversion(
    mix: CountryMix, national_direct: float, country_lifecycle: float, how: str
) -> Conversion:
    """The conversion that maps the source's own national direct figure onto the country
    row's lifecycle value, keeping AR5's non-fossil lifecycle part."""
    non_fossil = mix.non_fossil_lifecycle
    share = mix.fossil_share
    ratio = (country_lifecycle - (1 - share) * non_fossil) / national_direct
    return Conversion(ratio, national_direct / share, non_fossil, how)


# --------------------------------------------------------------------------------------------
# Plausibility of the country rows


def implausible(value: float, mix: CountryMix) -> str:
    """Why a country's published lifecycle value cannot come from its own mix; "" if it can."""
    bound = mix.ceiling
    if value <= bound:
        return ""
    main = max(mix.twh, key=lambda k: mix.twh[k])
    share = mix.twh[main] / mix.total
    return (
        f"implausible for a grid of {share:.0%} {main} ({mix.year} mix): {value:.2f} g/kWh is "
        f"above the {bound:.0f} g/kWh an old fleet burning that mix would emit (30 % "
        f"efficiency, lifecycle); the mix-implied figure is {mix.lifecycle:.0f}"
    )


# --------------------------------------------------------------------------------------------
# Staleness


def stale_years(rows: Iterable[ZoneEntry]) -> tuple[int, int]:
    """(newest year in the table, the oldest year that is not stale)."""
    newest = max(r.year for r in rows)
    return newest, newest - STALE_AFTER_YEARS


def mark_stale(rows: list[ZoneEntry]) -> list[ZoneEntry]:
    _, oldest_fresh = stale_years(rows)
    return [replace(r, stale=r.year < oldest_fresh) for r in rows]


def stale_summary(zones_csv: str) -> str:
    """The build's report of stale rows, read back from the rendered zones.csv."""
    rows = list(csv.DictReader(io.StringIO(zones_csv)))
    newest = max(int(r["year"]) for r in rows)
    stale = sorted((int(r["year"]), r["zone"]) for r in rows if r["stale"] == "true")
    by_year: dict[int, list[str]] = {}
    for year, zone in stale:
        by_year.setdefault(year, []).append(zone)
    listed = "; ".join(f"{year}: {', '.join(zones)}" for year, zones in by_year.items())
    flagged = sorted(r["zone"] for r in rows if r["flag"])
    return (
        f"zones.csv: {len(stale)} stale row(s) (year before {newest - STALE_AFTER_YEARS}, more "
        f"than {STALE_AFTER_YEARS} years before the newest year {newest}): {listed or 'none'}\n"
        f"zones.csv: {len(flagged)} flagged row(s): {', '.join(flagged) or 'none'}"
    )
