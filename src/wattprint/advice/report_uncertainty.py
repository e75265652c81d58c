"""The uncertainty a report states: bundled bands per method, combined in quadrature.

The bands are stated assumptions with a rationale and a source per row
(``intensity/data/uncertainty.csv``, built by ``tools/build_data/uncertainty.py``), never
numbers in this code. The combination assumes independent errors:

- energy: each device's absolute band (its energy x its method's band) added in quadrature,
  ``U_E = sqrt(sum((E_i * p_i)^2))``, so a large measured GPU and a small modelled RAM figure
  weigh by their joules;
- operational emissions: the relative bands of energy, intensity and PUE in quadrature,
  ``r = sqrt(r_E^2 + r_I^2 + r_PUE^2)`` (emissions are their product);
- embodied emissions: their own band, reported beside, like the figure.

A default PUE of 1.0 is a one-sided understatement (no overhead counted), said in a note rather
than folded into a symmetric band.
"""

from __future__ import annotations

import csv
import math
from functools import cache

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

__all__ = ["Band", "bands", "combine"]


@dataclass(frozen=True, slots=True)
class Band:
    key: str
    applies_to: str
    band_pct: float
    rationale: str
    source: str
    year: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "applies_to": self.applies_to, "band_pct": self.band_pct,
                "rationale": self.rationale, "source": self.source, "year": self.year}


@cache
def bands() -> dict[str, Band]:
    """Every bundled band by what it applies to ("energy:measured", "intensity:live", ...)."""
    from ..intensity.tables import DATA_DIR

    with (DATA_DIR / "uncertainty.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["applies_to"]: Band(r["key"], r["applies_to"], float(r["band_pct"]),
                                  r["rationale"], r["source"], int(r["year"])) for r in rows}


def _method_band(method: str) -> Band:
    table = bands()
    # A method the table does not know (a newer tracker's) is treated as the least certain.
    return table.get(f"energy:{method}", table["energy:modelled"])


def combine(*, components: Sequence[Mapping[str, Any]], total_energy_j: float,
            intensity: Mapping[str, Any], pue_default: bool, emissions_g: float,
            embodied_g: float | None) -> dict[str, Any]:
    """The stated bands of one run's figures, each with the rows it used."""
    table = bands()
    used: dict[str, Band] = {}
    per_device = []
    square_j = 0.0
    for comp in components:
        band = _method_band(str(comp.get("method")))
        used[band.key] = band
        energy_j = float(comp.get("energy_j") or 0.0)
        band_j = energy_j * band.band_pct / 100.0
        square_j += band_j * band_j
        per_device.append({"device": comp.get("device"), "method": comp.get("method"),
                           "band_pct": band.band_pct, "band_j": band_j})
    energy_band_j = math.sqrt(square_j)
    energy_pct = 100.0 * energy_band_j / total_energy_j if total_energy_j > 0 else 0.0
    counted = intensity.get("kind") is not None
    intensity_band = table["intensity:live" if intensity.get("live") else "intensity:bundled"]
    intensity_pct = intensity_band.band_pct if counted else 0.0
    if counted:
        used[intensity_band.key] = intensity_band
    pue_band = table["pue:default" if pue_default else "pue:stated"]
    used[pue_band.key] = pue_band
    emissions_pct = math.sqrt(energy_pct ** 2 + intensity_pct ** 2 + pue_band.band_pct ** 2)
    out: dict[str, Any] = {
        "devices": per_device,
        "energy_band_j": energy_band_j,
        "energy_pct": energy_pct,
        "intensity_pct": intensity_pct,
        "pue_pct": pue_band.band_pct,
        "pue_one_sided": pue_default,
        "emissions_pct": emissions_pct,
        "emissions_low_g": emissions_g * (1 - emissions_pct / 100.0),
        "emissions_high_g": emissions_g * (1 + emissions_pct / 100.0),
        "embodied_pct": None,
        "method": "quadrature: energy band sqrt(sum((E_i p_i)^2)) over devices; emissions "
                  "sqrt(r_E^2 + r_I^2 + r_PUE^2); independent errors assumed",
    }
    if embodied_g is not None:
        embodied = table["embodied"]
        used[embodied.key] = embodied
        out["embodied_pct"] = embodied.band_pct
    out["bands"] = [b.to_dict() for b in sorted(used.values(), key=lambda b: b.key)]
    return out
