"""The powercap RAPL sensor against fake sysfs trees (see tests/fakes/powercap.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakes.powercap import DEFAULT_RANGE_UJ, FakePowercap, close_fds_to
from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.sensors import HostPaths, ProbeContext, Reading, Sensor, SensorOptions, rapl

WRAP_J = DEFAULT_RANGE_UJ / 1e6


def _probe(fake: FakePowercap, *, psys: bool = False, as_user: bool = False) -> rapl.RaplSensor:
    ctx = ProbeContext(paths=fake.paths, options=SensorOptions(rapl_psys=psys))
    if as_user:
        return rapl.probe(ctx, opener=fake.open_as_user)
    return rapl.probe(ctx)


def _by_device(readings: list[Reading]) -> dict[str, Reading]:
    return {r.device: r for r in readings}


def _energy(sensor: rapl.RaplSensor) -> dict[str, float | None]:
    return {r.device: r.energy_j for r in sensor.read()}


@pytest.fixture
def two_sockets(fake_powercap: FakePowercap) -> FakePowercap:
    # Distinct values: two counters that are equal at probe time are taken for mirrors.
    fake_powercap.package(0, energy_uj=1_000_000)
    fake_powercap.package(1, energy_uj=2_500_000)
    fake_powercap.set("intel-rapl:0:2", 300_000)
    fake_powercap.set("intel-rapl:1:2", 400_000)
    return fake_powercap


# --- what is counted ---------------------------------------------------------------------------


def test_single_socket_reports_package_as_cpu_and_dram_as_ram(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, energy_uj=12_345_678)
    fake_powercap.set("intel-rapl:0:2", 2_000_000)

    sensor = _probe(fake_powercap)

    assert isinstance(sensor, Sensor)
    assert sensor.read() == [
        Reading("rapl:package-0", "cpu", "measured", energy_j=12.345678, wrap_j=WRAP_J),
        Reading("rapl:dram-0", "ram", "measured", energy_j=2.0, wrap_j=WRAP_J),
    ]
    infos = sensor.devices()
    assert [(d.device, d.component, d.method) for d in infos] == [
        ("rapl:package-0", "cpu", "measured"),
        ("rapl:dram-0", "ram", "measured"),
    ]
    assert infos[0].detail == "RAPL package-0 (intel-rapl:0), wraps at 262143 J"
    assert ("zone", "intel-rapl:0:2") in infos[1].attributes
    sensor.close()


def test_two_sockets_are_two_devices_each(two_sockets: FakePowercap) -> None:
    sensor = _probe(two_sockets)

    assert _energy(sensor) == {
        "rapl:package-0": 1.0,
        "rapl:package-1": 2.5,
        "rapl:dram-0": 0.3,
        "rapl:dram-1": 0.4,
    }
    two_sockets.advance("intel-rapl:1", 7_000_000)
    assert _energy(sensor)["rapl:package-1"] == 9.5
    assert _energy(sensor)["rapl:package-0"] == 1.0
    sensor.close()


def test_core_and_uncore_are_never_added(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=("core", "uncore"), energy_uj=5_000_000)
    fake_powercap.set("intel-rapl:0:0", 3_000_000)
    fake_powercap.set("intel-rapl:0:1", 1_000_000)

    sensor = _probe(fake_powercap)

    assert _energy(sensor) == {"rapl:package-0": 5.0}
    assert sensor.notes == ()


def test_top_level_dram_zone_is_ram(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1_000_000)
    fake_powercap.zone(
        "intel-rapl:1", "dram", energy_uj=700_000, max_energy_range_uj=65_712_999_613
    )

    readings = _by_device(_probe(fake_powercap).read())

    assert readings["rapl:dram"] == Reading(
        "rapl:dram", "ram", "measured", energy_j=0.7, wrap_j=65_712.999613
    )


def test_die_zones_get_die_qualified_names(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, name="package-0-die-0", subzones=("dram",), energy_uj=1)
    fake_powercap.package(1, name="package-0-die-1", subzones=("dram",), energy_uj=2)
    fake_powercap.set("intel-rapl:0:0", 3)
    fake_powercap.set("intel-rapl:1:0", 4)

    assert sorted(_energy(_probe(fake_powercap))) == [
        "rapl:dram-0-die-0",
        "rapl:dram-0-die-1",
        "rapl:package-0-die-0",
        "rapl:package-0-die-1",
    ]


def test_unknown_top_level_domain_is_skipped_with_a_note(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1)
    fake_powercap.zone("intel-rapl:1", "gpu-thing", energy_uj=2)

    sensor = _probe(fake_powercap)

    assert list(_energy(sensor)) == ["rapl:package-0"]
    assert sensor.notes == ("intel-rapl:1 (gpu-thing): unknown RAPL domain, skipped",)


# --- psys --------------------------------------------------------------------------------------


@pytest.fixture
def with_psys(fake_powercap: FakePowercap) -> FakePowercap:
    fake_powercap.package(0, energy_uj=1_000_000)
    fake_powercap.set("intel-rapl:0:2", 200_000)
    fake_powercap.zone("intel-rapl:1", "psys", energy_uj=9_000_000)
    return fake_powercap


def test_psys_is_not_counted_unless_asked(with_psys: FakePowercap) -> None:
    sensor = _probe(with_psys)

    assert _energy(sensor) == {"rapl:package-0": 1.0, "rapl:dram-0": 0.2}
    assert any("set rapl_psys = true" in note for note in sensor.notes)


def test_psys_when_asked_replaces_package_and_dram(with_psys: FakePowercap) -> None:
    sensor = _probe(with_psys, psys=True)

    assert sensor.read() == [
        Reading("rapl:psys", "system", "measured", energy_j=9.0, wrap_j=WRAP_J)
    ]
    assert [d.component for d in sensor.devices()] == ["system"]
    assert any("package and dram zones are inside it" in note for note in sensor.notes)


def test_psys_alone_is_used(fake_powercap: FakePowercap) -> None:
    fake_powercap.zone("intel-rapl:0", "psys", energy_uj=4_000_000)

    assert _energy(_probe(fake_powercap)) == {"rapl:psys": 4.0}


def test_psys_asked_but_absent_falls_back_to_package(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1_000_000)

    sensor = _probe(fake_powercap, psys=True)

    assert _energy(sensor) == {"rapl:package-0": 1.0}
    assert any("no psys zone" in note for note in sensor.notes)


# --- the MMIO family ---------------------------------------------------------------------------


def test_mmio_duplicate_of_msr_package_is_dropped(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=("core",), energy_uj=1_000_000)
    fake_powercap.package(0, family="intel-rapl-mmio", subzones=(), energy_uj=1_000_000)

    sensor = _probe(fake_powercap)

    assert _energy(sensor) == {"rapl:package-0": 1.0}
    assert ("zone", "intel-rapl:0") in sensor.devices()[0].attributes
    assert sensor.notes == (
        "intel-rapl-mmio:0 (package-0): same domain as the MSR zone, counted there once",
    )


def test_mmio_only_domain_is_used(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, family="intel-rapl-mmio", subzones=(), energy_uj=3_000_000)

    sensor = _probe(fake_powercap)

    assert _energy(sensor) == {"rapl:package-0": 3.0}
    assert sensor.devices()[0].detail.startswith("RAPL package-0 (intel-rapl-mmio:0)")


def test_mmio_zone_for_a_domain_msr_lacks_is_used(fake_powercap: FakePowercap) -> None:
    fake_powercap.zone("intel-rapl:0", "psys", energy_uj=1)
    fake_powercap.package(0, family="intel-rapl-mmio", subzones=(), energy_uj=2_000_000)

    # package-0 only exists through MMIO; psys is then not the only domain, so it stays out.
    assert _energy(_probe(fake_powercap)) == {"rapl:package-0": 2.0}


# --- mirrors -----------------------------------------------------------------------------------


@pytest.fixture
def mirrored_dies(fake_powercap: FakePowercap) -> FakePowercap:
    die0 = fake_powercap.package(0, name="package-0-die-0", subzones=(), energy_uj=5_000_000)
    die1 = fake_powercap.package(1, name="package-0-die-1", subzones=(), energy_uj=0)
    fake_powercap.mirror(die0, die1)
    return fake_powercap


def test_mirrored_dies_are_counted_once(mirrored_dies: FakePowercap) -> None:
    sensor = _probe(mirrored_dies)

    assert _energy(sensor) == {"rapl:package-0-die-0": 5.0}
    (info,) = sensor.devices()
    assert info.detail == (
        "RAPL package-0-die-0 (intel-rapl:0), wraps at 262143 J; "
        "package-0-die-1 (intel-rapl:1) mirrors this counter, counted once"
    )
    assert ("mirror", "intel-rapl:1") in info.attributes
    assert sensor.notes == (
        (
            "intel-rapl:1 (package-0-die-1) reads the same counter as "
            "intel-rapl:0 (package-0-die-0): counted once"
        ),
    )


def test_mirror_is_confirmed_on_first_reads_then_no_longer_checked(
    mirrored_dies: FakePowercap,
) -> None:
    sensor = _probe(mirrored_dies)
    for step in range(1, 6):
        mirrored_dies.advance("intel-rapl:0", 1_000_000)
        assert _energy(sensor) == {"rapl:package-0-die-0": 5.0 + step}
    # Confirmed: the dropped zone's fd is released after the confirming reads.
    assert close_fds_to(mirrored_dies.zones["intel-rapl:1"].file("energy_uj")) == 0
    assert sensor.devices()[0].warning is None
    sensor.close()


def test_several_mirrors_of_one_counter_are_all_named(fake_powercap: FakePowercap) -> None:
    dies = [
        fake_powercap.package(i, name=f"package-0-die-{i}", subzones=(), energy_uj=7_000_000)
        for i in range(3)
    ]
    for die in dies[1:]:
        fake_powercap.mirror(dies[0], die)

    sensor = _probe(fake_powercap)

    assert _energy(sensor) == {"rapl:package-0-die-0": 7.0}
    (info,) = sensor.devices()
    assert [value for key, value in info.attributes if key == "mirror"] == [
        "intel-rapl:1",
        "intel-rapl:2",
    ]


def test_distinct_dies_are_both_counted(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, name="package-0-die-0", subzones=(), energy_uj=5_000_000)
    fake_powercap.package(1, name="package-0-die-1", subzones=(), energy_uj=6_000_000)

    sensor = _probe(fake_powercap)

    assert _energy(sensor) == {"rapl:package-0-die-0": 5.0, "rapl:package-0-die-1": 6.0}
    assert sensor.notes == ()


def test_zero_counters_are_never_taken_for_mirrors(fake_powercap: FakePowercap) -> None:
    # Two domains that have not ticked yet prove nothing about sharing a counter.
    fake_powercap.package(0, name="package-0-die-0", subzones=())
    fake_powercap.package(1, name="package-0-die-1", subzones=())
    sensor = _probe(fake_powercap)
    assert list(_energy(sensor)) == ["rapl:package-0-die-0", "rapl:package-0-die-1"]
    assert sensor.notes == ()


def test_dies_equal_at_probe_but_diverging_are_promoted(fake_powercap: FakePowercap) -> None:
    # Both counters read the same non-zero value at probe: indistinguishable from a mirror.
    fake_powercap.package(0, name="package-0-die-0", subzones=(), energy_uj=2_000_000)
    fake_powercap.package(1, name="package-0-die-1", subzones=(), energy_uj=2_000_000)
    sensor = _probe(fake_powercap)
    assert list(_energy(sensor)) == ["rapl:package-0-die-0"]

    fake_powercap.advance("intel-rapl:0", 1_000_000)
    fake_powercap.advance("intel-rapl:1", 4_000_000)

    assert _energy(sensor) == {"rapl:package-0-die-0": 3.0, "rapl:package-0-die-1": 6.0}
    promoted = sensor.devices()[1]
    assert promoted.device == "rapl:package-0-die-1"
    assert promoted.warning is not None and "diverged" in promoted.warning
    assert "mirrors" not in sensor.devices()[0].detail
    assert "diverged" in sensor.notes[-1]
    fake_powercap.advance("intel-rapl:1", 1_000_000)
    assert _energy(sensor)["rapl:package-0-die-1"] == 7.0


def test_equal_counters_of_different_kinds_are_not_mirrors(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=("dram",))  # package and dram both read 0

    assert _energy(_probe(fake_powercap)) == {"rapl:package-0": 0.0, "rapl:dram-0": 0.0}


# --- permissions -------------------------------------------------------------------------------


def test_root_only_energy_uj_names_the_file_and_the_exact_fix(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, root_only=True)

    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake_powercap, as_user=True)

    energy_file = fake_powercap.powercap / "intel-rapl:0" / "energy_uj"
    assert caught.value.reason.startswith(f"{energy_file} is not readable by this user")
    assert "CVE-2020-8694" in caught.value.reason
    assert caught.value.fix == (
        "run `sudo wattprint setup-rapl --apply` (adds a udev rule giving group `powercap` read "
        "access) or run as root"
    )


def test_root_only_file_is_readable_after_group_grant(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1_000_000, root_only=True)
    energy_file = fake_powercap.zones["intel-rapl:0"].file("energy_uj")
    # What the udev rule does: group ownership plus g+r.
    os.chown(energy_file, -1, os.getgid())
    energy_file.chmod(0o640)
    fake_powercap.user_groups.add(os.getgid())

    assert _energy(_probe(fake_powercap, as_user=True)) == {"rapl:package-0": 1.0}


def test_root_only_dram_drops_ram_but_keeps_cpu(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=("dram",), energy_uj=1_000_000)
    fake_powercap.make_root_only("intel-rapl:0:0")

    sensor = _probe(fake_powercap, as_user=True)

    assert _energy(sensor) == {"rapl:package-0": 1.0}
    assert any(note.startswith("no measured ram:") for note in sensor.notes)


def test_one_unreadable_socket_drops_the_whole_cpu(two_sockets: FakePowercap) -> None:
    two_sockets.make_root_only("intel-rapl:1")

    sensor = _probe(two_sockets, as_user=True)

    # Half the sockets reported as "measured cpu" would understate it: ram only, cpu left to a model.
    assert _energy(sensor) == {"rapl:dram-0": 0.3, "rapl:dram-1": 0.4}
    assert "intel-rapl:0 (package-0) not counted: " in " ".join(sensor.notes)


def test_root_only_max_energy_range_is_a_permission_problem_too(
    fake_powercap: FakePowercap,
) -> None:
    fake_powercap.package(0, subzones=())
    fake_powercap.make_root_only("intel-rapl:0", "max_energy_range_uj")

    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake_powercap, as_user=True)

    assert "max_energy_range_uj is not readable" in caught.value.reason
    assert caught.value.fix == rapl.PERMISSION_FIX


# --- nothing there -----------------------------------------------------------------------------


def test_no_powercap_directory(tmp_path: Path) -> None:
    paths = HostPaths(sys=tmp_path / "sys", proc=tmp_path / "proc")

    with pytest.raises(SensorUnavailable) as caught:
        rapl.probe(ProbeContext(paths=paths))

    assert caught.value.reason == (
        f"no {tmp_path}/sys/class/powercap (not Linux, or the intel_rapl/rapl driver is not "
        "loaded: `sudo modprobe intel_rapl_msr`)"
    )
    assert caught.value.fix is not None and "container" not in caught.value.fix


def test_no_powercap_directory_in_a_container_says_to_mount_it(tmp_path: Path) -> None:
    ctx = ProbeContext(paths=HostPaths(sys=tmp_path / "sys"), env={"container": "podman"})

    with pytest.raises(SensorUnavailable) as caught:
        rapl.probe(ctx)

    assert caught.value.fix is not None
    assert "in a container, the host's /sys/class/powercap must be mounted" in caught.value.fix


def test_powercap_without_rapl_zones(fake_powercap: FakePowercap) -> None:
    (fake_powercap.powercap / "dtpm").mkdir()

    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake_powercap)

    assert caught.value.reason == f"no RAPL zones in {fake_powercap.powercap} (found: dtpm)"


def test_zones_masked_by_a_container_runtime(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0)
    fake_powercap.mask()

    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake_powercap)

    assert "are listed" in caught.value.reason and "hidden" in caught.value.reason
    assert caught.value.fix is not None and "systempaths=unconfined" in caught.value.fix


# --- zone attributes ---------------------------------------------------------------------------


def test_capping_disabled_zone_is_still_measured(fake_powercap: FakePowercap) -> None:
    # `enabled` switches power *capping* for the zone; the energy counter runs regardless.
    fake_powercap.package(0, subzones=())
    fake_powercap.zone("intel-rapl:0:0", "dram", energy_uj=800_000, enabled=False)

    sensor = _probe(fake_powercap)

    assert _energy(sensor)["rapl:dram-0"] == 0.8
    assert ("capping_enabled", "0") in sensor.devices()[1].attributes


def test_zone_without_a_wrap_range_is_skipped(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1)
    fake_powercap.zone("intel-rapl:0:0", "dram", max_energy_range_uj=0)

    sensor = _probe(fake_powercap)

    assert list(_energy(sensor)) == ["rapl:package-0"]
    assert any("wraparound cannot be handled" in note for note in sensor.notes)


def test_wrap_j_comes_from_max_energy_range(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), max_energy_range_uj=65_532_610_987)

    (reading,) = _probe(fake_powercap).read()

    assert reading.wrap_j == 65_532.610987


def test_wrapping_counter_reads_low_again_and_fake_tracks_true_energy(
    fake_powercap: FakePowercap,
) -> None:
    zone = fake_powercap.package(0, subzones=(), max_energy_range_uj=1_000_000_000)
    sensor = _probe(fake_powercap)
    fake_powercap.set_near_wrap(zone, 2_000_000)
    (before,) = sensor.read()

    fake_powercap.advance(zone, 5_000_001)
    (after,) = sensor.read()

    assert (before.energy_j, after.energy_j) == (998.0, 3.0)
    assert before.wrap_j == after.wrap_j == 1000.0
    # What a meter must recover from those two readings: (1000 - 998) + 3 J, plus the 1 µJ step
    # from max_energy_range_uj back to 0.
    assert zone.true_energy_uj == 5_000_001


def test_wrap_helper_returns_the_values_around_the_wrap(fake_powercap: FakePowercap) -> None:
    zone = fake_powercap.package(0, subzones=(), max_energy_range_uj=1_000_000)

    assert fake_powercap.wrap(zone, before_uj=100, after_uj=51) == (999_900, 50)
    assert zone.energy_uj == 50 and zone.true_energy_uj == 151


# --- reading and failing -----------------------------------------------------------------------


def test_read_sees_counter_changes_through_open_fds(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=())
    sensor = _probe(fake_powercap)

    values = []
    for _ in range(3):
        fake_powercap.advance("intel-rapl:0", 250_000)
        values.append(sensor.read()[0].energy_j)

    assert values == [0.25, 0.5, 0.75]


def test_a_bad_fd_is_reopened(fake_powercap: FakePowercap) -> None:
    zone = fake_powercap.package(0, subzones=(), energy_uj=1_000_000)
    sensor = _probe(fake_powercap)

    assert close_fds_to(zone.file("energy_uj")) == 1
    fake_powercap.advance(zone, 1_000_000)

    assert _energy(sensor) == {"rapl:package-0": 2.0}
    assert close_fds_to(zone.file("energy_uj")) == 1  # exactly one fresh fd, no leak


def test_zone_gone_mid_run_raises_read_error(fake_powercap: FakePowercap) -> None:
    zone = fake_powercap.package(0, subzones=(), energy_uj=1_000_000)
    sensor = _probe(fake_powercap)
    energy_file = zone.file("energy_uj")
    assert _energy(sensor) == {"rapl:package-0": 1.0}

    fake_powercap.remove(zone)  # the driver is unloaded ...
    close_fds_to(energy_file)  # ... and the old fd is useless (sysfs answers ENODEV)

    with pytest.raises(SensorReadError, match="energy_uj"):
        sensor.read()


def test_garbage_counter_raises_read_error(fake_powercap: FakePowercap) -> None:
    zone = fake_powercap.package(0, subzones=(), energy_uj=1)
    sensor = _probe(fake_powercap)

    zone.file("energy_uj").write_text("")

    with pytest.raises(SensorReadError, match="not a counter"):
        sensor.read()


def test_close_releases_fds_and_later_reads_fail(two_sockets: FakePowercap) -> None:
    sensor = _probe(two_sockets)
    sensor.read()

    sensor.close()

    assert all(close_fds_to(path) == 0 for path in two_sockets.energy_files())
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()
    sensor.close()  # twice is harmless


def test_inherited_fds_work_in_a_forked_child(fake_powercap: FakePowercap) -> None:
    fake_powercap.package(0, subzones=(), energy_uj=1_000_000)
    sensor = _probe(fake_powercap)
    fake_powercap.advance("intel-rapl:0", 500_000)
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # child: read through the inherited fds, close them, report, leave at once
        try:
            value = sensor.read()[0].energy_j
            sensor.close()
            os.write(write_end, repr(value).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child_value = os.read(read_end, 64).decode()
    os.close(read_end)

    assert child_value == "1.5"
    assert _energy(sensor) == {"rapl:package-0": 1.5}  # the child's close left ours open
    sensor.close()
