"""Cloud VMs by instance type, end to end: DMI names the cloud, the fake metadata server answers
as the real service does, the tracker models the CPU from the instance type's watts per vCPU
and charges its share of its host's embodied emissions.

The machine is a fake /proc and /sys (``FakeHost``); the metadata services are one real local
HTTP server (``FakeMetadataServer``) that the real client is pointed at; GPUs are the NVML fake.
The expected numbers are Cloud Carbon Footprint's published coefficients for each type.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import wattprint
from fakes.clock import FakeClock
from fakes.metadata_server import FakeMetadataServer
from fakes.nvml import FakeNvml
from fakes.procfs import FakeHost
from wattprint.intensity import Intensity
from wattprint.records import RunSummary
from wattprint.sinks.memory import MemorySink

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

AZURE_TAG = "7783-7084-3265-9085-8269-3286-77"
DMI = {
    "aws": {"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2",
            "board_asset_tag": "i-0af01c0123456789a"},
    "gcp": {"sys_vendor": "Google", "product_name": "Google Compute Engine",
            "bios_vendor": "Google"},
    "azure": {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
              "bios_vendor": "Microsoft Corporation", "chassis_asset_tag": AZURE_TAG},
}
HOUR_S = 3600.0
LIFETIME_H = 4 * 8766.0  # CCF's 4-year amortisation


class FixedIntensity:
    name = "fixed"
    static = True

    def lookup(self, where: object, start: object, end: object) -> Intensity:
        return Intensity(100.0, "FR", "test", 2025)


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMetadataServer]:
    """The real metadata client, pointed at the local fake instead of 169.254.169.254."""
    from wattprint.intensity import cloud_metadata

    with FakeMetadataServer() as server:
        monkeypatch.setattr(cloud_metadata, "detect_cloud", functools.partial(
            cloud_metadata.detect_cloud,
            endpoints=cloud_metadata.MetadataEndpoints.all_at(server.url)))
        yield server


def _vm(tmp_path: Path, cloud: str, model: str, vcpus: int) -> FakeHost:
    host = FakeHost(tmp_path / "vm")
    for name, value in DMI[cloud].items():
        host.write(f"sys/class/dmi/id/{name}", value + "\n")
    host.x86_cpuinfo(model, cpus_per_socket=vcpus, hypervisor=True)
    host.load(n_cpus=vcpus, wall_s=1000.0, busy_fraction=0.0)
    host.meminfo(total_kib=16 * 1024 * 1024)
    return host


def _run(host: FakeHost, clock: FakeClock, *, vcpus: int, nvml: FakeNvml | None = None,
         **settings: Any) -> tuple[RunSummary, dict[str, Any]]:
    """One hour at half load on every vCPU; the summary and the CPU device's attributes."""
    sink = MemorySink()
    tracker = wattprint.Tracker(paths=host.paths, sinks=[sink], intensity=FixedIntensity(),
                                clock=clock, wall_clock=clock.wall_clock, interval_s=HOUR_S,
                                modules={"pynvml": nvml or FakeNvml(clock)}, **settings)
    tracker.start()
    clock.advance(HOUR_S)
    host.load(n_cpus=vcpus, wall_s=1000.0 + HOUR_S, busy_fraction=0.5 * HOUR_S / (1000 + HOUR_S))
    summary = tracker.stop()
    assert sink.run is not None
    (cpu,) = [d for d in sink.run.devices if d["component"] == "cpu"]
    return summary, cpu


def _expected_cpu_j(min_w: float, max_w: float, vcpus: int) -> float:
    # idle power all hour, plus the dynamic range for half of it
    return (min_w * vcpus + (max_w - min_w) * vcpus * 0.5) * HOUR_S


@pytest.mark.parametrize(
    ("cloud", "served", "model", "vcpus", "expected"),
    [
        # AWS m5.large: Skylake (Xeon Platinum 8175M), 2 of 96 vCPUs, host 1610.79 kg
        ("aws", {"aws_instance_type": "m5.large"},
         "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", 2,
         {"min": 0.613, "max": 4.1042, "arch": "Skylake", "host_kg": 1610.79, "of": 96,
          "label": "AWS m5.large", "region": "eu-west-3"}),
        # GCP n2-standard-4: Cascade Lake, 4 of 128 vCPUs, host 1888.46 kg
        ("gcp", {"gcp_machine_type": "n2-standard-4"}, "Intel(R) Xeon(R) CPU @ 2.80GHz", 4,
         {"min": 0.6903, "max": 3.7549, "arch": "Cascade Lake", "host_kg": 1888.46, "of": 128,
          "label": "GCP n2-standard-4", "region": "europe-west9"}),
        # Azure D4as v4: EPYC 2nd Gen, 4 of 96 vCPUs, host 1560.79 kg
        ("azure", {"azure_vm_size": "Standard_D4as_v4"}, "AMD EPYC 7452 32-Core Processor", 4,
         {"min": 0.4743, "max": 1.693, "arch": "EPYC 2nd Gen", "host_kg": 1560.79, "of": 96,
          "label": "Azure Standard_D4as_v4", "region": "francecentral"}),
    ],
    ids=["aws", "gcp", "azure"],
)
def test_each_clouds_instance_type_gets_its_own_power_and_embodied_share(
    tmp_path: Path, clock: FakeClock, metadata: FakeMetadataServer, cloud: str,
    served: dict[str, str], model: str, vcpus: int, expected: dict[str, Any],
) -> None:
    metadata.aws["instanceType"] = served.get("aws_instance_type", "m5.large")
    metadata.gcp_machine_type = served.get("gcp_machine_type", "n2-standard-4")
    metadata.azure["vmSize"] = served.get("azure_vm_size", "Standard_D4as_v4")
    host = _vm(tmp_path, cloud, model, vcpus)
    summary, cpu = _run(host, clock, vcpus=vcpus)

    assert summary.location["cloud"] == cloud
    assert summary.location["cloud_region"] == expected["region"]
    attrs = cpu["attributes"]
    assert (attrs["confidence"], attrs["scaling"], attrs["microarchitecture"]) == (
        "instance-type", "per-vcpu", expected["arch"])
    assert (float(attrs["min_w_per_vcpu"]), float(attrs["max_w_per_vcpu"])) == (
        expected["min"], expected["max"])
    assert attrs["instance_type_source"] == f"{cloud} instance metadata"
    assert f"cloud instance type {expected['label']} ({cloud} instance metadata)" in (
        cpu["detail"])
    assert cpu["warning"] is None
    (component,) = [c for c in summary.components if c["component"] == "cpu"]
    assert component["detail"] == cpu["detail"]  # the summary says it too
    assert summary.energy_j["cpu"] == pytest.approx(
        _expected_cpu_j(expected["min"], expected["max"], vcpus), rel=1e-6)

    embodied = summary.embodied
    assert embodied is not None
    assert embodied["server_kg_co2e"] == pytest.approx(expected["host_kg"])
    assert embodied["cpu_share"] == pytest.approx(vcpus / expected["of"])
    assert summary.embodied_g == pytest.approx(
        expected["host_kg"] * 1000 * vcpus / expected["of"] / LIFETIME_H, rel=1e-6)
    assert embodied["notes"][0].startswith(f"cloud instance type {expected['label']}")
    assert not any("upper bound" in note for note in embodied["notes"])
    assert not any("cloud_instance_type" in w for w in summary.warnings)


def test_the_setting_overrides_the_metadata(tmp_path: Path, clock: FakeClock,
                                            metadata: FakeMetadataServer) -> None:
    metadata.aws["instanceType"] = "m5.large"
    host = _vm(tmp_path, "aws", "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", 2)
    summary, cpu = _run(host, clock, vcpus=2, cloud_instance_type="c5.large")
    attrs = cpu["attributes"]
    assert (attrs["instance_type"], attrs["instance_type_source"]) == (
        "c5.large", "config (cloud_instance_type)")
    assert summary.embodied is not None and "AWS c5.large" in summary.embodied["notes"][0]


def test_an_unknown_type_falls_back_visibly_in_record_summary_and_embodied(
        tmp_path: Path, clock: FakeClock, metadata: FakeMetadataServer) -> None:
    metadata.aws["instanceType"] = "m99.huge"
    host = _vm(tmp_path, "aws", "Intel(R) Xeon(R) CPU @ 2.20GHz", 2)
    summary, cpu = _run(host, clock, vcpus=2)
    assert cpu["attributes"]["confidence"] == "vcpu-average"
    warning = ("AWS instance type 'm99.huge' (aws instance metadata) is not in the bundled "
               "instance table")
    assert warning in cpu["warning"]
    assert any(warning in w for w in summary.warnings)
    assert summary.embodied is not None
    assert warning in summary.embodied["notes"][0]
    assert any("upper bound" in note for note in summary.embodied["notes"])


def test_a_gpu_instance_measures_its_gpu_and_counts_each_card_once(
        tmp_path: Path, clock: FakeClock, metadata: FakeMetadataServer) -> None:
    # g4dn.xlarge: 4 of a 96-vCPU Cascade Lake host with 8 T4 cards (CCF: 3010.79 kg, of which
    # 1200 kg are the GPUs), 1 card in this instance
    metadata.aws["instanceType"] = "g4dn.xlarge"
    host = _vm(tmp_path, "aws", "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", 4)
    nvml = FakeNvml(clock)
    nvml.gpu(name="Tesla T4", power_w=40.0, power_limit_w=70.0)
    summary, cpu = _run(host, clock, vcpus=4, nvml=nvml)
    assert cpu["attributes"]["instance_type"] == "g4dn.xlarge"
    assert summary.energy_j["gpu"] == pytest.approx(40.0 * HOUR_S)  # measured, not modelled
    embodied = summary.embodied
    assert embodied is not None
    assert embodied["gpus"] == 1
    assert embodied["server_kg_co2e"] == pytest.approx(3010.79 - 1200.0)
    assert embodied["gpu_g"] == pytest.approx(150_000 / LIFETIME_H, rel=1e-9)
    assert embodied["server_g"] == pytest.approx(1_810_790 * 4 / 96 / LIFETIME_H, rel=1e-9)


def test_doctor_says_which_type_and_coefficients(tmp_path: Path, clock: FakeClock,
                                                 metadata: FakeMetadataServer) -> None:
    from wattprint.doctor import diagnose, render

    metadata.gcp_machine_type = "n2-standard-4"
    host = _vm(tmp_path, "gcp", "Intel(R) Xeon(R) CPU @ 2.80GHz", 4)
    report = diagnose(environ={}, paths=host.paths, modules={"pynvml": FakeNvml(clock)})
    found = report["instance"]
    assert (found["label"], found["source"], found["vcpus"], found["platform_vcpus"]) == (
        "GCP n2-standard-4", "gcp instance metadata", 4, 128)
    text = render(report)
    assert "Cloud instance type: GCP n2-standard-4 (gcp instance metadata)" in text
    assert "CPU: 4 vCPUs x 0.6903-3.7549 W per vCPU for Cascade Lake" in text
    assert "embodied: 59.014 kgCO2e, 4 of the host's 128 vCPUs x 1888.46 kg without GPUs" in text
    assert not any("instance type" in w for w in report["warnings"])


def test_doctor_warns_once_about_an_unknown_type(tmp_path: Path, clock: FakeClock,
                                                 metadata: FakeMetadataServer) -> None:
    from wattprint.doctor import diagnose, render

    metadata.azure["vmSize"] = "Standard_Z9_v9"
    host = _vm(tmp_path, "azure", "AMD EPYC 7452 32-Core Processor", 4)
    report = diagnose(environ={}, paths=host.paths, modules={"pynvml": FakeNvml(clock)})
    said = [w for w in report["warnings"] if "'Standard_Z9_v9'" in w]
    assert len(said) == 1  # in the CPU device's warning, not repeated
    assert "WATTPRINT_CLOUD_INSTANCE_TYPE" in said[0]
    assert "Cloud instance type: Standard_Z9_v9 (azure instance metadata): not in the bundled " \
           "table" in render(report)
