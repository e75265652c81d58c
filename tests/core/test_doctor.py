from __future__ import annotations

from pathlib import Path

from fakes.nvml import FakeNvml
from fakes.powercap import FakePowercap
from wattprint.doctor import diagnose, render
from wattprint.sensors import HostPaths


def test_doctor_lists_accelerators_counters_and_why_others_are_missing(tmp_path, clock):
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=5_000_000)
    nvml = FakeNvml(clock)
    nvml.gpu(name="NVIDIA H100 80GB HBM3")
    paths = HostPaths(sys=powercap.sys, proc=Path("/proc"), etc=tmp_path / "etc")
    report = diagnose({"country": "FR"}, environ={}, paths=paths, modules={"pynvml": nvml})
    devices = {d["device"]: d for d in report["devices"]}
    assert devices["nvml:0"]["method"] == "measured" and "H100" in devices["nvml:0"]["detail"]
    assert devices["rapl:package-0"]["component"] == "cpu"
    assert devices["rapl:dram-0"]["component"] == "ram"
    assert "model:cpu" not in devices  # a counter covers the CPU: no model
    skipped = {s["sensor"]: s for s in report["skipped"]}
    assert "amdsmi" in skipped and skipped["amdsmi"]["fix"]
    text = render(report)
    assert "nvml:0" in text and "Sensors not available:" in text
    assert "Location: FR, resolved by config" in text
    assert report["intensity"]["zone"] == "FR"


def test_doctor_in_a_distributed_job_explains_the_split(tmp_path, clock):
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=5_000_000)
    paths = HostPaths(sys=powercap.sys, proc=Path("/proc"), etc=tmp_path / "etc")
    env = {"TORCHELASTIC_RUN_ID": "j1", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    report = diagnose({"country": "FR"}, environ=env, paths=paths)
    assert report["job"]["job_id"] == "j1" and not report["job"]["node_leader"]
    assert not any(d["device"].startswith("rapl") for d in report["devices"])
    assert "measured by local rank 0" in render(report)


def test_doctor_in_a_job_says_where_its_id_came_from_and_which_gpus_lack_an_owner(
        tmp_path, clock):
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=5_000_000)
    nvml = FakeNvml(clock)
    nvml.gpu()
    nvml.gpu()
    paths = HostPaths(sys=powercap.sys, proc=Path("/proc"), etc=tmp_path / "etc")
    # DeepSpeed's launcher on 2 nodes, 2 ranks each, no CUDA_VISIBLE_DEVICES; no job id.
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "LOCAL_SIZE": "2",
           "CROSS_RANK": "0", "CROSS_SIZE": "2", "MASTER_ADDR": "10.0.0.1",
           "MASTER_PORT": "29500"}
    report = diagnose({"country": "FR"}, environ=env, paths=paths, modules={"pynvml": nvml})
    assert report["job"]["source"] == "deepspeed"
    assert report["job"]["job_id_from"] == "derived: rendezvous 10.0.0.1:29500"
    assert any("GPU ownership is ambiguous" in w for w in report["warnings"])
    assert any("later job on the same address and port" in w for w in report["warnings"])
    assert "job id from derived: rendezvous 10.0.0.1:29500" in render(report)
