"""Item builders and fake sinks for the exporter and spool tests (also used by subprocesses)."""

from __future__ import annotations

import threading

from wattprint.records import ComponentEnergy, Record, RunInfo, RunSummary, SpanRecord

RUN_ID = "0123456789abcdef0123456789abcdef"


def make_info(run_id: str = RUN_ID) -> RunInfo:
    return RunInfo(run_id=run_id, project="p", experiment="e", started_s=1_767_225_600.0,
                   scope="machine", interval_s=5.0, pue=1.0, location={"zone": "FR"},
                   host={"hostname": "h"}, devices=(), skipped=())


def make_record(seq: int, run_id: str = RUN_ID) -> Record:
    return Record(
        run_id=run_id, seq=seq, start_s=1_767_225_600.0 + 5 * seq, duration_s=5.0,
        cpu_energy_j=10.0 + seq, gpu_energy_j=0.0, ram_energy_j=1.0, other_energy_j=0.0,
        energy_j=11.0 + seq, pue=1.0, emissions_g=0.001 * seq, intensity_g_per_kwh=50.0,
        intensity_zone="FR", intensity_source="test", intensity_year=2025,
        intensity_kind="average", intensity_live=False,
        components=(ComponentEnergy("cpu", "fake:cpu", "measured", 10.0 + seq),),
    )


def make_span(span_id: str, count: int, run_id: str = RUN_ID) -> SpanRecord:
    return SpanRecord(
        run_id=run_id, span_id=span_id, parent_id=None, name=span_id.rsplit("/", 1)[-1],
        count=count, first_start_s=0.0, last_end_s=float(count), duration_s=float(count),
        duration_min_s=1.0, duration_max_s=1.0, cpu_energy_j=float(count), gpu_energy_j=0.0,
        ram_energy_j=0.0, other_energy_j=0.0, energy_j=float(count), energy_min_j=1.0,
        energy_max_j=1.0, emissions_g=0.0,
    )


def make_summary(run_id: str = RUN_ID, records: int = 0) -> RunSummary:
    return RunSummary(
        run_id=run_id, project="p", experiment="e", started_s=1_767_225_600.0, duration_s=10.0,
        energy_j={"cpu": 1.0, "gpu": 0.0, "ram": 0.0, "other": 0.0, "total": 1.0},
        emissions_g=0.1, components=(), intensity={}, location={}, pue=1.0, scope="machine",
        records=records,
    )


class FlakySink:
    """Raises ``errors`` (in turn) on its first ``len(errors)`` exports, then accepts.

    ``attempts`` holds (clock time, thread name, batch) of every call; ``accepted`` the batches
    it took; ``items`` every accepted item in order.
    """

    def __init__(self, name: str = "flaky", errors: tuple[Exception, ...] = (),
                 clock=None, forever: Exception | None = None) -> None:
        self.name = name
        self._errors = list(errors)
        self._forever = forever
        self._clock = clock
        self.attempts: list[tuple[float | None, str, list]] = []
        self.accepted: list[list] = []
        self.items: list = []
        self.closed = False

    def fail_next(self, *errors: Exception) -> None:
        self._errors.extend(errors)

    def export(self, batch) -> None:
        now = self._clock() if self._clock else None
        self.attempts.append((now, threading.current_thread().name, list(batch)))
        if self._forever is not None:
            raise self._forever
        if self._errors:
            raise self._errors.pop(0)
        self.accepted.append(list(batch))
        self.items.extend(batch)

    def close(self) -> None:
        self.closed = True


class HangingSink:
    """Blocks in export until ``release`` is set (a hung network or file system)."""

    def __init__(self, name: str = "hung") -> None:
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, batch) -> None:
        self.entered.set()
        self.release.wait(30)

    def close(self) -> None:
        pass
