"""Running totals of a run's records, for the sinks that publish metrics (Prometheus, Pushgateway).

The exporter may deliver a batch twice (a retry, the spool after a crash), so each record is
counted once, by ``(run_id, seq)``: a counter that jumped on a retry would lie. The totals are
summed in the records' own units (J, g); a record of no time (the last one, cut at stop) adds
its energy but says nothing about power. Power and intensity are the latest record's (by
``seq``, not by arrival). Reads and writes hold one lock: a scrape runs on the metrics server's
thread while the exporter's thread adds a batch.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Sequence

from .._struct import dataclass
from ..records import Record, RunInfo

if TYPE_CHECKING:
    from ..wire import Item

__all__ = ["COMPONENTS", "RunTotals", "TotalsSnapshot"]

#: the record's component columns, in order (the wire's cpu/gpu/ram/other energy_j fields)
COMPONENTS = ("cpu", "gpu", "ram", "other")


@dataclass(frozen=True, slots=True)
class TotalsSnapshot:
    run_id: str | None  # None until the run's RunInfo has come
    project: str
    experiment: str
    host: str
    records: int
    energy_j: dict[str, float]  # component -> IT energy (before PUE), summed over the records
    emissions_g: float  # with PUE, as in the records
    power_w: dict[str, float]  # component -> mean power over the latest record that has time
    intensity_g_per_kwh: float | None
    intensity_zone: str
    pue: float | None


class RunTotals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, int]] = set()
        self._energy_j = dict.fromkeys(COMPONENTS, 0.0)
        self._emissions_g = 0.0
        self._power_w: dict[str, float] = {}
        self._power_seq = -1
        self._latest_seq = -1
        self._intensity: float | None = None
        self._zone = ""
        self._pue: float | None = None
        self._run_id: str | None = None
        self._labels = ("", "", "")

    def add(self, batch: Sequence[Item]) -> list[Record]:
        """Count the batch's records not seen before; returns them (in batch order)."""
        new: list[Record] = []
        with self._lock:
            for item in batch:
                if isinstance(item, RunInfo):
                    self._run_id = item.run_id
                    self._labels = (item.project, item.experiment,
                                    str(item.host.get("hostname", "")))
                elif isinstance(item, Record):
                    key = (item.run_id, item.seq)
                    if key in self._seen:
                        continue
                    self._seen.add(key)
                    new.append(item)
                    self._count(item)
        return new

    def _count(self, record: Record) -> None:
        for component, energy_j in zip(COMPONENTS, _component_energy_j(record), strict=True):
            self._energy_j[component] += energy_j
        self._emissions_g += record.emissions_g
        if record.seq > self._latest_seq:
            self._latest_seq = record.seq
            self._intensity = record.intensity_g_per_kwh
            self._zone = record.intensity_zone
            self._pue = record.pue
        if record.duration_s > 0 and record.seq > self._power_seq:
            self._power_seq = record.seq
            self._power_w = {c: e / record.duration_s
                             for c, e in zip(COMPONENTS, _component_energy_j(record), strict=True)}

    def snapshot(self) -> TotalsSnapshot:
        with self._lock:
            project, experiment, host = self._labels
            return TotalsSnapshot(
                run_id=self._run_id, project=project, experiment=experiment, host=host,
                records=len(self._seen),
                energy_j=dict(self._energy_j), emissions_g=self._emissions_g,
                power_w=dict(self._power_w), intensity_g_per_kwh=self._intensity,
                intensity_zone=self._zone, pue=self._pue)


def _component_energy_j(record: Record) -> tuple[float, float, float, float]:
    return (record.cpu_energy_j, record.gpu_energy_j, record.ram_energy_j,
            record.other_energy_j)
