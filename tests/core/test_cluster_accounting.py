"""2 nodes x 4 ranks of one SLURM job: every device is measured exactly once.

Each node has two RAPL packages (each with a DRAM sub-zone) and four NVIDIA GPUs; all eight
ranks run a real Tracker with real sensor probes against the node's fake sysfs tree and fake
NVML. The job's total, summed over the ranks' runs, must equal what the hardware spent.
"""

from __future__ import annotations

import pytest

import wattprint
from fakes.nvml import FakeNvml
from fakes.powercap import FakePowercap
from wattprint.config import load_config
from wattprint.footprint import HOURS_PER_YEAR
from wattprint.intensity import Intensity
from wattprint.intensity.tables import embodied_defaults
from wattprint.records import combine
from wattprint.sinks.memory import MemorySink

PACKAGE_W, DRAM_W, GPU_W, SECONDS = 100.0, 10.0, 300.0, 10.0


class FixedIntensity:
    name = "fixed"
    static = True

    def lookup(self, where, start, end):
        return Intensity(200.0, "DE", "test", 2025)


def rank_env(node: int, local_rank: int) -> dict[str, str]:
    return {
        "SLURM_JOB_ID": "9001", "SLURM_PROCID": str(node * 4 + local_rank),
        "SLURM_LOCALID": str(local_rank), "SLURM_NTASKS": "8", "SLURM_NTASKS_PER_NODE": "4",
        "SLURMD_NODENAME": f"node{node}", "CUDA_VISIBLE_DEVICES": "0,1,2,3",
    }


def test_two_nodes_four_ranks_count_each_device_once(tmp_path, clock):
    nodes = []
    for node in range(2):
        powercap = FakePowercap(tmp_path / f"node{node}" / "sys")
        for socket in range(2):  # real counters never start equal (equal ones are mirrors)
            powercap.package(socket, energy_uj=1_000_000 * (7 * node + 3 * socket + 1))
        nvml = FakeNvml(clock)
        for _ in range(4):
            nvml.gpu(power_w=GPU_W)
        nodes.append((powercap, nvml))

    trackers, sinks = [], []
    for node, (powercap, nvml) in enumerate(nodes):
        for local_rank in range(4):
            config = load_config({"country": "DE", "interval_s": 3600},
                                 environ=rank_env(node, local_rank), cwd=tmp_path)
            sink = MemorySink()
            tracker = wattprint.Tracker(
                config=config, paths=powercap.paths, modules={"pynvml": nvml},
                intensity=FixedIntensity(), sinks=[sink], clock=clock,
                wall_clock=clock.wall_clock)
            trackers.append(tracker)
            sinks.append(sink)
    for tracker in trackers:
        tracker.start()

    clock.advance(SECONDS)
    for powercap, _ in nodes:
        for socket in range(2):
            powercap.advance(f"intel-rapl:{socket}", int(PACKAGE_W * SECONDS * 1e6))
            powercap.advance(f"intel-rapl:{socket}:2", int(DRAM_W * SECONDS * 1e6))
    summaries = [t.stop() for t in trackers]

    devices_per_rank = [sorted(c["device"] for c in s.components) for s in summaries]
    leaders = [d for i, d in enumerate(devices_per_rank) if i % 4 == 0]
    for devices in leaders:
        assert len(devices) == 5 and devices[0] == "nvml:0", devices
        assert sum(d.startswith("rapl:package") for d in devices) == 2
    for i, devices in enumerate(devices_per_rank):
        if i % 4:
            assert devices == [f"nvml:{i % 4}"], devices  # its own GPU, nothing machine-wide

    job = combine(summaries, run_id="9001")
    expected_cpu = 2 * 2 * PACKAGE_W * SECONDS
    expected_ram = 2 * 2 * DRAM_W * SECONDS
    expected_gpu = 8 * GPU_W * SECONDS
    assert job.energy_j["cpu"] == pytest.approx(expected_cpu)
    assert job.energy_j["ram"] == pytest.approx(expected_ram)
    assert job.energy_j["gpu"] == pytest.approx(expected_gpu)
    assert job.emissions_g == pytest.approx(
        (expected_cpu + expected_ram + expected_gpu) / 3.6e6 * 200.0)
    assert {s.job["job_id"] for s in summaries} == {"9001"}
    assert len({s.run_id for s in summaries}) == 8
    assert job.job["nodes"] == ["node0", "node1"]
    skipped = {s["sensor"]: s["reason"] for s in trackers[1].info.skipped}
    assert "local rank 0" in skipped["rapl"]
    # Embodied: one server per node (carried by its leader) and one card per GPU, not one
    # server per rank.
    table = embodied_defaults()
    per_hour = {kind: table[kind].kg_co2e * 1000 / (table[kind].lifetime_years * HOURS_PER_YEAR)
                for kind in ("server", "gpu")}
    hours = SECONDS / 3600
    assert job.embodied_g == pytest.approx((2 * per_hour["server"] + 8 * per_hour["gpu"]) * hours)
    assert [s.embodied["server_g"] > 0 for s in summaries] == [i % 4 == 0 for i in range(8)]


def test_a_rank_that_owns_no_device_measures_nothing_without_a_false_alarm(tmp_path, clock):
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=1_000_000)
    nvml = FakeNvml(clock)  # a node without GPUs: ranks 1..3 own nothing to measure

    def summary_of(environ):
        config = load_config({"country": "DE", "interval_s": 3600}, environ=environ, cwd=tmp_path)
        tracker = wattprint.Tracker(
            config=config, paths=powercap.paths, modules={"pynvml": nvml},
            intensity=FixedIntensity(), sinks=[MemorySink()], clock=clock,
            wall_clock=clock.wall_clock)
        tracker.start()
        clock.advance(1.0)
        return tracker.stop()

    follower = summary_of(rank_env(0, 1))
    assert list(follower.components) == []
    assert not any("no energy sensor" in w for w in follower.warnings), follower.warnings
    leader = summary_of(rank_env(0, 0))
    assert sorted(c["device"] for c in leader.components) == ["rapl:dram-0", "rapl:package-0"]
