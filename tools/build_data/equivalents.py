"""Everyday equivalents of emissions (equivalents.csv), from Green Algorithms' reference
values with the sources they cite."""

from __future__ import annotations

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


def build_equivalents(raw: Path) -> Table:
    ref = greenalgo_reference_values(raw)
    rows = []
    for variable, (key, unit, description, year) in EQUIVALENTS.items():
        value = ref[variable][0]
        cited = greenalgo_cited(ref, variable)
        rows.append((key, fixed_decimals(value, 4), unit, description, cited, str(year)))
    skipped = sorted(set(ref) - set(EQUIVALENTS) - {"memoryPower"})
    return Table(
        path=f"{INTENSITY}/equivalents.csv",
        header=("key", "value", "unit", "description", "source", "year"),
        rows=sorted(rows),
        description="Everyday comparisons for an amount of CO2 (car km, tree-years, ...).",
        inputs=[
            greenalgo_entry("referenceValues.csv", "hardware/greenalgorithms_referenceValues.csv")
        ],
        choices=[
            "year is the publication year of the source Green Algorithms cites for the row.",
            f"Left out (the cited source is an undated calculator or page): {', '.join(skipped)}.",
        ],
    )

