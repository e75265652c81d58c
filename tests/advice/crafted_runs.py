"""Random crafted runs for the tests that hold a fast path (raw rows) equal to the record path:
every case the waste scan and the records download tell apart, drawn from a seeded generator.

Each run mixes: one or two GPUs (idle, busy, shared, a share of 0), a modelled or measured CPU
(whole, split, hidden by a share of 0, absent), intervals without an intensity, a last record
cut at stop (0 s), gaps, work units, live intensities, a year or none, machine or process scope,
device info with or without a power limit and a CPU model."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

from advicekit import CPU_INFO, GPU_INFO, info, record

from wattprint._struct import replace
from wattprint.records import ComponentEnergy, Record, RunInfo
from wattprint.server.dashboard.tables import csv_cell

SCENARIOS = 12  # runs per test; seeds 0..SCENARIOS-1


def crafted_run(seed: int, run_id: str | None = None) -> tuple[RunInfo, list[Record]]:
    rng = random.Random(seed)
    run_id = run_id or f"craft{seed:04d}"
    gpus = ["nvml:0", "nvml:1"][:rng.choice([0, 1, 2])]
    cpu = rng.choice(["whole", "split", "absent"])
    devices: list[dict[str, Any]] = []
    for gpu in gpus:
        limit = rng.choice([400.0, None])
        devices.append({**GPU_INFO, "device": gpu, "max_power_w": limit})
    if cpu != "absent" and rng.random() < 0.6:
        devices.append(CPU_INFO)  # the modelled CPU's idle and full power
    n = rng.randint(0, 40)
    records = []
    for seq in range(1, n + 1):
        duration_s = 0.0 if seq == n and rng.random() < 0.3 else rng.choice([1.0, 10.0, 7.5])
        parts = []
        for gpu in gpus:
            watts = rng.choice([20.0, 50.0, 79.0, 80.0, 81.0, 300.0])
            share = rng.choice([1.0, 1.0, 0.5, 0.0])
            parts.append(ComponentEnergy("gpu", gpu, "measured", watts * duration_s * share,
                                         share, None if share == 0 else
                                         rng.choice(["whole", "measured", None])))
        if cpu != "absent":
            watts = rng.choice([20.0, 35.0, 150.0, 200.0])
            share = 1.0 if cpu == "whole" else rng.choice([0.25, 0.5, 0.0])
            parts.append(ComponentEnergy("cpu", "cpu:model", "modelled",
                                         watts * duration_s * share, share,
                                         rng.choice(["measured", "estimated", None])))
        if rng.random() < 0.5:
            parts.append(ComponentEnergy("ram", "ram:model", "modelled", 3.0 * duration_s))
        made = record(run_id, seq, parts, duration_s=duration_s,
                      pue=rng.choice([1.0, 1.2, 1.58]),
                      g_per_kwh=rng.choice([256.54, 31.0, 812.25]),
                      live=rng.random() < 0.3)
        changes: dict[str, Any] = {}
        if rng.random() < 0.2:  # no intensity: energy, no grams
            changes.update(intensity_kind=None, emissions_g=0.0)
        if rng.random() < 0.2:
            changes["intensity_year"] = None
        if rng.random() < 0.2:
            changes["gaps"] = ("gpu: nvml read failed, interpolated", "cpu, or 'x'")
        if rng.random() < 0.4:
            changes["work"] = (("samples", float(rng.randint(1, 512))), ("tokens", 0.5))
        records.append(replace(made, **changes) if changes else made)
    scope = rng.choice(["process", "process", "machine"])
    return info(run_id, devices=devices, scope=scope), records


def expected_download(records: list[Record]) -> list[dict[str, Any]]:
    """The records download as the read API's Records give it: one dict per record."""
    return [{"seq": r.seq, "start_s": r.start_s, "duration_s": r.duration_s,
             "cpu_energy_j": r.cpu_energy_j, "gpu_energy_j": r.gpu_energy_j,
             "ram_energy_j": r.ram_energy_j, "other_energy_j": r.other_energy_j,
             "energy_j": r.energy_j, "pue": r.pue, "emissions_g": r.emissions_g,
             "intensity_g_per_kwh": r.intensity_g_per_kwh, "intensity_zone": r.intensity_zone,
             "intensity_source": r.intensity_source, "intensity_year": r.intensity_year,
             "intensity_kind": r.intensity_kind, "intensity_live": r.intensity_live,
             "gaps": "; ".join(r.gaps), "work": "; ".join(f"{c:g} {u}" for u, c in r.work)}
            for r in records]


def expected_csv(rows: list[dict[str, Any]]) -> str:
    """``rows`` (non-empty) written as the download's CSV: RFC 4180, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([csv_cell(v) for v in row.values()])
    return out.getvalue()
