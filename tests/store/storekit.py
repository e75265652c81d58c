"""Wire items for store tests: a run, its records, spans, heartbeats and summary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from wattprint.records import ComponentEnergy, Heartbeat, Record, RunInfo, SpanRecord, summarize
from wattprint.store.schema import MIGRATIONS

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOST_ID = "00000000000000aa"


def info(run_id: str = "r1", *, project: str = "p", experiment: str = "e", started: float = T0,
         hostname: str = "node-a", host_id: str | None = HOST_ID, pid: int | None = 4242,
         tracker_pid: int | None = None, job_id: str | None = None,
         location: dict[str, Any] | None = None) -> RunInfo:
    host: dict[str, Any] = {"hostname": hostname, "pid": pid}
    if host_id is not None:
        host["host_id"] = host_id
    if tracker_pid is not None:
        host["tracker_pid"] = tracker_pid
    return RunInfo(
        run_id=run_id, project=project, experiment=experiment, started_s=started,
        scope="machine", interval_s=5.0, pue=1.0,
        location=location or {"country": "FR", "subdivision": None, "resolved_by": "config"},
        host=host,
        devices=({"device": "rapl:package-0", "component": "cpu", "method": "measured",
                  "detail": "RAPL package-0"},),
        skipped=(),
        job={"job_id": job_id} if job_id else None,
    )


def record(run_id: str = "r1", seq: int = 1, *, cpu_j: float = 100.0, gpu_j: float = 0.0,
           start: float | None = None, g_per_kwh: float = 36.0,
           work: tuple[tuple[str, float], ...] = ()) -> Record:
    energy = cpu_j + gpu_j
    components = [ComponentEnergy("cpu", "rapl:package-0", "measured", cpu_j)]
    if gpu_j:
        components.append(ComponentEnergy("gpu", "nvml:0", "measured", gpu_j))
    return Record(
        run_id=run_id, seq=seq, start_s=(T0 + seq - 1) if start is None else start,
        duration_s=1.0, cpu_energy_j=cpu_j, gpu_energy_j=gpu_j, ram_energy_j=0.0,
        other_energy_j=0.0, energy_j=energy, pue=1.0, emissions_g=energy / 3.6e6 * g_per_kwh,
        intensity_g_per_kwh=g_per_kwh, intensity_zone="FR", intensity_source="Ember",
        intensity_year=2024, intensity_kind="average", intensity_live=False,
        components=tuple(components), gaps=(), work=work,
    )


def span(run_id: str = "r1", span_id: str = "train/step", *, count: int = 3,
         energy: float = 30.0) -> SpanRecord:
    return SpanRecord(
        run_id=run_id, span_id=span_id, parent_id="train", name="step", count=count,
        first_start_s=T0, last_end_s=T0 + count, duration_s=float(count), duration_min_s=0.5,
        duration_max_s=1.5, cpu_energy_j=energy, gpu_energy_j=0.0, ram_energy_j=0.0,
        other_energy_j=0.0, energy_j=energy, energy_min_j=energy / count / 2,
        energy_max_j=energy / count * 2, emissions_g=energy / 3.6e6 * 36.0,
        work=(("samples", 128.0 * count),), boundary="interpolated",
    )


def heartbeat(run_id: str = "r1", at: float = T0 + 10, every: float = 5.0) -> Heartbeat:
    return Heartbeat(run_id=run_id, at_s=at, every_s=every)


def run_batch(run_id: str = "r1", n: int = 3, **kwargs: Any) -> list[Any]:
    """A whole finished run as one batch: info, n records, a span, the summary."""
    run = info(run_id, **kwargs)
    records = [record(run_id, seq, start=run.started_s + seq - 1) for seq in range(1, n + 1)]
    return [run, *records, span(run_id), summarize(run, records, exit_code=0)]


def make_v1_store(path: Path) -> None:
    """A real v1 file: MIGRATIONS[0] only, user_version 1, with one run, two records, a span."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO runs (run_id, project, experiment, started_s, ended_s, status,"
               " hostname, pid, duration_s, energy_j, emissions_g, exit_code, info_json)"
               " VALUES ('old-run', 'legacy', 'v1', ?, ?, 'finished', 'old-host', 1, 2.0, 300.0,"
               " 0.003, 0, ?)", (T0 - 86400, T0 - 86398,
                                  json.dumps(info("old-run", started=T0 - 86400).to_dict())))
    for seq, energy in ((0, 100.0), (1, 200.0)):
        db.execute(
            "INSERT INTO records VALUES ('old-run', ?, ?, 1.0, ?, 0, 0, 0, ?, 1.0, ?, 36.0, 'FR',"
            " 'Ember', 2024, 'average', 0, '[]', '[]')",
            (seq, T0 - 86400 + seq, energy, energy, energy / 3.6e6 * 36.0))
    db.execute("INSERT INTO spans VALUES ('old-run', '1', NULL, 'epoch', ?, ?, 2.0, 300.0, 0, 0,"
               " 0, 300.0, 0.003)", (T0 - 86400, T0 - 86398))
    db.commit()
    db.close()
