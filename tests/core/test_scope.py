"""Process scope: shares from a real process tree's counters, with their basis and problems.

The tree is real (forked, checked against psutil); the host's busy CPU time and memory total come
from a fake /proc (``FakeHost``), so the expected share is exact. GPUs are the NVML fake.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

import wattprint
from fakes.clock import FakeClock
from fakes.nvml import FakeNvml
from fakes.process_tree import Gate, burn, fork, full_s, reap
from fakes.procfs import FakeHost
from wattprint.intensity import Intensity
from wattprint.scope import AllocationScope, MachineScope, ProcessScope, Shares
from wattprint.sensors import HostPaths, ProbeContext, SensorOptions, nvml
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

GIB = 1 << 30
TOLERANCE_S = 0.021


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    host = FakeHost(tmp_path / "host")
    host.stat(n_cpus=4, user_s=100.0, idle_s=1000.0)
    host.meminfo(total_kib=16 * 1024 * 1024)
    return host


def _nvml_sensor(fake: FakeNvml) -> nvml.NvmlSensor:
    ctx = ProbeContext(paths=HostPaths(), options=SensorOptions(), modules={"pynvml": fake})
    return nvml.probe(ctx)


# --- the Shares contract ---------------------------------------------------------------------


def test_basis_of_each_share_follows_how_it_was_split() -> None:
    shares = Shares(cpu=0.25, ram=0.5, cpu_basis="measured", ram_basis="estimated", devices={
        "nvml:0": (0.4, "utilization"), "nvml:1": (0.5, "idle-memory"),
        "nvml:2": (0.3, "memory"), "nvml:3": (1.0, "unattributed"),
    })
    assert shares.basis_for("rapl:package-0", "cpu") == "measured"
    assert shares.basis_for("model:ram", "ram") == "estimated"
    assert [shares.basis_for(f"nvml:{i}", "gpu") for i in range(4)] == [
        "measured", "estimated", "estimated", "whole"]
    assert shares.basis_for("amdsmi:0", "gpu") == "whole"  # not split: counted whole
    assert shares.for_device("amdsmi:0", "gpu") == 1.0
    assert Shares().basis_for("rapl:package-0", "cpu") == "whole"
    assert Shares().problems == ()


def test_machine_and_allocation_scopes_label_their_shares() -> None:
    assert MachineScope().shares() == Shares()
    allocated = AllocationScope(cpu_share=0.25, ram_share=0.125).shares()
    assert (allocated.cpu, allocated.ram) == (0.25, 0.125)
    assert (allocated.cpu_basis, allocated.ram_basis) == ("allocated", "allocated")


# --- process scope on a real tree ------------------------------------------------------------


def test_cpu_share_is_the_trees_cpu_seconds_over_the_hosts_busy_seconds(host: FakeHost) -> None:
    gate = Gate()

    def worker() -> None:
        gate.arrive()
        os.waitpid(fork(lambda: burn(0.2)), 0)  # a child's time, reaped by the worker
        burn(0.1)
        gate.arrive()

    pid = fork(worker)
    try:
        gate.wait()
        scope = ProcessScope(pid, paths=host.paths)
        scope.start()
        before = full_s(pid)
        gate.release()
        gate.wait()
        tree_s = full_s(pid) - before
        host.stat(n_cpus=4, user_s=102.0, idle_s=1000.0)  # 2 busy CPU seconds on the host
        shares = scope.shares()
        assert tree_s >= 0.3 - TOLERANCE_S
        assert shares.cpu == pytest.approx(tree_s / 2.0, abs=TOLERANCE_S / 2.0)
        rss = psutil.Process(pid).memory_info().rss
        assert shares.ram == pytest.approx(rss / (16 * GIB), rel=0.05)
        assert (shares.cpu_basis, shares.ram_basis, shares.problems) == (
            "measured", "measured", ())
    finally:
        reap(pid)


def test_a_root_that_exits_is_said_and_its_shares_are_estimates(host: FakeHost) -> None:
    gate = Gate()

    def worker() -> None:
        burn(0.05)
        gate.arrive()

    pid = fork(worker)
    try:
        gate.wait()
        scope = ProcessScope(pid, paths=host.paths)
        scope.start()
        host.stat(n_cpus=4, user_s=101.0, idle_s=1000.0)
        alive = scope.shares()
        assert alive.cpu_basis == "measured" and alive.ram > 0
        gate.release()
        os.waitpid(pid, 0)  # reaped by us, outside its tree: nothing of it is left to read
        host.stat(n_cpus=4, user_s=102.0, idle_s=1000.0)
        ended = scope.shares()
        assert ended.cpu_basis == ended.ram_basis == "estimated"
        assert ended.ram == alive.ram  # it held its memory until some point of the interval
        assert len(ended.problems) == 1
        assert f"process {pid} exited during this interval" in ended.problems[0]
        host.stat(n_cpus=4, user_s=103.0, idle_s=1000.0)
        later = scope.shares()
        assert (later.cpu, later.ram) == (0.0, 0.0)
        assert f"process {pid} is gone" in later.problems[0]
    finally:
        reap(pid)


def test_an_unreadable_tree_is_a_labelled_estimate_never_a_silent_machine_total(
    host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /proc mounted hidepid=2 (or another user's process) answers "permission denied"; as root
    # we cannot provoke it, so the ledger raises what psutil would.
    scope = ProcessScope(os.getpid(), paths=host.paths)
    scope.start()
    denied = psutil.AccessDenied(os.getpid(), msg="hidepid")

    def refuse() -> None:
        raise denied

    with monkeypatch.context() as patch:
        patch.setattr(scope._ledger, "read", refuse)
        first = scope.shares()
    assert (first.cpu, first.ram, first.cpu_basis) == (1.0, 1.0, "whole")
    assert "cannot be read" in first.problems[0] and "whole machine" in first.problems[0]

    host.stat(n_cpus=4, user_s=101.0, idle_s=1000.0)
    good = scope.shares()
    assert good.cpu_basis == "measured"
    monkeypatch.setattr(scope._ledger, "read", refuse)
    host.stat(n_cpus=4, user_s=102.0, idle_s=1000.0)
    estimate = scope.shares()
    assert (estimate.cpu, estimate.ram) == (good.cpu, good.ram)
    assert (estimate.cpu_basis, estimate.ram_basis) == ("estimated", "estimated")
    assert "previous interval" in estimate.problems[0]


# --- GPUs --------------------------------------------------------------------------------------


def test_gpu_shares_come_from_the_drivers_per_process_utilization(
    host: FakeHost, clock: FakeClock
) -> None:
    fake = FakeNvml(clock)
    gpu = fake.gpu()
    sensor = _nvml_sensor(fake)
    scope = ProcessScope(os.getpid(), paths=host.paths, attributors=[sensor])
    scope.start()
    gpu.add_utilization(os.getpid(), sm_util=30)
    gpu.add_utilization(1, sm_util=10)  # init: another process on the GPU
    shares = scope.shares()
    assert shares.devices == {"nvml:0": (0.75, "utilization")}
    assert shares.basis_for("nvml:0", "gpu") == "measured"
    assert shares.problems == ()


def test_a_gpu_attribution_failure_counts_the_gpu_whole_and_says_so(
    host: FakeHost, clock: FakeClock
) -> None:
    fake = FakeNvml(clock)
    fake.gpu()
    fake.gpu()
    sensor = _nvml_sensor(fake)
    scope = ProcessScope(os.getpid(), paths=host.paths, attributors=[sensor])
    scope.start()
    sensor.close()  # process_shares now raises, as any unexpected failure would
    shares = scope.shares()
    assert shares.devices == {"nvml:0": (1.0, "unattributed"), "nvml:1": (1.0, "unattributed")}
    assert shares.basis_for("nvml:1", "gpu") == "whole"
    assert shares.cpu_basis == "measured"  # the CPU split did not fail
    assert len(shares.problems) == 1
    assert shares.problems[0].startswith("nvml: per-process GPU attribution failed")
    assert "nvml:0, nvml:1 counted whole" in shares.problems[0]


# --- the tracker -----------------------------------------------------------------------------


class _FixedIntensity:
    name = "fixed"

    def lookup(self, where: object, start: object, end: object) -> Intensity:
        return Intensity(100.0, "XX", "test table", 2024)


def test_a_scope_failure_is_a_gap_of_that_record_and_a_run_warning(clock: FakeClock) -> None:
    sink = MemorySink()
    tracker = wattprint.Tracker(
        sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 100.0)], clock=clock)], sinks=[sink],
        intensity=_FixedIntensity(), clock=clock, wall_clock=clock.wall_clock, country="FR",
        interval_s=3600, scope="process",
    )
    tracker.start()
    clock.advance(1.0)
    tracker.flush()
    assert sink.records[0].gaps == ()

    def broken() -> Shares:
        raise OSError("/proc/stat: no such file")

    tracker._scope.shares = broken  # type: ignore[union-attr, method-assign]
    clock.advance(1.0)
    tracker.flush()
    clock.advance(1.0)
    summary = tracker.stop()
    failed = [r for r in sink.records if r.seq >= 1]
    assert len(failed) == 2
    for record in failed:
        assert [c.share for c in record.components] == [1.0]
        assert any("process share unavailable" in gap and "/proc/stat" in gap
                   for gap in record.gaps), record.gaps
    assert any("process share unavailable" in w for w in summary.warnings)
