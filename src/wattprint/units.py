"""Unit conversions. SI inside the package (J, W, s, g); kWh and kg only at presentation."""

from __future__ import annotations

J_PER_KWH = 3_600_000.0
G_PER_KG = 1000.0


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def g_to_kg(mass_g: float) -> float:
    return mass_g / G_PER_KG


def kg_to_g(mass_kg: float) -> float:
    return mass_kg * G_PER_KG

