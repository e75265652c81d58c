"""Runs built from crafted records in a real SQLite store (the configured WATTPRINT_HOME's),
for the advice tests: every energy chosen so the expected figures are exact."""

from __future__ import annotations

from typing import Any, Sequence

from wattprint.config import load_config
from wattprint.intensity import Location
from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.store import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
IRELAND = Location(country="IE", zone="IE", cloud="aws", cloud_region="eu-west-1",
                   resolved_by="cloud-metadata", detail="crafted").to_dict()
# the wire's host object (the team server checks every field)
HOST = {"host_id": "00000000000000aa", "hostname": "node-a", "os": "Linux", "machine": "x86_64",
        "python": "3.11.7", "pid": 1, "tracker_pid": 1, "command": "python train.py",
        "cpu": "crafted CPU"}
IE_G_PER_KWH = 256.54  # zones.csv IE: Ember 2025, lifecycle


def info(run_id: str, *, location: dict[str, Any] | None = None, pue: float = 1.2,
         devices: Sequence[dict[str, Any]] = (), scope: str = "process") -> RunInfo:
    return RunInfo(
        run_id=run_id, project="advice", experiment="e", started_s=T0, scope=scope,
        interval_s=10.0, pue=pue, location=location or IRELAND,
        host=HOST, devices=tuple(devices), skipped=())


def record(run_id: str, seq: int, parts: Sequence[ComponentEnergy], *, duration_s: float = 10.0,
           pue: float = 1.2, g_per_kwh: float = IE_G_PER_KWH, scope: str | None = "lifecycle",
           live: bool = False) -> Record:
    by = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "other": 0.0}
    for p in parts:
        by[p.component if p.component in by else "other"] += p.energy_j
    energy = sum(by.values())
    return Record(
        run_id=run_id, seq=seq, start_s=T0 + (seq - 1) * duration_s, duration_s=duration_s,
        cpu_energy_j=by["cpu"], gpu_energy_j=by["gpu"], ram_energy_j=by["ram"],
        other_energy_j=by["other"], energy_j=energy, pue=pue,
        emissions_g=energy * pue * g_per_kwh / 3.6e6, intensity_g_per_kwh=g_per_kwh,
        intensity_zone="IE", intensity_source="Ember (2026) via Our World in Data",
        intensity_year=2025, intensity_kind="average", intensity_live=live,
        intensity_basis="generation", intensity_scope=scope, intensity_gases="CO2e",
        components=tuple(parts))


def store_run(run: RunInfo, records: Sequence[Record]) -> None:
    """The run, its records and its summary in the store ``wattprint`` reads."""
    store = Store(load_config().store_path)
    try:
        store.export([run, *records, summarize(run, records, exit_code=0)])
    finally:
        store.close()


def cpu_run(run_id: str = "cpu00001", *, n: int = 10, cpu_j: float = 36_000.0,
            **kwargs: Any) -> tuple[RunInfo, list[Record]]:
    """A CPU-only run: n records of cpu_j each (10 x 36 kJ = 0.1 kWh)."""
    run = info(run_id, **{k: v for k, v in kwargs.items() if k in ("location", "pue")})
    rec_kw = {k: v for k, v in kwargs.items() if k in ("g_per_kwh", "scope", "live", "pue")}
    records = [record(run_id, s, [ComponentEnergy("cpu", "rapl:package-0", "measured", cpu_j)],
                      **rec_kw) for s in range(1, n + 1)]
    return run, records


GPU = "nvml:0"
CPU = "cpu:model"
# device info as the tracker writes it (tracker._device_dict): attributes are text -> text
GPU_INFO = {"device": GPU, "component": "gpu", "method": "measured",
            "detail": "NVIDIA A100 (GPU-1), power limit 400 W", "coverage": "host",
            "attributes": {"name": "NVIDIA A100", "index": "0"}, "warning": None,
            "max_power_w": 400.0}
CPU_INFO = {"device": CPU, "component": "cpu", "method": "modelled", "detail": "CPU model",
            "coverage": "host", "attributes": {"idle_w": "20", "max_w": "200"},
            "warning": None, "max_power_w": None}


def training_run(run_id: str = "gpu00001", *, scope: str = "process",
                 gpu_info: dict[str, Any] | None = GPU_INFO,
                 cpu_info: dict[str, Any] | None = CPU_INFO,
                 cpu_share: float = 0.5) -> tuple[RunInfo, list[Record]]:
    """20 intervals of 10 s on a 400 W GPU and a CPU modelled at 20-200 W:

    - 1-8 training: GPU 300 W, CPU 50 W;
    - 9-18 the GPU idle (half the run): GPU 50 W, CPU 20 W;
    - 19-20 a CPU-bound phase: GPU 60 W, CPU 150 W.

    The CPU is split by process scope at ``cpu_share`` (others used the rest); the GPU whole.
    """
    phases = [(300.0, 50.0)] * 8 + [(50.0, 20.0)] * 10 + [(60.0, 150.0)] * 2
    records = []
    for seq, (gpu_w, cpu_w) in enumerate(phases, 1):
        parts = [ComponentEnergy("gpu", GPU, "measured", gpu_w * 10.0, 1.0, "whole"),
                 ComponentEnergy("cpu", CPU, "modelled", cpu_w * 10.0 * cpu_share, cpu_share,
                                 "measured" if cpu_share < 1 else "whole")]
        records.append(record(run_id, seq, parts))
    devices = [d for d in (gpu_info, cpu_info) if d is not None]
    return info(run_id, devices=devices, scope=scope), records
