from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wattprint.sensors.cgroup import detect_cgroup, parse_proc_self_cgroup

# The shared fake-/proc builder lives in tests/fakes (no packages under --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.procfs import FakeHost

GIB = 2**30
HOST_KIB = 16 * GIB // 1024  # a 16 GiB host


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    fake = FakeHost(tmp_path)
    fake.load(n_cpus=8, wall_s=100.0, busy_fraction=0.5)
    fake.meminfo(total_kib=HOST_KIB)
    return fake


def test_parse_proc_self_cgroup_v1_and_v2_lines() -> None:
    unified, v1 = parse_proc_self_cgroup(
        "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/x\n0::/docker/abc\n"
    )
    assert unified == "/docker/abc"
    assert v1["cpu"] == v1["cpuacct"] == v1["cpu,cpuacct"] == v1["memory"] == "/docker/abc"
    assert v1["name=systemd"] == "/x"


def test_no_proc_self_cgroup_means_none(host: FakeHost) -> None:
    assert detect_cgroup(host.paths) is None


# --- v2 --------------------------------------------------------------------------------------


def test_v2_namespace_root_without_limits(host: FakeHost) -> None:
    host.self_cgroup("0::/\n")
    host.cgroup_v2("", usage_usec=2_500_000, memory_current=123)
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert (cg.version, cg.path) == (2, "/")
    assert cg.cpu_quota_cores is None and cg.memory_limit_bytes is None
    assert cg.limited is False
    assert cg.cpu_usage_s() == 2.5
    assert cg.memory_usage_bytes() == 123


def test_v2_namespace_root_with_limits(host: FakeHost) -> None:
    host.self_cgroup("0::/\n")
    host.cgroup_v2("", cpu_max="200000 100000", memory_max=str(GIB))
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.cpu_quota_cores == 2.0
    assert cg.memory_limit_bytes == GIB
    assert cg.host_cpus == 8 and cg.host_memory_bytes == 16 * GIB
    assert cg.cpu_limited and cg.memory_limited and cg.limited


def test_v2_nested_path_reads_the_leaf(host: FakeHost) -> None:
    leaf = "system.slice/docker-abc.scope"
    host.self_cgroup(f"0::/{leaf}\n")
    host.cgroup_v2("", usage_usec=99_000_000)  # the root's counters must not be used
    host.cgroup_v2(leaf, cpu_max="50000 100000", usage_usec=1_000_000, memory_current=4096)
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.path == f"/{leaf}"
    assert cg.cpu_quota_cores == 0.5
    assert cg.cpu_usage_s() == 1.0
    assert cg.memory_usage_bytes() == 4096


def test_v2_ancestor_limit_binds_the_leaf(host: FakeHost) -> None:
    host.self_cgroup("0::/kubepods.slice/pod1/ctr\n")
    host.cgroup_v2("kubepods.slice", cpu_max="max 100000", memory_max=str(4 * GIB))
    host.cgroup_v2("kubepods.slice/pod1", cpu_max="150000 100000", memory_max="max")
    host.cgroup_v2("kubepods.slice/pod1/ctr", cpu_max="300000 100000", memory_max=str(8 * GIB))
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.cpu_quota_cores == 1.5
    assert cg.memory_limit_bytes == 4 * GIB


def test_v2_host_path_missing_inside_container_uses_mount_root(host: FakeHost) -> None:
    host.self_cgroup("0::/docker/abc\n")  # no cgroup namespace, but the runtime mounted our own
    host.cgroup_v2("", cpu_max="100000 100000", usage_usec=7_000_000)
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.cpu_quota_cores == 1.0
    assert cg.cpu_usage_s() == 7.0


def test_v2_limits_at_or_above_the_host_do_not_limit(host: FakeHost) -> None:
    host.self_cgroup("0::/\n")
    host.cgroup_v2("", cpu_max="800000 100000", memory_max=str(32 * GIB))
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.cpu_quota_cores == 8.0 and cg.memory_limit_bytes == 32 * GIB
    assert not cg.cpu_limited and not cg.memory_limited and not cg.limited


def test_v2_host_cpus_can_be_injected(host: FakeHost) -> None:
    host.self_cgroup("0::/\n")
    host.cgroup_v2("", cpu_max="400000 100000")
    cg = detect_cgroup(host.paths, host_cpus=64)
    assert cg is not None and cg.host_cpus == 64 and cg.cpu_limited


# --- v1 --------------------------------------------------------------------------------------


def _v1_docker(host: FakeHost, cpu_dir: str, acct_dir: str) -> None:
    host.self_cgroup(
        "12:pids:/docker/abc\n11:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n"
        "1:name=systemd:/docker/abc\n0::/system.slice/containerd.service\n"
    )
    host.cgroup_file(f"{cpu_dir}/docker/abc/cpu.cfs_quota_us", "150000\n")
    host.cgroup_file(f"{cpu_dir}/docker/abc/cpu.cfs_period_us", "100000\n")
    host.cgroup_file(f"{acct_dir}/docker/abc/cpuacct.usage", "2500000000\n")
    host.cgroup_file("memory/docker/abc/memory.limit_in_bytes", f"{512 * 2**20}\n")
    host.cgroup_file("memory/docker/abc/memory.usage_in_bytes", "1048576\n")
    host.cgroup_file("memory/memory.limit_in_bytes", "9223372036854771712\n")


def test_v1_combined_cpu_cpuacct_hierarchy(host: FakeHost) -> None:
    _v1_docker(host, "cpu,cpuacct", "cpu,cpuacct")
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert (cg.version, cg.path) == (1, "/docker/abc")
    assert cg.cpu_quota_cores == 1.5
    assert cg.cpu_usage_s() == 2.5
    assert cg.memory_limit_bytes == 512 * 2**20
    assert cg.memory_usage_bytes() == 1048576
    assert cg.limited


def test_v1_separate_cpu_and_cpuacct_hierarchies(host: FakeHost) -> None:
    host.self_cgroup("4:memory:/job/7\n3:cpuacct:/job/7\n2:cpu:/job/7\n0::/\n")
    host.cgroup_file("cpu/job/7/cpu.cfs_quota_us", "-1\n")
    host.cgroup_file("cpu/job/7/cpu.cfs_period_us", "100000\n")
    host.cgroup_file("cpuacct/job/7/cpuacct.usage", "42000000000\n")
    host.cgroup_file("memory/job/7/memory.limit_in_bytes", "9223372036854771712\n")
    host.cgroup_file("memory/job/7/memory.usage_in_bytes", "2048\n")
    # A hybrid host also mounts an empty v2 tree at unified/: the v1 controllers must win.
    host.cgroup_file("unified/cgroup.controllers", "\n")
    cg = detect_cgroup(host.paths)
    assert cg is not None and cg.version == 1
    assert cg.cpu_quota_cores is None
    assert cg.memory_limit_bytes is None  # the "unlimited" sentinel
    assert cg.limited is False
    assert cg.cpu_usage_s() == 42.0


def test_v1_unlimited_sentinel_with_64k_pages(host: FakeHost) -> None:
    host.self_cgroup("4:memory:/\n")
    host.cgroup_file("memory/memory.limit_in_bytes", "9223372036854710272\n")
    cg = detect_cgroup(host.paths)
    assert cg is not None and cg.memory_limit_bytes is None and not cg.limited


def test_v1_container_without_namespace_reads_mount_root(host: FakeHost) -> None:
    host.self_cgroup("11:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n")
    # Inside the container /sys/fs/cgroup/<controller> *is* /docker/abc: no such subdirectory.
    host.cgroup_file("cpu,cpuacct/cpu.cfs_quota_us", "300000\n")
    host.cgroup_file("cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    host.cgroup_file("cpu,cpuacct/cpuacct.usage", "1000000000\n")
    host.cgroup_file("memory/memory.limit_in_bytes", f"{2 * GIB}\n")
    cg = detect_cgroup(host.paths)
    assert cg is not None
    assert cg.cpu_quota_cores == 3.0
    assert cg.cpu_usage_s() == 1.0
    assert cg.memory_limit_bytes == 2 * GIB


def test_v1_controller_symlinks_resolve_by_single_name(host: FakeHost) -> None:
    # Some hosts name the joined hierarchy differently; the single-controller name still works.
    host.self_cgroup("11:cpuacct,cpu:/\n")
    host.cgroup_file("cpu/cpu.cfs_quota_us", "50000\n")
    host.cgroup_file("cpu/cpu.cfs_period_us", "100000\n")
    host.cgroup_file("cpuacct/cpuacct.usage", "5\n")
    cg = detect_cgroup(host.paths)
    assert cg is not None and cg.cpu_quota_cores == 0.5 and cg.cpu_usage_s() == 5e-9


def test_v1_without_usage_counter_raises_on_read(host: FakeHost) -> None:
    host.self_cgroup("4:memory:/\n")
    host.cgroup_file("memory/memory.limit_in_bytes", f"{GIB}\n")
    cg = detect_cgroup(host.paths)
    assert cg is not None and cg.memory_limited
    with pytest.raises(OSError):
        cg.cpu_usage_s()
    with pytest.raises(OSError):
        cg.memory_usage_bytes()
