"""Everyday equivalents of emissions (equivalents.csv), from Green Algorithms' reference
values with the sources they cite, and the few factors Green Algorithms lacks (DIRECT), each
transcribed from its publisher's own page with that page's figure and year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .common import (
    INTENSITY,
    Table,
    fixed_decimals,
    greenalgo_cited,
    greenalgo_entry,
    greenalgo_reference_values,
)

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



@dataclass(frozen=True)
class DirectFactor:
    """A factor taken from its publisher's page, not from Green Algorithms' file."""

    value: float
    unit: str
    description: str
    year: int
    statement: str  # the publisher's own figure, as the page states it, with the page

    @property
    def source(self) -> str:
        return self.statement


EPA_EQUIVALENCIES = (
    "https://www.epa.gov/energy/greenhouse-gases-equivalencies-calculator-calculations-and-"
    "references"
)

# Factors Green Algorithms' reference values lack. The smartphone charge: the US EPA's
# Greenhouse Gas Equivalencies Calculator states 1.24 x 10-5 metric tons CO2 per smartphone
# charged (its eGRID2022 US average for delivered electricity; eGRID2022 was published in
# 2024), i.e. 12.4 g. A named short-haul flight is left out: the only city-pair figures at hand
# (Green Algorithms' Paris-London ...) come from an undated calculator.
DIRECT: dict[str, DirectFactor] = {
    "smartphone_charge": DirectFactor(
        12.4,
        "gCO2/charge",
        "charging one smartphone fully (US average delivered electricity)",
        2024,
        "US EPA, Greenhouse Gas Equivalencies Calculator, Calculations and References: "
        f"1.24 x 10-5 metric tons CO2/smartphone charged ({EPA_EQUIVALENCIES})",
    ),
}


def build_equivalents(raw: Path) -> Table:
    ref = greenalgo_reference_values(raw)
    rows = []
    for variable, (key, unit, description, year) in EQUIVALENTS.items():
        value = ref[variable][0]
        cited = greenalgo_cited(ref, variable)
        rows.append((key, fixed_decimals(value, 4), unit, description, cited, str(year)))
    for key, factor in DIRECT.items():
        rows.append((key, fixed_decimals(factor.value, 4), factor.unit, factor.description,
                     factor.source, str(factor.year)))
    skipped = sorted(set(ref) - set(EQUIVALENTS) - {"memoryPower"})
    return Table(
        path=f"{INTENSITY}/equivalents.csv",
        header=("key", "value", "unit", "description", "source", "year"),
        rows=sorted(rows),
        description="Everyday comparisons for an amount of CO2 (car km, tree-years, ...).",
        inputs=[
            greenalgo_entry("referenceValues.csv", "hardware/greenalgorithms_referenceValues.csv"),
            {
                "publisher": "US EPA",
                "dataset": "Greenhouse Gas Equivalencies Calculator, Calculations and References",
                "vintage": "eGRID2022 figures (published 2024)",
                "licence": "US public domain",
                "url": EPA_EQUIVALENCIES,
                "raw_file": "tools/build_data/equivalents.py DIRECT (transcribed, committed)",
            },
        ],
        choices=[
            "year is the publication year of the source Green Algorithms cites for the row.",
            "smartphone_charge is the US EPA's own figure (12.4 g CO2 per full charge, US "
            "average delivered electricity); its year is that of the eGRID2022 data it uses.",
            f"Left out (the cited source is an undated calculator or page): {', '.join(skipped)}.",
        ],
    )

