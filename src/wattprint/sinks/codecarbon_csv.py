"""CodeCarbon's ``emissions.csv``: one row per run, appended when the run stops, as CodeCarbon
does, so dashboards and scripts built on that file keep working after a switch to wattprint.

The columns and their order are those of CodeCarbon 3.3.2 (:data:`CODECARBON_COLUMNS`), with
CodeCarbon's units: energy in kWh, emissions in kg, power in W, duration in s, emissions rate in
kg/s, RAM in GB, water in L. CodeCarbon multiplies energy and power by the PUE before it writes
them (its energies are facility energy), so this sink does the same: ``cpu_energy`` is the
record's IT energy x PUE / 3.6e6. Energy that wattprint files under no CPU, GPU or RAM (an SoC
or platform domain) is in ``energy_consumed`` only, so the total stays whole.

What wattprint does not know is left empty, never guessed: CPU count, RAM size and the
utilisation columns. ``codecarbon_version`` says ``wattprint <version>``, so a reader can tell
these rows from CodeCarbon's own; ``timestamp`` is the run's end in the machine's local time,
as CodeCarbon writes it.

An existing file is appended to in its own column order when its header names only columns
of this set (a file an older CodeCarbon wrote keeps its layout); a file with other columns is
refused with a message naming the setting to change, never rewritten or moved. Appends hold an
exclusive ``flock`` and are all-or-nothing, as in the csv sink; a run whose row the file
already holds (a summary delivered again from the spool, by another process) is not appended
twice.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, tzinfo
from pathlib import Path

from ..records import J_PER_KWH, RunInfo, RunSummary
from .csv import append_locked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    from ..config import Config
    from ..wire import Item


__all__ = ["CODECARBON_COLUMNS", "CODECARBON_RELEASE", "CodeCarbonCsvSink", "codecarbon_row",
           "from_config"]

#: the release whose column set is written
CODECARBON_RELEASE = "3.3.2"
#: CodeCarbon 3.3.2's emissions.csv header, in its order
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"  # CodeCarbon's, local time without an offset
_HEADER_PEEK_BYTES = 1 << 16


def codecarbon_row(info: RunInfo, summary: RunSummary, *,
                   tz: tzinfo | None = None) -> dict[str, Any]:
    """The emissions.csv row of a finished run (``tz``: the timestamp's zone, default local)."""
    from .. import __version__

    pue = summary.pue
    duration_s = summary.duration_s
    energy = summary.energy_j
    location = summary.location
    end = datetime.fromtimestamp(summary.started_s + duration_s, tz=tz)
    emissions_kg = summary.emissions_g / 1000.0
    gpus = [d for d in info.devices if d.get("component") == "gpu"]
    total_kwh = energy.get("total", 0.0) * pue / J_PER_KWH
    country, iso3 = _country(location.get("country"))
    return {
        "timestamp": end.strftime(_TIMESTAMP_FORMAT),
        "project_name": summary.project,
        "run_id": summary.run_id,
        "experiment_id": summary.experiment,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s if duration_s > 0 else 0.0,
        **{f"{c}_power": energy.get(c, 0.0) * pue / duration_s if duration_s > 0 else 0.0
           for c in ("cpu", "gpu", "ram")},
        **{f"{c}_energy": energy.get(c, 0.0) * pue / J_PER_KWH for c in ("cpu", "gpu", "ram")},
        "energy_consumed": total_kwh,
        "water_consumed": "" if summary.water_l is None else summary.water_l,
        "country_name": country,
        "country_iso_code": iso3,
        "region": location.get("subdivision") or "",
        "cloud_provider": location.get("cloud") or "",
        "cloud_region": location.get("cloud_region") or "",
        "os": info.host.get("os", ""),
        "python_version": info.host.get("python", ""),
        "codecarbon_version": f"wattprint {__version__}",
        "cpu_count": "",
        "cpu_model": info.host.get("cpu", ""),
        "gpu_count": len(gpus),
        "gpu_model": _gpu_model(gpus),
        "longitude": _blank_if_none(location.get("lon")),
        "latitude": _blank_if_none(location.get("lat")),
        "ram_total_size": "",
        "tracking_mode": summary.scope,
        "cpu_utilization_percent": "",
        "gpu_utilization_percent": "",
        "ram_utilization_percent": "",
        "ram_used_gb": "",
        "on_cloud": "Y" if location.get("cloud") else "N",
        "pue": pue,
        "wue": (summary.water_l / total_kwh
                if summary.water_l is not None and total_kwh > 0 else ""),
    }


def _blank_if_none(value: Any) -> Any:
    return "" if value is None else value


def _country(iso2: Any) -> tuple[str, str]:
    """(English name, ISO alpha-3) as CodeCarbon writes them; alpha-2 where no alpha-3 is known."""
    if not iso2:
        return "", ""
    from ..intensity.tables import countries

    row = countries().get(str(iso2).upper())
    if row is None:
        return "", str(iso2)
    return row.name, row.iso3 or row.iso2


def _gpu_model(gpus: list[Any]) -> str:
    # CodeCarbon's form: "2 x NVIDIA A100-SXM4-40GB"; different models are listed each.
    details = [str(g.get("detail") or g.get("device")) for g in gpus]
    kinds = list(dict.fromkeys(details))
    return ", ".join(f"{details.count(k)} x {k}" for k in kinds)


class CodeCarbonCsvSink:
    name = "codecarbon-csv"

    def __init__(self, path: Path, *, tz: tzinfo | None = None) -> None:
        self.path = Path(path)
        self._tz = tz
        self._infos: dict[str, RunInfo] = {}
        self._written: set[str] = set()  # a summary exported twice (a retry) is one row

    def export(self, batch: Sequence[Item]) -> None:
        for item in batch:
            if isinstance(item, RunInfo):
                self._infos[item.run_id] = item
            elif isinstance(item, RunSummary) and item.run_id not in self._written:
                info = self._infos.get(item.run_id)
                if info is None:
                    raise ValueError(f"run {item.run_id[:8]}'s summary came without its run "
                                     "info; the codecarbon-csv sink needs both")
                self._append(codecarbon_row(info, item, tz=self._tz))
                self._written.add(item.run_id)

    def _append(self, row: dict[str, Any]) -> None:
        def compose(fd: int, size: int) -> str | None:
            columns = self._existing_columns(fd) if size > 0 else None
            if columns is not None and "run_id" in columns and _has_run_row(fd, row["run_id"]):
                return None  # a summary delivered again (the spool, another process): one row
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=columns or CODECARBON_COLUMNS,
                                    extrasaction="ignore", lineterminator="\n")
            if columns is None:
                writer.writeheader()
            writer.writerow(row)
            return text.getvalue()

        append_locked(self.path, compose)

    def _existing_columns(self, fd: int) -> tuple[str, ...]:
        # utf-8-sig: a file saved by a spreadsheet may start with a byte-order mark
        head = os.pread(fd, _HEADER_PEEK_BYTES, 0).decode("utf-8-sig", errors="replace")
        header = tuple(next(csv.reader([head.splitlines()[0]]), []))
        unknown = [c for c in header if c not in CODECARBON_COLUMNS]
        if not header or unknown:
            raise ValueError(
                f"{self.path} is not a CodeCarbon emissions.csv (columns it does not have: "
                f"{', '.join(unknown) or 'no header'}); move it away or set "
                "codecarbon_csv_path to another file")
        return header

    def close(self) -> None:
        pass  # nothing is held open between batches


def _has_run_row(fd: int, run_id: str) -> bool:
    # One row per run, so the file stays small: reading it whole at a run's end is cheap.
    text = os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8-sig", errors="replace")
    return any(r.get("run_id") == run_id for r in csv.DictReader(io.StringIO(text)))


def from_config(config: Config) -> CodeCarbonCsvSink:
    return CodeCarbonCsvSink(config.codecarbon_csv_path or Path("emissions.csv"))
