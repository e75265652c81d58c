"""Structured logs: one JSON line per record (and one for the run's summary) through :mod:`logging`.

Lines go to the logger ``wattprint.records`` at the configured level (``log_records_level``,
default info); where they end up is the host program's logging setup (this sink adds no
handler, to that logger or the root one). The message is the JSON text, so a plain handler
already writes one JSON object per line; the same fields are on the log record as
``record.wattprint`` (a dict) for handlers that build their own JSON. Every number carries its
unit in its name (``energy_j``, ``duration_s``, ``emissions_g``, ``intensity_g_per_kwh``).

Logging never raises into the exporter for a handler's failure (``logging`` reports those
itself), and a batch delivered again (a retry) logs no record twice within a process.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Sequence

from ..records import Record, RunInfo, RunSummary

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["LOGGER_NAME", "LogSink", "from_config", "record_fields", "summary_fields"]

LOGGER_NAME = "wattprint.records"


class LogSink:
    name = "log"

    def __init__(self, *, level: str = "info", logger_name: str = LOGGER_NAME) -> None:
        self._logger = logging.getLogger(logger_name)
        # Set on the logger itself, so the 'wattprint' logger's level (warnings by default)
        # does not hide the records the user asked for.
        self._logger.setLevel(level.upper())
        self._level = logging.getLevelName(level.upper())
        self._run: RunInfo | None = None
        self._logged: set[tuple[str, int]] = set()

    def export(self, batch: Sequence[Item]) -> None:
        for item in batch:
            if isinstance(item, RunInfo):
                self._run = item
            elif isinstance(item, Record):
                key = (item.run_id, item.seq)
                if key not in self._logged:
                    self._logged.add(key)
                    self._emit(record_fields(item, self._run))
            elif isinstance(item, RunSummary):
                self._emit(summary_fields(item))

    def _emit(self, fields: dict[str, Any]) -> None:
        self._logger.log(self._level, json.dumps(fields, sort_keys=True),
                         extra={"wattprint": fields})

    def close(self) -> None:
        pass


def record_fields(record: Record, run: RunInfo | None) -> dict[str, Any]:
    """The log line of one record: flat, JSON-ready, units in the names."""
    return {
        "event": "wattprint.record",
        "run_id": record.run_id,
        "project": run.project if run is not None else None,
        "experiment": run.experiment if run is not None else None,
        "seq": record.seq,
        "start_s": record.start_s,
        "duration_s": record.duration_s,
        "cpu_energy_j": record.cpu_energy_j,
        "gpu_energy_j": record.gpu_energy_j,
        "ram_energy_j": record.ram_energy_j,
        "other_energy_j": record.other_energy_j,
        "energy_j": record.energy_j,
        "pue": record.pue,
        "emissions_g": record.emissions_g,
        "intensity_g_per_kwh": record.intensity_g_per_kwh,
        "intensity_zone": record.intensity_zone,
        "intensity_source": record.intensity_source,
        "intensity_year": record.intensity_year,
        "intensity_live": record.intensity_live,
        # provenance per device: never lose how a figure was obtained
        "devices": [{"device": c.device, "component": c.component, "method": c.method,
                     "energy_j": c.energy_j, "share": c.share} for c in record.components],
        "work": {unit: count for unit, count in record.work},
        "gaps": list(record.gaps),
    }


def summary_fields(summary: RunSummary) -> dict[str, Any]:
    """The log line that closes a run."""
    return {
        "event": "wattprint.summary",
        "run_id": summary.run_id,
        "project": summary.project,
        "experiment": summary.experiment,
        "status": summary.status,
        "started_s": summary.started_s,
        "duration_s": summary.duration_s,
        "records": summary.records,
        **{f"{part}_energy_j": value for part, value in summary.energy_j.items()},
        "pue": summary.pue,
        "emissions_g": summary.emissions_g,
        "warnings": list(summary.warnings),
    }


def from_config(config: Config) -> LogSink:
    return LogSink(level=config.log_records_level)
