"""Data-centre overhead and water per cloud provider: cloud_pue.csv (PUE and WUE).

PUE / WUE
    Provider PUE defaults and Google campus PUEs as Green Algorithms gives them; fleet WUE only
    from the provider's own statement (PROVIDER_WUE), with its own year and source columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .common import INTENSITY, Table, fixed_decimals, greenalgo_entry, read_csv

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
    for r in read_csv(raw / "cloud/greenalgorithms_defaults_PUE.csv", skip=1):
        cloud = PUE_PROVIDERS[r["provider"]]
        wue = PROVIDER_WUE.get(cloud)
        source = "Green Algorithms defaults_PUE.csv, citing " + r["source"].split(" ")[-1]
        rows.append(_pue_row(cloud, "*", float(r["PUE"]), _pue_year(r["source"]), source, wue))
    regional = 0
    for r in read_csv(raw / "cloud/greenalgorithms_cloud_datacenters.csv", skip=1):
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
            greenalgo_entry("defaults_PUE.csv", "cloud/greenalgorithms_defaults_PUE.csv"),
            greenalgo_entry(
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
        fixed_decimals(pue, 3),
        fixed_decimals(wue.value, 3) if wue else "",
        str(year),
        source,
        str(wue.year) if wue else "",
        wue.source if wue else "",
    )

