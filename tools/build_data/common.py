"""What every table family shares: paths, upstream vintages and licences, the output model
(:class:`Table`), the raw-file readers and Green Algorithms' reference values (read by the
equivalents and by the memory power model)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RAW_DIR = REPO_ROOT.parent / "shared" / "reference-data"
DEFAULT_OUT_ROOT = REPO_ROOT / "src" / "wattprint"
CURATED_DIR = REPO_ROOT / "tools" / "curated"

INTENSITY = "intensity/data"
SENSORS = "sensors/data"

# Upstream snapshot vintages: the release of the package each file was taken from (PyPI).
CODECARBON = "CodeCarbon 3.3.2"
CODECARBON_YEAR = 2026
ECO2AI = "eco2ai 0.3.12"
ECO2AI_YEAR = 2025
# The Green Algorithms CPU list is undated; the newest CPU it lists (AMD EPYC 7773X) was
# released in 2022, so the snapshot is at least that recent.
GREENALGO_CPU_YEAR = 2022
SPECPOWER_SNAPSHOT = date(2026, 3, 9)  # from the raw file's name

CC_BY = "CC BY 4.0"
APACHE = "Apache-2.0"
CCF_REPO = "https://github.com/cloud-carbon-footprint/ccf-coefficients"


# --------------------------------------------------------------------------------------------
# Output model


@dataclass
class Table:
    """One generated CSV and what SOURCES.json says about it."""

    path: str  # relative to the package root, e.g. "intensity/data/zones.csv"
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    description: str
    inputs: list[dict[str, str]]
    choices: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue()


def fixed_decimals(value: float, decimals: int) -> str:
    """Fixed decimals with trailing zeros trimmed: 205.0 -> "205", 0.37250 -> "0.3725"."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def source_entry(
    publisher: str, dataset: str, vintage: str, licence: str, url: str, raw_file: str, via: str = ""
) -> dict[str, str]:
    entry = {
        "publisher": publisher,
        "dataset": dataset,
        "vintage": vintage,
        "licence": licence,
        "url": url,
        "raw_file": raw_file,
    }
    if via:
        entry["via"] = via
    return entry


def greenalgo_entry(dataset: str, raw_file: str) -> dict[str, str]:
    return source_entry(
        "Green Algorithms (Lannelongue, Grealey, Inouye)",
        dataset,
        "data/latest snapshot",
        CC_BY,
        "https://github.com/GreenAlgorithms/green-algorithms-tool",
        raw_file,
    )


# --------------------------------------------------------------------------------------------
# Raw readers


def read_csv(path: Path, skip: int = 0) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        for _ in range(skip):
            next(fh)
        return list(csv.DictReader(fh))


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Green Algorithms' reference values

URL = re.compile(r"https?://\S+")


def greenalgo_reference_values(raw: Path) -> dict[str, tuple[float, str]]:
    # Two header lines upstream: a title row, then the real header.
    rows = read_csv(raw / "hardware/greenalgorithms_referenceValues.csv", skip=1)
    return {r["variable"]: (float(r["value"]), r["source"]) for r in rows}


def greenalgo_cited(ref: dict[str, tuple[float, str]], variable: str) -> str:
    urls = URL.findall(ref[variable][1])
    if not urls and "treeYear" in ref[variable][1]:
        # tree_month says "same source as treeYear": it is the tree-year figure over 12.
        return greenalgo_cited(ref, "treeYear") + " (tree-year / 12)"
    return "Green Algorithms referenceValues.csv, citing " + " and ".join(urls)

