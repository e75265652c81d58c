"""Wire objects built the way the tracker builds them, and a validator for the published schema."""

from __future__ import annotations

import os
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from wattprint import footprint
from wattprint.cluster import Job
from wattprint.host import host_id
from wattprint.intensity import Location
from wattprint.records import (
    ComponentEnergy,
    Heartbeat,
    Prediction,
    Record,
    RunAccumulator,
    RunInfo,
    RunSummary,
    SpanRecord,
)
from wattprint.sensors import DeviceInfo
from wattprint.wire import schema

RUN_ID = "3f2a9c1e" * 4
STARTED_S = 1_767_225_600.0


@pytest.fixture(scope="session")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(schema())


def device_dict(device: DeviceInfo) -> dict[str, Any]:
    # The tracker's shape (tracker._device_dict), spelled out so these samples do not depend on
    # the tracker module while it is being rewired.
    return {"device": device.device, "component": device.component, "method": device.method,
            "detail": device.detail, "coverage": device.coverage,
            "attributes": dict(device.attributes), "warning": device.warning}


def make_run_info(*, job: bool = True) -> RunInfo:
    devices = (
        DeviceInfo("rapl:package-0", "cpu", "measured", "Intel Xeon (RAPL package-0)",
                   attributes=(("zone", "intel-rapl:0"), ("wrap_j", "262143.328850"))),
        DeviceInfo("nvml:0", "gpu", "sampled", "NVIDIA H100 (GPU-1234)",
                   attributes=(("uuid", "GPU-1234"), ("index", "0"), ("mig", "off")),
                   warning="power sampled every 0.1 s", max_power_w=700.0),
        DeviceInfo("model:ram", "ram", "modelled", "64 GiB x 0.3725 W per GiB",
                   coverage="cgroup", attributes=(("size_bytes", str(64 * 2**30)),)),
    )
    location = Location("FR", None, resolved_by="config", detail="country setting", zone="FR",
                        notes=("no cloud metadata",))
    host = {"hostname": "node-7", "os": "Linux 6.8.0", "machine": "x86_64", "python": "3.11.9",
            "pid": 4242, "command": "python train.py --epochs 3", "cpu": "Intel Xeon",
            "host_id": host_id(), "tracker_pid": os.getpid()}
    the_job = Job("9001", "slurm", rank=3, local_rank=1, world_size=8, local_world_size=4,
                  node="node-7", allocated_cpus=16, allocated_memory_bytes=64 * 2**30)
    return RunInfo(
        run_id=RUN_ID, project="resnet", experiment="baseline", started_s=STARTED_S,
        scope="process", interval_s=5.0, pue=1.2, location=location.to_dict(), host=host,
        devices=tuple(device_dict(d) for d in devices),
        skipped=({"sensor": "amdsmi", "reason": "amdsmi is not installed",
                  "fix": "pip install wattprint[amd]"},
                 {"sensor": "powermetrics", "reason": "not macOS", "fix": None}),
        warnings=("RAM power is modelled",), wattprint_version="0.2.0",
        tags={"team": "vision", "gpu": "h100"},
        job=the_job.to_dict() if job else None,
    )


def make_record(seq: int = 0, *, work: tuple[tuple[str, float], ...] = (("samples", 64.0),)) -> Record:
    components = (
        ComponentEnergy("cpu", "rapl:package-0", "measured", 400.0, share=0.5,
                        share_basis="measured"),
        ComponentEnergy("gpu", "nvml:0", "sampled", 1500.0, share_basis="whole"),
        ComponentEnergy("ram", "model:ram", "modelled", 20.0, share=0.25, share_basis="allocated"),
    )
    energy_j = sum(c.energy_j for c in components)
    return Record(
        run_id=RUN_ID, seq=seq, start_s=STARTED_S + 5.0 * seq, duration_s=5.0,
        cpu_energy_j=400.0, gpu_energy_j=1500.0, ram_energy_j=20.0, other_energy_j=0.0,
        energy_j=energy_j, pue=1.2, emissions_g=energy_j * 1.2 * 56.0 / 3_600_000.0,
        intensity_g_per_kwh=56.0, intensity_zone="FR", intensity_source="Ember (2024)",
        intensity_year=2024, intensity_kind="average", intensity_live=False,
        intensity_basis="generation", intensity_scope="lifecycle", intensity_gases="CO2e",
        components=components, gaps=("nvml:0: one read failed",) if seq == 1 else (), work=work,
    )


def make_marginal_record(seq: int) -> Record:
    """A WattTime-scored interval: marginal, direct CO2 only, live."""
    return replace(make_record(seq), emissions_g=1920.0 * 1.2 * 300.0 / 3_600_000.0,
                   intensity_g_per_kwh=300.0, intensity_zone="FR", intensity_source="watttime",
                   intensity_year=2026, intensity_kind="marginal", intensity_live=True,
                   intensity_basis="generation", intensity_scope="direct", intensity_gases="CO2")


def make_unscored_record(seq: int) -> Record:
    """An interval whose intensity lookup failed: no kind, no labels, emissions not counted."""
    return replace(make_record(seq), emissions_g=0.0, intensity_g_per_kwh=0.0, intensity_zone="",
                   intensity_source="unavailable", intensity_year=None, intensity_kind=None,
                   intensity_basis=None, intensity_scope=None, intensity_gases=None,
                   gaps=("intensity: unavailable, emissions not counted",))


def make_mixed_summary() -> RunSummary:
    """A run whose intervals saw an average, a marginal and no intensity."""
    acc = RunAccumulator()
    for record in (make_record(0), make_marginal_record(1), make_unscored_record(2)):
        acc.add(record)
    return acc.summary(make_run_info(job=False), duration_s=15.0)


def make_span(name: str = "step", parent: str | None = "train") -> SpanRecord:
    span_id = f"{parent}/{name}" if parent else name
    return SpanRecord(
        run_id=RUN_ID, span_id=span_id, parent_id=parent, name=name, count=3,
        first_start_s=STARTED_S + 1.0, last_end_s=STARTED_S + 9.5, duration_s=7.5,
        duration_min_s=2.0, duration_max_s=3.0, cpu_energy_j=600.0, gpu_energy_j=2250.0,
        ram_energy_j=30.0, other_energy_j=0.0, energy_j=2880.0, energy_min_j=700.0,
        energy_max_j=1100.0, emissions_g=0.05376, work=(("samples", 96.0),),
    )


def make_heartbeat() -> Heartbeat:
    return Heartbeat(run_id=RUN_ID, at_s=STARTED_S + 30.0, every_s=15.0)


def make_prediction(seq: int = 2) -> Prediction:
    """After 3 of 10 records' worth of work: 64 samples each, 5 s and 1920 J per record."""
    return Prediction(
        run_id=RUN_ID, seq=seq, at_s=STARTED_S + 15.0, unit="samples", done=192.0, total=640.0,
        level=0.9, duration_s=50.0, duration_low_s=46.5, duration_high_s=53.5,
        energy_j=19_200.0, energy_low_j=17_900.0, energy_high_j=20_500.0,
        emissions_g=0.3584, emissions_low_g=0.334133, emissions_high_g=0.382667,
        end_s=STARTED_S + 50.0, seconds_per_unit=0.078125, energy_j_per_unit=30.0,
        regime_start_s=STARTED_S, regime_intervals=3, rebased=0)


def make_summary(info: RunInfo | None = None) -> RunSummary:
    """As the tracker's stop() builds it: the accumulator's summary plus the beyond-operational
    figures and the exporter's delivery report."""
    info = info or make_run_info()
    acc = RunAccumulator()
    for seq in range(3):
        acc.add(make_record(seq))
    summary = acc.summary(
        info, spans=[make_span("train", None), make_span()], status="finished", exit_code=0,
        duration_s=15.2,
        intensity_detail={"basis": "generation", "scope": "lifecycle", "gases": "CO2e",
                          "note": None},
    )
    total_j = summary.energy_j["total"]
    embodied = footprint.embodied(duration_s=summary.duration_s, gpus=1, cpu_share=0.5,
                                  is_virtual=False, table=_embodied_table())
    assert embodied is not None
    water = footprint.water(energy_j=total_j, wue_l_per_kwh=0.12, source="AWS", year=2025)
    assert water is not None
    market = footprint.market_based(energy_j=total_j, pue=1.2,
                                    location_emissions_g=summary.emissions_g,
                                    renewable_share=0.3, residual_g_per_kwh=None)
    budget_message = ("energy budget 5 Wh will be crossed: 5.33 Wh predicted (90%: 4.97 Wh "
                      "to 5.69 Wh) when the 640 samples are done; 1.6 Wh used so far")
    return replace(summary, warnings=(*info.warnings, budget_message), pue_source="setting",
                   prediction=make_prediction().to_dict(),
                   budget={"budget_g": None, "budget_kwh": 0.005, "alerts": [
                       {"kind": "energy", "limit": 18_000.0, "value": 19_200.0,
                        "predicted": True, "at_s": STARTED_S + 15.0,
                        "message": budget_message}]},
                   embodied_g=embodied["embodied_g"], embodied=embodied,
                   water_l=water["water_l"], water=water, market_based=market,
                   delivery={"jsonl": "delivered",
                             "http": "/home/u/.local/share/wattprint/spool/http/x.jsonl"})


def _embodied_table() -> dict[str, Any]:
    from wattprint.intensity.tables import embodied_defaults

    return dict(embodied_defaults())


def all_samples() -> list[Any]:
    """One of every wire type, plus the shapes with optional parts left out."""
    bare_info = make_run_info(job=False)
    bare_summary = replace(make_summary(bare_info), embodied_g=None, embodied=None, water_l=None,
                           water=None, market_based=None, delivery=None, exit_code=None,
                           prediction=None, budget=None)
    return [make_run_info(), bare_info, make_record(0), make_record(1, work=()),
            make_marginal_record(2), make_unscored_record(3), make_span(),
            make_span("train", None), make_heartbeat(), make_prediction(), make_summary(),
            bare_summary,
            make_mixed_summary()]


@pytest.fixture
def build() -> SimpleNamespace:
    """The builders above, for test modules (conftest is not importable by name)."""
    return SimpleNamespace(run_info=make_run_info, record=make_record, span=make_span,
                           heartbeat=make_heartbeat, prediction=make_prediction,
                           summary=make_summary, all=all_samples,
                           marginal_record=make_marginal_record,
                           unscored_record=make_unscored_record, mixed_summary=make_mixed_summary,
                           run_id=RUN_ID)
