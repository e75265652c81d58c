"""A stored run for report tests, written item by item into a real SQLite store: every figure
is fixed (no host, clock or hardware of the machine running the tests), so the reports of it
can be compared byte for byte with the snapshots in tests/advice/snapshots/."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.store import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
RUN_ID = "3f9c2a1b7d5e4c6a8b0f1e2d3c4b5a69"
GPU_NAME = "NVIDIA A100-SXM4-40GB"
# The FR row of the bundled zones.csv as a run records it (lifecycle, Ember 2025).
FR_G_PER_KWH = 41.44
FR_SOURCE = "Ember (2026) via Our World in Data, carbon intensity of electricity"
STEP_S = 600.0
# Watts per interval: two GPUs (sampled), the CPU package (measured), RAM (modelled).
GPU_W = (250.0, 380.0, 390.0, 385.0, 392.0, 120.0)
CPU_W = (95.0, 140.0, 150.0, 148.0, 151.0, 80.0)
RAM_W = 96.0
PUE = 1.2
PUE_SOURCE = "setting pue=1.2 (WATTPRINT_PUE)"
EMBODIED_G = 152.3
EMBODIED_SOURCE = ("Cloud Carbon Footprint embodied coefficients (Apache-2.0): server and GPU "
                   "defaults (2021)")


def info(*, project: str = "bert-finetune", experiment: str = "lr_3e-5",
         run_id: str = RUN_ID, job: dict[str, Any] | None = None) -> RunInfo:
    gpu = {"component": "gpu", "method": "sampled", "coverage": "host", "warning": None,
           "max_power_w": 400.0}
    return RunInfo(
        run_id=run_id, project=project, experiment=experiment, started_s=T0, scope="machine",
        interval_s=STEP_S, pue=PUE,
        location={"country": "FR", "subdivision": None, "resolved_by": "config",
                  "detail": "country from the `country` setting"},
        # as the tracker writes it: the CPU device's description (RAPL records no model name)
        host={"hostname": "gpu-node-7", "cpu": "RAPL package-0", "os": "Linux",
              "python": "3.11.7"},
        devices=(
            {"device": "rapl:package-0", "component": "cpu", "method": "measured",
             "detail": "RAPL package-0", "coverage": "host", "attributes": {}},
            {**gpu, "device": "nvml:0", "detail": f"{GPU_NAME} (GPU-0)",
             "attributes": {"name": GPU_NAME}},
            {**gpu, "device": "nvml:1", "detail": f"{GPU_NAME} (GPU-1)",
             "attributes": {"name": GPU_NAME}},
            {"device": "model:ram", "component": "ram", "method": "modelled",
             "detail": "256 GiB x 0.375 W per GiB", "coverage": "host",
             "attributes": {"size_bytes": str(256 * 2**30)}},
        ),
        skipped=(), wattprint_version="0.1.0", job=job,
    )


def records(run_id: str = RUN_ID) -> list[Record]:
    out = []
    for seq, (gpu_w, cpu_w) in enumerate(zip(GPU_W, CPU_W, strict=True)):
        gpu_j, cpu_j, ram_j = gpu_w * STEP_S, cpu_w * STEP_S, RAM_W * STEP_S
        energy_j = 2 * gpu_j + cpu_j + ram_j
        out.append(Record(
            run_id=run_id, seq=seq, start_s=T0 + seq * STEP_S, duration_s=STEP_S,
            cpu_energy_j=cpu_j, gpu_energy_j=2 * gpu_j, ram_energy_j=ram_j, other_energy_j=0.0,
            energy_j=energy_j, pue=PUE,
            emissions_g=energy_j * PUE / 3.6e6 * FR_G_PER_KWH,
            intensity_g_per_kwh=FR_G_PER_KWH, intensity_zone="FR", intensity_source=FR_SOURCE,
            intensity_year=2025, intensity_kind="average", intensity_live=False,
            intensity_basis="generation", intensity_scope="lifecycle", intensity_gases="CO2e",
            components=(
                ComponentEnergy("cpu", "rapl:package-0", "measured", cpu_j, 1.0, "whole"),
                ComponentEnergy("gpu", "nvml:0", "sampled", gpu_j, 1.0, "whole"),
                ComponentEnergy("gpu", "nvml:1", "sampled", gpu_j, 1.0, "whole"),
                ComponentEnergy("ram", "model:ram", "modelled", ram_j, 1.0, "whole"),
            ),
        ))
    return out


def store_run(path: Path, *, project: str = "bert-finetune", experiment: str = "lr_3e-5",
              run_id: str = RUN_ID, rescore: bool = True,
              job: dict[str, Any] | None = None) -> str:
    """The run written into the store file at ``path``; returns its id."""
    run = info(project=project, experiment=experiment, run_id=run_id, job=job)
    recs = records(run_id)
    summary = replace(
        summarize(run, recs, exit_code=0), pue_source=PUE_SOURCE, embodied_g=EMBODIED_G,
        embodied={"embodied_g": EMBODIED_G, "source": EMBODIED_SOURCE, "lifetime_years": 4.0})
    store = Store(path)
    try:
        store.export([run, *recs, summary])
        if rescore:
            store.add_rescore(run_id, "neso", created_s=T0 + 7200.0,
                              emissions_g=summary.emissions_g * 3.1, intensity_g_per_kwh=128.5,
                              kind="average", detail_json=json.dumps({"provider": "neso"}))
    finally:
        store.close()
    return run_id


def expected_totals() -> dict[str, Any]:
    """The figures the report must state, computed here independently of the store."""
    gpu_j = 2 * sum(GPU_W) * STEP_S
    cpu_j = sum(CPU_W) * STEP_S
    ram_j = RAM_W * STEP_S * len(GPU_W)
    total_j = gpu_j + cpu_j + ram_j
    return {"gpu_j": gpu_j, "cpu_j": cpu_j, "ram_j": ram_j, "total_j": total_j,
            "emissions_g": total_j * PUE / 3.6e6 * FR_G_PER_KWH,
            "duration_s": STEP_S * len(GPU_W)}


JOB_ID = "slurm-4242"
RANK_IDS = ("aaaa0000000000000000000000000001", "bbbb0000000000000000000000000002")


def store_job(path: Path) -> str:
    """A job of two ranks on two nodes, each the run above (its own GPUs, CPU and RAM)."""
    for rank, (run_id, node) in enumerate(zip(RANK_IDS, ("node-a", "node-b"), strict=True)):
        store_run(path, run_id=run_id, rescore=False,
                  job={"job_id": JOB_ID, "node": node, "rank": rank, "local_rank": 0,
                       "world_size": 2})
    return JOB_ID
