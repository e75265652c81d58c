"""Cloud instance types: the lookup over the bundled table, and the CPU model it feeds.

The table is the committed ``sensors/data/cloud_instances.csv``; the figures asserted are Cloud
Carbon Footprint's published ones (watts per vCPU by microarchitecture, embodied totals), so a
regeneration that changes them fails here on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.procfs import FakeHost  # tests/ is on sys.path (root conftest)
from wattprint.sensors import ProbeContext, SensorOptions
from wattprint.sensors.instances import (
    choose_instance,
    instance_choice,
    instance_cpu_power,
    instance_key,
    lookup_instance,
)
from wattprint.sensors.model import probe_cpu
from wattprint.sensors.procfs import CpuInfo


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    host = FakeHost(tmp_path / "host")
    host.load(n_cpus=2, wall_s=100.0, busy_fraction=0.25)
    host.meminfo(total_kib=8 * 1024 * 1024)
    return host


def _vm(n: int, model: str = "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz") -> CpuInfo:
    return CpuInfo(model_name=model, sockets=1, logical_cpus=n, hypervisor=True)


# --- the lookup ------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "spellings"), [
    ("aws", ["m5.large", "M5.Large", " m5.large "]),
    ("gcp", ["n2-standard-4", "N2-STANDARD-4"]),
    ("azure", ["Standard_D4as_v4", "standard_d4as_v4", "D4as_v4", "D4as v4"]),
])
def test_every_spelling_of_a_type_finds_one_row(provider: str, spellings: list[str]) -> None:
    rows = {lookup_instance(name, provider) for name in spellings}
    assert len(rows) == 1 and None not in rows
    assert {instance_key(provider, s) for s in spellings} == {instance_key(provider, spellings[0])}


def test_a_bare_name_finds_its_provider_without_one() -> None:
    found = {name: lookup_instance(name) for name in ("m5.large", "n2-standard-4",
                                                       "Standard_D4as_v4", "no-such-type")}
    assert {n: r.provider if r else None for n, r in found.items()} == {
        "m5.large": "aws", "n2-standard-4": "gcp", "Standard_D4as_v4": "azure",
        "no-such-type": None}
    assert lookup_instance("m5.large", "gcp") is None  # the provider narrows the search


def test_known_rows_carry_ccfs_figures() -> None:
    m5 = lookup_instance("m5.large", "aws")
    assert m5 is not None
    assert (m5.vcpus, m5.platform_vcpus, m5.microarchitecture, m5.cpu) == (
        2, 96, "Skylake", "Xeon Platinum 8175M")
    assert (m5.min_w_per_vcpu, m5.max_w_per_vcpu) == (0.613, 4.1042)
    assert (m5.platform_embodied_kg, m5.embodied_basis, m5.embodied_year) == (
        1610.79, "ccf-coefficients", 2021)
    assert m5.embodied_kg == pytest.approx(1610.79 * 2 / 96, abs=5e-4)
    assert "Cloud Carbon Footprint" in m5.source and m5.licence == "Apache-2.0"
    # a GPU instance: its host's GPUs are left out of the host figure (counted per card)
    p3 = lookup_instance("p3.2xlarge", "aws")
    assert p3 is not None and p3.gpus == 1
    assert p3.platform_embodied_kg == pytest.approx(3543.79 - 1200.0)


def test_a_type_on_several_microarchitectures_takes_their_mean() -> None:
    row = lookup_instance("Standard_F4s_v2", "azure")
    assert row is not None and row.microarchitecture == "Skylake|Cascade Lake"
    # CCF's Azure Skylake (0.6446 / 4.1934) and Cascade Lake (0.6389 / 3.9673) figures
    assert row.min_w_per_vcpu == pytest.approx((0.644604 + 0.638949) / 2, abs=1e-4)
    assert row.max_w_per_vcpu == pytest.approx((4.193436 + 3.967305) / 2, abs=1e-4)


# --- choosing ------------------------------------------------------------------------------


def test_no_type_means_no_choice() -> None:
    assert choose_instance(None, "aws", "metadata") is None
    assert instance_choice(SensorOptions()) is None


def test_an_unknown_type_is_a_visible_fallback_naming_what_to_set() -> None:
    choice = choose_instance("m99.huge", "aws", "aws instance metadata")
    assert choice is not None and choice.row is None
    assert choice.warning is not None
    assert "AWS instance type 'm99.huge' (aws instance metadata) is not in the bundled" in (
        choice.warning)
    assert "WATTPRINT_CLOUD_INSTANCE_TYPE" in choice.warning
    other = choose_instance("VM.Standard.E4.Flex", "oci", "oci instance metadata")
    assert other is not None and other.row is None
    assert "oci, for which wattprint has no instance table" in (other.warning or "")


def test_a_known_type_without_watts_says_why() -> None:
    choice = choose_instance("c4a-standard-4", "gcp", "config (cloud_instance_type)")
    assert choice is not None and choice.row is not None and not choice.row.has_watts
    assert "GCP c4a-standard-4 (config (cloud_instance_type)) is known, but no per-vCPU " \
           "coefficients for Google Axion" in (choice.warning or "")
    assert choice.row.embodied_kg is not None  # its embodied share is still known


# --- the CPU power it gives ------------------------------------------------------------------


def test_instance_power_is_watts_per_vcpu_times_the_types_vcpus() -> None:
    choice = choose_instance("m5.large", "aws", "aws instance metadata")
    assert choice is not None
    power = instance_cpu_power(_vm(2), choice, {})
    assert (power.idle_w, power.max_w) == (pytest.approx(2 * 0.613), pytest.approx(2 * 4.1042))
    assert (power.scaling, power.confidence, power.warning) == ("per-vcpu", "instance-type", None)
    assert power.idle_fraction == pytest.approx(0.613 / 4.1042)
    assert "cloud instance type AWS m5.large (aws instance metadata): 2 vCPUs x " \
           "0.613-4.1042 W per vCPU for Skylake (Xeon Platinum 8175M)" in power.basis
    assert dict(power.attributes)["instance_type"] == "m5.large"


def test_a_vcpu_count_that_differs_from_the_machines_is_said() -> None:
    choice = choose_instance("m5.large", "aws", "config (cloud_instance_type)")
    assert choice is not None
    power = instance_cpu_power(_vm(4), choice, {})
    assert power.max_w == pytest.approx(2 * 4.1042)  # the instance's vCPUs, not the 4 seen
    assert power.warning is not None
    assert "AWS m5.large has 2 vCPUs but this machine sees 4 CPUs" in power.warning


def _probe(host: FakeHost, **options: object) -> tuple[dict[str, str], str, str | None]:
    sensor = probe_cpu(ProbeContext(paths=host.paths, options=SensorOptions(**options)))
    (device,) = sensor.devices()
    return dict(device.attributes), device.detail, device.warning


def test_precedence_config_tdp_then_instance_then_host_cpu(host: FakeHost) -> None:
    host.x86_cpuinfo("Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", cpus_per_socket=2,
                     hypervisor=True)
    named = {"cloud_instance_type": "m5.large", "cloud": "aws",
             "cloud_instance_type_from": "aws instance metadata"}
    attrs, detail, warning = _probe(host, cpu_tdp_w=150.0, **named)
    assert attrs["confidence"] == "config" and "instance_type" not in attrs
    attrs, detail, warning = _probe(host, **named)
    assert (attrs["confidence"], attrs["instance_type"], attrs["microarchitecture"]) == (
        "instance-type", "m5.large", "Skylake")
    assert (attrs["idle_w"], attrs["max_w"], warning) == ("1.226", "8.208", None)
    assert "cloud instance type AWS m5.large (aws instance metadata)" in detail
    attrs, detail, warning = _probe(host)
    assert attrs["confidence"] != "instance-type"  # no type named: the host CPU decides


def test_an_unknown_type_falls_back_to_the_host_cpu_and_says_so(host: FakeHost) -> None:
    host.x86_cpuinfo("Intel(R) Xeon(R) CPU @ 2.20GHz", cpus_per_socket=2, hypervisor=True)
    attrs, _, warning = _probe(host, cloud_instance_type="x9.nonexistent", cloud="aws",
                               cloud_instance_type_from="aws instance metadata")
    assert attrs["confidence"] == "vcpu-average"
    assert warning is not None
    assert "cloud-average power per vCPU is used" in warning
    assert "AWS instance type 'x9.nonexistent' (aws instance metadata) is not in the bundled " \
           "instance table" in warning


def test_a_vm_with_no_type_named_is_told_how_to_name_it(host: FakeHost) -> None:
    host.x86_cpuinfo("Intel(R) Xeon(R) CPU @ 2.20GHz", cpus_per_socket=2, hypervisor=True)
    attrs, _, warning = _probe(host)
    assert attrs["confidence"] == "vcpu-average"
    assert "set cloud_instance_type" in (warning or "")


def test_the_table_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from wattprint.sensors import instances

    monkeypatch.setattr(instances, "_LINES", {})  # as in a fresh process
    opened: list[str] = []

    def spy(path: str, *args: object, **kwargs: object) -> object:
        opened.append(Path(path).name)
        return open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(instances, "open", spy, raising=False)
    assert lookup_instance("m5.large") is not None
    assert lookup_instance("n2-standard-4") is not None
    assert lookup_instance("no-such-type") is None
    assert opened == ["cloud_instances.csv"]
