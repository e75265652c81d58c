"""Process scope splits a GPU's energy by the tracked tree's share of its SM utilization."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import wattprint
from fakes.nvml import FakeNvml
from wattprint.intensity import Intensity
from wattprint.sensors import HostPaths
from wattprint.sinks.memory import MemorySink


class FixedIntensity:
    name = "fixed"
    static = True

    def lookup(self, where, start, end):
        return Intensity(100.0, "FR", "test", 2025)


def make(tmp_path, clock, nvml, scope):
    # A sysfs without powercap (CPU/RAM fall to the models, read from the real /proc) and the
    # fake NVML; the process tree is this test process.
    paths = HostPaths(sys=tmp_path / "sys", proc=Path("/proc"))
    sink = MemorySink()
    tracker = wattprint.Tracker(scope=scope, country="FR", interval_s=3600, paths=paths,
                                modules={"pynvml": nvml}, sinks=[sink],
                                intensity=FixedIntensity(), clock=clock,
                                wall_clock=clock.wall_clock)
    return tracker, sink


def test_gpu_energy_is_split_by_utilization_share(tmp_path, clock):
    nvml = FakeNvml(clock)
    gpu = nvml.gpu(power_w=250.0)
    tracker, sink = make(tmp_path, clock, nvml, "process")
    tracker.start()
    clock.advance(4.0)
    gpu.add_utilization(os.getpid(), sm_util=60)
    gpu.add_utilization(999_999, sm_util=40)  # someone else's job on the same GPU
    summary = tracker.stop()
    (comp,) = [c for c in sink.records[-1].components if c.device == "nvml:0"]
    assert comp.share == pytest.approx(0.6)
    assert comp.share_basis == "measured"  # the driver's per-process utilization
    assert comp.energy_j == pytest.approx(0.6 * 250.0 * 4.0)
    assert summary.energy_j["gpu"] == pytest.approx(600.0)
    assert not any("nvml:0: process share" in w for w in summary.warnings)


def test_memory_fallback_is_labelled_in_the_summary(tmp_path, clock):
    nvml = FakeNvml(clock)
    gpu = nvml.gpu(power_w=100.0)
    gpu.utilization_supported = False
    gpu.run_process(os.getpid(), used_gpu_memory=3 * 2**30)
    gpu.run_process(999_999, used_gpu_memory=1 * 2**30)
    tracker, sink = make(tmp_path, clock, nvml, "process")
    tracker.start()
    clock.advance(2.0)
    summary = tracker.stop()
    (comp,) = [c for c in sink.records[-1].components if c.device == "nvml:0"]
    assert comp.share == pytest.approx(0.75)
    assert comp.share_basis == "estimated"  # memory held stands in for utilization
    (total,) = [c for c in summary.components if c["device"] == "nvml:0"]
    assert (total["method"], total["share"], total["share_basis"]) == (
        "measured", pytest.approx(0.75), "estimated")
    assert any("nvml:0: process share by memory" in w for w in summary.warnings)


def test_machine_scope_keeps_the_whole_gpu(tmp_path, clock):
    nvml = FakeNvml(clock)
    gpu = nvml.gpu(power_w=250.0)
    tracker, sink = make(tmp_path, clock, nvml, "machine")
    tracker.start()
    clock.advance(4.0)
    gpu.add_utilization(999_999, sm_util=100)
    summary = tracker.stop()
    assert summary.energy_j["gpu"] == pytest.approx(1000.0)
    gpus = [c for c in summary.components if c["component"] == "gpu"]
    assert gpus == [{"component": "gpu", "device": "nvml:0", "method": "measured",
                     "energy_j": pytest.approx(1000.0), "share": 1.0, "share_basis": "whole",
                     "detail": gpus[0]["detail"]}]
    assert "NVIDIA A100" in gpus[0]["detail"]
