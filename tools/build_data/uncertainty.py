"""The uncertainty a report states for each way a figure was obtained (uncertainty.csv).

These are stated assumptions, not measurements of this machine: one relative band (a
1-sigma-like half-width, in percent) per energy method, per kind of intensity figure, per kind
of PUE and for embodied emissions, each with the reasoning and the study that informs it. A
report combines the bands in quadrature (independent errors) and says so; changing a band here
changes every report's stated uncertainty, never its central figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from .common import INTENSITY, Table, fixed_decimals


@dataclass(frozen=True)
class Band:
    applies_to: str  # what the band is for: "energy:measured", "intensity:bundled", ...
    band_pct: float
    rationale: str
    source: str
    year: int


BANDS: dict[str, Band] = {
    "energy_measured": Band(
        "energy:measured", 5.0,
        "Read from a hardware energy counter (RAPL package/DRAM, NVML total energy, amdsmi). "
        "On Haswell and later CPUs RAPL follows an external power meter closely; the band "
        "covers what the counter's domain leaves out or adds, not its noise.",
        "Khan, Hirki, Niemi, Nurminen, Ou, 'RAPL in Action: Experiences in Using RAPL for Power "
        "Measurements', ACM TOMPECS 3(2)", 2018),
    "energy_sampled": Band(
        "energy:sampled", 10.0,
        "Instantaneous power read at intervals and integrated over time. On A100 and H100 the "
        "on-board sensor covers about a quarter of the run time, so bursty loads can be over- "
        "or under-counted; steady training loads fare better. Assumed 10% for steady loads.",
        "Yang, Adamek, Armour, 'Accurate and Convenient Energy Measurements for GPUs: A Detailed "
        "Study of NVIDIA GPU's Built-in Power Sensor', SC24", 2024),
    "energy_modelled": Band(
        "energy:modelled", 40.0,
        "Estimated from a power model (TDP, utilisation, memory size), not measured on this "
        "machine. Estimation approaches validated against external meters erred by up to 40%.",
        "Fischer, arXiv:2509.22092 (2025), estimation tools validated against external power "
        "meters over hundreds of AI experiments", 2025),
    "intensity_bundled": Band(
        "intensity:bundled", 20.0,
        "A yearly average grid figure applied to the particular hours the run used: the hourly "
        "intensity of a mixed grid moves around its yearly mean by about this much, and the "
        "yearly figure is itself an estimate (fuel factors, imports). Assumed.",
        "wattprint's assumption; the spread of one job's emissions with region and hour is shown "
        "by Dodge et al., 'Measuring the Carbon Intensity of AI in Cloud Instances', FAccT", 2022),
    "intensity_live": Band(
        "intensity:live", 10.0,
        "An hourly figure from a live provider for the hours the run used: what remains is the "
        "provider's own estimation (unreported plants, flow tracing of imports). Assumed.",
        "wattprint's assumption (no provider publishes an error band for its hourly figures)",
        2026),
    "pue_stated": Band(
        "pue:stated", 5.0,
        "A provider's or user's stated PUE applied to this run: a fleet or yearly mean, while one "
        "campus and one season differ from it by a few percent. Assumed.",
        "wattprint's assumption, from the spread of Google's published per-campus PUEs around "
        "its fleet mean (cloud_pue.csv)", 2026),
    "pue_default": Band(
        "pue:default", 0.0,
        "No PUE was given, so 1.0 (no data-centre overhead) is used: a one-sided understatement "
        "for any machine in a data centre, stated beside the band rather than inside it.",
        "wattprint's rule: an unknown overhead is shown as unknown, not guessed", 2026),
    "embodied": Band(
        "embodied", 50.0,
        "Manufacturing emissions from Cloud Carbon Footprint's coefficients (medians over host "
        "configurations) amortised linearly over an assumed hardware lifetime. Assumed.",
        "wattprint's assumption on the embodied defaults it bundles (embodied.csv)", 2026),
}


def build_uncertainty() -> Table:
    rows = [(key, b.applies_to, fixed_decimals(b.band_pct, 2), b.rationale, b.source, str(b.year))
            for key, b in BANDS.items()]
    return Table(
        path=f"{INTENSITY}/uncertainty.csv",
        header=("key", "applies_to", "band_pct", "rationale", "source", "year"),
        rows=sorted(rows),
        description=("The relative uncertainty `wattprint report` states per energy method, "
                     "intensity figure, PUE and embodied estimate, each with its reasoning."),
        inputs=[
            {
                "publisher": "wattprint (hand-curated)",
                "dataset": "tools/build_data/uncertainty.py BANDS",
                "vintage": "curated 2026-12-02",
                "licence": "Apache-2.0 (wattprint); each row names the study it rests on",
                "url": "",
                "raw_file": "tools/build_data/uncertainty.py (committed)",
            },
        ],
        choices=[
            "band_pct is a stated assumption (half-width, percent), not a measurement of the "
            "machine; year is the year of the study it rests on, or of the assumption.",
            "A report combines the bands in quadrature (independent errors): energy from its "
            "components' absolute bands, then energy, intensity and PUE as relative bands.",
        ],
    )
